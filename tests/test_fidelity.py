"""The fixes that bring the seed methods to their authors' code, each on a hand-checkable input, and the
fidelity sheets generated from the configs."""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TINY, TOY

from hybridrl.config import ConfigError
from hybridrl.recipes import resolve
from hybridrl.training.loop import Trainer


def test_unclipped_sample_passes_the_gradient_where_a_clipped_one_stops_it():
    from hybridrl.nn.distributions import Gaussian

    loc, scale = jnp.full((4096, 3), 0.95), jnp.ones((4096, 3))
    key = jax.random.PRNGKey(0)
    clipped = jax.grad(lambda m: Gaussian(m, scale).sample(key).sum())(loc)
    unclipped = jax.grad(lambda m: Gaussian(m, scale).rsample(key).sum())(loc)
    np.testing.assert_array_equal(unclipped, 1.0)  # d a / d loc = 1 on every dimension
    outside = np.abs(np.asarray(Gaussian(loc, scale).rsample(key))) > 1
    assert 0.4 < outside.mean() < 0.6  # with the mean near 1, about half the draws leave [-1, 1] ...
    np.testing.assert_array_equal(np.asarray(clipped)[outside], 0.0)  # ... and clipping zeroes their gradient


def test_famo2o_balance_loss_reads_an_unclipped_action_and_reaches_beta(monkeypatch):
    from hybridrl.agents import make_agent
    from hybridrl.nn import distributions

    cfg = resolve("famo2o-iql", TOY, {"agent.hidden_dims": [16, 16], "agent.balance_hidden_dims": [16, 16]},
                  dataset=None, online_steps=1, offline_steps=0)
    agent = make_agent("famo2o-iql", jax.random.PRNGKey(0), 2, 2, cfg.agent)

    def refuse(*_a, **_k):
        raise AssertionError("the balance loss drew a clipped sample")

    monkeypatch.setattr(distributions.Gaussian, "sample", refuse)
    batch = {"observations": jax.random.uniform(jax.random.PRNGKey(1), (64, 2), minval=-1, maxval=1)}
    grads, info = jax.grad(agent.balance_loss, has_aux=True)(agent.balance.params, batch, jax.random.PRNGKey(2))
    assert any(float(jnp.abs(g).max()) > 0 for g in jax.tree_util.tree_leaves(grads))
    # the balance model's log-std is one learned value (state-independent), clipped to [-10, 2]
    assert agent.balance.params["params"]["log_std"].shape == (1,)
    assert cfg.agent.balance_every == 1


def test_famo2o_awr_weighting_per_sample_and_the_authors_batch_mean():
    from hybridrl.agents.iql import awr_weights

    adv, beta = jnp.array([1.0, -1.0]), jnp.array([1.0, 2.0])
    per_sample = awr_weights(adv, beta, 100.0)
    np.testing.assert_allclose(per_sample, [np.e, np.exp(-2.0)], rtol=1e-6)
    batch_mean = awr_weights(adv[None, :], beta[:, None], 100.0).mean(axis=0)  # what the authors' broadcast does
    np.testing.assert_allclose(batch_mean, [(np.e + np.e ** 2) / 2, (np.exp(-1) + np.exp(-2)) / 2], rtol=1e-6)
    with pytest.raises(ConfigError, match="agent.awr_beta_weighting must be 'per-sample' or 'batch-mean'"):
        resolve("famo2o-iql", TOY, {"agent.awr_beta_weighting": "mean"}, dataset=None, online_steps=1)


def test_iql_rewards_scaled_by_the_data_return_range_offline_and_online(tmp_path, toy_npz):
    from hybridrl.data import load_dataset

    cfg = resolve("iql", TOY, {**TINY, "train.start_steps": 0}, dataset=str(toy_npz), offline_steps=10,
                  online_steps=30)
    assert cfg.train.reward_normalization == "return-range" and cfg.agent.actor_decay_steps == 0
    trainer = Trainer(cfg, tmp_path / "iql")
    ds = load_dataset(str(toy_npz))
    returns = ds.episode_returns()
    scale = 1000.0 / (returns.max() - returns.min())
    assert trainer.reward_scale == pytest.approx(scale)
    np.testing.assert_allclose(np.asarray(trainer.offline.data["rewards"]), ds.rewards * scale, rtol=1e-5)
    trainer.run()
    online = trainer.carry.buffer.filled()
    env_rewards = -np.linalg.norm(online["next_observations"], axis=1)  # PointReach: r = −‖s′‖
    np.testing.assert_allclose(online["rewards"], env_rewards * scale, rtol=1e-4)
    # an offline-only IQL run decays the actor lr over its offline steps, as IQL's code
    assert resolve("iql", TOY, dataset=str(toy_npz), offline_steps=500, online_steps=0).agent.actor_decay_steps == 500
    maze = resolve("iql", "PointMaze_Medium-v3", dataset="pointmaze-medium-diverse-small", online_steps=1)
    assert maze.train.reward_normalization == "none" and maze.train.reward_bias == -1.0


