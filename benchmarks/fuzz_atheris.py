"""atheris target for the dataset file parsers (run by benchmarks/faults.py --only atheris).

The first byte picks the reader (dataset .npz, dataset .hdf5, or checkpoint), the rest is the file. An
input must load or raise hybridrl's DataError (datasets) / CheckpointError (checkpoints); any other
exception is a crash and atheris stops with the input that caused it.

    pip install -e ".[fuzz]"
    python benchmarks/fuzz_atheris.py -runs=20000 CORPUS_DIR
"""
import contextlib
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from hybridrl import checkpoint
    from hybridrl.data import DataError, load_dataset

import numpy as np  # noqa: E402

WORK = tempfile.mkdtemp(prefix="hybridrl-atheris-")
PATHS = [os.path.join(WORK, "case.npz"), os.path.join(WORK, "case.hdf5"), os.path.join(WORK, "ckpt.npz")]
TEMPLATE = {"w": np.zeros((2, 3), np.float32), "step": np.int32(0)}


def test_one_input(data: bytes) -> None:
    if not data:
        return
    kind = data[0] % 3
    path = PATHS[kind]
    with open(path, "wb") as f:
        f.write(data[1:])
    if kind == 2:
        with contextlib.suppress(checkpoint.CheckpointError):
            checkpoint.load(path, TEMPLATE)
        return
    with contextlib.suppress(DataError):
        load_dataset(path)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
