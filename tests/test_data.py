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
    return {"observations": rng.normal(size=(n, 3)).astype(np.float32),
            "next_observations": rng.normal(size=(n, 3)).astype(np.float32),
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
    (lambda a: a.pop("next_observations"), "'next_observations' is missing"),
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
