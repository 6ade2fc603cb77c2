"""MSCP and its baselines: online goal relabelling, the guidance reward, where the low-level policy's
gradient comes from, that pre-training reads no action or reward, and the recipes end to end."""
import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import read_rows

from hybridrl.agents.mscp import MSCPAgent, MSCPConfig, guidance_reward
from hybridrl.cli import main
from hybridrl.config import ConfigError
from hybridrl.recipes import resolve
from hybridrl.replay import ReplayBuffer
from hybridrl.replay.mixing import GoalRelabel, online_episode_ends
from hybridrl.training.loop import Trainer

MAZE = "hybridrl/PointMaze_Medium_FixedGoal-v3"
SMALL = {"agent.hidden_dims": [32, 32], "agent.batch_size": 32, "train.progress": False, "train.tensorboard": False,
         "train.eval_episodes": 2, "train.offline_chunk": 100, "train.log_interval": 100, "train.eval_interval": 10_000}


@pytest.fixture(scope="module")
def maze_npz(tmp_path_factory):
    """1,500 steps of the noisy waypoint controller in the medium maze (actions, rewards and goals kept)."""
    from hybridrl.data.maze import rollout_maze

    path = tmp_path_factory.mktemp("maze") / "maze.npz"
    rollout_maze("PointMaze_Medium-v3", 1_500, seed=0).save_npz(path)
    return path


def test_online_relabelling_draws_finished_episodes_and_goals_within_them():
    ends = jnp.asarray([0, 0, 1, 0, 0, 1, 0, 0], jnp.float32)  # episodes [0, 2], [3, 5]; rows 6, 7 unfinished
    last, finished = online_episode_ends(ends, jnp.asarray(8))
    assert np.asarray(last)[:6].tolist() == [2, 2, 2, 5, 5, 5] and int(finished) == 6
    states = np.arange(8, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)  # state i = (i, i, i)
    goal_part = np.full((8, 1), 99.0, np.float32)  # the env's desired_goal column, never a relabelled goal
    buffer = ReplayBuffer.from_arrays({"observations": np.concatenate([states, goal_part], 1),
                                       "next_observations": np.concatenate([states + 1, goal_part], 1),
                                       "actions": np.zeros((8, 2), np.float32), "episode_end": np.asarray(ends)})
    offline = ReplayBuffer.from_arrays(GoalRelabel().offline_arrays(states, states + 1, np.asarray(ends) > 0))
    mixer = GoalRelabel(state_dim=3, goal_dim=2, p_rand_high=0.0, subgoal_steps=2, p_cur=0.3, p_traj=0.7)
    batches, *_ = mixer.step(jax.random.PRNGKey(0), buffer, offline, 256, 2, None)
    on = jax.tree_util.tree_map(np.asarray, batches["online"])
    t = on["observations"][..., 0]
    assert t.max() <= 5 and on["observations"].shape == (2, 256, 3)
    episode_last = np.where(t <= 2, 2, 5)
    for key in ("value_goals", "high_goals", "low_goals"):  # future goals stay in the episode (no random ones here)
        g = on[key][..., 0]
        assert on[key].shape[-1] == 2 and (g >= t).all() and (g <= episode_last).all(), key
    assert (on["low_goals"][..., 0] == np.minimum(t + 2, episode_last)).all()
    assert ((on["rewards"] == 0) == (on["value_goals"][..., 0] == t)).all()
    assert set(batches["offline"]) == set(on) - {"actions"}  # the offline batch has no actions to read


def test_guidance_reward_by_hand_and_from_the_fast_planner():
    s = jnp.asarray([[0.0, 0.0], [1.0, 1.0]])
    s2 = jnp.asarray([[3.0, 4.0], [1.0, 1.0]])
    mu = jnp.asarray([[0.0, 0.0], [0.3, -0.4]])
    assert np.allclose(guidance_reward(s, s2, mu), [-5.0, -0.5])
    agent = MSCPAgent.create(jax.random.PRNGKey(0), 4, 2, MSCPConfig(hidden_dims=(16,), goal_dim=2))
    zero = jax.tree_util.tree_map(jnp.zeros_like, agent.fast.params)  # μ_f ≡ 0: r_g = −‖s' − s‖
    agent = agent.replace(fast=agent.fast.replace(params=zero))
    batch = {"observations": s, "next_observations": s2, "high_goals": jnp.zeros((2, 2))}
    assert np.allclose(agent.guidance(batch), [-5.0, 0.0])


