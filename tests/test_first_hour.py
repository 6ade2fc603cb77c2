"""A new user's first hour: any Box action range, D4RL's own layouts, the env named by the data, plain
progress lines off a terminal, curves on the online-step axis."""
from __future__ import annotations

import io
import json

import gymnasium as gym
import h5py
import numpy as np
import pytest

from hybridrl.cli import main
from hybridrl.config import ConfigError
from hybridrl.data import DataError, load_dataset


def _pendulum_minari(tmp_path, monkeypatch, episodes: int = 3, steps: int = 20):
    """A Minari dataset written by minari's own DataCollector on Pendulum-v1 (actions in [-2, 2])."""
    import minari
    from minari import DataCollector

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    env = DataCollector(gym.make("Pendulum-v1", max_episode_steps=steps))
    env.action_space.seed(0)
    for ep in range(episodes):
        env.reset(seed=ep)
        done = False
        while not done:
            _, _, term, trunc, _ = env.step(env.action_space.sample())
            done = term or trunc
    env.create_dataset("test/pendulum-random-v0", algorithm_name="random")
    return minari.load_dataset("test/pendulum-random-v0")


def test_minari_pendulum_actions_rescaled_from_recorded_space(tmp_path, monkeypatch):
    mds = _pendulum_minari(tmp_path, monkeypatch)
    raw = np.concatenate([ep.actions for ep in mds.iterate_episodes()])
    assert np.abs(raw).max() > 1.0  # the point: Pendulum acts in [-2, 2]
    ds = load_dataset("test/pendulum-random-v0")
    np.testing.assert_allclose(ds.actions, raw / 2.0, atol=1e-6)  # [-2, 2] -> [-1, 1]
    assert ds.metadata["action_bounds"]["low"] == [-2.0] and ds.metadata["action_bounds"]["high"] == [2.0]
    assert ds.metadata["env"] == "Pendulum-v1"
    assert ds.summary()["action_bounds"] == {"low": [-2.0], "high": [2.0]}
    # written back (npz and Minari) in its own units, read again to the same normalised actions
    ds.save_npz(tmp_path / "p.npz")
    with np.load(tmp_path / "p.npz") as f:
        np.testing.assert_allclose(f["actions"], raw, atol=1e-5)
        assert f["action_low"].tolist() == [-2.0]
    np.testing.assert_allclose(load_dataset(str(tmp_path / "p.npz")).actions, ds.actions, atol=1e-6)


def test_make_env_maps_unit_actions_back_to_the_env_range():
    from hybridrl.envs import make_env
    from hybridrl.envs.make import raw_action_bounds

    env = make_env("Pendulum-v1")
    assert np.allclose(env.action_space.low, -1) and np.allclose(env.action_space.high, 1)
    low, high = raw_action_bounds("Pendulum-v1")
    assert low.tolist() == [-2.0] and high.tolist() == [2.0]
    env.reset(seed=0)
    env.step(np.array([0.5], np.float32))
    assert env.unwrapped.last_u == pytest.approx(1.0)  # 0.5 in [-1, 1] is 1.0 in [-2, 2]


def test_bare_file_actions_outside_bounds_name_the_field(tmp_path):
    n = 10
    obs = np.arange(n + 1, dtype=np.float32)[:, None]
    arrays = dict(observations=obs[:-1], next_observations=obs[1:], actions=np.linspace(-3, 3, n)[:, None],
                  rewards=np.zeros(n), terminals=np.zeros(n, bool), truncations=np.eye(n, dtype=bool)[-1])
    np.savez(tmp_path / "wide.npz", **arrays)
    with pytest.raises(DataError, match="'actions'.*declare the dataset's action bounds"):
        load_dataset(str(tmp_path / "wide.npz"))
    ds = load_dataset(str(tmp_path / "wide.npz"), action_bounds=(-3.0, 3.0))
    np.testing.assert_allclose(ds.actions[:, 0], np.linspace(-1, 1, n), atol=1e-6)
    with pytest.raises(DataError, match=r"field 'actions' has 2 rows outside the declared action bounds.*row 0"):
        load_dataset(str(tmp_path / "wide.npz"), action_bounds=(-2.5, 2.5))
    with pytest.raises(DataError, match="finite low < high"):
        load_dataset(str(tmp_path / "wide.npz"), action_bounds=(3.0, -3.0))


