"""Dataset files: npz and D4RL-style HDF5, validated with errors that name file and field."""
import h5py
import numpy as np
import pytest

from hybridrl.data import DataError, load_dataset


def _arrays(n=10):
    rng = np.random.default_rng(0)
    term = np.zeros(n, bool)
    term[4] = True
    timeouts = np.zeros(n, bool)
    timeouts[-1] = True
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    nxt = np.concatenate([obs[1:], rng.normal(size=(1, 3)).astype(np.float32)])  # contiguous episodes
    nxt[4] = rng.normal(size=3)  # the state a terminal leads to is not the next episode's start
    return {"observations": obs, "next_observations": nxt,
            "actions": rng.uniform(-1, 1, (n, 2)).astype(np.float32), "rewards": rng.normal(size=n),
            "terminals": term, "timeouts": timeouts}


def test_d4rl_hdf5_timeouts_become_truncations_not_terminals(tmp_path):
    path = tmp_path / "d.hdf5"
    with h5py.File(path, "w") as f:
        for k, v in _arrays().items():
            f[k] = v
    ds = load_dataset(str(path))
    assert ds.terminals.sum() == 1 and ds.truncations.sum() == 1
    tr = ds.transitions()
    np.testing.assert_array_equal(tr["masks"], 1.0 - _arrays()["terminals"])
    assert len(ds.episode_returns()) == 2


def test_npz_round_trip(tmp_path):
    a = _arrays()
    a["truncations"] = a.pop("timeouts")
    np.savez(tmp_path / "d.npz", **a)
    ds = load_dataset(str(tmp_path / "d.npz"))
    ds.save_npz(tmp_path / "e.npz")
    again = load_dataset(str(tmp_path / "e.npz"))
    for k in ("observations", "actions", "rewards", "terminals", "truncations"):
        np.testing.assert_array_equal(getattr(ds, k), getattr(again, k))


@pytest.mark.parametrize("mutate,match", [
    (lambda a: a.update(actions=a["actions"][:-1]), r"'actions' should have shape \(10, 2\).*found \(9, 2\)"),
    (lambda a: a["observations"].__setitem__((2, 1), np.nan), "'observations' has 1 rows with NaN"),
    (lambda a: a["actions"].__setitem__((0, 0), 3.0), "'actions' has values up to 3"),
    # without next_observations the file is read in D4RL's own layout (next state = next row), which needs one
    # terminal flag per row
    (lambda a: (a.pop("next_observations"), a.update(terminals=a["terminals"][:-1])),
     r"'terminals' \(and 'timeouts'\) must have one entry per row of 'observations' \(10 rows"),
    (lambda a: a.pop("observations"), "required field 'observations' is missing"),
])
def test_bad_data_names_file_and_field(tmp_path, mutate, match):
    a = _arrays()
    mutate(a)
    path = tmp_path / "bad.npz"
    np.savez(path, **a)
    with pytest.raises(DataError, match=match) as err:
        load_dataset(str(path))
    assert "bad.npz" in str(err.value)


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, observations=np.array([object()], dtype=object), terminals=np.zeros(1))
    with pytest.raises(DataError, match="without pickle"):
        load_dataset(str(path))
    path.write_text("step,obs\n0,1\n")  # not a zip archive at all: said so, not called "pickled"
    with pytest.raises(DataError, match=r"not a \.npz file .*starts with b'step,o'"):
        load_dataset(str(path))


def test_returns_to_go_by_hand():
    from hybridrl.data.dataset import discounted_returns

    r = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 5.0])
    ends = np.array([0, 0, 1, 0, 1, 0], bool)  # episodes [0..2], [3..4], unfinished tail [5]
    g = discounted_returns(r, ends, 0.5)
    np.testing.assert_allclose(g, [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3, 10 + 0.5 * 20, 20, 5])


def test_returns_to_go_never_successful_sparse_episode():
    from hybridrl.data.dataset import discounted_returns

    r = np.array([-1.0, -1.0, -1.0, -1.0, 0.0])
    ends = np.array([0, 1, 0, 0, 1], bool)  # first episode never succeeds; second reaches the goal
    g = discounted_returns(r, ends, 0.9, sparse_failure_reward=-1.0)
    np.testing.assert_allclose(g[:2], [-10.0, -10.0])  # -1 / (1 - 0.9)
    np.testing.assert_allclose(g[2:], [-1 + 0.9 * -1, -1, 0.0], rtol=1e-6)


