"""PointMaze data in the D4RL "diverse" style: a noisy waypoint controller that plans over maze cells.

The controller finds the shortest cell path to the goal's cell (breadth-first search over free cells),
steers with a PD law toward the centre of the next cell on it (the goal itself once in the goal's
cell), and adds Gaussian action noise (0.3). The env is created with `continuing_task=True,
reset_target=True` and 1000-step episodes, so a new goal is drawn each time the current one is reached
and every episode visits many goals; episodes end only at the time limit.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from hybridrl.data.dataset import Dataset
from hybridrl.envs.make import EVAL_TASKS, GOAL_RADIUS, fixed_goal, goal_rewards


class WaypointController:
    def __init__(self, maze_map: list[list[object]], maze: object, p_gain: float = 10.0, d_gain: float = 1.0,
                 noise: float | Callable[[np.ndarray], float] = 0.3, rng: np.random.Generator | None = None) -> None:
        self.free = np.array([[cell != 1 for cell in row] for row in maze_map], bool)
        self.maze = maze
        self.p_gain, self.d_gain, self.noise = p_gain, d_gain, noise
        self.rng = rng or np.random.default_rng(0)
        self._next: dict[tuple[int, int], dict[tuple[int, int], tuple[int, int]]] = {}

    def next_cell_table(self, goal: tuple[int, int]) -> dict[tuple[int, int], tuple[int, int]]:
        """For every free cell, the neighbouring cell one step closer to `goal` (BFS from the goal)."""
        if goal not in self._next:
            table = {goal: goal}
            queue = deque([goal])
            while queue:
                r, c = queue.popleft()
                for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    n = (r + dr, c + dc)
                    if (0 <= n[0] < self.free.shape[0] and 0 <= n[1] < self.free.shape[1] and self.free[n]
                            and n not in table):
                        table[n] = (r, c)
                        queue.append(n)
            self._next[goal] = table
        return self._next[goal]

    def cell(self, xy: np.ndarray) -> tuple[int, int]:
        r, c = self.maze.cell_xy_to_rowcol(np.asarray(xy))
        return int(r), int(c)

    def waypoint(self, xy: np.ndarray, goal_xy: np.ndarray) -> np.ndarray:
        here, goal = self.cell(xy), self.cell(goal_xy)
        if here == goal:
            return np.asarray(goal_xy, float)
        step = self.next_cell_table(goal).get(here, goal)
        return np.asarray(self.maze.cell_rowcol_to_xy(np.array(step)), float)

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self.act(obs["observation"], obs["desired_goal"])

    def act(self, observation: np.ndarray, goal_xy: np.ndarray) -> np.ndarray:
        xy, vel = observation[:2], observation[2:4]
        action = self.p_gain * (self.waypoint(xy, goal_xy) - xy) - self.d_gain * vel
        noise = self.noise(xy) if callable(self.noise) else self.noise
        action = action + noise * self.rng.normal(size=2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


DATA_EPISODE_STEPS = 1000  # long data episodes, each visiting many goals



def mixed_quality_noise(low: float = 0.1, high: float = 2.0) -> Callable[[np.ndarray], float]:
    """State-dependent quality: near-expert actions in the left half of the maze (x < 0), very noisy
    ones in the right half — so the best amount of trust in the data depends on the state."""
    return lambda xy: low if xy[0] < 0 else high


def maze_behaviour(env_id: str, seed: int, noise: float | Callable[[np.ndarray], float] = 0.3
                   ) -> tuple[object, WaypointController]:
    """The data-collection env (goals redrawn on arrival) and a controller acting on its goal-dict obs."""
    import gymnasium as gym

    from hybridrl.envs.make import register_envs

    register_envs(env_id)
    env = gym.make(env_id, continuing_task=True, reset_target=True, max_episode_steps=DATA_EPISODE_STEPS)
    maze = env.unwrapped.maze
    return env, WaypointController(maze.maze_map, maze, noise=noise, rng=np.random.default_rng(seed))


def rollout_maze(env_id: str, transitions: int, seed: int, noise: float = 0.3) -> Dataset:
    """`transitions` steps of the noisy waypoint controller; goals kept per step, sparse env rewards."""
    from hybridrl.data.collect import collect

    env, ctrl = maze_behaviour(env_id, seed, noise)
    return collect(env, ctrl, transitions, seed,
                   {"env": env_id, "behaviour": f"noisy waypoint controller (noise {noise})"}, f"built-in:{env_id}")


def limit_coverage(ds: Dataset, env_id: str, radius: float = 1.0) -> Dataset:
    """Remove every stretch that runs from the evaluation start region to the evaluation goal region.

    Within each episode, each time the goal region (within `radius` cells of the goal cell) is reached
    after a visit to the start region, the rows from the latest such visit up to that arrival are
    removed, across any number of intermediate goals. No remaining contiguous stretch then goes from the
    start region to the goal region, so a learner has to stitch. Rows before each gap become truncations.
    """
    import gymnasium as gym

    from hybridrl.envs.make import register_envs

    register_envs(env_id)
    maze = gym.make(env_id).unwrapped.maze
    start_cell, goal_cell = EVAL_TASKS[env_id]
    xy = ds.observations[:, :2]
    near_start, near_goal = (
        np.linalg.norm(xy - maze.cell_rowcol_to_xy(np.array(c)), axis=1) <= radius * maze.maze_size_scaling
        for c in (start_cell, goal_cell))
    remove = np.zeros(len(ds), bool)
    last_start = -1
    for i, (s_, g_, end) in enumerate(zip(near_start, near_goal, ds.episode_ends, strict=True)):
        if s_:
            last_start = i
        if g_ and last_start >= 0:
            remove[last_start:i + 1] = True
            last_start = -1
        if end:
            last_start = -1
    keep = ~remove
    truncations = ds.truncations | (keep & ~np.append(keep[1:], False) & ~ds.terminals)  # a row before a gap
    arrays = {k: v[keep] for k, v in ds.arrays().items() if k != "truncations"}
    meta = {**ds.metadata, "limited_coverage": {"start_cell": list(start_cell), "goal_cell": list(goal_cell),
                                                 "radius_cells": radius, "removed_rows": int(remove.sum())}}
    return Dataset(**arrays, truncations=truncations[keep], metadata=meta, source=f"{ds.source} (limited)")


def for_task(ds: Dataset, env_id: str) -> Dataset:
    """The data as `env_id`'s task defines it. On a fixed-goal maze, data recorded on its maze with goals of
    its own (the diverse layout: a new goal on each arrival) is relabelled as D4RL's maze data is for its
    evaluation target: the env's own reward and termination for the goal cell's centre (reward 1 and the end
    of the episode within GOAL_RADIUS), and that goal in every row. Anything else, and data already given a
    task (inverse-dynamics labelling), comes back unchanged.

    Agents that set their own goals (goal-relabelling mixers) read the recorded data instead."""
    import gymnasium as gym

    task = fixed_goal(env_id)
    if task is None or ds.goals is None or "task" in ds.metadata or ds.metadata.get("env") not in (None, task[0]):
        return ds
    base, goal = task
    if ds.goals.shape[1] != len(goal):
        return ds
    env = gym.make(base, continuing_task=False)
    try:
        rewards, terminals = goal_rewards(env, ds.next_observations, goal)
    finally:
        env.close()
    return ds.with_task(rewards, terminals, goal, {"env": env_id, "goal": goal.tolist(), "radius": GOAL_RADIUS})
