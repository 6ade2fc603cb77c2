"""OGBench's manipulation data generated here: deterministic per seed whatever the split over processes, written in
OGBench's layout so that OGBench's own loader reads it, singletask rewards equal to OGBench's relabelling, bad files
refused with DataError, and a run on the singletask env end to end."""
import numpy as np
import pytest
from conftest import read_rows

ogbench = pytest.importorskip("ogbench")

from hybridrl.data import DataError, for_task, load_dataset  # noqa: E402
from hybridrl.data import ogbench_data as og  # noqa: E402

NAME = "ogbench-cube-single-play-small"
ROWS = 31  # env steps per test episode (the published 1001 is too slow for a test)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    train, val, stats = og.generate(NAME, episodes=10, episode_rows=ROWS)
    path, val_path = og.save_ogbench(tmp_path_factory.mktemp("og") / "cube-single-play-v0.npz", train, val)
    return path, val_path, train, val, stats


@pytest.mark.parametrize("name", [NAME, "ogbench-cube-single-noisy-small"])
def test_generation_is_deterministic_and_does_not_depend_on_the_split(name):
    # the noisy kind also takes uniform random actions (p = 0.1), which OGBench's env cannot seed for us
    whole = og.collect_episodes(name, 0, 3, ROWS)["arrays"]
    parts = [og.collect_episodes(name, i, 1, ROWS)["arrays"] for i in range(3)]
    for k, v in whole.items():
        assert v.tobytes() == np.concatenate([p[k] for p in parts]).tobytes(), k
    assert whole["actions"].tobytes() == og.collect_episodes(name, 0, 3, ROWS)["arrays"]["actions"].tobytes()
    other = og.collect_episodes("ogbench-cube-double-play-small" if name != NAME
                                else "ogbench-cube-single-noisy-small", 0, 1, ROWS)["arrays"]
    assert not np.array_equal(other["actions"], whole["actions"][:ROWS])
    state = np.random.get_state()[1].copy()
    og.collect_episodes(NAME, 5, 1, ROWS)
    assert np.array_equal(np.random.get_state()[1], state)  # NumPy's global generator is left as it was


def test_files_have_ogbench_layout_and_ogbench_reads_them(files):
    path, val_path, train, val, stats = files
    assert len(train["terminals"]) == 10 * ROWS and len(val["terminals"]) == 1 * ROWS
    assert train["terminals"].sum() == 10 and train["terminals"][ROWS - 1]
    assert {"observations", "actions", "terminals", "qpos", "qvel"} <= set(train)
    assert train["observations"].shape[1] == 28 and train["actions"].shape[1] == 5
    assert stats["train_episodes"] == 10 and stats["val_episodes"] == 1
    env, data, val_data = ogbench.make_env_and_datasets("cube-single-play-singletask-task1-v0",
                                                        dataset_path=str(path))
    env.close()
    ours = for_task(load_dataset(str(path)), "cube-single-singletask-task1-v0")
    assert len(ours) == len(data["observations"]) == 10 * (ROWS - 1)  # each episode's last row dropped
    np.testing.assert_array_equal(ours.observations, data["observations"])
    np.testing.assert_array_equal(ours.next_observations, data["next_observations"])
    np.testing.assert_array_equal(ours.actions, data["actions"])
    np.testing.assert_array_equal(ours.rewards, data["rewards"])
    np.testing.assert_array_equal(ours.terminals, data["masks"] == 0)  # a solved state ends the task
    # OGBench's trajectory ends are time-limit cuts (its `terminals`), not task ends
    np.testing.assert_array_equal(ours.episode_ends, (data["terminals"] == 1) | (data["masks"] == 0))
    assert len(val_data["observations"]) == ROWS - 1


def test_task_free_reading_and_other_tasks(files):
    path = files[0]
    ds = load_dataset(str(path))
    assert ds.rewards is None and ds.metadata["env"] == "cube-single-v0" and not ds.terminals.any()
    assert ds.truncations.sum() == 10
    t2 = for_task(ds, "cube-single-singletask-task2-v0")
    assert t2.rewards is not None and set(np.unique(t2.rewards)) <= {-1.0, 0.0}
    assert for_task(ds, "Hopper-v5") is ds  # another env's task: unchanged
    assert for_task(ds, "scene-singletask-task1-v0") is ds  # another family's task: unchanged