def test_action_free_view_drops_actions_and_rewards(tmp_path):
    a = _arrays()
    a["truncations"] = a.pop("timeouts")
    np.savez(tmp_path / "d.npz", **a)
    free = load_dataset(str(tmp_path / "d.npz")).action_free()
    assert free.actions is None and free.rewards is None
    with pytest.raises(DataError, match="needs actions and rewards"):
        free.transitions()
    free.save_npz(tmp_path / "free.npz")
    again = load_dataset(str(tmp_path / "free.npz"))
    assert again.actions is None and len(again) == 10


def test_missing_episode_boundary_is_reported(tmp_path):
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(6, 2)).astype(np.float32)
    nxt = np.concatenate([obs[1:], obs[:1]])  # contiguous ...
    nxt[2] = 9.0  # ... except after row 2, where no episode end is marked
    np.savez(tmp_path / "d.npz", observations=obs, next_observations=nxt, terminals=np.zeros(6, bool),
             truncations=np.array([0, 0, 0, 0, 0, 1], bool))
    with pytest.raises(DataError, match=r"'next_observations'\[2\] differs from 'observations'\[3\]"):
        load_dataset(str(tmp_path / "d.npz"))


def test_drop_invalid_repairs_and_counts(tmp_path):
    a = _arrays()
    a["truncations"] = a.pop("timeouts")
    a["observations"][2, 0] = np.nan  # row 2 dropped; row 1 becomes a truncation
    a["actions"][6, 1] = 1.5  # clipped
    a["truncations"][4] = True  # row 4 is also terminal: terminal wins
    np.savez(tmp_path / "d.npz", **a)
    with pytest.raises(DataError):
        load_dataset(str(tmp_path / "d.npz"))
    ds = load_dataset(str(tmp_path / "d.npz"), drop_invalid=True)
    rep = ds.metadata["repairs"]
    assert rep["rows_dropped_nonfinite"] == 1 and rep["actions_clipped"] == 1
    assert rep["truncations_cleared_on_terminals"] == 1
    assert len(ds) == 9 and ds.truncations[1] and not ds.truncations[3] and ds.terminals[3]
    assert np.abs(ds.actions).max() <= 1.0


def test_npz_with_d4rl_timeouts_keeps_time_limit_ends(tmp_path):
    np.savez(tmp_path / "d.npz", **_arrays())  # uses D4RL's 'timeouts' name
    ds = load_dataset(str(tmp_path / "d.npz"))
    assert ds.truncations.sum() == 1 and ds.truncations[-1]


@pytest.mark.parametrize("suffix", [".npz", ".hdf5"])
def test_corrupt_dataset_files_are_data_errors_naming_the_file(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"definitely not a dataset")
    with pytest.raises(DataError, match=f"broken{suffix}"):
        load_dataset(str(path))


def test_unfinished_last_episode_counts_and_fingerprint_sees_boundaries(tmp_path):
    a = _arrays()
    a["truncations"] = a.pop("timeouts")
    a["truncations"][-1] = False  # recording stopped mid-episode
    np.savez(tmp_path / "d.npz", **a)
    ds = load_dataset(str(tmp_path / "d.npz"))
    assert len(ds.episode_returns()) == 2 and ds.summary()["episodes"] == 2
    np.testing.assert_allclose(ds.episode_returns().sum(), a["rewards"].sum(), rtol=1e-6)
    a["truncations"][2] = True
    a["next_observations"][2] = 7.0
    np.savez(tmp_path / "e.npz", **a)
    assert load_dataset(str(tmp_path / "e.npz")).fingerprint() != ds.fingerprint()


def test_returns_to_go_use_the_transformed_rewards(tmp_path):
    a = _arrays()
    a["truncations"] = a.pop("timeouts")
    np.savez(tmp_path / "d.npz", **a)
    ds = load_dataset(str(tmp_path / "d.npz"))
    g = ds.returns_to_go(0.0, reward_scale=10.0, reward_bias=-5.0)  # γ = 0: G_t = r_t
    np.testing.assert_allclose(g, a["rewards"] * 10.0 - 5.0, rtol=1e-5)


def test_info_gives_the_return_data_list_shows_beside_the_one_over_every_episode(toy_npz):
    from hybridrl.data.dataset import episode_end_rows

    ds = load_dataset(str(toy_npz))
    rets = ds.episode_returns()
    ds.metadata["cut_episode_ends"] = [int(episode_end_rows(ds.episode_ends)[-1])]  # a rollout stopped in the middle
    info = ds.summary()
    assert info["return"]["mean"] == pytest.approx(rets.mean())
    whole = info["return_whole_episodes"]
    assert whole["left_out"] == 1 and whole["mean"] == pytest.approx(rets[:-1].mean())
