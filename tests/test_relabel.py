"""Goal relabelling: the HIQL/MSCP rules, checked exactly where they are rules and statistically where
they are probabilities."""
import jax
import jax.numpy as jnp
import numpy as np

from hybridrl.data.relabel import GoalRelabeler, episode_last_index

EP_LEN, EPISODES = 1000, 100


def _relabeler(**kw):
    n = EP_LEN * EPISODES
    ends = np.zeros(n, bool)
    ends[EP_LEN - 1 :: EP_LEN] = True
    obs = np.arange(n, dtype=np.float32)[:, None]  # state = its own index, so gathers are checkable
    return GoalRelabeler.create(obs, ends, **kw)


def test_episode_last_index_handles_unfinished_tail():
    np.testing.assert_array_equal(episode_last_index(np.array([0, 1, 0, 0, 1, 0, 0], bool)), [1, 1, 4, 4, 4, 6, 6])


def test_value_goal_sources_rewards_masks_and_targets():
    r = _relabeler(discount=0.99, subgoal_steps=25)
    # indices in the first half of each episode, so the future cap and episode ends rarely matter
    idx = jnp.asarray((np.random.default_rng(0).integers(0, EP_LEN // 2, 200_000)
                       + EP_LEN * np.random.default_rng(1).integers(0, EPISODES, 200_000)).astype(np.int32))
    out = jax.jit(r.sample_indices)(jax.random.PRNGKey(0), idx)
    out = {k: np.asarray(v) for k, v in out.items()}
    idx = np.asarray(idx)
    last = (idx // EP_LEN + 1) * EP_LEN - 1
    g = out["value_goal"]
    same = g == idx
    future = (g > idx) & (g <= last)
    assert abs(same.mean() - 0.2) < 0.005
    assert abs(future.mean() - (0.5 + 0.3 * 0.0075)) < 0.006  # random goals land in the future ~0.75% of the time
    # Geometric(1 - γ) offsets: mean 1/(1-γ) = 100 (cap at T_end is beyond 500 steps, P < 0.7%)
    assert abs((g - idx)[future].mean() - 100.0) < 3.0
    # reward/mask rule, exactly
    np.testing.assert_array_equal(out["rewards"], np.where(same, 0.0, -1.0))
    np.testing.assert_array_equal(out["masks"], np.where(same, 0.0, 1.0))
    # high-level goal: random with p = 0.3, else uniform over [t+1, T_end]
    rnd = out["high_goal_is_random"]
    assert abs(rnd.mean() - 0.3) < 0.005
    h = out["high_goal"][~rnd]
    t, end = idx[~rnd], last[~rnd]
    assert (h >= t + 1).all() and (h <= end).all()
    u = (h - (t + 1)) / (end - t - 1)  # position within the allowed range: uniform on [0, 1]
    assert abs(u.mean() - 0.5) < 0.005 and abs(np.mean(u < 0.25) - 0.25) < 0.005
    # planner targets and low-level goal, exactly
    cap = np.where(rnd, last, out["high_goal"])
    np.testing.assert_array_equal(out["slow_target"], np.minimum(np.minimum(idx + 25, last), cap))
    np.testing.assert_array_equal(out["fast_target"], np.minimum(np.minimum(idx + 1, last), cap))
    np.testing.assert_array_equal(out["low_goal"], np.minimum(idx + 25, last))


def test_goals_never_cross_episode_end_and_states_are_gathered():
    r = _relabeler(subgoal_steps=25)
    idx = jnp.asarray(np.arange(EP_LEN - 30, EP_LEN, dtype=np.int32).repeat(200))  # the last 30 steps
    out = jax.jit(r.sample)(jax.random.PRNGKey(1), idx)
    for key in ("value_goal", "high_goal", "slow_target", "fast_target", "low_goal"):
        np.testing.assert_array_equal(np.asarray(out[f"{key}_obs"])[:, 0], np.asarray(out[key]))  # state == index
    for key in ("slow_target", "fast_target", "low_goal"):
        assert int(out[key].max()) <= EP_LEN - 1
    last_idx = jnp.full((100,), EP_LEN - 1, jnp.int32)
    at_end = r.sample_indices(jax.random.PRNGKey(2), last_idx)
    assert (np.asarray(at_end["fast_target"]) <= EP_LEN - 1).all()
    assert (np.asarray(at_end["high_goal"])[~np.asarray(at_end["high_goal_is_random"])] == EP_LEN - 1).all()
