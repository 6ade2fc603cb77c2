"""Atomic, complete, pickle-free checkpoints.

A checkpoint is one `.npz` (NumPy arrays only, loaded with allow_pickle=False) holding every leaf of
a state pytree under its key path, plus a JSON header with the format tag, the key paths, shapes and
dtypes, and host-side metadata. It is written to a temporary file in the same directory, fsynced and
renamed, so a reader sees either the old checkpoint or the new one, never half of one.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

FORMAT = "hybridrl-checkpoint/1"
_HEADER = "__header__"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt, or from another run/version; the message says which."""


class StorageError(OSError):
    """Writing to the run directory failed (disk full, unwritable, quota); what was there before is intact."""


def _paths(tree: Any) -> tuple[list[str], list[Any], Any]:
    leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(tree)
    return [jax.tree_util.keystr(p) for p, _ in leaves_with_path], [x for _, x in leaves_with_path], treedef


def save(path: str | os.PathLike, tree: Any, meta: dict[str, Any]) -> None:
    """Write `tree` (any pytree of arrays) and JSON-able `meta` atomically to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys, leaves, _ = _paths(tree)
    arrays = {f"a{i}": np.asarray(x) for i, x in enumerate(leaves)}
    header = {"format": FORMAT, "keys": keys, "shapes": [list(a.shape) for a in arrays.values()],
              "dtypes": [str(a.dtype) for a in arrays.values()], "meta": meta}
    arrays[_HEADER] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StorageError(exc.errno, f"cannot write checkpoint {path}: {exc.strerror or exc}; "
                                      "the previous checkpoint is unchanged") from exc
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StorageError(exc.errno, f"cannot write checkpoint {path}: {exc.strerror or exc}; the previous "
                                          "checkpoint is unchanged and no partial file was left") from exc
        raise
    _fsync_dir(path.parent)


def remove_stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete temporary files of checkpoint writes that were killed before their rename (never read)."""
    directory = Path(directory)
    stale = sorted(directory.glob(".*.npz.*.tmp")) if directory.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    return _read(path)[0]["meta"]


def _read(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            if _HEADER not in f.files:
                raise CheckpointError(f"{path} is not a hybridrl checkpoint (no header; found keys "
                                      f"{', '.join(f.files[:5])}{'...' if len(f.files) > 5 else ''})")
            header = json.loads(bytes(f[_HEADER]).decode())
            arrays = {k: f[k] for k in f.files if k != _HEADER}
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile/numpy/json raise many types for damaged files
        raise CheckpointError(f"{path} is corrupt or not a hybridrl checkpoint: {type(exc).__name__}: {exc}") \
            from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise CheckpointError(f"{path} has format {found!r}; this hybridrl reads {FORMAT!r}")
    return header, arrays


def load(path: str | os.PathLike, template: Any) -> tuple[Any, dict[str, Any], dict[str, np.ndarray]]:
    """Restore a pytree shaped like `template` (every key, shape and dtype must match).

    Returns the tree, the metadata, and the arrays the template does not name (parts whose shapes
    vary between runs, such as the filled rows of a replay buffer), keyed by their path.
    """
    header, arrays = _read(path)
    by_key = {k: arrays.get(f"a{i}") for i, k in enumerate(header["keys"])}
    keys, leaves, treedef = _paths(template)
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise CheckpointError(f"{path} was written for a different model or config: it lacks "
                              f"{', '.join(missing[:5])}{'...' if len(missing) > 5 else ''}")
    restored = []
    for key, leaf in zip(keys, leaves, strict=True):
        arr = by_key[key]
        if arr is None:
            raise CheckpointError(f"{path} is truncated: the array for {key} is missing")
        want_shape = tuple(np.shape(leaf))
        want_dtype = leaf.dtype if hasattr(leaf, "dtype") else jax.numpy.asarray(leaf).dtype  # int -> int32
        if tuple(arr.shape) != want_shape or arr.dtype != want_dtype:
            raise CheckpointError(f"{path}: {key} has shape {tuple(arr.shape)} dtype {arr.dtype}; the current "
                                  f"config expects shape {want_shape} dtype {want_dtype}")
        restored.append(arr)
    extras = {k: v for k, v in by_key.items() if k not in set(keys) and v is not None}
    return jax.tree_util.tree_unflatten(treedef, restored), header["meta"], extras
