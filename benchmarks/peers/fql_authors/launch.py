"""Run the authors' FQL main.py offline of the internet: wandb disabled, OGBench datasets read from
DATASET_DIR only (a missing file is an error, never a download)."""
import os
import sys

import ogbench
import wandb

_init = wandb.init


def _init_disabled(*args, **kwargs):
    kwargs["mode"] = "disabled"
    return _init(*args, **kwargs)


wandb.init = _init_disabled

_make = ogbench.make_env_and_datasets
_dir = os.environ["DATASET_DIR"]


def _make_local(name, **kwargs):
    if not kwargs.get("env_only", False):
        base = name.split("-singletask")[0]
        path = os.path.join(_dir, f"{base}-v0.npz")
        if not os.path.exists(path):
            raise SystemExit(f"refusing to download: {path} is missing")
    kwargs["dataset_dir"] = _dir
    return _make(name, **kwargs)


ogbench.make_env_and_datasets = _make_local
sys.argv = ["main.py"] + sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import main  # noqa: E402
from absl import app  # noqa: E402

app.run(main.main)