def test_buffer_never_samples_withheld_rows():
    from hybridrl.replay import ReplayBuffer

    example = {"x": np.float32(0)}
    buf = ReplayBuffer.create(example, 8)
    for i in range(5):
        buf = buf.insert({"x": jnp.float32(i)})
    for i in range(5, 8):
        buf = buf.insert({"x": jnp.float32(i)}, hold=True)
    idx = np.asarray(buf.sample_indices(jax.random.PRNGKey(0), (4000,)))
    assert set(np.unique(idx)) == {0, 1, 2, 3, 4}
    buf = buf.release()
    assert set(np.unique(np.asarray(buf.sample_indices(jax.random.PRNGKey(0), (4000,))))) == set(range(8))
    # a wrapped ring: rows 8..9 overwrote 0..1 and are withheld; the oldest rows (2..7) stay sampleable
    for i in range(8, 10):
        buf = buf.insert({"x": jnp.float32(i)}, hold=True)
    values = np.asarray(buf.gather(buf.sample_indices(jax.random.PRNGKey(1), (4000,)))["x"])
    assert set(np.unique(values)) == {2.0, 3.0, 4.0, 5.0, 6.0, 7.0}


def test_cal_ql_waits_for_the_first_episode_and_samples_finished_episodes_only(tmp_path, toy_npz):
    cfg = resolve("cal-ql", TOY, {**TINY, "train.start_steps": 0, "train.log_interval": 1,
                                  "train.eval_interval": 1000}, dataset=str(toy_npz), offline_steps=10,
                  online_steps=40)
    assert cfg.train.first_update_after_episode and cfg.train.warmup_policy == "agent"
    assert cfg.agent.cql_alpha == 5.0 and cfg.agent.max_backup and cfg.agent.temp_lr == 1e-4
    trainer = Trainer(cfg, tmp_path / "calql")
    seen: list[tuple[int, int, int]] = []  # (episode, pending rows before storing, whether this step trained)
    insert, step = trainer._insert_fn, trainer._step_fn

    def spy_insert(carry, transition, hold, *rest):
        h = trainer.host
        # every earlier row of the running episode is withheld; at its end they were released first
        assert int(carry.buffer.pending) == max(h.episode_length - 1, 0)
        assert bool(hold) == (h.episode_length > 0)  # the last step of an episode is stored released
        seen.append((h.episode, int(carry.buffer.pending), 0))
        return insert(carry, transition, hold, *rest)

    def spy_step(carry, offline, policy_obs, *, train, act, repeats):
        seen[-1] = (*seen[-1][:2], int(train))
        return step(carry, offline, policy_obs, train=train, act=act, repeats=repeats)

    trainer._insert_fn, trainer._step_fn = spy_insert, spy_step
    trainer.run()
    first_train = next(i for i, (_, _, t) in enumerate(seen) if t)
    assert all(ep == 0 for ep, _, _ in seen[:first_train])  # nothing trained inside the first episode
    assert seen[first_train][:2] == (1, 0)  # the first update comes at its last step, its rows released
    rows = trainer.carry.buffer.filled()
    finished = len(rows["mc_returns"]) - int(trainer.carry.buffer.pending)
    assert np.isfinite(rows["mc_returns"][:finished]).all() and np.isneginf(rows["mc_returns"][finished:]).all()


def test_ratio_net_starts_at_one_everywhere():
    from hybridrl.replay.mixing import make_mixer

    mixer = make_mixer("density-ratio", temperature=5.0, hidden_dims=(32, 32), lr=3e-4, online_fraction=0.5)
    state = mixer.init_state(jax.random.PRNGKey(0), 5, 3, 100)
    batch = {"observations": jax.random.normal(jax.random.PRNGKey(1), (512, 5)) * 3,
             "actions": jax.random.uniform(jax.random.PRNGKey(2), (512, 3), minval=-1, maxval=1)}
    w = np.asarray(mixer.weights(state.ratio.params, state, batch))
    assert np.all(w > 0.9) and np.all(w < 1.1)
    hidden = state.ratio.params["params"]["MLP_0"]["Dense_0"]  # the authors' rlkit ConcatMlp: bias 0, U(±1/√out)
    assert not np.any(np.asarray(hidden["bias"])) and np.abs(np.asarray(hidden["kernel"])).max() <= 1 / np.sqrt(32)


