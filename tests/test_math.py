"""Hand-checkable maths of the learner: TD targets, subsets, Polyak, mixing, distributions."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridrl.agents.common import polyak, td_target
from hybridrl.agents.sac import SACAgent, SACConfig
from hybridrl.nn import TanhNormal, subset
from hybridrl.replay import ReplayBuffer
from hybridrl.replay.mixing import Symmetric


def test_td_target_terminal_vs_truncation():
    r = jnp.array([1.0, 1.0])
    masks = jnp.array([0.0, 1.0])  # first: true terminal; second: time-limit truncation (still bootstraps)
    y = td_target(r, masks, next_q=jnp.array([10.0, 10.0]), next_log_probs=jnp.array([-2.0, -2.0]),
                  temperature=jnp.array(0.5), discount=0.9, backup_entropy=False)
    np.testing.assert_allclose(y, [1.0, 1.0 + 0.9 * 10.0])


def test_td_target_entropy_backup_on_off():
    kw = dict(rewards=jnp.array([0.5]), masks=jnp.array([1.0]), next_q=jnp.array([4.0]),
              next_log_probs=jnp.array([-2.0]), temperature=jnp.array(0.25), discount=0.5)
    np.testing.assert_allclose(td_target(**kw, backup_entropy=False), [0.5 + 0.5 * 4.0])
    # soft value: Q - α log π = 4 - 0.25 * (-2) = 4.5
    np.testing.assert_allclose(td_target(**kw, backup_entropy=True), [0.5 + 0.5 * 4.5])


def test_polyak_update():
    p = {"w": jnp.array([1.0, 2.0])}
    t = {"w": jnp.array([3.0, 4.0])}
    out = polyak(p, t, 0.1)
    np.testing.assert_allclose(out["w"], [0.1 * 1 + 0.9 * 3, 0.1 * 2 + 0.9 * 4], rtol=1e-6)


def test_subset_takes_named_members():
    params = {"w": jnp.arange(5.0)[:, None] * jnp.ones((5, 3))}
    np.testing.assert_allclose(subset(params, jnp.array([4, 1]))["w"][:, 0], [4.0, 1.0])


def _constant_member_agent(E: int, Z: int) -> SACAgent:
    """An agent whose target member i outputs exactly i for every input."""
    cfg = SACConfig(hidden_dims=(4,), num_critics=E, num_target_critics=Z, discount=1.0, backup_entropy=False)
    agent = SACAgent.create(jax.random.PRNGKey(0), 2, 1, cfg)
    tp = jax.tree_util.tree_map(jnp.zeros_like, agent.target_critic_params)
    last = sorted(k for k in tp["params"] if k.startswith("Dense"))[-1]
    tp["params"][last]["bias"] = jnp.arange(E, dtype=jnp.float32)[:, None]
    return agent.replace(target_critic_params=tp)


def test_target_is_min_over_random_subset_of_Z_distinct_members():
    E, Z = 4, 2
    agent = _constant_member_agent(E, Z)
    batch = {"observations": jnp.zeros((3, 2)), "actions": jnp.zeros((3, 1)), "rewards": jnp.zeros(3),
             "next_observations": jnp.zeros((3, 2)), "masks": jnp.ones(3)}
    loss = jax.jit(lambda k: agent.critic_loss(agent.critic.params, batch, k)[1]["target_mean"])
    mins = np.array([float(loss(k)) for k in jax.random.split(jax.random.PRNGKey(1), 600)])
    assert set(np.unique(mins)) <= {0.0, 1.0, 2.0}  # the max member (3) can never be a min of 2 distinct
    # P(min = 0) = 1 - C(3,2)/C(4,2) = 0.5 ; P(min = 1) = C(2,1)/C(4,2) = 1/3 ; P(min = 2) = 1/6
    np.testing.assert_allclose([np.mean(mins == v) for v in (0, 1, 2)], [0.5, 1 / 3, 1 / 6], atol=0.06)


@pytest.mark.parametrize("ratio,batch,expected_off", [(0.5, 256, 128), (0.25, 8, 2), (0.0, 10, 0), (1.0, 6, 6)])
def test_mixing_ratio_exact_in_every_batch(ratio, batch, expected_off):
    example = {"tag": np.float32(0)}
    online = ReplayBuffer.create(example, 50)
    for _ in range(30):
        online = online.insert({"tag": jnp.float32(1.0)})
    offline = ReplayBuffer.from_arrays({"tag": np.zeros(40, np.float32)})
    out = Symmetric(ratio).sample(jax.random.PRNGKey(0), online, offline, batch, 7)
    assert out["tag"].shape == (7, batch)
    np.testing.assert_array_equal((out["tag"] == 0).sum(axis=1), [expected_off] * 7)


def test_online_sampling_only_reads_filled_rows():
    online = ReplayBuffer.create({"x": np.float32(0)}, 100)
    for i in range(5):
        online = online.insert({"x": jnp.float32(i + 1)})
    out = Symmetric(0.0).sample(jax.random.PRNGKey(3), online, None, 1000, 1)
    assert set(np.unique(np.asarray(out["x"]))) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_buffer_wraps_and_restores_in_order():
    buf = ReplayBuffer.create({"x": np.float32(0)}, 4)
    for i in range(6):
        buf = buf.insert({"x": jnp.float32(i)})
    assert int(buf.size) == 4 and int(buf.ptr) == 2
    np.testing.assert_array_equal(buf.filled()["x"], [2, 3, 4, 5])  # oldest first
    bigger = ReplayBuffer.create({"x": np.float32(0)}, 10).with_rows(buf.filled())
    assert int(bigger.size) == 4 and int(bigger.ptr) == 4
    np.testing.assert_array_equal(bigger.data["x"][:4], [2, 3, 4, 5])


def test_tanh_normal_log_prob_matches_change_of_variables():
    d = TanhNormal(jnp.array([[0.3, -0.2]]), jnp.array([[0.5, 1.2]]))
    a, logp = d.sample_and_log_prob(jax.random.PRNGKey(0))
    np.testing.assert_allclose(logp, d.log_prob(a), rtol=1e-4, atol=1e-4)
    pre = np.arctanh(np.asarray(a))
    gauss = -0.5 * ((pre - 0.0 - np.array([[0.3, -0.2]])) / np.array([[0.5, 1.2]])) ** 2 \
        - np.log(np.array([[0.5, 1.2]])) - 0.5 * np.log(2 * np.pi)
    manual = (gauss - np.log(1 - np.tanh(pre) ** 2)).sum(-1)
    np.testing.assert_allclose(logp, manual, rtol=1e-4, atol=1e-4)
