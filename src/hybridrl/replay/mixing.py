"""Data-mixing strategies: how offline and online transitions form each minibatch.

One concept, several implementations, shared by every recipe. Each `sample` runs inside jit and
returns `num` minibatches stacked on a leading axis (one per critic step).
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from hybridrl.replay.buffer import Batch, ReplayBuffer


class Mixer:
    name: str = ""

    def sample(self, key: jax.Array, online: ReplayBuffer, offline: ReplayBuffer | None,
               batch_size: int, num: int) -> Batch:
        raise NotImplementedError


@dataclass(frozen=True)
class Symmetric(Mixer):
    """A fixed fraction of every minibatch from the offline data, exactly (RLPD: 0.5; 0 = online only)."""

    offline_ratio: float = 0.5
    name: str = "symmetric"

    def split(self, batch_size: int, has_offline: bool) -> tuple[int, int]:
        n_off = int(round(self.offline_ratio * batch_size)) if has_offline else 0
        return n_off, batch_size - n_off

    def sample(self, key: jax.Array, online: ReplayBuffer, offline: ReplayBuffer | None,
               batch_size: int, num: int) -> Batch:
        n_off, n_on = self.split(batch_size, offline is not None)
        key_on, key_off = jax.random.split(key)
        parts = []
        if n_off:
            parts.append(offline.gather(offline.sample_indices(key_off, (num, n_off))))
        if n_on:
            parts.append(online.gather(online.sample_indices(key_on, (num, n_on))))
        if len(parts) == 1:
            return parts[0]
        return {k: jnp.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}


MIXERS = {"symmetric": Symmetric}


def make_mixer(name: str, offline_ratio: float) -> Mixer:
    if name not in MIXERS:
        raise ValueError(f"unknown mixing strategy {name!r}; valid: {', '.join(sorted(MIXERS))}")
    return MIXERS[name](offline_ratio=offline_ratio)
