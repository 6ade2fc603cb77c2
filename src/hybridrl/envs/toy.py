"""A tiny continuous-control task for tests and smoke runs: drive a point to the origin.

Small enough that SAC learns it in a few hundred updates, yet it has both a true terminal
(reaching the goal) and a time-limit truncation, so both masks are exercised.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class PointReach(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, dim: int = 2, step_size: float = 0.2, goal_radius: float = 0.1) -> None:
        self.dim, self.step_size, self.goal_radius = dim, step_size, goal_radius
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (dim,), np.float32)
        self._pos = np.zeros(dim, np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._pos = self.np_random.uniform(-1.0, 1.0, self.dim).astype(np.float32)
        return self._pos.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = np.clip(np.asarray(action, np.float32), -1.0, 1.0)
        self._pos = np.clip(self._pos + self.step_size * action, -1.0, 1.0).astype(np.float32)
        dist = float(np.linalg.norm(self._pos))
        success = dist < self.goal_radius
        return self._pos.copy(), -dist, success, False, {"success": success}