def test_recipe_presets_follow_the_authors():
    wsrl = resolve("wsrl", "Hopper-v5", dataset="hopper-medium-small", online_steps=1)
    assert wsrl.agent.actor_aggregation == "min" and wsrl.agent.cql_alpha == 5.0
    br = resolve("balanced-replay", "Hopper-v5", dataset="hopper-medium-small", online_steps=1)
    assert br.train.start_steps == 1000 and br.train.warmup_policy == "agent"
    assert br.agent.online_temperature == "fresh"
    fcql = resolve("famo2o-cql", "Hopper-v5", dataset="hopper-medium-small", online_steps=1)
    assert (fcql.agent.cql_alpha, fcql.agent.max_backup, fcql.agent.critic_layer_norm, fcql.train.mixing) == \
        (1.0, False, True, "append")
    with pytest.raises(ConfigError, match="train.reward_normalization must be 'none' or 'return-range'"):
        resolve("iql", "Hopper-v5", {"train.reward_normalization": "minmax"}, dataset="hopper-medium-small")
    with pytest.raises(ConfigError, match="agent.online_temperature must be 'fresh' or 'members-mean'"):
        resolve("balanced-replay", "Hopper-v5", {"agent.online_temperature": "x"}, dataset="hopper-medium-small")


@pytest.mark.parametrize("spelling", ["hopper-medium-replay", "hopper-medium-replay-small",
                                      "/data/hopper_medium_replay-v2.hdf5", "D4RL/hopper/medium-replay-v0"])
def test_rebrac_takes_the_authors_bc_pair_of_the_dataset_however_it_is_spelt(spelling):
    from hybridrl.recipes import dataset_family

    assert dataset_family(spelling) == "hopper-medium-replay"
    cfg = resolve("rebrac", "Hopper-v5", dataset=spelling, online_steps=1)
    assert (cfg.agent.actor_bc_coef, cfg.agent.critic_bc_coef) == (0.05, 0.5)  # configs/rebrac/hopper/*_replay.yaml
    assert resolve("rebrac", "Walker2d-v5", dataset="walker2d-random-small").agent.critic_bc_coef == 0.0
    # data of another name: the domain's pair; an explicit value still wins over the dataset's
    other = resolve("rebrac", "Hopper-v5", dataset="hopper-medium-replay-actionfree-small").agent
    assert (other.actor_bc_coef, other.critic_bc_coef) == (0.01, 0.01)
    mine = resolve("rebrac", "Hopper-v5", {"agent.critic_bc_coef": 0.2}, dataset=spelling).agent
    assert (mine.actor_bc_coef, mine.critic_bc_coef) == (0.05, 0.2)


def test_fql_takes_the_tuned_locomotion_alpha_of_the_dataset():
    # Flow Actor-Critic's FQL baseline (arXiv 2602.18015, README): Hopper 100, Walker2d 300, HalfCheetah 3 / 30
    assert resolve("fql", "Hopper-v5", dataset="hopper-medium-replay", online_steps=1).agent.alpha == 100.0
    assert resolve("fql", "Walker2d-v5", dataset="/d/walker2d_medium-v2.hdf5", online_steps=1).agent.alpha == 300.0
    assert resolve("fql", "HalfCheetah-v5", dataset="halfcheetah-medium-small", online_steps=1).agent.alpha == 3.0
    assert resolve("fql", "HalfCheetah-v5", dataset="mujoco/halfcheetah/medium-replay-v0").agent.alpha == 30.0
    # data the tuning does not cover keeps the code's default; an explicit α still wins
    assert resolve("fql", "Hopper-v5", dataset="hopper-random-small", online_steps=1).agent.alpha == 10.0
    assert resolve("fql", "Hopper-v5", {"agent.alpha": 7.0}, dataset="hopper-medium", online_steps=1).agent.alpha == 7.0