def test_bad_ogbench_files_raise_data_error(tmp_path, files):
    train = files[2]
    pickled = tmp_path / "cube-single-play-v0.npz"
    np.savez(pickled, **{**train, "qpos": np.array([{"x": 1}] * len(train["terminals"]), dtype=object)})
    with pytest.raises(DataError, match="pickle"):
        load_dataset(str(pickled))
    short = tmp_path / "short.npz"
    np.savez(short, **{**train, "actions": train["actions"][:5]})
    with pytest.raises(DataError, match="OGBench layout"):
        load_dataset(str(short))
    no_qpos = tmp_path / "compact.npz"  # the compact layout read back: valids, no qpos
    np.savez(no_qpos, observations=train["observations"], actions=train["actions"], terminals=train["terminals"],
             valids=~train["terminals"])
    ds = load_dataset(str(no_qpos))
    assert len(ds) == 10 * (ROWS - 1)
    with pytest.raises(DataError, match="qpos"):
        for_task(ds, "cube-single-singletask-task1-v0")


def test_recipe_runs_on_the_singletask_env_and_reports_success(tmp_path, files):
    from hybridrl.recipes import resolve
    from hybridrl.training.loop import Trainer

    over = {"agent.hidden_dims": [32, 32], "agent.batch_size": 32, "agent.num_samples": 4, "train.eval_episodes": 1,
            "train.eval_interval": 100, "train.log_interval": 50, "train.progress": False, "train.tensorboard": False,
            "train.offline_chunk": 50, "train.start_steps": 30}
    cfg = resolve("qc", "cube-single-singletask-task1-v0", over, dataset=str(files[0]), offline_steps=100,
                  online_steps=60, seed=0)
    Trainer(cfg, tmp_path / "run").run()
    rows = read_rows(tmp_path / "run")
    evaluated = [r for r in rows if r.get("success_rate") not in (None, "")]
    assert evaluated and all(float(r["success_rate"]) in (0.0, 1.0) for r in evaluated)
    assert float(evaluated[0]["eval_return"]) <= 0  # −#unsolved sub-goals per step, 0 once solved


def test_point_maze_navigation_data_is_deterministic_and_read_by_ogbench(tmp_path):
    nav = "ogbench-pointmaze-medium-navigate-small"
    whole = og.collect_episodes(nav, 0, 2, 101)["arrays"]
    parts = [og.collect_episodes(nav, i, 1, 101)["arrays"] for i in range(2)]
    assert all(v.tobytes() == np.concatenate([p[k] for p in parts]).tobytes() for k, v in whole.items())
    assert np.abs(whole["actions"]).max() <= 1.0 and whole["actions"].std() > 0.5  # noise 0.5 on unit directions
    train, val, stats = og.generate(nav, episodes=10, episode_rows=101)
    assert stats["subtasks"] > 0 and len(val["terminals"]) == 101  # goals reached (then redrawn); one -val episode
    path, _ = og.save_ogbench(tmp_path / "pointmaze-medium-navigate-v0.npz", train, val)
    env, data, _ = ogbench.make_env_and_datasets("pointmaze-medium-navigate-singletask-task1-v0",
                                                 dataset_path=str(path))
    env.close()
    ds = load_dataset(str(path))
    assert ds.metadata["env"] == "pointmaze-medium-v0" and ds.rewards is None
    ours = for_task(ds, "pointmaze-medium-singletask-task1-v0")
    for k in ("observations", "next_observations", "actions", "rewards"):
        np.testing.assert_array_equal(getattr(ours, k), data[k], err_msg=k)
    np.testing.assert_array_equal(ours.terminals, data["masks"] == 0)


def test_maze_resets_follow_the_seed_and_leave_numpy_alone():
    from hybridrl.envs import make_env

    env = make_env("pointmaze-medium-singletask-task1-v0")  # OGBench's own resets draw from unseeded generators
    before = np.random.get_state()[1].copy()
    first, second = env.reset(seed=3)[0], env.reset(seed=3)[0]
    other = make_env("pointmaze-medium-singletask-task1-v0")
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, other.reset(seed=3)[0])
    assert not np.array_equal(first, env.reset(seed=4)[0])
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    env.close()
    other.close()


def test_goal_conditioned_maze_form_tasks_and_goal_test():
    from hybridrl.envs import make_env
    from hybridrl.envs.make import goal_dim, goal_rewards

    env = make_env("pointmaze-medium-v0")
    assert env.observation_space.shape == (4,) and goal_dim("pointmaze-medium-v0") == 2  # [x, y, goal x, goal y]
    tasks = []
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        tasks.append(info["task_id"])
        np.testing.assert_allclose(obs[2:], env.unwrapped.cur_goal_xy, rtol=1e-6)
        np.testing.assert_allclose(obs[:2], env.unwrapped.get_xy(), rtol=1e-6)
    assert tasks == [1, 2, 3, 4, 5]  # seeds cover OGBench's five evaluation tasks
    assert env.reset()[1]["task_id"] == 1  # then the next task in turn
    goal = env.unwrapped.cur_goal_xy
    states = np.array([[goal[0] + 0.9, goal[1]], [goal[0] + 1.1, goal[1]]])  # tolerance 1.0 for the point maze
    rewards, terminals = goal_rewards(env, states, goal)
    assert rewards.tolist() == [1.0, 0.0] and terminals.tolist() == [True, False]
    env.unwrapped.set_xy(np.asarray(goal))
    *_, terminated, _, info = env.step(np.zeros(2))
    assert terminated and info["success"] == 1.0  # OGBench's own success agrees
    env.close()


