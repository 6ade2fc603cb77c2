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


@dataclass(frozen=True)
class Append(Mixer):
    """One buffer holding the offline data followed by the online data, sampled uniformly (IQL, FamO2O).

    The union is never materialised: an index is drawn over both sizes and read from whichever side it
    falls in, so the offline share of a minibatch drifts from ~100% toward n_off / (n_off + n_on)."""

    name: str = "append"

    def sample(self, key: jax.Array, online: ReplayBuffer, offline: ReplayBuffer | None,
               batch_size: int, num: int) -> Batch:
        if offline is None:
            return online.gather(online.sample_indices(key, (num, batch_size)))
        idx = jax.random.randint(key, (num, batch_size), 0, offline.size + online.size)
        from_off = idx < offline.size
        off = offline.gather(jnp.where(from_off, idx, 0))
        on = online.gather(jnp.where(from_off, 0, idx - offline.size))
        return {k: jnp.where(from_off.reshape(from_off.shape + (1,) * (off[k].ndim - 2)), off[k], on[k])
                for k in off}


@dataclass(frozen=True)
class OnlineOnly(Mixer):
    """Online transitions only (WSRL: the offline data is not kept after pre-training)."""

    name: str = "online-only"

    def sample(self, key: jax.Array, online: ReplayBuffer, offline: ReplayBuffer | None,
               batch_size: int, num: int) -> Batch:
        return online.gather(online.sample_indices(key, (num, batch_size)))


MIXERS = {"symmetric": Symmetric, "append": Append, "online-only": OnlineOnly}


def make_mixer(name: str, offline_ratio: float) -> Mixer:
    """The named strategy; only `symmetric` reads `offline_ratio`."""
    if name not in MIXERS:
        raise ValueError(f"unknown mixing strategy {name!r}; valid: {', '.join(sorted(MIXERS))}")
    return Symmetric(offline_ratio=offline_ratio) if name == "symmetric" else MIXERS[name]()