def test_fidelity_sheets_are_generated_and_docs_are_current(capsys):
    from hybridrl.cli import main
    from hybridrl.fidelity import SHEETS, markdown, sheet
    from hybridrl.recipes import RECIPES

    assert set(SHEETS) == set(RECIPES)
    rows = {r["item"]: r for r in sheet("famo2o-iql")}
    assert rows["balance-model updates"]["ours"] == "1"  # read from the resolved config
    assert rows["AWR weight"]["differs"] and "batch-mean" in rows["AWR weight"]["note"]
    doc = Path(__file__).resolve().parents[1] / "docs" / "fidelity.md"
    assert doc.read_text().strip() == markdown().strip(), "regenerate: python -m hybridrl.fidelity > docs/fidelity.md"
    assert main(["recipes", "cal-ql"]) == 0
    out = capsys.readouterr().out
    assert "first online update" in out and "nakamotoo/Cal-QL" in out
    assert main(["recipes", "nope"]) == 2


def test_cql_actor_shape_options_follow_the_authors(toy_npz):
    import dataclasses

    from hybridrl.agents import make_agent

    cfg = resolve("cal-ql", TOY, {"agent.hidden_dims": [16, 16]}, dataset=str(toy_npz), online_steps=1)
    assert cfg.agent.actor_log_std_offset == -1.0
    agent = make_agent("cql", jax.random.PRNGKey(0), 2, 2, cfg.agent)
    p = agent.actor.params["params"]
    assert float(p["log_std_offset"]) == -1.0 and float(p["log_std_multiplier"]) == 1.0
    obs = jnp.zeros((1, 2))
    raw = dataclasses.replace(cfg.agent, actor_log_std_offset=None)
    plain = make_agent("cql", jax.random.PRNGKey(0), 2, 2, raw)
    np.testing.assert_allclose(np.log(agent.policy(agent.actor.params, obs).scale),
                               np.log(plain.policy(plain.actor.params, obs).scale) - 1.0, rtol=1e-5, atol=1e-5)
    maze = resolve("cal-ql", "PointMaze_Medium-v3", dataset="pointmaze-medium-diverse-small", online_steps=1).agent
    assert maze.hidden_dims == (256,) * 4 and maze.actor_hidden_dims == (256, 256)
    wsrl = resolve("wsrl", "Hopper-v5", dataset="hopper-medium-small", online_steps=1).agent
    assert wsrl.actor_layer_norm and wsrl.online_max_backup is False and wsrl.max_backup


def test_wsrl_online_backup_drops_the_max_over_actions(toy_npz):
    import dataclasses

    from hybridrl.agents import make_agent

    cfg = resolve("wsrl", TOY, {"agent.hidden_dims": [16, 16], "agent.num_critics": 4}, dataset=str(toy_npz),
                  online_steps=1).agent
    batch = {"rewards": jnp.zeros(8), "masks": jnp.ones(8), "next_observations": jnp.ones((8, 2)) * 0.3}
    key = jax.random.PRNGKey(3)
    online = make_agent("cql", jax.random.PRNGKey(0), 2, 2, cfg).to_online()
    single = make_agent("cql", jax.random.PRNGKey(0), 2, 2, dataclasses.replace(cfg, max_backup=False))
    maxed = make_agent("cql", jax.random.PRNGKey(0), 2, 2, cfg)
    np.testing.assert_array_equal(online.backup(batch, key), single.backup(batch, key))  # one a′, as SAC
    assert not np.allclose(maxed.backup(batch, key), single.backup(batch, key))  # offline: the max over 10


def test_balanced_replay_online_actors_get_a_fresh_adam_at_the_authors_rate(toy_npz):
    from hybridrl.agents import make_agent

    cfg = resolve("balanced-replay", TOY, {"agent.hidden_dims": [8], "agent.ensemble_size": 2},
                  dataset=str(toy_npz), online_steps=1).agent
    assert cfg.online_actor_lr == 3e-4 and cfg.actor_lr == 1e-4
    agent = make_agent("balanced", jax.random.PRNGKey(0), 2, 2, cfg)
    nonzero = jax.tree_util.tree_map(lambda x: x + 1.0, agent.members.actor.opt_state)  # as after pre-training
    trained = agent.replace(members=agent.members.replace(actor=agent.members.actor.replace(opt_state=nonzero)))
    online = trained.to_online()
    mu = online.members.actor.opt_state[0].mu
    assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree_util.tree_leaves(mu))  # new moments
    resumed = trained.replace(temp=trained.temp.replace(step=trained.temp.step + 5)).to_online()
    kept = resumed.members.actor.opt_state[0].mu
    assert all(float(x.min()) == 1.0 for x in jax.tree_util.tree_leaves(kept))  # a resumed online run keeps them