def test_goal_agents_take_the_goal_maze_from_navigation_data(tmp_path):
    from hybridrl.recipes import env_for_dataset, resolve
    from hybridrl.training.loop import Trainer

    nav = "ogbench-pointmaze-medium-navigate-small"
    assert resolve("mscp", None, dataset=nav).train.env == "pointmaze-medium-v0"
    assert resolve("hiql", None, dataset=nav).agent.goal_dim == 2
    assert resolve("iql", None, dataset=nav).train.env == "pointmaze-medium-singletask-v0"
    assert env_for_dataset(str(tmp_path / "pointmaze-medium-navigate-v0.npz")) == "pointmaze-medium-singletask-v0"
    train, val, _ = og.generate(nav, episodes=4, episode_rows=101)
    path, _ = og.save_ogbench(tmp_path / "pointmaze-medium-navigate-v0.npz", train, val)
    over = {"agent.hidden_dims": [32, 32], "agent.batch_size": 32, "train.eval_episodes": 5, "train.eval_interval": 60,
            "train.log_interval": 30, "train.progress": False, "train.tensorboard": False, "train.offline_chunk": 30}
    cfg = resolve("mscp", None, over, dataset=str(path), offline_steps=60, online_steps=60, seed=0)
    assert cfg.train.env == "pointmaze-medium-v0"
    Trainer(cfg, tmp_path / "run").run()
    evaluated = [r for r in read_rows(tmp_path / "run") if r.get("success_rate") not in (None, "")]
    assert len(evaluated) == 2 and all(0.0 <= float(r["success_rate"]) <= 1.0 for r in evaluated)


def test_ogbench_task_names_as_its_readme_spells_them_name_the_env_and_the_data(tmp_path, monkeypatch):
    from hybridrl.analysis.sweep import expand
    from hybridrl.config import ConfigError
    from hybridrl.recipes import resolve

    assert og.split_task_name("cube-single-play-singletask-task2-v0") == ("cube-single-singletask-task2-v0",
                                                                          "cube-single-play-v0")
    assert og.split_task_name("antmaze-large-navigate-v0") == ("antmaze-large-v0", "antmaze-large-navigate-v0")
    assert og.split_task_name("cube-single-singletask-task2-v0") is None  # already the registered id
    assert og.split_task_name("Hopper-v5") is None
    monkeypatch.setattr(og, "OGBENCH_DATA_DIR", tmp_path / "ogbench-dir")
    cfg = resolve("fql", "cube-single-play-singletask-task2-v0")  # no file of OGBench's: the one generated here
    assert (cfg.train.env, cfg.train.dataset, cfg.agent.alpha) == ("cube-single-singletask-task2-v0",
                                                                   "ogbench-cube-single-play", 300.0)
    own = tmp_path / "ogbench-dir" / "cube-single-play-v0.npz"
    own.parent.mkdir()
    own.write_bytes(b"")
    assert resolve("fql", "cube-single-play-singletask-v0").train.dataset == str(own)  # OGBench's own file first
    # the README's spelling beside its file (this used to be refused as contradicting the data); the file's presets hold
    file = str(tmp_path / "antmaze-large-navigate-v0.npz")
    cfg = resolve("fql", "antmaze-large-navigate-singletask-v0", dataset=file)
    assert (cfg.train.env, cfg.agent.q_agg) == ("antmaze-large-singletask-v0", "min")
    with pytest.raises(ConfigError, match="'cube-single-play-v0' but --dataset is 'ogbench-cube-single-noisy-small'"):
        resolve("fql", "cube-single-play-singletask-v0", dataset="ogbench-cube-single-noisy-small")
    assert resolve("fql", "cube-single-play-singletask-v0", dataset="ogbench-cube-single-play-small").train.dataset \
        == "ogbench-cube-single-play-small"  # the small cut of the same data is the same data
    with pytest.raises(og.DataError, match=r"ogbench-dir/antmaze-large-navigate-v0\.npz: no such file"):
        resolve("fql", "antmaze-large-navigate-singletask-v0")
    with pytest.raises(ConfigError, match="registers no env cube-single-singletask-task9-v0; did you mean "
                                          "cube-single-singletask-task5-v0"):  # five tasks: said before any build
        resolve("fql", "cube-single-play-singletask-task9-v0")
    [task] = expand({"recipes": ["fql"], "tasks": [{"env": "scene-play-singletask-task1-v0"}], "out": str(tmp_path)})
    assert (task.env, task.dataset) == ("scene-singletask-task1-v0", "ogbench-scene-play")
