"""FamO2O: the balance model on a constructed two-cluster problem, isolation of its updates, the β
encoding and range map, and the recipes end to end on the toy task."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TINY, TOY, read_rows

from hybridrl.agents.famo2o import FamO2OIQLAgent, FamO2OIQLConfig, beta_encoding, beta_from_unit
from hybridrl.cli import main
from hybridrl.recipes import resolve
from hybridrl.training.loop import Trainer, evaluate_run


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b),
                                                   strict=True))


def test_beta_encoding_and_affine_range_map():
    enc = beta_encoding(jnp.array([0.0, 2.0]))
    np.testing.assert_allclose(enc[0], [0, 1, 0, 1, 0, 1], atol=1e-7)
    f1, f2 = 10000.0 ** (-1 / 3), 10000.0 ** (-2 / 3)
    np.testing.assert_allclose(enc[1], [np.sin(2), np.cos(2), np.sin(2 * f1), np.cos(2 * f1), np.sin(2 * f2),
                                        np.cos(2 * f2)], rtol=1e-6)
    np.testing.assert_allclose(beta_from_unit(jnp.array([-1.0, 0.0, 1.0]), 8.0, 14.0), [8.0, 11.0, 14.0])
    np.testing.assert_allclose(beta_from_unit(jnp.array([-1.0, 1.0]), 0.5, 1.5), [0.5, 1.5])  # CQL's range


def _standin_agent(**cfg):
    """A FamO2O-IQL agent whose universal policy and critics are fixed stand-ins: π_u's action rises with β
    (a ≈ (β − 3)/2 over β ∈ [1, 5]) and Q(s, a) = −10 (a − s)², so the best β is 1 at s = −1 and 5 at s = +1."""
    config = FamO2OIQLConfig(hidden_dims=(8, 8), balance_hidden_dims=(32, 32), balance_lr=3e-3, **cfg)
    agent = FamO2OIQLAgent.create(jax.random.PRNGKey(0), 1, 1, config)

    def actor(params, x):  # x = [s, enc(β)]; sin(β / 10000^{2/3}) ≈ β / 464 is monotone in β
        from hybridrl.nn import Gaussian

        beta = x[..., 5] * 10000.0 ** (2 / 3)
        return Gaussian(jnp.tanh(params["gain"] * (beta - 3.0) / 2.0)[..., None], jnp.full(x.shape[:-1] + (1,), 0.05))

    def critic(params, obs, actions):
        return -params["w"] * ((actions - obs) ** 2).sum(-1)

    return agent.replace(actor=agent.actor.replace(apply_fn=actor, params={"gain": jnp.float32(1.5)}),
                         critic=agent.critic.replace(apply_fn=critic, params={"w": jnp.full(2, 10.0)}),
                         target_critic_params={"w": jnp.full(2, 10.0)})


def test_balance_model_alone_drives_beta_to_opposite_ends_on_two_clusters():
    agent = _standin_agent()
    obs = jnp.concatenate([-jnp.ones((64, 1)), jnp.ones((64, 1))])
    batch = {"observations": obs}
    frozen = (agent.actor.params, agent.critic.params, agent.target_critic_params, agent.value)
    step = jax.jit(lambda a, k: a.balance_step(batch, k)[0])
    key = jax.random.PRNGKey(1)
    for i in range(600):
        agent = step(agent, jax.random.fold_in(key, i))
    beta = agent.beta(jnp.array([[-1.0], [1.0]]))
    assert float(beta[0]) < 1.5 and float(beta[1]) > 4.5, beta
    assert _same(frozen, (agent.actor.params, agent.critic.params, agent.target_critic_params, agent.value))


def test_one_balance_step_touches_only_the_balance_model_and_one_actor_step_not_it(toy_npz):
    config = FamO2OIQLConfig(hidden_dims=(16, 16), balance_hidden_dims=(16, 16), balance_every=1)
    agent = FamO2OIQLAgent.create(jax.random.PRNGKey(0), 2, 2, config)
    data = np.load(toy_npz)
    batch = {"observations": jnp.asarray(data["observations"][:32], jnp.float32),
             "actions": jnp.asarray(data["actions"][:32], jnp.float32)}
    after_b, _ = agent.balance_step(batch, jax.random.PRNGKey(1))
    assert not _same(after_b.balance.params, agent.balance.params)
    assert _same((after_b.actor, after_b.critic, after_b.target_critic_params, after_b.value),
                 (agent.actor, agent.critic, agent.target_critic_params, agent.value))
    after_a, info = agent.actor_step(batch, jax.random.PRNGKey(2))
    assert not _same(after_a.actor.params, agent.actor.params)
    assert _same((after_a.balance, after_a.balance_temp), (agent.balance, agent.balance_temp))
    # Offline the universal policy sees β drawn uniformly from the range, one per sample.
    assert 2.0 < float(info["actor/beta_train_mean"]) < 4.0


def test_balance_update_period_skips_steps():
    agent = _standin_agent(balance_every=5)
    batch = {"observations": jnp.ones((8, 1))}
    for updates in (1, 5):  # the counter is the number of updates so far (IQL: the value net's steps)
        a = agent.replace(value=agent.value.replace(step=jnp.asarray(updates)))
        new, _ = a.balance_step(batch, jax.random.PRNGKey(0))
        assert _same(new.balance.params, a.balance.params) == (updates % 5 != 0)


@pytest.mark.parametrize("recipe", ["famo2o-iql", "famo2o-cql"])
def test_famo2o_recipes_offline_then_online_and_eval_reports_beta(tmp_path, toy_npz, recipe):
    cfg = resolve(recipe, TOY, {**TINY, "train.start_steps": 0, "agent.balance_hidden_dims": [32, 32],
                                "train.eval_interval": 200}, dataset=str(toy_npz), offline_steps=200,
                  online_steps=60)
    trainer = Trainer(cfg, tmp_path / recipe)
    trainer.run()
    rows = read_rows(tmp_path / recipe)
    assert {"balance/balance_loss", "balance/beta_state_mean", "actor/beta_train_mean"} <= set(rows[0])
    lo, hi = cfg.agent.beta_min, cfg.agent.beta_max
    assert all(lo <= float(r["balance/beta_state_mean"]) <= hi for r in rows)
    report = evaluate_run(tmp_path / recipe, episodes=3)
    beta = report["beta"]
    assert lo <= beta["min"] <= beta["mean"] <= beta["max"] <= hi
    assert 3 <= beta["states"] <= 3 * 25 and 0.0 <= beta["saturated_fraction"] <= 1.0  # episodes end at the goal
    png = tmp_path / "beta.png"
    assert main(["plot", str(tmp_path / recipe), "--beta", "--out", str(png)]) == 0
    assert png.stat().st_size > 5_000
