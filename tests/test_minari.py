"""Minari: read what minari's own DataCollector wrote; write real Minari datasets; exact round trips."""
import minari
import numpy as np
import pytest
from conftest import TOY

from hybridrl.cli import main
from hybridrl.data import DataError, load_dataset
from hybridrl.data.minari_io import read_minari, write_minari
from hybridrl.envs import make_env

FIELDS = ("observations", "next_observations", "actions", "rewards", "terminals", "truncations")


@pytest.fixture()
def minari_root(tmp_path, monkeypatch):
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


@pytest.fixture()
def collected(minari_root):
    env = minari.DataCollector(make_env(TOY))
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(200):
        *_, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()
    env.create_dataset("toy/random-v0", algorithm_name="random", author="test", author_email="t@t",
                       code_permalink="none", description="test data")
    return "toy/random-v0"


def test_reads_a_dataset_written_by_minaris_data_collector(collected):
    ds = load_dataset(collected)
    ref = minari.load_dataset(collected)
    assert len(ds) == ref.total_steps == 200
    eps = list(ref.iterate_episodes())
    np.testing.assert_array_equal(ds.observations[: len(eps[0].rewards)], eps[0].observations[:-1])
    np.testing.assert_array_equal(ds.next_observations[: len(eps[0].rewards)], eps[0].observations[1:])
    assert int(ds.episode_ends.sum()) == len(eps)
    assert ds.metadata["env"] == TOY


def test_round_trip_minari_npz_hdf5_preserves_every_array(collected, tmp_path, minari_root):
    ds = load_dataset(collected)
    ds.save_npz(tmp_path / "a.npz")
    a = load_dataset(str(tmp_path / "a.npz"))
    a.save_hdf5(tmp_path / "b.hdf5")
    b = load_dataset(str(tmp_path / "b.hdf5"))
    path = write_minari(b, "toy/copy-v0", env_id=TOY)
    c = read_minari(str(path))
    assert minari.load_dataset("toy/copy-v0").total_steps == len(ds)  # minari itself can open it
    for x in (a, b, c):
        for k in FIELDS:
            np.testing.assert_array_equal(getattr(x, k), getattr(ds, k), err_msg=k)


def test_convert_command(collected, tmp_path, capsys):
    assert main(["data", "convert", collected, str(tmp_path / "x.hdf5")]) == 0
    assert main(["data", "convert", str(tmp_path / "x.hdf5"), "toy/converted-v0", "--env", TOY]) == 0
    assert "wrote 200 transitions" in capsys.readouterr().out
    assert minari.load_dataset("toy/converted-v0").total_steps == 200


def test_missing_remote_dataset_does_not_download(minari_root):
    with pytest.raises(DataError, match="not available locally.*download"):
        load_dataset("D4RL/door/human-v2")


def test_action_free_data_cannot_become_minari(tmp_path, minari_root):
    from hybridrl.data import Dataset

    free = Dataset(observations=np.zeros((3, 2), np.float32), next_observations=np.zeros((3, 2), np.float32),
                   terminals=np.array([0, 0, 1], bool), truncations=np.zeros(3, bool))
    with pytest.raises(DataError, match="need actions and rewards"):
        write_minari(free, "toy/free-v0")


def test_goal_dataset_round_trips_through_minari(tmp_path, minari_root):
    from hybridrl.data.maze import rollout_maze

    ds = rollout_maze("PointMaze_Medium-v3", 700, seed=0)
    path = write_minari(ds, "maze/tiny-v0")
    back = read_minari(str(path))
    for k in (*FIELDS, "goals"):
        np.testing.assert_array_equal(getattr(back, k), getattr(ds, k), err_msg=k)
    assert minari.load_dataset("maze/tiny-v0").total_steps == 700


def test_maze_dataset_exports_to_minari_by_env_name(tmp_path, minari_root, monkeypatch):
    from hybridrl.data.dataset import save_dataset
    from hybridrl.data.maze import rollout_maze

    ds = rollout_maze("PointMaze_Medium-v3", 300, seed=0)
    ds.metadata["env"] = "PointMaze_Medium-v3"
    save_dataset(ds, "maze/export-v0")
    assert minari.load_dataset("maze/export-v0").total_steps == 300