def test_initialisers_follow_each_authors_code():
    from hybridrl.nn.mlp import Critic

    obs, act = jnp.zeros((1, 40)), jnp.zeros((1, 24))
    for scheme, out_gain in (("orthogonal", 2 ** 0.5), ("orthogonal-small-output", 1e-2)):
        p = Critic((64, 64), init_scheme=scheme).init(jax.random.PRNGKey(0), obs, act)["params"]
        hidden = np.asarray(p["MLP_0"]["Dense_0"]["kernel"])  # (64 inputs, 64): orthogonal columns of norm √2
        np.testing.assert_allclose(hidden.T @ hidden, 2.0 * np.eye(64), atol=1e-4)
        out = np.asarray(p["Dense_0"]["kernel"])  # (64, 1): one column of norm = the gain
        assert np.linalg.norm(out) == pytest.approx(out_gain, rel=1e-4)
    assert resolve("iql", "Hopper-v5", dataset="hopper-medium-small").agent.init == "orthogonal"
    assert resolve("cal-ql", "Hopper-v5", dataset="hopper-medium-small").agent.init == "orthogonal-small-output"
    assert resolve("rlpd", "Hopper-v5", dataset="hopper-medium-small").agent.init == "xavier"
    with pytest.raises(ConfigError, match="agent.init must be one of xavier, orthogonal, orthogonal-small-output, "
                                          "lecun-small-output, rlkit"):
        resolve("sac", "Hopper-v5", {"agent.init": "he"})


def test_rlkit_jaxcql_and_wsrl_initialisers_by_hand(tmp_path):
    """Balanced Replay fine-tunes checkpoints of CQL's rlkit; FamO2O-CQL runs JaxCQL without orthogonal init."""
    from hybridrl.nn.mlp import Critic, TanhGaussianActor

    obs, act = jnp.zeros((1, 11)), jnp.zeros((1, 3))
    q = Critic((256, 128), init_scheme="rlkit").init(jax.random.PRNGKey(0), obs, act)["params"]
    first, second = (np.asarray(q["MLP_0"][f"Dense_{i}"]["kernel"]) for i in (0, 1))
    # rlkit's fanin_init reads size[0] of torch's (out, in) weight: the bound is 1/√out, not 1/√in
    assert np.abs(first).max() <= 1 / 16 and np.abs(first).max() > 0.99 / 16  # (14, 256)
    assert np.abs(second).max() <= 1 / np.sqrt(128) and np.abs(second).max() > 0.99 / np.sqrt(128)
    np.testing.assert_array_equal(np.asarray(q["MLP_0"]["Dense_0"]["bias"]), np.full(256, 0.1, np.float32))
    out_w, out_b = np.asarray(q["Dense_0"]["kernel"]), np.asarray(q["Dense_0"]["bias"])
    assert np.abs(out_w).max() <= 3e-3 and np.abs(out_w).max() > 2.9e-3 and 0 < abs(out_b[0]) <= 3e-3
    pi = TanhGaussianActor((256, 256), 3, init_scheme="rlkit").init(jax.random.PRNGKey(1), obs)["params"]
    for head in ("Dense_0", "Dense_1"):  # mean and log-std: U(±1e-3), biases too
        w, b = np.asarray(pi[head]["kernel"]), np.asarray(pi[head]["bias"])
        assert np.abs(w).max() <= 1e-3 and np.abs(w).max() > 0.95e-3 and np.all(np.abs(b) <= 1e-3) and np.any(b != 0)
    lq = Critic((256, 256), init_scheme="lecun-small-output").init(jax.random.PRNGKey(2), obs, act)["params"]
    hidden = np.asarray(lq["MLP_0"]["Dense_1"]["kernel"])  # LeCun normal: variance 1/fan_in
    assert hidden.std() == pytest.approx(1 / 16, rel=0.05)
    out = np.asarray(lq["Dense_0"]["kernel"])  # variance scaling 1e-2, fan-in, uniform: U(±√(3e-2/256))
    assert np.abs(out).max() <= np.sqrt(3e-2 / 256) and np.abs(out).max() > 0.9 * np.sqrt(3e-2 / 256)
    w = Critic((64, 64, 64), init_scheme="wsrl").init(jax.random.PRNGKey(3), obs, act)["params"]  # kernel_scale_final
    first = np.asarray(w["MLP_0"]["Dense_0"]["kernel"])  # (14, 64): orthogonal rows
    np.testing.assert_allclose(first @ first.T, 2.0 * np.eye(14), atol=1e-4)
    for i, gain in ((1, 2 ** 0.5), (2, 1e-2)):  # the last hidden layer at 1e-2, the others √2
        k = np.asarray(w["MLP_0"][f"Dense_{i}"]["kernel"])
        np.testing.assert_allclose(k.T @ k, gain ** 2 * np.eye(64), atol=1e-4 * gain ** 2)
    assert np.linalg.norm(np.asarray(w["Dense_0"]["kernel"])) == pytest.approx(2 ** 0.5, rel=1e-4)
    wsrl, wsrl_maze = (resolve("wsrl", env, dataset=ds, online_steps=1) for env, ds in
                       (("Hopper-v5", "hopper-medium-small"),
                        ("hybridrl/PointMaze_Medium_FixedGoal-v3", "pointmaze-medium-diverse-small")))
    assert (wsrl.agent.init, wsrl.agent.actor_state_dependent_std) == ("wsrl", True)
    assert (wsrl_maze.agent.init, wsrl_maze.agent.actor_state_dependent_std) == ("wsrl", False)
    from hybridrl.agents.sac import SACAgent, SACConfig
    from hybridrl.nn.policy_file import load_policy, save_policy

    cfg = SACConfig(hidden_dims=(16, 16), actor_state_dependent_std=False)
    agent = SACAgent.create(jax.random.PRNGKey(4), 11, 3, cfg)
    exported = agent.export_policy()
    assert exported["state_dependent_std"] is False and "log_std" in exported["params"]["params"]
    save_policy(tmp_path / "pi.npz", exported.pop("params"), 11, 3, **exported)
    actor, params, _ = load_policy(tmp_path / "pi.npz")  # the file rebuilds the same state-independent actor
    x = jnp.ones((2, 11))
    np.testing.assert_array_equal(np.asarray(actor.apply(params, x).mode()),
                                  np.asarray(agent.actor.apply_fn(agent.actor.params, x).mode()))
    assert resolve("balanced-replay", "Hopper-v5", dataset="hopper-medium-small").agent.init == "rlkit"
    assert resolve("famo2o-cql", "Hopper-v5", dataset="hopper-medium-small").agent.init == "lecun-small-output"


