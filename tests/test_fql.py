"""FQL: the flow's Euler integration by hand, the losses' targets, a learning signal on the toy task, and the
recipe end to end with exact resume."""
import jax
import jax.numpy as jnp
import numpy as np
from conftest import TINY, TOY, read_rows

from hybridrl.agents.fql import FQLAgent, FQLConfig
from hybridrl.recipes import resolve
from hybridrl.training.loop import Trainer, evaluate_run

SMALL = FQLConfig(hidden_dims=(32, 32), batch_size=64, alpha=10.0)


def _straight_equals_resumed(tmp_path, recipe, over, fields):
    """The recipe run straight to 400 online steps, and stopped at 200 then resumed: the same rows (returned)."""
    Trainer(resolve(recipe, TOY, over, **fields, online_steps=400), tmp_path / "straight").run()
    Trainer(resolve(recipe, TOY, over, **fields, online_steps=200), tmp_path / "resumed").run()
    Trainer.resume(tmp_path / "resumed", online_steps=400).run()
    rows = read_rows(tmp_path / "straight")
    assert rows == read_rows(tmp_path / "resumed")
    return rows


def _batch(key, n=64, obs_dim=2, action_dim=2):
    k1, k2, k3 = jax.random.split(key, 3)
    obs = jax.random.normal(k1, (n, obs_dim))
    return {"observations": obs, "actions": jnp.clip(-obs / 2 + 0.05 * jax.random.normal(k2, (n, action_dim)), -1, 1),
            "rewards": jax.random.normal(k3, (n,)), "next_observations": obs, "masks": jnp.ones(n)}


def test_flow_actions_are_k_euler_steps_clipped_once_at_the_end():
    agent = FQLAgent.create(jax.random.PRNGKey(0), 2, 2, FQLConfig(hidden_dims=(8,), flow_steps=4))
    seen = []

    def velocity(params, obs, x, t):  # v = 1 − x: Euler from z gives 1 − (1 − z)(1 − 1/K)^K
        seen.append(t)
        return 1.0 - x

    agent = agent.replace(flow=agent.flow.replace(apply_fn=velocity))
    z = jnp.array([[-3.0, 0.5]])
    out = agent.flow_actions(jnp.zeros((1, 2)), z)
    expect = np.clip(1.0 - (1.0 - np.array([-3.0, 0.5])) * (1 - 1 / 4) ** 4, -1, 1)
    np.testing.assert_allclose(np.asarray(out)[0], expect, rtol=1e-6)
    # unclipped inside: the first entry passes through values below -1 on its way
    assert float(1.0 - (1.0 - -3.0) * (1 - 1 / 4)) < -1.0


def test_critic_target_reads_the_one_step_policy_and_the_mean_over_target_critics():
    agent = FQLAgent.create(jax.random.PRNGKey(0), 2, 2, SMALL)
    batch = _batch(jax.random.PRNGKey(1))
    key = jax.random.PRNGKey(2)
    loss, info = agent.critic_loss(agent.critic.params, batch, key)
    from hybridrl.nn import ensemble_apply

    a_next = jnp.clip(agent.one_step(agent.actor.params, batch["next_observations"],
                                     agent.noise(key, batch["next_observations"])), -1, 1)
    q_next = ensemble_apply(agent.critic.apply_fn, agent.target_critic_params, batch["next_observations"], a_next)
    y = batch["rewards"] + 0.99 * batch["masks"] * q_next.mean(axis=0)
    qs = ensemble_apply(agent.critic.apply_fn, agent.critic.params, batch["observations"], batch["actions"])
    np.testing.assert_allclose(float(loss), float(((qs - y[None]) ** 2).mean()), rtol=1e-5)