def _antmaze_hdf5(path, timeouts_at=(4,), terminal_at=(7,), n=12):
    """An AntMaze-layout file: observations, actions, rewards, terminals, timeouts, infos/goal; no
    next_observations. Row t's observation is 10·episode + t-in-episode, so a next-row link is checkable."""
    obs, ep, t = [], 0, 0
    for i in range(n):
        obs.append([10.0 * ep + t, 0.5])
        t += 1
        if i in timeouts_at or i in terminal_at:
            ep, t = ep + 1, 0
    with h5py.File(path, "w") as f:
        f["observations"] = np.asarray(obs, np.float32)
        f["actions"] = np.full((n, 2), 0.25, np.float32)
        f["rewards"] = np.arange(n, dtype=np.float32)
        f["terminals"] = np.isin(np.arange(n), terminal_at)
        f["timeouts"] = np.isin(np.arange(n), timeouts_at)
        f.create_group("infos")["goal"] = np.tile(np.array([[1.0, 2.0]], np.float32), (n, 1))
    return path


def test_d4rl_layout_without_next_observations_reads_as_qlearning_dataset(tmp_path):
    ds = load_dataset(str(_antmaze_hdf5(tmp_path / "antmaze.hdf5")))
    # qlearning_dataset keeps rows i < N-1 that are not timeouts: 12 rows - 1 timeout - the last
    kept = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10]
    np.testing.assert_array_equal(ds.rewards, np.asarray(kept, np.float32))
    np.testing.assert_array_equal(ds.observations[:, 0], [0, 1, 2, 3, 10, 11, 12, 20, 21, 22])
    np.testing.assert_array_equal(ds.next_observations[:, 0], [1, 2, 3, 4, 11, 12, 20, 21, 22, 23])
    np.testing.assert_array_equal(np.flatnonzero(ds.terminals), [6])  # file row 7
    # the row before the dropped timeout row, and the last kept row, end their episodes as truncations
    np.testing.assert_array_equal(np.flatnonzero(ds.truncations), [3, 9])
    assert ds.goals.shape == (10, 2)
    assert ds.metadata["next_observations_from_next_row"] == {"rows_in_file": 12, "rows_dropped_at_timeouts": 1,
                                                             "rows_dropped_at_end": 1}
    assert ds.summary()["metadata"]["next_observations_from_next_row"]["rows_dropped_at_timeouts"] == 1


def test_d4rl_locomotion_and_maze2d_layouts(tmp_path):
    # locomotion (hopper-medium-v2 keys) with next_observations: read as stored, nothing dropped
    n = 6
    obs = np.arange(n + 1, dtype=np.float32)[:, None].repeat(3, 1)
    with h5py.File(tmp_path / "hopper.hdf5", "w") as f:
        for k, v in dict(observations=obs[:-1], next_observations=obs[1:], actions=np.zeros((n, 2), np.float32),
                         rewards=np.ones(n, np.float32), terminals=np.eye(n, dtype=bool)[-1],
                         timeouts=np.zeros(n, bool)).items():
            f[k] = v
    ds = load_dataset(str(tmp_path / "hopper.hdf5"))
    assert len(ds) == n and "next_observations_from_next_row" not in ds.metadata
    # maze2d: one continuous stream, goals in infos/goal, timeouts where the generator restarted its counter
    ds = load_dataset(str(_antmaze_hdf5(tmp_path / "maze2d.hdf5", timeouts_at=(5,), terminal_at=(), n=10)))
    assert len(ds) == 8 and int(ds.terminals.sum()) == 0
    np.testing.assert_array_equal(np.flatnonzero(ds.truncations), [4, 7])


def test_env_comes_from_the_data(tmp_path, monkeypatch):
    from hybridrl.config import ConfigError
    from hybridrl.recipes import env_for_dataset, resolve

    assert env_for_dataset("hopper-medium-small") == "Hopper-v5"
    cfg = resolve("mscp", None, dataset="pointmaze-medium-diverse-actionfree-small")
    assert cfg.train.env == "PointMaze_Medium-v3"
    # the fixed-task maze is the same maze: allowed
    assert resolve("mscp", "hybridrl/PointMaze_Medium_FixedGoal-v3",
                   dataset="pointmaze-medium-diverse-actionfree-small").train.env.endswith("FixedGoal-v3")
    with pytest.raises(ConfigError, match="Walker2d-v5.*hopper-medium-small.*Hopper-v5"):
        resolve("rlpd", "Walker2d-v5", dataset="hopper-medium-small")
    with pytest.raises(DataError, match="nothing.npz: no such file"):  # the missing file, not a missing --env
        resolve("rlpd", None, dataset=str(tmp_path / "nothing.npz"))
    (tmp_path / "nothing.npz").write_bytes(b"")
    with pytest.raises(ConfigError, match="--env is required"):
        resolve("rlpd", None, dataset=str(tmp_path / "nothing.npz"))
    _pendulum_minari(tmp_path, monkeypatch)
    assert env_for_dataset("test/pendulum-random-v0") == "Pendulum-v1"


