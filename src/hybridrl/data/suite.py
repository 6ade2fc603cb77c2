"""Built-in datasets, generated locally and deterministically (no downloads)."""
from __future__ import annotations

SUITE: dict = {}


def build(name: str):  # placeholder, filled below
    raise NotImplementedError(name)
