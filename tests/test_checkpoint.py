"""Checkpoints: atomic, complete, and loud about anything foreign or corrupt."""
import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hybridrl import checkpoint
from hybridrl.checkpoint import CheckpointError


def _tree():
    return {"w": jnp.arange(6.0).reshape(2, 3), "step": jnp.int32(7), "key": jax.random.PRNGKey(1)}


def test_round_trip_is_exact_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "ckpt" / "latest.npz"
    checkpoint.save(path, {**_tree(), "extra": np.ones(4)}, {"note": "x"})
    tree, meta, extras = checkpoint.load(path, _tree())
    for k, v in _tree().items():
        np.testing.assert_array_equal(tree[k], v)
    assert meta == {"note": "x"} and list(extras) == ["['extra']"]
    assert os.listdir(path.parent) == ["latest.npz"]


def test_overwrite_is_atomic_old_checkpoint_survives_a_failed_write(tmp_path, monkeypatch):
    path = tmp_path / "latest.npz"
    checkpoint.save(path, _tree(), {"v": 1})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, _tree(), {"v": 2})
    monkeypatch.undo()
    assert checkpoint.read_meta(path) == {"v": 1}
    assert os.listdir(tmp_path) == ["latest.npz"]


@pytest.mark.parametrize("content,match", [
    (b"", "corrupt"),
    (b"PK\x03\x04 truncated zip", "corrupt"),
    (os.urandom(512), "corrupt"),
])
def test_corrupt_files_give_a_clear_error(tmp_path, content, match):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        checkpoint.load(path, _tree())


def test_truncated_checkpoint_is_refused(tmp_path):
    path = tmp_path / "t.npz"
    checkpoint.save(path, _tree(), {})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        checkpoint.load(path, _tree())


def test_foreign_npz_and_other_model_are_refused(tmp_path):
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.ones(3))
    with pytest.raises(CheckpointError, match="not a hybridrl checkpoint"):
        checkpoint.load(foreign, _tree())
    path = tmp_path / "other.npz"
    checkpoint.save(path, {"w": jnp.zeros((5, 5))}, {})
    with pytest.raises(CheckpointError, match="different model"):
        checkpoint.load(path, _tree())
    checkpoint.save(path, {**_tree(), "w": jnp.zeros((3, 3))}, {})
    with pytest.raises(CheckpointError, match=r"shape \(3, 3\).*expects shape \(2, 3\)"):
        checkpoint.load(path, _tree())


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_pickle_payload_is_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.npz"
    np.savez(path, __header__=np.array([_Payload()], dtype=object), a0=np.array([_Payload()], dtype=object))
    with pytest.raises(CheckpointError):
        checkpoint.load(path, _tree())
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(CheckpointError):
        checkpoint.load(raw, _tree())
    assert not (tmp_path / "PWNED").exists()
