"""Roll a behaviour (any `obs -> action` callable) through an env into a Dataset. Every built-in
dataset is made this way; reset seeds derive from the dataset's seed, so builds are reproducible."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from hybridrl.data.dataset import Dataset


def collect(env: gym.Env, behaviour: Callable[[Any], np.ndarray], transitions: int, seed: int,
            metadata: dict[str, Any], source: str) -> Dataset:
    """`transitions` steps of `behaviour`; goal-dict observations are split into observation and goal."""
    n = transitions
    cols: dict[str, list[Any]] = {k: [] for k in ("observations", "next_observations", "actions", "rewards",
                                                   "terminals", "truncations", "goals")}
    episode = 0
    obs, _ = env.reset(seed=seed * 100_000 + episode)
    for i in range(n):
        action = behaviour(obs)
        nxt, reward, terminated, truncated, _ = env.step(action)
        if isinstance(obs, dict):
            cols["goals"].append(obs["desired_goal"])
            cols["observations"].append(obs["observation"])
            cols["next_observations"].append(nxt["observation"])
        else:
            cols["observations"].append(obs)
            cols["next_observations"].append(nxt)
        cols["actions"].append(action)
        cols["rewards"].append(reward)
        cols["terminals"].append(terminated)
        cols["truncations"].append((truncated or i == n - 1) and not terminated)
        if terminated or truncated:
            episode += 1
            obs, _ = env.reset(seed=seed * 100_000 + episode)
        else:
            obs = nxt
    env.close()
    arrays = {k: np.asarray(v, np.float32) for k, v in cols.items() if v and k not in ("terminals", "truncations")}
    return Dataset(**arrays, terminals=np.asarray(cols["terminals"], bool),
                   truncations=np.asarray(cols["truncations"], bool), metadata=metadata, source=source)