def test_famo2o_cql_critic_reads_beta_as_the_authors():
    import dataclasses

    from hybridrl.agents import make_agent
    from hybridrl.agents.famo2o import beta_from_unit

    cfg = resolve("famo2o-cql", TOY, {"agent.hidden_dims": [16, 16], "agent.balance_hidden_dims": [16, 16]},
                  dataset=None, online_steps=1, offline_steps=0).agent
    assert cfg.critic_beta == "authors"
    agent = make_agent("famo2o-cql", jax.random.PRNGKey(0), 2, 2, cfg).to_online()
    # a balance model with (almost) no spread: its samples are its mode, so the sampled β is β(s) of the *current* s
    params = jax.tree_util.tree_map(lambda x: x, agent.balance.params)
    params["params"]["log_std"] = jnp.full((1,), -10.0)
    agent = agent.replace(balance=agent.balance.replace(params=params))
    s = jax.random.uniform(jax.random.PRNGKey(1), (6, 2), minval=-1, maxval=1)
    s2 = jax.random.uniform(jax.random.PRNGKey(2), (6, 2), minval=-1, maxval=1)
    batch = {"observations": s, "next_observations": s2}
    beta_s = beta_from_unit(agent.balance.apply_fn(agent.balance.params, s).mode()[..., 0], cfg.beta_min, cfg.beta_max)
    got = agent.critic_policy(s2, batch, jax.random.PRNGKey(3), "backup").loc
    np.testing.assert_allclose(got, agent.universal(agent.actor.params, s2, beta_s).loc, atol=1e-4)
    assert not np.allclose(got, agent.policy(agent.actor.params, s2).loc, atol=1e-4)  # not β(s′)
    det = agent.replace(config=dataclasses.replace(cfg, critic_beta="deterministic"))
    np.testing.assert_array_equal(det.critic_policy(s2, batch, jax.random.PRNGKey(3), "next").loc,
                                  det.policy(det.actor.params, s2).loc)