def test_target_update_reads_the_critic_before_the_step():
    agent = FQLAgent.create(jax.random.PRNGKey(0), 2, 2, SMALL)
    new, _ = agent.update_step(_batch(jax.random.PRNGKey(1)), jax.random.PRNGKey(2))
    expect = jax.tree_util.tree_map(lambda p, t: 0.005 * p + 0.995 * t, agent.critic.params,
                                    agent.target_critic_params)
    for a, b in zip(jax.tree_util.tree_leaves(new.target_critic_params), jax.tree_util.tree_leaves(expect),
                    strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


def test_offline_learning_signal_flow_fits_the_data_and_the_policy_follows():
    agent = FQLAgent.create(jax.random.PRNGKey(0), 2, 2, FQLConfig(hidden_dims=(64, 64), batch_size=128,
                                                                    alpha=100.0))
    update = jax.jit(lambda a, b, k: a.update(jax.tree_util.tree_map(lambda x: x[None], b), k))
    obs = jax.random.normal(jax.random.PRNGKey(9), (256, 2))
    data_actions = jnp.clip(-obs / 2, -1, 1)

    def policy_error(a):
        return float(((a.sample_actions(obs, jax.random.PRNGKey(3)) - data_actions) ** 2).mean())

    before = policy_error(agent)
    infos = []
    for i in range(600):
        agent, info = update(agent, _batch(jax.random.PRNGKey(100 + i), n=128), jax.random.PRNGKey(i))
        infos.append(info)
    assert float(infos[-1]["actor/bc_flow_loss"]) < 0.5 * float(infos[0]["actor/bc_flow_loss"])
    assert policy_error(agent) < 0.3 * before, (before, policy_error(agent))


def test_recipe_offline_then_online_resumes_exactly(tmp_path, toy_npz):
    over = {**{k: v for k, v in TINY.items() if k != "train.start_steps"}, "agent.actor_hidden_dims": [32, 32]}
    rows = _straight_equals_resumed(tmp_path, "fql", over, {"dataset": str(toy_npz), "offline_steps": 200, "seed": 0})
    online = [r for r in rows if r["phase"] == "online"]
    assert online and all(np.isfinite(float(r["critic/critic_loss"])) for r in online)  # updates from step 1
    assert {"actor/bc_flow_loss", "actor/distill_loss", "actor/q_loss"} <= set(rows[0])
    out = evaluate_run(tmp_path / "straight", episodes=2)
    assert np.isfinite(out["eval_return"])


def test_ifql_acts_by_the_best_of_n_flow_samples_under_min_q():
    from hybridrl.agents.ifql import IFQLAgent, IFQLConfig

    agent = IFQLAgent.create(jax.random.PRNGKey(0), 2, 1, IFQLConfig(hidden_dims=(16,), num_samples=8))
    # a Q that prefers actions near 0.3; flow samples that are the noise itself (v = 0)
    agent = agent.replace(actor=agent.actor.replace(apply_fn=lambda p, o, x, t: jnp.zeros_like(x)),
                          critic=agent.critic.replace(apply_fn=lambda p, o, a: -((a[..., 0] - 0.3) ** 2)))
    obs = jnp.zeros((5, 2))
    key = jax.random.PRNGKey(4)
    out = agent.sample_actions(obs, key)
    noise = np.clip(np.asarray(jax.random.normal(key, (8, 5, 1))), -1, 1)
    best = noise[np.argmin((noise[..., 0] - 0.3) ** 2, axis=0), np.arange(5)]
    np.testing.assert_allclose(np.asarray(out), best, rtol=1e-6)


def test_ifql_recipe_learns_offline_and_runs_online(tmp_path, toy_npz):
    over = {**{k: v for k, v in TINY.items() if k != "train.start_steps"}, "agent.num_samples": 4}
    over["train.offline_chunk"] = 100
    Trainer(resolve("ifql", TOY, over, dataset=str(toy_npz), offline_steps=400, online_steps=200, seed=0),
            tmp_path / "ifql").run()
    rows = read_rows(tmp_path / "ifql")
    offline = [r for r in rows if r["phase"] == "offline"]
    assert float(offline[-1]["actor/actor_loss"]) < float(offline[0]["actor/actor_loss"])
    assert {"value/value_loss", "critic/critic_loss"} <= set(rows[0]) and rows[-1]["phase"] == "online"


def test_rebrac_next_actions_stay_inside_episodes():
    from hybridrl.agents.rebrac import next_actions_within_episodes

    actions = np.arange(5, dtype=np.float32)[:, None]
    out = next_actions_within_episodes(actions, np.array([0, 1, 0, 0, 1], bool))
    assert out[:, 0].tolist() == [1, 1, 3, 4, 4]


def test_rebrac_actor_steps_every_second_update_and_moves_the_targets_then():
    from hybridrl.agents.rebrac import ReBRACAgent, ReBRACConfig

    agent = ReBRACAgent.create(jax.random.PRNGKey(0), 2, 2, ReBRACConfig(hidden_dims=(16, 16), batch_size=64))
    batch = {**_batch(jax.random.PRNGKey(1)), "next_actions": jnp.zeros((64, 2))}
    step = jax.jit(lambda a, k: a.update_step(batch, k))
    same = lambda x, y: all(bool(jnp.array_equal(p, q)) for p, q in zip(jax.tree_util.tree_leaves(x),  # noqa: E731
                                                                         jax.tree_util.tree_leaves(y), strict=True))
    one, _ = step(agent, jax.random.PRNGKey(2))  # update 0: critic, actor and targets
    assert not same(one.actor.params, agent.actor.params) and not same(one.target_critic_params,
                                                                        agent.target_critic_params)
    two, _ = step(one, jax.random.PRNGKey(3))  # update 1: the critic only
    assert same(two.actor.params, one.actor.params) and same(two.target_actor_params, one.target_actor_params)
    assert not same(two.critic.params, one.critic.params)


def test_rebrac_recipe_offline_then_online_resumes_exactly(tmp_path, toy_npz):
    over = {**{k: v for k, v in TINY.items() if k != "train.start_steps"}, "agent.hidden_dims": [32, 32],
            "train.offline_chunk": 100, "agent.actor_bc_coef": 10.0}  # a BC-dominated actor: it must follow the data
    rows = _straight_equals_resumed(tmp_path, "rebrac", over, {"dataset": str(toy_npz), "offline_steps": 400,
                                                               "seed": 0})
    offline = [r for r in rows if r["phase"] == "offline"]
    assert float(offline[-1]["actor/bc_mse_policy"]) < float(offline[0]["actor/bc_mse_policy"])


def test_flow_matching_target_is_the_straight_path_velocity():
    from hybridrl.nn.flow import flow_matching_loss

    obs = jax.random.normal(jax.random.PRNGKey(0), (4096, 2))
    actions = jnp.tanh(obs[:, ::-1])  # the data's action, a function of the state

    def exact(params, s, x, t):  # on the path x_t = (1 − t) x_0 + t a the velocity a − x_0 is (a(s) − x_t) / (1 − t)
        return (jnp.tanh(s[:, ::-1]) - x) / (1.0 - t)

    assert float(flow_matching_loss(exact, None, obs, actions, jax.random.PRNGKey(1))) < 1e-8
    # a field that always says 0 pays E‖a − x_0‖² / |A| = mean a² + 1 (x_0 ~ N(0, I))
    zero = flow_matching_loss(lambda p, s, x, t: jnp.zeros_like(x), None, obs, actions, jax.random.PRNGKey(1))
    np.testing.assert_allclose(float(zero), float((actions ** 2).mean()) + 1.0, atol=0.03)


def test_distillation_loss_is_zero_when_the_one_step_policy_reproduces_the_flow():
    from hybridrl.nn.flow import euler_actions

    agent = FQLAgent.create(jax.random.PRNGKey(0), 2, 2, SMALL)
    batch = _batch(jax.random.PRNGKey(1))
    flow, steps = agent.flow, SMALL.flow_steps

    def copy_of_flow(params, obs, z, shift=0.0):
        return euler_actions(flow.apply_fn, flow.params, obs, z, steps) + shift

    same = agent.replace(actor=agent.actor.replace(apply_fn=copy_of_flow))
    _, info = same.actor_loss(same.actor.params, batch, jax.random.PRNGKey(2))
    assert float(info["distill_loss"]) == 0.0
    off = agent.replace(actor=agent.actor.replace(apply_fn=lambda p, o, z: copy_of_flow(p, o, z, 0.1)))
    loss, info = off.actor_loss(off.actor.params, batch, jax.random.PRNGKey(2))
    np.testing.assert_allclose(float(info["distill_loss"]), 0.01, rtol=1e-5)  # mean of 0.1² over every entry
    np.testing.assert_allclose(float(loss), SMALL.alpha * 0.01 + float(info["q_loss"]), rtol=1e-5)


def test_rebrac_penalties_by_hand():
    from hybridrl.agents.rebrac import ReBRACAgent, ReBRACConfig

    cfg = ReBRACConfig(hidden_dims=(8,), actor_bc_coef=0.4, critic_bc_coef=0.3, policy_noise=0.0)
    agent = ReBRACAgent.create(jax.random.PRNGKey(0), 2, 2, cfg)
    pi = jnp.array([0.5, -0.5])

    def q_fn(params, s, a):  # the same Q for every member: Q(s, a) = s₀ − ‖a‖²
        return s[..., 0] - (a ** 2).sum(-1)

    agent = agent.replace(actor=agent.actor.replace(apply_fn=lambda p, s: jnp.broadcast_to(pi, s.shape)),
                          critic=agent.critic.replace(apply_fn=q_fn))
    s = jnp.array([[1.0, 0.0], [3.0, 0.0]])
    a = jnp.array([[0.5, 0.5], [-1.0, 0.0]])
    batch = {"observations": s, "actions": a, "rewards": jnp.array([1.0, 2.0]), "next_observations": s,
             "next_actions": jnp.array([[0.0, 0.0], [0.5, -0.5]]), "masks": jnp.array([1.0, 0.0])}
    # actor: β_actor ‖π(s) − a‖² − λ Q(s, π(s)), λ = 1 / mean |Q|
    bc = np.array([0.0 + 1.0, 2.25 + 0.25])
    q_pi = np.array([1.0 - 0.5, 3.0 - 0.5])
    loss, info = agent.actor_loss(agent.actor.params, batch)
    np.testing.assert_allclose(float(info["bc_mse_policy"]), bc.mean(), rtol=1e-6)
    np.testing.assert_allclose(float(loss), (0.4 * bc - q_pi / np.abs(q_pi).mean()).mean(), rtol=1e-6)
    # critic: y = r + γ m [min_k Q̄(s', a') − β_critic ‖a' − a'_data‖²], a' = π̄(s') (no smoothing noise here)
    penalty = np.array([0.25 + 0.25, 0.0])
    y = np.array([1.0, 2.0]) + 0.99 * np.array([1.0, 0.0]) * (q_pi - 0.3 * penalty)
    q_data = np.array([1.0 - 0.5, 3.0 - 1.0])
    loss, info = agent.critic_loss(agent.critic.params, batch, jax.random.PRNGKey(3))
    np.testing.assert_allclose(float(info["critic_bc_penalty"]), penalty.mean(), rtol=1e-6)
    np.testing.assert_allclose(float(loss), 2 * ((q_data - y) ** 2).mean(), rtol=1e-5)  # summed over the 2 critics