def test_cli_train_takes_the_env_from_a_built_in_dataset(tmp_path, capsys):
    from hybridrl.cli import main

    out = tmp_path / "run"
    rc = main(["train", "--recipe", "sac", "--dataset", "pointmaze-medium-diverse-small", "--online-steps", "60",
               "--out", str(out), "--no-progress", "--set", "agent.hidden_dims=[16,16]", "--set",
               "train.start_steps=30", "--set", "train.eval_episodes=1", "--set", "train.tensorboard=false",
               "--set", "agent.batch_size=8"])
    assert rc == 0
    assert json.loads((out / "config.json").read_text())["config"]["train"]["env"] == "PointMaze_Medium-v3"


def test_plain_progress_lines_when_not_a_terminal():
    from hybridrl.training.logger import Progress

    stream = io.StringIO()
    p = Progress(True, total=2000, start=0, description="rlpd", stream=stream, interval=0.0)
    p.update(500, 250.0, "eval 12.0 (3.1 norm)", "online")
    p.update(1000, 250.0, None, "online")
    p.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2
    assert "online" in lines[0] and "step 500/2,000" in lines[0] and "250 steps/s" in lines[0]
    assert "ETA" in lines[0] and "eval 12.0 (3.1 norm)" in lines[0]
    quiet = io.StringIO()
    p = Progress(True, total=2000, start=0, description="rlpd", stream=quiet, interval=3600.0)
    for s in range(0, 2000, 100):
        p.update(s, 100.0, None, "online")
    p.close()
    assert len(quiet.getvalue().splitlines()) <= 2  # the first line and the closing one, not one per call


def test_curves_put_online_steps_on_the_x_axis(tmp_path):
    from hybridrl.analysis.plots import read_curve

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"config": {"recipe": "iql", "train": {"offline_steps": 5000,
                                                                                        "env": "Hopper-v5"}}}))
    (run / "metrics.csv").write_text("step,phase,eval_return\n2500,offline,1\n5000,offline,2\n1000,online,3\n"
                                     "2000,online,4\n")
    steps, values = read_curve(run, "eval_return", phase=None)
    assert steps.tolist() == [-2500, 0, 1000, 2000] and values.tolist() == [1, 2, 3, 4]
    from hybridrl.analysis.report import find_runs

    (r,) = find_runs(tmp_path, "eval_return")
    assert r.steps.tolist() == [-2500, 0, 1000, 2000]


def test_training_on_a_pendulum_minari_dataset_maps_its_actions(tmp_path, monkeypatch):
    """A Minari dataset on an env that does not act in [-1, 1]: the env comes from the data, the offline rows
    are in [-1, 1], and data declared in other bounds than the env's is refused naming both."""
    from hybridrl.config import ConfigError
    from hybridrl.recipes import resolve
    from hybridrl.training.loop import Trainer

    _pendulum_minari(tmp_path, monkeypatch, episodes=4, steps=25)
    small = {"agent.hidden_dims": [16, 16], "agent.batch_size": 16, "agent.num_critics": 2, "agent.utd": 1,
             "train.start_steps": 20, "train.eval_episodes": 1, "train.eval_interval": 50, "train.log_interval": 25,
             "train.progress": False, "train.tensorboard": False}
    cfg = resolve("rlpd", None, small, dataset="test/pendulum-random-v0", online_steps=50)
    assert cfg.train.env == "Pendulum-v1"
    trainer = Trainer(cfg, tmp_path / "run")
    raw = np.concatenate([ep.actions for ep in __import__("minari").load_dataset(
        "test/pendulum-random-v0").iterate_episodes()])
    offline = np.asarray(trainer.offline.data["actions"])
    np.testing.assert_allclose(offline, np.clip(raw / 2.0, -1 + 1e-5, 1 - 1e-5), atol=1e-6)
    trainer.run()
    n = 30
    obs = np.zeros((n + 1, 3), np.float32)
    np.savez(tmp_path / "wide.npz", observations=obs[:-1], next_observations=obs[1:],
             actions=np.full((n, 1), 2.5, np.float32), rewards=np.zeros(n, np.float32),
             terminals=np.zeros(n, bool), truncations=np.eye(n, dtype=bool)[-1],
             action_low=np.array([-3.0], np.float32), action_high=np.array([3.0], np.float32))
    bad = resolve("rlpd", "Pendulum-v1", small, dataset=str(tmp_path / "wide.npz"), online_steps=50)
    with pytest.raises(ConfigError, match=r"low \[-3.0\], high \[3.0\].*Pendulum-v1 acts in low \[-2.0\]"):
        Trainer(bad, tmp_path / "bad")
    # a bare file that declares nothing takes the env's bounds: 1.5 in [-2, 2] is 0.75
    np.savez(tmp_path / "bare.npz", observations=obs[:-1], next_observations=obs[1:],
             actions=np.full((n, 1), 1.5, np.float32), rewards=np.zeros(n, np.float32),
             terminals=np.zeros(n, bool), truncations=np.eye(n, dtype=bool)[-1])
    bare = Trainer(resolve("rlpd", "Pendulum-v1", small, dataset=str(tmp_path / "bare.npz"), online_steps=50),
                   tmp_path / "bare")
    np.testing.assert_allclose(np.asarray(bare.offline.data["actions"]), 0.75, atol=1e-6)
    assert bare.dataset.metadata["action_bounds"]["declared_by"] == "env"