def _batch(key, n=16, sd=2, gd=2, actions=True):
    ks = jax.random.split(key, 9)
    b = {"observations": jax.random.normal(ks[0], (n, sd)), "next_observations": jax.random.normal(ks[1], (n, sd)),
         "rewards": -jnp.ones(n), "masks": jnp.ones(n), "value_goals": jax.random.normal(ks[2], (n, gd)),
         "high_goals": jax.random.normal(ks[3], (n, gd)), "slow_targets": jax.random.normal(ks[4], (n, sd)),
         "fast_targets": jax.random.normal(ks[5], (n, sd)), "low_goals": jax.random.normal(ks[6], (n, gd))}
    if actions:
        b["actions"] = jnp.clip(jax.random.normal(ks[7], (n, 2)), -0.9, 0.9)
    return b


def test_low_level_policy_learns_from_online_samples_only():
    agent = MSCPAgent.create(jax.random.PRNGKey(0), 4, 2, MSCPConfig(hidden_dims=(16,), goal_dim=2))
    update = jax.jit(MSCPAgent.online_update)
    online = _batch(jax.random.PRNGKey(1))
    a, info = update(agent, online, _batch(jax.random.PRNGKey(2), actions=False))
    b, _ = update(agent, online, _batch(jax.random.PRNGKey(3), actions=False))
    same = jax.tree_util.tree_map(lambda x, y: bool(jnp.array_equal(x, y)), a.low.params, b.low.params)
    assert all(jax.tree_util.tree_leaves(same))  # another offline batch: π_ℓ's step is bit-identical
    assert not jnp.array_equal(a.value.params["params"]["MLP_0"]["Dense_0"]["kernel"],
                               b.value.params["params"]["MLP_0"]["Dense_0"]["kernel"])  # ... the value's is not
    c, _ = update(agent, {**online, "actions": -online["actions"]}, _batch(jax.random.PRNGKey(2), actions=False))
    assert not jnp.array_equal(a.low.params["params"]["Dense_0"]["kernel"], c.low.params["params"]["Dense_0"]["kernel"])
    for frozen in ("slow", "fast"):  # planners frozen online by default
        assert all(jax.tree_util.tree_leaves(jax.tree_util.tree_map(
            lambda x, y: bool(jnp.array_equal(x, y)), getattr(a, frozen).params, getattr(agent, frozen).params)))
    assert np.isfinite(info["guide/guidance_reward"]) and np.isfinite(info["low/low_loss"])
    tuned = agent.replace(config=dataclasses.replace(agent.config, finetune_planners=True))
    d, _ = update(tuned, online, _batch(jax.random.PRNGKey(2), actions=False))
    kernel = ("params", "Dense_0", "kernel")
    assert not jnp.array_equal(d.slow.params[kernel[0]][kernel[1]][kernel[2]],
                               agent.slow.params[kernel[0]][kernel[1]][kernel[2]])  # fine-tuning moves the planner


def test_pretraining_reads_no_action_or_reward(tmp_path, maze_npz):
    from hybridrl.data import load_dataset

    full = load_dataset(str(maze_npz))
    free_path = tmp_path / "free.npz"
    full.action_free().save_npz(free_path)
    assert "actions" not in np.load(free_path).files and "rewards" not in np.load(free_path).files
    params = []
    for name, data in (("full", str(maze_npz)), ("free", str(free_path))):
        cfg = resolve("mscp", MAZE, SMALL, dataset=data, offline_steps=200, online_steps=0, seed=0)
        trainer = Trainer(cfg, tmp_path / name)
        trainer.run()
        params.append(trainer.carry.agent)
    rows = [read_rows(tmp_path / n) for n in ("full", "free")]
    assert rows[0] == rows[1]
    leaves = [jax.tree_util.tree_leaves(p) for p in params]
    assert len(leaves[0]) == len(leaves[1]) and all(map(jnp.array_equal, *leaves))
    # the goal-conditioned value learns (200 updates): a state 2 steps ahead is nearer (higher V) than one 400 ahead
    agent, states = params[0], jnp.asarray(full.observations[:1000])
    v_near = agent.values(agent.value.params, states[:-400], states[2:-398, :2]).mean(0)
    v_far = agent.values(agent.value.params, states[:-400], states[400:, :2]).mean(0)
    assert float((v_near > v_far).mean()) > 0.8 and float(v_near.mean()) > float(v_far.mean()) + 0.1


