"""A ring buffer that lives on the device: inserted into and sampled from inside jitted code.

With `window` h > 1 (an agent that learns over action chunks, e.g. Q-chunking) a sampled row is the start of h
consecutive steps of one episode, and `gather` returns the chunk: the start state, the h actions concatenated
(time-major), the h-step discounted reward Σ_k γ^k r_{t+k}, and the mask and next state of the window's last step.
A window never crosses an episode end: its last step may be one (a terminal stops the bootstrap, a time-limit cut
bootstraps from the true next state), no earlier step may. Which rows start a whole window is a column
(`window_start`), set for row j − h + 1 when row j of the same episode is stored (its index in the episode ≥ h − 1);
sampling draws candidates uniformly and keeps the first that starts one."""
from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

Batch = dict[str, jnp.ndarray]
WINDOW_CANDIDATES = 16  # uniform draws per sampled window; the first that starts a whole window is kept


def window_starts(episode_ends: np.ndarray, window: int) -> np.ndarray:
    """Rows of a flat dataset that start `window` steps of one episode (no end among the first window − 1)."""
    ends = np.asarray(episode_ends, bool)
    n = len(ends)
    ok = np.zeros(n, bool)
    if n >= window:
        crossing = np.convolve(ends[:n - 1].astype(np.int64), np.ones(max(window - 1, 1), np.int64), "valid") \
            if window > 1 else np.zeros(n, np.int64)
        ok[:n - window + 1] = crossing[:n - window + 1] == 0
    return ok