def test_report_switch_table_reads_the_dip_at_the_offline_to_online_switch(tmp_path):
    from hybridrl.analysis.report import find_runs, switch_table

    for seed, (at, low, end) in enumerate(((50.0, 30.0, 80.0), (60.0, 60.0, 90.0))):
        run = tmp_path / "task" / "cal-ql" / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"config": {"recipe": "cal-ql", "train": {"offline_steps": 100}}}))
        (run / "metrics.csv").write_text(f"step,phase,normalized_score\n50,offline,10\n100,offline,{at}\n"
                                         f"10,online,{low}\n20,online,{at + 5}\n100,online,{end}\n")
    (row,) = switch_table(find_runs(tmp_path, "normalized_score"))
    # the first 10% of 100 online steps holds the evaluation at 10: dips of −20 and 0
    assert (row["switch_mean"], row["dip_mean"], row["final_mean"], row["runs"]) == (55.0, -10.0, 85.0, 2)


def test_a_run_that_would_make_no_update_says_so(capsys):
    from hybridrl.recipes import resolve

    cfg = resolve("rlpd", "Hopper-v5", {"train.offline_ratio": 0}, online_steps=1000)  # start_steps 5000
    (note,) = cfg.notices()
    assert "makes no update" in note and "nothing is learnt" in note and "train.start_steps" in note
    assert resolve("rlpd", "Hopper-v5", {"train.offline_ratio": 0}, online_steps=6000).notices() == []
    assert main(["train", "--recipe", "rlpd", "--env", "Hopper-v5", "--online-steps", "1000", "--set",
                 "train.offline_ratio=0", "--dry-run"]) == 0
    assert "makes no update" in capsys.readouterr().err


def test_typos_get_a_suggestion_and_a_bad_destination_is_refused_before_anything_is_read(tmp_path, capsys):
    from hybridrl.data.dataset import check_destination
    from hybridrl.recipes import resolve

    with pytest.raises(DataError, match="did you mean hopper-medium-replay"):  # not "--env is required"
        resolve("iql", None, dataset="hoper-medium-replay")
    with pytest.raises(DataError, match="no such file"):
        resolve("iql", None, dataset=str(tmp_path / "missing.npz"))
    with pytest.raises(ConfigError, match="did you mean agent.expectile"):
        resolve("iql", "Hopper-v5", ["agent.expectle=0.7"])
    assert [check_destination(d) for d in ("a.npz", "b.h5", "mine/task-v0")] == ["npz", "hdf5", "minari"]
    for bad in ("out.csv", "mine/task"):
        with pytest.raises(DataError, match="namespace/name-vN"):
            check_destination(bad)
    src = tmp_path / "never-read.npz"  # not a dataset: the destination is checked first
    src.write_bytes(b"junk")
    assert main(["data", "convert", str(src), str(tmp_path / "out.csv")]) == 2  # the usage-error code
    assert "out.csv" in capsys.readouterr().err and not (tmp_path / "out.csv").exists()


def test_progress_counts_each_phase_on_its_own_and_prints_the_last_line_once():
    from hybridrl.training.logger import Progress

    stream = io.StringIO()
    p = Progress(True, total=400_000, start=0, description="iql", stream=stream, interval=0.0,
                 offline_steps=300_000)
    p.update(1_000, phase="offline")
    p.update(300_000, 2_500.0, None, "offline")
    p.update(301_000, None, None, "online")  # no rate yet: the offline rate would give a wrong ETA
    p.update(350_000, 500.0, None, "online")
    p.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("hybridrl iql | offline step 1,000/300,000 (run 1,000/400,000)")
    assert "online step 1,000/100,000 (run 301,000/400,000)" in lines[2] and "ETA" not in lines[2]
    assert "online step 50,000/100,000" in lines[3] and "ETA 0:01:40" in lines[3]
    assert len(lines) == 4  # close() does not repeat the line just printed


