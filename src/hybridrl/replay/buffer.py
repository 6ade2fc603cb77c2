"""A ring buffer that lives on the device: inserted into and sampled from inside jitted code."""
from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

Batch = dict[str, jnp.ndarray]


class ReplayBuffer(flax.struct.PyTreeNode):
    data: dict[str, jnp.ndarray]
    size: jnp.ndarray  # int32 scalar: filled rows
    ptr: jnp.ndarray  # int32 scalar: next row to write
    pending: jnp.ndarray  # int32 scalar: the newest rows withheld from sampling (an unfinished episode whose
    # rows need its end first, e.g. Cal-QL's returns-to-go)

    @property
    def capacity(self) -> int:
        return jax.tree_util.tree_leaves(self.data)[0].shape[0]

    @classmethod
    def create(cls, example: dict[str, Any], capacity: int) -> ReplayBuffer:
        """Empty buffer whose rows look like `example` (one transition, no leading axis)."""
        data = {k: jnp.zeros((capacity, *np.shape(v)), dtype=jnp.asarray(v).dtype) for k, v in example.items()}
        return cls(data=data, size=jnp.zeros((), jnp.int32), ptr=jnp.zeros((), jnp.int32),
                   pending=jnp.zeros((), jnp.int32))

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any]) -> ReplayBuffer:
        """A full, read-only-in-practice buffer holding a dataset (the offline side of mixing)."""
        n = len(next(iter(arrays.values())))
        data = {k: jnp.asarray(v) for k, v in arrays.items()}
        return cls(data=data, size=jnp.asarray(n, jnp.int32), ptr=jnp.asarray(n % max(n, 1), jnp.int32),
                   pending=jnp.zeros((), jnp.int32))

    def insert(self, transition: dict[str, jnp.ndarray], hold: jax.Array | bool = False) -> ReplayBuffer:
        """Write one row; with `hold` it joins the withheld (pending) rows until `release`."""
        data = {k: v.at[self.ptr].set(transition[k]) for k, v in self.data.items()}
        return self.replace(
            data=data,
            size=jnp.minimum(self.size + 1, self.capacity),
            ptr=(self.ptr + 1) % self.capacity,
            pending=jnp.minimum(self.pending + jnp.asarray(hold, jnp.int32), self.capacity - 1),
        )

    def release(self) -> ReplayBuffer:
        return self.replace(pending=jnp.zeros((), jnp.int32))

    def sample_indices(self, key: jax.Array, shape: tuple[int, ...]) -> jnp.ndarray:
        """Uniform over the rows that may be sampled: all filled rows but the `pending` newest."""
        r = jax.random.randint(key, shape, 0, jnp.maximum(self.size - self.pending, 1))
        wrapped = (self.pending > 0) & (self.size >= self.capacity)  # oldest row is at ptr once the ring wrapped
        return jnp.where(wrapped, (self.ptr + r) % self.capacity, r)

    def gather(self, indices: jnp.ndarray) -> Batch:
        return {k: v[indices] for k, v in self.data.items()}

    # Host-side helpers for checkpoints: only the filled rows are stored, so a buffer can be
    # restored into a different capacity (a resumed run with more online steps).
    def filled(self) -> dict[str, np.ndarray]:
        n = int(self.size)
        if n < self.capacity:  # never wrapped: rows [0, n)
            return {k: np.asarray(v[:n]) for k, v in self.data.items()}
        p = int(self.ptr)  # wrapped: oldest first
        return {k: np.concatenate([np.asarray(v[p:]), np.asarray(v[:p])]) for k, v in self.data.items()}

    def with_rows(self, rows: dict[str, np.ndarray], ptr: int | None = None) -> ReplayBuffer:
        """This (empty) buffer filled with `rows` in order; `ptr` restores an exact ring position."""
        n = len(next(iter(rows.values()))) if rows else 0
        if n > self.capacity:
            raise ValueError(f"{n} rows do not fit in a buffer of capacity {self.capacity}")
        data = {k: v.at[:n].set(jnp.asarray(rows[k], v.dtype)) if n else v for k, v in self.data.items()}
        return self.replace(data=data, size=jnp.asarray(n, jnp.int32),
                            ptr=jnp.asarray(n % self.capacity if ptr is None else ptr, jnp.int32))