class ReplayBuffer(flax.struct.PyTreeNode):
    data: dict[str, jnp.ndarray]
    size: jnp.ndarray  # int32 scalar: filled rows
    ptr: jnp.ndarray  # int32 scalar: next row to write
    pending: jnp.ndarray  # int32 scalar: the newest rows withheld from sampling (an unfinished episode whose
    # rows need its end first, e.g. Cal-QL's returns-to-go)
    last_start: jnp.ndarray = None  # int32 scalar (window > 1): the newest row that starts a whole window
    window: int = flax.struct.field(pytree_node=False, default=1)
    discount: float = flax.struct.field(pytree_node=False, default=1.0)  # of the h-step reward in a window

    @property
    def capacity(self) -> int:
        return jax.tree_util.tree_leaves(self.data)[0].shape[0]

    @classmethod
    def create(cls, example: dict[str, Any], capacity: int, window: int = 1, discount: float = 1.0
               ) -> ReplayBuffer:
        """Empty buffer whose rows look like `example` (one transition, no leading axis); `window` > 1 samples
        windows of that many steps (see the module's docstring)."""
        data = {k: jnp.zeros((capacity, *np.shape(v)), dtype=jnp.asarray(v).dtype) for k, v in example.items()}
        if window > 1:
            data["window_start"] = jnp.zeros(capacity, bool)
        return cls(data=data, size=jnp.zeros((), jnp.int32), ptr=jnp.zeros((), jnp.int32),
                   pending=jnp.zeros((), jnp.int32), last_start=jnp.full((), -1, jnp.int32), window=window,
                   discount=discount)

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any], window: int = 1, discount: float = 1.0,
                    episode_ends: np.ndarray | None = None) -> ReplayBuffer:
        """A full, read-only-in-practice buffer holding a dataset (the offline side of mixing); windows need the
        dataset's `episode_ends`."""
        n = len(next(iter(arrays.values())))
        data = {k: jnp.asarray(v) for k, v in arrays.items()}
        last = -1
        if window > 1:
            if episode_ends is None:
                raise ValueError("a windowed buffer over a dataset needs the dataset's episode ends")
            starts = window_starts(episode_ends, window)
            data["window_start"] = jnp.asarray(starts)
            last = int(np.flatnonzero(starts)[-1]) if starts.any() else -1
        return cls(data=data, size=jnp.asarray(n, jnp.int32), ptr=jnp.asarray(n % max(n, 1), jnp.int32),
                   pending=jnp.zeros((), jnp.int32), last_start=jnp.asarray(last, jnp.int32), window=window,
                   discount=discount)

    def insert(self, transition: dict[str, jnp.ndarray], hold: jax.Array | bool = False,
               step_in_episode: jax.Array | int = 0) -> ReplayBuffer:
        """Write one row; with `hold` it joins the withheld (pending) rows until `release`. With windows,
        `step_in_episode` (the row's index in its episode) says whether it completes the window that starts
        window − 1 rows before it."""
        data = {k: v.at[self.ptr].set(transition[k]) for k, v in self.data.items() if k != "window_start"}
        last_start = self.last_start
        if self.window > 1:
            start = (self.ptr - (self.window - 1)) % self.capacity
            complete = jnp.asarray(step_in_episode) >= self.window - 1
            flags = self.data["window_start"].at[self.ptr].set(False)
            data["window_start"] = flags.at[start].set(complete | flags[start])
            last_start = jnp.where(complete, start, last_start).astype(jnp.int32)
        return self.replace(
            data=data,
            size=jnp.minimum(self.size + 1, self.capacity),
            ptr=(self.ptr + 1) % self.capacity,
            pending=jnp.minimum(self.pending + jnp.asarray(hold, jnp.int32), self.capacity - 1),
            last_start=last_start,
        )

    def release(self) -> ReplayBuffer:
        return self.replace(pending=jnp.zeros((), jnp.int32))

    def sample_indices(self, key: jax.Array, shape: tuple[int, ...]) -> jnp.ndarray:
        """Uniform over the rows that may be sampled: all filled rows but the `pending` newest (with windows: over
        the rows that start one)."""
        if self.window > 1:
            candidates = self.sample_indices_plain(key, (*shape, WINDOW_CANDIDATES))
            return self.first_window(candidates, self.data["window_start"][candidates], self.last_start)
        return self.sample_indices_plain(key, shape)

    def sample_indices_plain(self, key: jax.Array, shape: tuple[int, ...]) -> jnp.ndarray:
        r = jax.random.randint(key, shape, 0, jnp.maximum(self.size - self.pending, 1))
        wrapped = (self.pending > 0) & (self.size >= self.capacity)  # oldest row is at ptr once the ring wrapped
        return jnp.where(wrapped, (self.ptr + r) % self.capacity, r)

    @staticmethod
    def first_window(candidates: jnp.ndarray, ok: jnp.ndarray, fallback: jnp.ndarray) -> jnp.ndarray:
        """Per sample, the first of its candidates (last axis) that starts a window (`ok`), else `fallback` (a row
        that does; with 16 candidates this is rarer than 1 in 10^9 when 1 in 4 rows start none)."""
        first = jnp.take_along_axis(candidates, jnp.argmax(ok, axis=-1)[..., None], axis=-1)[..., 0]
        return jnp.where(ok.any(axis=-1), first, fallback)

    def gather(self, indices: jnp.ndarray) -> Batch:
        if self.window == 1:
            return {k: v[indices] for k, v in self.data.items()}
        h = self.window
        rows = (indices[..., None] + jnp.arange(h)) % self.capacity  # (..., h): the window's steps in order
        last = rows[..., -1]
        actions = self.data["actions"][rows]
        batch = {k: v[indices] for k, v in self.data.items()
                 if k not in ("actions", "rewards", "masks", "next_observations", "window_start")}
        batch.update(actions=actions.reshape(*indices.shape, h * actions.shape[-1]),
                     rewards=(self.data["rewards"][rows] * self.discount ** jnp.arange(h)).sum(-1),
                     masks=self.data["masks"][last], next_observations=self.data["next_observations"][last])
        return batch

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
        last = self.last_start
        if self.window > 1 and n:  # the newest row that starts a window, in the order the rows were stored
            order = np.arange(n) if ptr is None else (ptr + np.arange(n)) % self.capacity
            flagged = order[np.asarray(rows["window_start"], bool)[order]]
            last = jnp.asarray(flagged[-1] if len(flagged) else -1, jnp.int32)
        return self.replace(data=data, size=jnp.asarray(n, jnp.int32),
                            ptr=jnp.asarray(n % self.capacity if ptr is None else ptr, jnp.int32), last_start=last)