def test_online_warm_up_gets_its_own_eta_and_its_rate_is_not_extrapolated_past_it():
    from hybridrl.training.logger import Progress

    stream = io.StringIO()
    p = Progress(True, total=110_000, start=10_000, description="iql", stream=stream, interval=0.0,
                 offline_steps=10_000, warmup_steps=5_000)
    p.update(12_000, 2_000.0, None, "online")  # random actions, no updates: fast
    p.update(15_000, 2_000.0, None, "online")  # the rate reported at the warm-up's end is still the warm-up's
    p.update(15_100, None, None, "online")
    p.update(60_000, 100.0, None, "online")
    p.close()
    lines = stream.getvalue().splitlines()
    assert "online step 2,000/100,000" in lines[0] and "warm-up to 5,000, no updates yet" in lines[0]
    assert "warm-up ends in 0:00:01" in lines[0] and "ETA" not in lines[0]
    assert "warm-up" not in lines[1] and "steps/s" not in lines[1] and "ETA" not in lines[1]
    assert "online step 50,000/100,000" in lines[-1] and "ETA 0:08:20" in lines[-1]


def test_the_bar_spans_the_warm_up_then_the_steps_after_it():
    from hybridrl.training.logger import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    p = Progress(True, total=110_000, start=10_000, description="iql", stream=Tty(), interval=0.0,
                 offline_steps=10_000, warmup_steps=5_000)
    p.update(12_000, 2_000.0, None, "online")
    task = p._bar.tasks[0]
    assert (task.description, task.total, task.completed) == ("online warm-up", 5_000, 2_000)
    p.update(20_000, 100.0, None, "online")
    task = p._bar.tasks[0]
    assert (task.description, task.total, task.completed) == ("online", 95_000, 5_000)
    p.close()


def test_data_of_another_action_size_than_the_env_names_the_sizes_not_the_bounds(tmp_path):
    n = 5
    path = tmp_path / "three.npz"
    np.savez(path, observations=np.zeros((n, 2), np.float32), next_observations=np.zeros((n, 2), np.float32),
             actions=np.zeros((n, 3), np.float32), rewards=np.zeros(n, np.float32), terminals=np.zeros(n, bool))
    env_box = (np.full(2, -1.0), np.full(2, 1.0))
    with pytest.raises(DataError, match="actions have 3 dimensions but the env's action space has 2"):
        load_dataset(str(path), default_action_bounds=env_box)
    assert load_dataset(str(path)).actions.shape == (n, 3)  # without an env to compare with, nothing to refuse


def test_iql_on_data_without_rewards_says_the_data_lacks_them(tmp_path, toy_npz):
    from conftest import TINY, TOY

    from hybridrl.recipes import resolve
    from hybridrl.training.loop import Trainer

    bare = tmp_path / "bare.npz"
    load_dataset(str(toy_npz)).action_free().save_npz(str(bare))
    cfg = resolve("iql", TOY, {**TINY, "train.reward_normalization": "return-range"}, dataset=str(bare),
                  offline_steps=10, online_steps=0)
    with pytest.raises(DataError, match="bare.npz: recipe 'iql' trains on actions and rewards, which the data"):
        Trainer(cfg, tmp_path / "run")


def test_resuming_a_finished_run_says_it_is_finished(tmp_path, capsys):
    from conftest import TOY

    out = tmp_path / "run"
    args = ["train", "--recipe", "sac", "--env", TOY, "--online-steps", "40", "--out", str(out), "--no-progress",
            "--set", "agent.hidden_dims=[8,8]", "--set", "train.start_steps=20", "--set", "agent.batch_size=8",
            "--set", "train.eval_episodes=1", "--set", "train.eval_interval=40", "--set", "train.tensorboard=false"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["train", "--out", str(out), "--resume"]) == 0
    captured = capsys.readouterr()
    assert "already finished" in captured.err and json.loads(captured.out) == first


def test_the_terminal_bar_restarts_at_each_phase():
    from hybridrl.training.logger import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    p = Progress(True, total=400, start=0, description="iql", stream=Terminal(), offline_steps=300)
    p.update(100, phase="offline")
    assert (p._bar.tasks[0].total, p._bar.tasks[0].completed) == (300, 100)
    p.update(350, 10.0, None, "online")
    assert (p._bar.tasks[0].total, p._bar.tasks[0].completed, p._bar.tasks[0].description) == (100, 50, "online")
    p.close()
