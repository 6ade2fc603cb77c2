"""Offline→online methods: the distinctive piece of each on hand-checkable inputs, then each recipe end to
end on the toy task (pre-train, switch, fine-tune, pre-train once / fine-tune many)."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TINY, TOY, read_rows

from hybridrl import checkpoint
from hybridrl.agents.cql import conservative_penalty
from hybridrl.agents.iql import awr_weights, expectile_loss
from hybridrl.config import ConfigError
from hybridrl.recipes import resolve
from hybridrl.replay import ReplayBuffer
from hybridrl.replay.mixing import Append, OnlineOnly
from hybridrl.training.loop import CKPT_NAME, OFFLINE_CKPT_NAME, Trainer, _insert, _online_step, load_run_agent


def test_expectile_loss_weighs_the_two_signs():
    diff = jnp.array([-2.0, 1.0, 0.0])
    np.testing.assert_allclose(expectile_loss(diff, 0.7), [0.3 * 4.0, 0.7 * 1.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(expectile_loss(diff, 0.5), 0.5 * diff**2, rtol=1e-6)  # τ=0.5: half the MSE


def test_awr_weights_exponentiate_and_clip():
    w = awr_weights(jnp.array([0.0, 1.0, 10.0, -1.0]), 3.0, 100.0)
    np.testing.assert_allclose(w, [1.0, np.exp(3.0), 100.0, np.exp(-3.0)], rtol=1e-6)


def _lse(x):
    return np.log(np.sum(np.exp(x)))


def test_cql_logsumexp_with_importance_correction():
    # One member, one state, N=1 action per source, |A| = 2: uniform log-density is -2 log 2.
    q = lambda v: jnp.full((1, 1, 1), v)  # noqa: E731
    r = conservative_penalty(jnp.array([[1.0]]), q(0.0), q(2.0), q(3.0), jnp.array([[0.5]]), jnp.array([[-0.5]]),
                             action_dim=2, temperature=1.0, mc_returns=None)
    expected = _lse([0.0 + 2 * np.log(2.0), 2.0 - 0.5, 3.0 + 0.5]) - 1.0
    np.testing.assert_allclose(r, [expected], rtol=1e-5)
    # The temperature scales the soft maximum: T·lse(x/T).
    r2 = conservative_penalty(jnp.array([[1.0]]), q(0.0), q(2.0), q(3.0), jnp.array([[0.5]]), jnp.array([[-0.5]]),
                              action_dim=2, temperature=2.0, mc_returns=None)
    x = np.array([0.0 + 2 * np.log(2.0), 1.5, 3.5])
    np.testing.assert_allclose(r2, [2.0 * _lse(x / 2.0) - 1.0], rtol=1e-5)


def test_calql_floors_only_policy_actions_at_the_mc_return():
    q = lambda v: jnp.full((1, 1, 1), v)  # noqa: E731
    args = (jnp.array([[1.0]]), q(-5.0), q(2.0), q(3.0), jnp.array([[0.0]]), jnp.array([[0.0]]))
    r = conservative_penalty(*args, action_dim=1, temperature=1.0, mc_returns=jnp.array([10.0]))
    # uniform stays at -5 (+log 2 correction); both policy-sampled entries become max(Q, 10) = 10
    np.testing.assert_allclose(r, [_lse([-5.0 + np.log(2.0), 10.0, 10.0]) - 1.0], rtol=1e-5)
    # A return below Q changes nothing.
    low = conservative_penalty(*args, action_dim=1, temperature=1.0, mc_returns=jnp.array([-100.0]))
    none = conservative_penalty(*args, action_dim=1, temperature=1.0, mc_returns=None)
    np.testing.assert_allclose(low, none, rtol=1e-6)


def _buffers(n_off=300, n_on=100):
    off = ReplayBuffer.from_arrays({"rewards": np.ones(n_off, np.float32), "x": np.ones((n_off, 2), np.float32)})
    on = ReplayBuffer.create({"rewards": np.float32(0), "x": np.zeros(2, np.float32)}, 500)
    on = on.with_rows({"rewards": np.zeros(n_on, np.float32), "x": np.zeros((n_on, 2), np.float32)})
    return off, on


@pytest.mark.parametrize("log_std_init", [0.0, -1.5])
def test_iql_explores_with_the_configured_initial_noise(log_std_init):
    from hybridrl.agents.iql import IQLAgent, IQLConfig

    agent = IQLAgent.create(jax.random.PRNGKey(0), 5, 3, IQLConfig(hidden_dims=(8,), log_std_init=log_std_init))
    obs = jnp.zeros((20_000, 5))
    np.testing.assert_allclose(agent.policy(agent.actor_params, obs).scale, np.exp(log_std_init), rtol=1e-6)
    actions = agent.sample_actions(obs, jax.random.PRNGKey(1))
    # samples are clipped to [-1, 1]: N(0, 1) clipped has std sqrt(0.683 - 2·0.242 + 2·0.159) = 0.718;
    # std e^-1.5 = 0.223 is almost never clipped (the initial mean is ~0 at obs 0)
    np.testing.assert_allclose(actions.std(axis=0), {0.0: 0.718, -1.5: 0.223}[log_std_init], rtol=0.03)
    with pytest.raises(Exception, match="log_std_init"):
        IQLConfig(log_std_init=3.0).validate()


def test_append_mixing_is_uniform_over_the_union():
    off, on = _buffers()
    batch = jax.jit(lambda k: Append().sample(k, on, off, 256, 40))(jax.random.PRNGKey(0))
    frac = float(batch["rewards"].mean())  # offline rows have reward 1
    assert abs(frac - 0.75) < 0.02, frac  # 300 of 400 rows
    assert batch["x"].shape == (40, 256, 2)
    np.testing.assert_array_equal(batch["x"][..., 0], batch["rewards"])  # rows stay whole


def test_online_only_mixing_never_reads_offline_rows():
    off, on = _buffers()
    batch = OnlineOnly().sample(jax.random.PRNGKey(0), on, off, 256, 8)
    assert float(batch["rewards"].max()) == 0.0


def _cfg(recipe, dataset, offline_steps, online_steps, **extra):
    return resolve(recipe, TOY, {**TINY, "train.start_steps": 0, **extra}, dataset=str(dataset),
                   offline_steps=offline_steps, online_steps=online_steps)


def test_iql_pretrains_to_a_good_policy_and_keeps_data_online(tmp_path, toy_npz):
    # raw rewards, so the value loss is comparable across the phase (the return-range scale has its own test)
    cfg = _cfg("iql", toy_npz, 1500, 200, **{"train.eval_interval": 500, "train.eval_episodes": 10,
                                             "train.reward_normalization": "none"})
    trainer = Trainer(cfg, tmp_path / "iql")
    trainer.run()
    rows = read_rows(tmp_path / "iql")
    offline = [r for r in rows if r["phase"] == "offline"]
    # A uniform-random policy scores about -17 here, the data's controller about -2: IQL imitates the good part.
    assert float(offline[-1]["eval_return"]) > -4.0, offline[-1]
    # V fits the data's expectile: the loss is small beside the squared returns (|G| is up to ~17 here)
    assert float(offline[-1]["value/value_loss"]) < 0.05, offline[-1]["value/value_loss"]
    assert trainer.offline is not None and cfg.train.mixing == "append"
    # The switch checkpoint stays readable on its own (q_calibration --policy-q reads it) beside the latest one.
    switch, latest = (load_run_agent(tmp_path / "iql", name)[2]["host"] for name in (OFFLINE_CKPT_NAME, CKPT_NAME))
    assert (switch["offline_step"], switch["online_step"]) == (1500, 0)
    assert (latest["offline_step"], latest["online_step"]) == (1500, 200)


def test_calql_writes_mc_returns_of_finished_online_episodes(tmp_path, toy_npz):
    cfg = _cfg("cal-ql", toy_npz, 100, 150)
    trainer = Trainer(cfg, tmp_path / "calql")
    trainer.run()
    data = {k: np.asarray(v[:150]) for k, v in trainer.carry.buffer.data.items()}
    # PointReach episodes last 25 steps (time limit; truncation ends the Monte-Carlo sum): 6 finished episodes.
    r, g = data["rewards"].reshape(6, 25), data["mc_returns"].reshape(6, 25)
    expected = np.array([[sum(0.99**k * ep[t + k] for k in range(25 - t)) for t in range(25)] for ep in r])
    np.testing.assert_allclose(g, expected, rtol=1e-4)
    assert "mc_returns" in trainer.offline.data


def test_wsrl_warms_up_with_the_pretrained_policy_without_updates_then_drops_offline_data(tmp_path, toy_npz):
    cfg = _cfg("wsrl", toy_npz, 200, 60, **{"train.start_steps": 50, "agent.num_critics": 4})
    trainer = Trainer(cfg, tmp_path / "wsrl")
    trainer.run()
    tree, _, _ = checkpoint.load(tmp_path / "wsrl" / OFFLINE_CKPT_NAME, {"state": trainer._state_tree()})
    pretrained = tree["state"]["agent"]
    assert trainer.offline is None  # no offline data kept online
    assert cfg.train.mixing == "online-only" and not cfg.agent.online_conservative
    # 60 online steps, 50 of warm-up: only the last 10 updated the agent.
    assert not np.allclose(pretrained.actor.params["params"]["Dense_0"]["kernel"],
                           trainer.carry.agent.actor.params["params"]["Dense_0"]["kernel"])

    # The warm-up step itself: no update, and the action is the agent's own sample.
    agent = pretrained.to_online()
    buf = ReplayBuffer.create(trainer._example_transition(), 10)
    carry = trainer.carry.replace(agent=agent, buffer=buf)
    tr = {k: jnp.asarray(v) for k, v in trainer._example_transition().items()}
    obs = jnp.ones((2,), jnp.float32) * 0.3
    stored = _insert(carry, tr, np.bool_(False), mixer=OnlineOnly())
    assert int(stored.buffer.size) == 1
    new, action, info = _online_step(stored, None, obs, mixer=OnlineOnly(), batch_size=8, utd=4, train=False,
                                     act="agent")
    assert info == {}
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)),
                                                         new.agent.critic.params, agent.critic.params))
    _, _, _, key_act = jax.random.split(carry.rng, 4)
    np.testing.assert_allclose(action, agent.sample_actions(obs, key_act), rtol=1e-6)


@pytest.mark.parametrize("recipe", ["cal-ql", "iql"])  # cal-ql runs the CQL agent
def test_pretrain_once_then_fine_tune_from_the_checkpoint(tmp_path, toy_npz, recipe):
    pre = Trainer(_cfg(recipe, toy_npz, 200, 0), tmp_path / "pre")
    pre.run()
    ft = Trainer.from_pretrained(tmp_path / "pre", tmp_path / "ft", {"train.progress": False,
                                                                      "train.tensorboard": False},
                                 online_steps=100, seed=3)
    src = jax.tree_util.tree_leaves(pre.carry.agent.actor.params)
    assert all(np.array_equal(a, b) for a, b in zip(src, jax.tree_util.tree_leaves(ft.carry.agent.actor.params),
                                                      strict=True))
    if recipe == "iql":  # the offline-only run decays the actor lr to 0 at its end; fine-tuning is at a constant rate
        assert pre.cfg.agent.actor_decay_steps == 200 and ft.cfg.agent.actor_decay_steps == 0
    ft.run()
    rows = read_rows(tmp_path / "ft")
    assert {r["phase"] for r in rows} == {"online"}  # no second pre-training
    assert ft.host.offline_step == ft.cfg.train.offline_steps and ft.host.online_step == 100
    # --set values read as on a fresh run (JSON lists, numbers), and --env passed on, not dropped
    widths = json.dumps(list(pre.cfg.agent.hidden_dims))
    again = Trainer.from_pretrained(tmp_path / "pre", tmp_path / "ft2", [f"agent.hidden_dims={widths}",
                                                                         "train.eval_episodes=2"],
                                    online_steps=50, env=TOY)
    assert again.cfg.agent.hidden_dims == pre.cfg.agent.hidden_dims and again.cfg.train.eval_episodes == 2
    assert again.cfg.train.env == TOY
    # data of another env is refused unless --env says to go there (same-sized envs would load without complaint)
    with pytest.raises(ConfigError, match="recorded on Hopper-v5, but .* pre-trained on hybridrl/PointReach-v0; "
                                          "pass --env Hopper-v5"):
        Trainer.from_pretrained(tmp_path / "pre", tmp_path / "ft3", online_steps=50, dataset="hopper-medium-small")


def test_a_run_killed_between_the_switchs_checkpoints_writes_its_pre_training_on_resume(tmp_path, toy_npz):
    from hybridrl.training.loop import OFFLINE_CKPT_NAME

    Trainer(_cfg("iql", toy_npz, 200, 0), tmp_path / "pre").run()
    path = tmp_path / "pre" / OFFLINE_CKPT_NAME
    before = dict(np.load(path))
    path.unlink()  # as if killed after the switch's latest.npz, before the pre-training's own checkpoint
    Trainer.resume(tmp_path / "pre", online_steps=100).run()
    after = dict(np.load(path))
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)
    mtime = path.stat().st_mtime
    Trainer.resume(tmp_path / "pre", online_steps=200).run()  # past the switch: left as it is
    assert path.stat().st_mtime == mtime


# ---- Balanced Replay --------------------------------------------------------------------------------
def test_density_ratio_loss_by_hand_and_minimised_at_the_true_ratio():
    from hybridrl.replay.mixing import density_ratio_loss

    # w = 1 everywhere: −log(2/2) − log(2/2) = 0; w = 3 on one online sample: −log(2·3/4) = −log 1.5.
    assert float(density_ratio_loss(jnp.ones(4), jnp.ones(4))) == pytest.approx(0.0, abs=1e-6)
    assert float(density_ratio_loss(jnp.ones(2), jnp.array([3.0]))) == pytest.approx(-np.log(1.5), rel=1e-5)
    # Two states: offline data 80% a / 20% b, online 20% a / 80% b. The loss over per-state weights is
    # minimised at w = d_on / d_off = (0.25, 4).
    off = jnp.array([0] * 8 + [1] * 2)
    on = jnp.array([0] * 2 + [1] * 8)

    def loss(w):
        return density_ratio_loss(w[off], w[on])

    grad = jax.grad(loss)(jnp.array([0.25, 4.0]))
    np.testing.assert_allclose(grad, 0.0, atol=1e-6)
    for other in ([0.3, 4.0], [0.25, 3.5], [1.0, 1.0]):
        assert float(loss(jnp.array(other))) > float(loss(jnp.array([0.25, 4.0])))


def test_ratio_priorities_are_tempered_normalised_by_offline_and_clipped():
    from hybridrl.replay.mixing import ratio_priorities

    w = jnp.array([1.0, 32.0, 0.0, 1e30])
    p = ratio_priorities(w, w_offline=jnp.array([1.0, 1.0]), temperature=5.0)
    np.testing.assert_allclose(p, [1.0, 2.0, 1e-3, 1e3], rtol=1e-5)  # 32^(1/5) = 2
    p = ratio_priorities(jnp.array([32.0]), w_offline=jnp.array([32.0, 0.0]), temperature=5.0)  # offline mean 1
    np.testing.assert_allclose(p, [2.0], rtol=1e-5)


def test_density_ratio_mixing_samples_by_priority_and_updates_drawn_rows():
    from hybridrl.replay.mixing import DensityRatio, ratio_priorities

    # The first 100 online rows should make half of the draws beside 300 offline rows at priority 1:
    # they enter at 300 · 0.5 / (0.5 · 100) = 3 (0.75 → 9).
    mixer = DensityRatio(hidden_dims=(8,), ratio_batch_size=64, online_fraction=0.5, online_rows=100)
    assert DensityRatio(online_fraction=0.75, online_rows=100).initial_priority(300) == 9.0
    off = ReplayBuffer.from_arrays({"observations": np.ones((300, 2), np.float32),
                                    "actions": np.zeros((300, 1), np.float32), "rewards": np.ones(300, np.float32)})
    on = ReplayBuffer.create({"observations": np.zeros(2, np.float32), "actions": np.zeros(1, np.float32),
                              "rewards": np.float32(0), **mixer.fields()}, 500)
    state = mixer.init_state(jax.random.PRNGKey(0), 2, 1, 300)
    assert float(state.max_priority) == 3.0
    for _ in range(100):  # new rows enter at the highest priority so far
        row = mixer.on_insert({"observations": jnp.zeros(2), "actions": jnp.zeros(1), "rewards": jnp.float32(0)},
                              state)
        on = on.insert(row)
    np.testing.assert_array_equal(on.data["priority"][:100], 3.0)
    # 300 offline rows at priority 1 and 100 online rows at 3: half of every draw is online.
    step = jax.jit(lambda k, on_, st: mixer.step(k, on_, off, 256, 40, st))
    batch, on2, state2, info = step(jax.random.PRNGKey(1), on, state)
    assert abs(float(info["mix/ratio_online_share"]) - 0.5) < 0.02
    assert abs(float(1.0 - batch["rewards"].mean()) - 0.5) < 0.02 and "priority" not in batch
    # The drawn rows now carry the priorities of the updated ratio network; the others are unchanged.
    changed_off = np.asarray(state2.offline_priority) != 1.0
    assert 0 < changed_off.sum() <= 300
    w = jax.nn.relu(state2.ratio.apply_fn(state2.ratio.params, jnp.ones((1, 2)), jnp.zeros((1, 1))))
    np.testing.assert_allclose(np.asarray(state2.offline_priority)[changed_off],
                               float(ratio_priorities(w, w, mixer.temperature)[0]), rtol=1e-5)
    assert np.all(np.asarray(on2.data["priority"][100:]) == 0.0)  # unfilled rows are never drawn


def test_moment_matched_merge_of_member_gaussians():
    from hybridrl.agents.balanced import merge_gaussians

    d = merge_gaussians(jnp.array([[0.0], [2.0]]), jnp.array([[1.0], [1.0]]))
    np.testing.assert_allclose(d.loc, [1.0])  # mean of means
    np.testing.assert_allclose(d.scale, [np.sqrt(2.0)], rtol=1e-6)  # E[σ² + μ²] − μ̄² = 3 − 1


def test_balanced_replay_trains_members_apart_then_prioritises_online_samples(tmp_path, toy_npz):
    cfg = _cfg("balanced-replay", toy_npz, 200, 300, **{"agent.ensemble_size": 3, "train.ratio_hidden_dims": [16],
                                                        "train.log_interval": 50, "train.eval_interval": 300,
                                                        "train.first_epoch_steps": 100})
    assert cfg.train.first_epoch_multiplier == 5  # the preset: 5x updates in the first online epoch
    trainer = Trainer(cfg, tmp_path / "br")
    pre = trainer.carry.agent
    assert pre.batch_multiplier == 3
    pre_kernel = np.asarray(pre.members.critic.params["params"]["MLP_0"]["Dense_0"]["kernel"])  # donated by run()
    trainer.run()
    agent = trainer.carry.agent
    assert agent.online and agent.batch_multiplier == 1
    kernels = np.asarray(agent.members.actor.params["params"]["Dense_0"]["kernel"])
    assert kernels.shape[0] == 3 and not np.allclose(kernels[0], kernels[1])
    tree, _, _ = checkpoint.load(tmp_path / "br" / OFFLINE_CKPT_NAME, {"state": trainer._state_tree()})
    offline_agent = tree["state"]["agent"]
    # Offline the members trained (each on its own minibatch); online the shared temperature started
    # fresh (the authors' code) and learned.
    assert not np.allclose(offline_agent.members.critic.params["params"]["MLP_0"]["Dense_0"]["kernel"], pre_kernel)
    assert int(agent.temp.step) == 5 * 100 + 200  # one actor/temperature step per update
    rows = read_rows(tmp_path / "br")
    online = [r for r in rows if r["phase"] == "online"]
    assert {"mix/ratio_loss", "mix/ratio_online_share", "critic/cql_penalty"} <= set(rows[0])
    assert online[0]["critic/cql_penalty"] == ""  # the conservative term is gone online
    # 300 online rows beside 2000 offline ones: uniform replay would draw 13% online; new rows enter at
    # priority 2000 · 0.5 / (0.5 · 1000) = 2 and the density ratio (starting at w = 1 everywhere, as the
    # authors' net) rates online (near-on-policy) samples higher, so the prioritised share is larger.
    p_off = np.asarray(trainer.carry.mix.offline_priority)
    p_on = np.asarray(trainer.carry.buffer.data["priority"][:300])
    assert p_on.mean() > 1.05 * p_off.mean(), (p_on.mean(), p_off.mean())
    assert p_on.sum() / (p_on.sum() + p_off.sum()) > 1.05 * 300 / 2300, (p_on.mean(), p_off.mean())
    assert np.mean([float(r["mix/ratio_w_online"]) > float(r["mix/ratio_w_offline"]) for r in online]) > 0.5


def test_proportional_sampler_keeps_small_priorities_over_many_rows():
    from hybridrl.replay.mixing import sample_proportional

    # 300k rows: 100 "hot" rows at 1000, 1000 "cold" rows at 1e-3·1000 = 1, the rest at 0.01, zeros at the end.
    p = np.full(300_000, 0.01, np.float32)
    p[5_000:5_100] = 1000.0
    p[200_000:201_000] = 1.0
    p[-777:] = 0.0
    idx = np.asarray(jax.jit(lambda k: sample_proportional(k, jnp.asarray(p), (40_000,)))(jax.random.PRNGKey(0)))
    total = p.sum()
    for lo, hi in ((5_000, 5_100), (200_000, 201_000)):
        expected = p[lo:hi].sum() / total
        assert abs(np.mean((idx >= lo) & (idx < hi)) - expected) < 4 * np.sqrt(expected / 40_000) + 1e-4
    assert idx.max() < 300_000 - 777  # zero-priority rows are never drawn