def test_mscp_then_hiql_from_its_pretraining_and_the_subgoal_plot(tmp_path, maze_npz, capsys):
    cfg = resolve("mscp", MAZE, {**SMALL, "train.start_steps": 650}, dataset=str(maze_npz), offline_steps=200,
                  online_steps=900, seed=0)
    assert cfg.agent.goal_dim == 2 and cfg.agent.guidance_weight == 7.0 and cfg.train.update_every == 4
    Trainer(cfg, tmp_path / "mscp").run()
    rows = [r for r in read_rows(tmp_path / "mscp") if r["phase"] == "online"]
    trained = [r for r in rows if r["low/low_loss"] != ""]
    assert trained and all(np.isfinite(float(r["guide/guidance_reward"])) for r in trained)
    assert rows[-1]["success_rate"] != ""  # success reported at evaluation
    hiql = Trainer.from_pretrained(tmp_path / "mscp", tmp_path / "hiql", {**SMALL, "train.start_steps": 650},
                                   recipe="hiql", online_steps=700)
    assert hiql.cfg.agent.guidance_weight == 0.0 and hiql.cfg.agent.online_expectile == 0.7
    pre = jax.tree_util.tree_map(np.asarray, hiql.carry.agent.slow.params)
    low = jax.tree_util.tree_map(np.asarray, hiql.carry.agent.low.params)
    hiql.run()  # planners frozen: the pre-trained planner is untouched by fine-tuning (the low level is not)
    after = jax.tree_util.tree_map(np.asarray, hiql.carry.agent.slow.params)
    assert all(jax.tree_util.tree_leaves(jax.tree_util.tree_map(np.array_equal, pre, after)))
    assert not all(jax.tree_util.tree_leaves(jax.tree_util.tree_map(np.array_equal, low,
                                                                    hiql.carry.agent.low.params)))
    with pytest.raises(ConfigError, match="another agent"):
        Trainer.from_pretrained(tmp_path / "mscp", tmp_path / "x", SMALL, recipe="iql", online_steps=10)
    png = tmp_path / "subgoals.png"
    assert main(["plot", str(tmp_path / "mscp"), "--subgoals", "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000
    info = json.loads(capsys.readouterr().out.splitlines()[0])
    assert info["steps"] > 0 and info["mean_subgoal_distance"] > 0
    assert main(["plot", str(tmp_path / "mscp"), "--beta", "--out", str(tmp_path / "b.png")]) == 2  # asks the agent
    assert "no per-state coefficient" in capsys.readouterr().err and not (tmp_path / "b.png").exists()


def test_evaluation_counts_a_success_that_ends_the_episode():
    from conftest import TOY

    from hybridrl.training.evaluate import evaluate

    # PointReach ends its episode on reaching the goal; the vector env resets that sub-env in the same step
    assert evaluate(lambda _, obs: -obs / 0.2, None, TOY, 6, seed=0)["success_rate"] == 1.0
    assert evaluate(lambda _, obs: 0.0 * obs, None, TOY, 6, seed=0)["success_rate"] == 0.0


def test_inverse_dynamics_recovers_actions_and_goal_rewards():
    from hybridrl.data import idm
    from hybridrl.envs import make_env
    from hybridrl.envs.make import goal_rewards

    rng = np.random.default_rng(0)
    s = rng.normal(size=(2000, 3)).astype(np.float32)
    a = rng.uniform(-1, 1, (2000, 2)).astype(np.float32)
    s2 = s + 0.1 * np.concatenate([a, a[:, :1]], 1)
    model, params, info = idm.fit_inverse_dynamics(jax.random.PRNGKey(0), s, a, s2, (64, 64), steps=1500, lr=1e-3)
    mse = float(((idm.predict_actions(model, params, s, s2) - a) ** 2).mean())
    assert info["idm_loss_last"] < 0.1 * info["idm_loss_first"] and mse < 0.02  # the action variance is 0.33
    env = make_env(MAZE)
    goal = np.asarray([1.0, -1.0])
    next_states = np.asarray([[1.1, -1.0, 0, 0], [3.0, 3.0, 0, 0]], np.float32)
    rewards, terminals = goal_rewards(env, next_states, goal)
    assert rewards.tolist() == [1.0, 0.0] and terminals.tolist() == [True, False]


def test_idm_label_labels_the_action_free_data_after_the_warmup(tmp_path, maze_npz):
    from hybridrl.data import load_dataset

    free = tmp_path / "free.npz"
    load_dataset(str(maze_npz)).action_free().save_npz(free)
    with pytest.raises(ConfigError, match="needs --dataset"):
        resolve("idm-label", MAZE, SMALL, online_steps=10)
    over = {**SMALL, "train.start_steps": 300, "train.idm_steps": 200, "agent.num_critics": 2, "agent.utd": 1}
    cfg = resolve("idm-label", MAZE, over, dataset=str(free), online_steps=400, seed=0)
    trainer = Trainer(cfg, tmp_path / "idm")
    trainer.run()
    labels = json.loads((tmp_path / "idm" / "labels.json").read_text())
    assert labels["labelled_rows"] == 1_500 and labels["idm_loss_last"] < labels["idm_loss_first"]
    assert trainer.offline is not None and int(trainer.offline.size) == 1_500
    assert trainer.offline.data["observations"].shape[1] == 6  # [state, task goal], as the env observes
    rows = [r for r in read_rows(tmp_path / "idm") if r["phase"] == "online" and r["critic/critic_loss"] != ""]
    assert rows  # RLPD trained on the labelled data after the warm-up


def test_guidance_readings_by_hand():
    """The three readings of the paper's r_g and V_g (no public code): the distance over the whole state, the goal
    entries only, or per entry over the fast planner's std; μ_f fed g_h or w; V_g fitted on both batches or online."""
    cfg = MSCPConfig(hidden_dims=(16,), goal_dim=2)
    agent = MSCPAgent.create(jax.random.PRNGKey(0), 6, 2, cfg)  # state: 4 entries, the first 2 a goal
    zero = jax.tree_util.tree_map(jnp.zeros_like, agent.fast.params)
    zero["params"]["log_std"] = jnp.full((4,), np.log(2.0))  # μ_f ≡ 0, σ_f = 2
    agent = agent.replace(fast=agent.fast.replace(params=zero))
    batch = {"observations": jnp.zeros((1, 4)), "next_observations": jnp.asarray([[3.0, 4.0, 12.0, 0.0]]),
             "high_goals": jnp.zeros((1, 2)), "low_goals": jnp.ones((1, 2))}
    for dims, expected in (("state", -13.0), ("goal", -5.0), ("normalized", -6.5)):
        a = agent.replace(config=dataclasses.replace(cfg, guidance_dims=dims))
        assert float(a.guidance(batch)[0]) == pytest.approx(expected, rel=1e-5)
    trained = MSCPAgent.create(jax.random.PRNGKey(1), 6, 2, cfg)
    b = _batch(jax.random.PRNGKey(4), sd=4)
    sub = trained.replace(config=dataclasses.replace(cfg, fast_planner_goal="subgoal"))
    step = trained.planner(trained.fast, trained.fast.params, b["observations"], b["low_goals"]).mode()
    np.testing.assert_allclose(sub.guidance(b), guidance_reward(b["observations"], b["next_observations"], step),
                               rtol=1e-6)
    online_only = trained.replace(config=dataclasses.replace(cfg, guide_value_data="online"))
    update = jax.jit(MSCPAgent.online_update)
    one, _ = update(online_only, b, _batch(jax.random.PRNGKey(5), sd=4, actions=False))
    two, _ = update(online_only, b, _batch(jax.random.PRNGKey(6), sd=4, actions=False))
    assert all(jax.tree_util.tree_leaves(jax.tree_util.tree_map(
        lambda x, y: bool(jnp.array_equal(x, y)), one.guide.params, two.guide.params)))  # offline rows not read
    with pytest.raises(ConfigError, match="agent.guidance_dims must be one of state, goal, normalized"):
        dataclasses.replace(cfg, guidance_dims="xy").validate()
