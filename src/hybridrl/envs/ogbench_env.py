"""OGBench's maze envs made reproducible, and their goal-conditioned form for goal-conditioned agents (MSCP, HIQL).

OGBench's locomotion mazes (`ogbench/locomaze/maze.py`) draw the start and goal noise from NumPy's global generator
and stabilise each reset with `action_space.sample()`, whose generator is never seeded: `reset(seed=0)` twice gives
two different starts. `SeededMaze` makes every reset a function of the reset seed (a generator seeded by it draws
one seed per reset for both), and leaves NumPy's global state as it found it.

The goal-conditioned envs (`pointmaze-medium-v0`, `antmaze-large-v0`, ...: OGBench's ids without `-singletask`) pass
the goal only in the reset's info. `GoalMaze` puts it where hybridrl's goal agents read it — a dict observation
with `observation`, `desired_goal` (the goal's x, y) and `achieved_goal` (the agent's x, y, the observation's first
two entries) — with `compute_reward` / `compute_terminated` by OGBench's own success test (distance to the goal
within the maze's tolerance). Without `options={"task_id": k}`, a seeded reset takes task 1 + seed mod 5 and later
resets the next task in turn, so evaluation episodes (distinct seeds) cover OGBench's five evaluation tasks evenly,
as OGBench's protocol (success averaged over its five tasks) does.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

MAZE_PREFIXES = ("pointmaze-", "antmaze-", "humanoidmaze-", "antsoccer-")


def is_maze(env_id: str) -> bool:
    return env_id.startswith(MAZE_PREFIXES)


def is_goal_maze(env_id: str) -> bool:
    """OGBench's goal-conditioned maze ids: a maze id without `-singletask` (and not the data-only `-navigate`)."""
    return is_maze(env_id) and "-singletask" not in env_id and env_id.startswith(("pointmaze-", "antmaze-",
                                                                                  "humanoidmaze-"))


class SeededMaze(gym.Wrapper):
    """Every reset of an OGBench maze a function of the seeds given to `reset`."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        draw = int(self._rng.integers(1 << 31))
        saved = np.random.get_state()
        np.random.seed(draw)
        self.env.unwrapped.action_space.seed(draw)
        try:
            return self.env.reset(seed=draw, options=options)
        finally:
            np.random.set_state(saved)


class GoalMaze(gym.Wrapper):
    """An OGBench goal-conditioned maze as a goal env: dict observations and OGBench's success as the goal test."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        maze = env.unwrapped
        self.num_tasks = len(maze.task_infos)
        self.goal_tol = float(maze._goal_tol)
        low = np.full(2, -np.inf, np.float32)
        self.observation_space = gym.spaces.Dict({
            "observation": env.observation_space,
            "desired_goal": gym.spaces.Box(low, -low, dtype=np.float32),
            "achieved_goal": gym.spaces.Box(low, -low, dtype=np.float32)})
        self._next_task = 1

    def _obs(self, ob: np.ndarray) -> dict[str, np.ndarray]:
        maze = self.env.unwrapped
        return {"observation": np.asarray(ob, np.float32),
                "desired_goal": np.asarray(maze.cur_goal_xy, np.float32),
                "achieved_goal": np.asarray(maze.get_xy(), np.float32)}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        options = dict(options or {})
        if "task_id" not in options and "task_info" not in options:
            if seed is not None:
                self._next_task = 1 + seed % self.num_tasks
            options["task_id"] = self._next_task
            self._next_task = 1 + self._next_task % self.num_tasks
        ob, info = self.env.reset(seed=seed, options=options)
        info["task_id"] = self.env.unwrapped.cur_task_id
        return self._obs(ob), info

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        ob, reward, terminated, truncated, info = self.env.step(action)
        return self._obs(ob), reward, terminated, truncated, info

    def compute_reward(self, achieved: np.ndarray, desired: np.ndarray, info: Any = None) -> np.ndarray:
        """1 where the x, y is within the goal tolerance (OGBench's success and goal-conditioned reward), else 0."""
        dist = np.linalg.norm(np.asarray(achieved, np.float64) - np.asarray(desired, np.float64), axis=-1)
        return (dist <= self.goal_tol).astype(np.float32)

    def compute_terminated(self, achieved: np.ndarray, desired: np.ndarray, info: Any = None) -> bool:
        return bool(self.compute_reward(achieved, desired, info))  # OGBench ends an episode at the goal


def wrap(env_id: str, env: gym.Env) -> gym.Env:
    """`env` (made from an OGBench maze id) seeded, and in goal form where the id is a goal-conditioned one."""
    if not is_maze(env_id):
        return env
    env = SeededMaze(env)
    return GoalMaze(env) if is_goal_maze(env_id) else env
