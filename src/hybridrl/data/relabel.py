"""Hindsight goal relabelling (the HIQL/MSCP scheme), jittable: goals are drawn as dataset indices.

For a sampled transition index t in an episode whose last stored state is T_end:
- value goal: s_t with p_cur (0.2); a future state s_{min(t+Δ, T_end)}, Δ ~ Geometric(1−γ), with
  p_traj (0.5); a uniformly random dataset state otherwise (0.3).
  Reward/mask: r = 0, m = 0 when the goal is s_t itself (same index), else r = −1, m = 1.
- high-level goal g_h: a random dataset state with p_rand (0.3), else uniform over [t+1, T_end].
- slow-planner target s_{min(t+k, idx(g_h))} (capped at T_end when g_h is random), fast-planner target
  s_{min(t+1, idx(g_h))} (same cap), low-level goal w = s_{min(t+k, T_end)}.
"""
from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np


def episode_last_index(episode_ends: np.ndarray) -> np.ndarray:
    """For each row, the index of the last row of its episode (an unfinished tail counts as one)."""
    ends = np.flatnonzero(episode_ends)
    n = len(episode_ends)
    if len(ends) == 0 or ends[-1] != n - 1:
        ends = np.append(ends, n - 1)
    return ends[np.searchsorted(ends, np.arange(n))]


class GoalRelabeler(flax.struct.PyTreeNode):
    observations: jnp.ndarray  # (N, d): goals are states
    last_index: jnp.ndarray  # (N,) int32: T_end of each row's episode
    discount: float = flax.struct.field(pytree_node=False, default=0.99)
    p_cur: float = flax.struct.field(pytree_node=False, default=0.2)
    p_traj: float = flax.struct.field(pytree_node=False, default=0.5)
    p_rand_high: float = flax.struct.field(pytree_node=False, default=0.3)
    subgoal_steps: int = flax.struct.field(pytree_node=False, default=25)  # k

    @classmethod
    def create(cls, observations: np.ndarray, episode_ends: np.ndarray, **kw: float | int) -> GoalRelabeler:
        return cls(observations=jnp.asarray(observations, jnp.float32),
                   last_index=jnp.asarray(episode_last_index(np.asarray(episode_ends, bool)), jnp.int32), **kw)

    def sample_indices(self, key: jax.Array, idx: jnp.ndarray) -> dict[str, jnp.ndarray]:
        """All relabelled goal/target indices and the reward/mask for transitions `idx`."""
        return relabel_indices(key, idx, self.last_index[idx], self.observations.shape[0], discount=self.discount,
                               p_cur=self.p_cur, p_traj=self.p_traj, p_rand_high=self.p_rand_high,
                               subgoal_steps=self.subgoal_steps)

    def sample(self, key: jax.Array, idx: jnp.ndarray) -> dict[str, jnp.ndarray]:
        """Like `sample_indices`, plus the goal and target states themselves (keys ending in `_obs`)."""
        out = self.sample_indices(key, idx)
        names = ("value_goal", "high_goal", "slow_target", "fast_target", "low_goal")
        return {**out, **{f"{k}_obs": self.observations[out[k]] for k in names}}


def relabel_indices(key: jax.Array, idx: jnp.ndarray, last: jnp.ndarray, num_rows: jnp.ndarray | int, *,
                    discount: float = 0.99, p_cur: float = 0.2, p_traj: float = 0.5, p_rand_high: float = 0.3,
                    subgoal_steps: int = 25) -> dict[str, jnp.ndarray]:
    """The rules above for rows `idx` whose episodes end at rows `last`; random goals are drawn from
    rows [0, num_rows). A function of indices only, so the same rules serve a fixed dataset and a growing
    online buffer (whose episode ends are known only once each episode has finished)."""
    k_src, k_geo, k_rand, k_hsrc, k_hrand, k_hfut = jax.random.split(key, 6)
    shape = idx.shape
    # value goal
    u = jax.random.uniform(k_src, shape)
    offset = jax.random.geometric(k_geo, 1.0 - discount, shape)
    future = jnp.minimum(idx + offset, last)
    random = jax.random.randint(k_rand, shape, 0, num_rows)
    value_goal = jnp.where(u < p_cur, idx, jnp.where(u < p_cur + p_traj, future, random))
    success = value_goal == idx
    # high-level goal
    high_random = jax.random.uniform(k_hsrc, shape) < p_rand_high
    lo = jnp.minimum(idx + 1, last)
    high_future = jax.random.randint(k_hfut, shape, lo, last + 1)
    high_goal = jnp.where(high_random, jax.random.randint(k_hrand, shape, 0, num_rows), high_future)
    cap = jnp.where(high_random, last, high_goal)
    return {
        "value_goal": value_goal,
        "rewards": jnp.where(success, 0.0, -1.0),
        "masks": jnp.where(success, 0.0, 1.0),
        "high_goal": high_goal,
        "high_goal_is_random": high_random,
        "slow_target": jnp.minimum(jnp.minimum(idx + subgoal_steps, last), cap),
        "fast_target": jnp.minimum(jnp.minimum(idx + 1, last), cap),
        "low_goal": jnp.minimum(idx + subgoal_steps, last),
    }