def test_cal_ql_resumes_exactly_in_the_middle_of_an_episode(tmp_path, toy_npz):
    """The withheld rows and their returns-to-go survive a checkpoint taken mid-episode: a run stopped at online
    step 40 (episode 1, its 15th step) and resumed to 80 writes the rows of a straight 80-step run, bit for bit."""
    from conftest import read_rows

    over = {**TINY, "train.start_steps": 0, "train.log_interval": 10, "train.eval_interval": 40}
    straight = Trainer(resolve("cal-ql", TOY, over, dataset=str(toy_npz), offline_steps=20, online_steps=80),
                       tmp_path / "straight")
    straight.run()
    first = Trainer(resolve("cal-ql", TOY, over, dataset=str(toy_npz), offline_steps=20, online_steps=40),
                    tmp_path / "resumed")
    first.run()
    assert int(first.carry.buffer.pending) == 15  # 15 steps into episode 1: all its rows withheld
    again = Trainer.resume(tmp_path / "resumed", online_steps=80)
    assert int(again.carry.buffer.pending) == 15
    again.run()
    assert read_rows(tmp_path / "resumed") == read_rows(tmp_path / "straight")
    np.testing.assert_array_equal(again.carry.buffer.filled()["mc_returns"],
                                  straight.carry.buffer.filled()["mc_returns"])


def test_fql_and_rebrac_take_their_readmes_per_dataset_flags_and_fql_its_offline_to_online_alpha():
    # seohongpark/fql README: humanoidmaze γ 0.995, α 30 offline and 100 offline-to-online; antmaze-giant min + γ 0.995
    maze = None  # the env the OGBench file names
    off = resolve("fql", maze, dataset="/d/humanoidmaze-medium-navigate-v0.npz", online_steps=0).agent
    o2o = resolve("fql", maze, dataset="/d/humanoidmaze-medium-navigate-v0.npz", online_steps=1000).agent
    assert (off.alpha, off.discount, o2o.alpha, o2o.discount) == (30.0, 0.995, 100.0, 0.995)
    assert resolve("fql", maze, {"agent.alpha": 7.0}, dataset="/d/humanoidmaze-medium-navigate-v0.npz",
                   online_steps=1000).agent.alpha == 7.0  # --set still wins over the online layer
    giant = resolve("fql", None, dataset="/d/antmaze-giant-navigate-v0.npz",
                    online_steps=1).agent
    assert (giant.q_agg, giant.discount, giant.alpha) == ("min", 0.995, 10.0)
    ifql = resolve("ifql", None, dataset="/d/antmaze-giant-navigate-v0.npz").agent
    assert ifql.discount == 0.995
    pen = resolve("fql", "AdroitHandPen-v1", dataset="D4RL/pen/cloned-v2", online_steps=0).agent
    assert (pen.q_agg, pen.alpha) == ("min", 1e4)
    assert resolve("fql", "AdroitHandPen-v1", dataset="D4RL/pen/cloned-v2", online_steps=5).agent.alpha == 1e3
    # tinkoff-ai/ReBRAC configs: AntMaze pairs per dataset, Adroit its pair with lr 3e-4 and batch 256
    am = resolve("rebrac", "AntMaze_Large_Diverse_GR-v4", dataset="/d/antmaze_large_play-v2.hdf5").agent
    assert (am.actor_bc_coef, am.critic_bc_coef, am.discount) == (0.002, 0.001, 0.999)
    door = resolve("rebrac", "AdroitHandDoor-v1", dataset="D4RL/door/human-v2").agent
    assert (door.actor_bc_coef, door.critic_bc_coef, door.actor_lr, door.critic_lr, door.batch_size) == \
        (0.1, 0.1, 3e-4, 3e-4, 256)
    # a dataset the READMEs do not list keeps the domain's values
    assert resolve("fql", maze, dataset="/d/humanoidmaze-medium-stitch-v0.npz").agent.alpha == 10.0


def test_ifql_takes_idqls_locomotion_settings_and_keeps_the_fql_codes_elsewhere():
    # IDQL's launcher on D4RL locomotion: expectile 0.7, rewards x 1000 / return range; FQL's ifql.py: 0.9, raw rewards
    loco = resolve("ifql", None, dataset="hopper-medium-replay-small")
    assert (loco.agent.expectile, loco.train.reward_normalization) == (0.7, "return-range")
    for env, data in (("cube-single-singletask-v0", "ogbench-cube-single-play-small"),
                      ("PointMaze_Medium-v3", "pointmaze-medium-diverse-small")):
        cfg = resolve("ifql", env, dataset=data)
        assert (cfg.agent.expectile, cfg.train.reward_normalization) == (0.9, "none"), env


