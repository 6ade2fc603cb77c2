"""Preparation steps: a recipe's one-off transformation of its offline data during a run, chosen by
`train.label_actions` (today inverse-dynamics labelling of action-free data at the end of the online warm-up).

The training loop asks this registry for the run's step and calls it; it never names a method. A step has
`from_config(train)`, `run(rows, dataset, env, reset_seed) -> (dataset, info)` and a `report_file` for the info.
"""
from __future__ import annotations

from typing import Any

from hybridrl.data.idm import IDMLabelling

PREPARATIONS: dict[str, Any] = {"idm": IDMLabelling}


def make_preparation(train: Any) -> Any | None:
    """The run's preparation step (`train.label_actions`), or None."""
    name = train.label_actions
    return None if name == "none" else PREPARATIONS[name].from_config(train)