def test_wsrl_draws_its_critic_subsets_with_replacement_and_penalises_only_the_drawn_members():
    from hybridrl.agents import AGENTS
    from hybridrl.nn import draw_members

    keys = jax.random.split(jax.random.PRNGKey(0), 400)
    distinct = np.stack([np.asarray(draw_members(k, 10, 2)) for k in keys])
    repeated = np.stack([np.asarray(draw_members(k, 10, 2, replace=True)) for k in keys])
    assert (distinct[:, 0] != distinct[:, 1]).all()  # RLPD's subset: two different members
    assert 0.05 < (repeated[:, 0] == repeated[:, 1]).mean() < 0.2  # WSRL's randint: the same one 1 time in 10
    cfg = resolve("wsrl", TOY, dict(TINY), offline_steps=10, online_steps=10)
    assert cfg.agent.subset_with_replacement and cfg.agent.penalty_on_subset
    assert not resolve("sac", TOY, dict(TINY), online_steps=10).agent.subset_with_replacement

    # The conservative term reaches only the members this step's draw names: the others' gradients are TD's alone.
    from dataclasses import replace as dc_replace
    base = dc_replace(cfg.agent, num_critics=4, num_target_critics=2, hidden_dims=(16,), actor_hidden_dims=(16,),
                      lagrange=False)
    rng = np.random.default_rng(0)
    batch = {"observations": jnp.asarray(rng.normal(size=(8, 2)), jnp.float32),
             "actions": jnp.asarray(rng.uniform(-1, 1, (8, 2)), jnp.float32),
             "rewards": jnp.asarray(rng.normal(size=8), jnp.float32),
             "next_observations": jnp.asarray(rng.normal(size=(8, 2)), jnp.float32),
             "masks": jnp.ones(8, jnp.float32)}
    grads = {}
    for name, agent_cfg in {"subset": base, "td": dc_replace(base, cql_alpha=0.0),
                            "all": dc_replace(base, penalty_on_subset=False)}.items():
        agent = AGENTS["cql"].create(jax.random.PRNGKey(1), 2, 2, agent_cfg)
        grads[name] = jax.grad(lambda p, a=agent: a.critic_loss(p, batch, jax.random.PRNGKey(2))[0])(
            agent.critic.params)
    def per_member(g):
        return np.stack([np.concatenate([np.ravel(leaf[i]) for leaf in jax.tree_util.tree_leaves(g)])
                         for i in range(4)])
    subset, td, every = (per_member(grads[k]) for k in ("subset", "td", "all"))
    penalised = ~np.isclose(subset, td, atol=1e-7).all(axis=1)
    assert 1 <= penalised.sum() <= 2  # one or two members drawn (with replacement)
    assert (~np.isclose(every, td, atol=1e-7).all(axis=1)).all()  # without the option: all four


@pytest.mark.parametrize(("schedule", "update_every", "online", "updates", "trained_at"), [
    ("spread", 1, 50, 50, list(range(1, 51))),
    ("blocks", 20, 50, 40, [20, 40]),  # 20 updates after each 20 env steps (Balanced Replay's 1,000 after 1,000)
    ("episodes", 1, 60, None, None),  # after each episode, one update per step of it (Cal-QL's JaxCQL)
])
def test_update_schedules_give_their_updates_in_the_authors_blocks(tmp_path, schedule, update_every, online,
                                                                   updates, trained_at):
    cfg = resolve("sac", TOY, {**TINY, "train.start_steps": 0, "train.update_schedule": schedule,
                               "train.update_every": update_every, "train.eval_interval": 1000},
                  online_steps=online)
    trainer = Trainer(cfg, tmp_path / schedule)
    trained: list[int] = []
    counts: list[int] = []
    ends: list[int] = []
    step = trainer._step_fn

    def spy(carry, offline, policy_obs, *, train, act, repeats, **count):
        h = trainer.host
        if h.episode_length == 0:  # the step just taken ended an episode (PointReach: at most 25 steps)
            ends.append(h.online_step + 1)
        if train:
            trained.append(h.online_step + 1)
            counts.append(int(count["count"]) if repeats == 0 else repeats)
            assert (repeats == 0) == (schedule != "spread")
        return step(carry, offline, policy_obs, train=train, act=act, repeats=repeats, **count)

    trainer._step_fn = spy
    trainer.run()
    if schedule == "episodes":
        assert len(ends) >= 2 and trained == ends  # at each episode's end ...
        assert counts == list(np.diff([0, *ends]))  # ... as many updates as it had steps
        trained_at, updates = ends, ends[-1]
    assert trained == trained_at
    assert int(trainer.carry.agent.critic.step) == updates == sum(counts)  # one critic step per update (UTD 1)
    assert trainer._step_fn is spy and step._cache_size() <= 3  # a block's size is traced: no compile per size
    with pytest.raises(ConfigError, match="train.update_schedule"):
        resolve("sac", TOY, {**TINY, "train.update_schedule": "epochs"}, online_steps=10)
