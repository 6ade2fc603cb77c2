"""Roll a behaviour through one or several envs into a Dataset. Every built-in dataset is made this way;
reset seeds derive from the dataset's seed, so builds are reproducible.

Several envs step in lock-step so that a policy is evaluated once per batch of observations, which is
what makes a million-step rollout take a minute instead of ten. Each env produces one contiguous stream
of episodes (its last step is marked truncated) and the streams are concatenated in env order.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from hybridrl.data.dataset import Dataset

FIELDS = ("observations", "next_observations", "actions", "rewards", "terminals", "truncations", "goals")


def reset_seed(seed: int, stream: int, episode: int) -> int:
    return int(np.random.SeedSequence([seed, stream, episode]).generate_state(1)[0])


def collect(envs: gym.Env | Sequence[gym.Env], behaviour: Callable[[Any], np.ndarray], transitions: int,
            seed: int, metadata: dict[str, Any], source: str) -> Dataset:
    """`transitions` steps of `behaviour`; goal-dict observations are split into observation and goal.

    With one env, `behaviour` maps one observation to one action. With a list of envs it maps the list
    of their current observations (stacked when they are arrays) to an `(num_envs, action_dim)` array.
    """
    batched = not isinstance(envs, gym.Env)
    env_list = list(envs) if batched else [envs]
    n_envs = len(env_list)
    lengths = [transitions // n_envs + (i < transitions % n_envs) for i in range(n_envs)]
    streams: list[dict[str, list[Any]]] = [{k: [] for k in FIELDS} for _ in env_list]
    episodes = [0] * n_envs
    obs = [env.reset(seed=reset_seed(seed, i, 0))[0] for i, env in enumerate(env_list)]
    for t in range(max(lengths)):
        live = [i for i in range(n_envs) if t < lengths[i]]
        if batched:
            batch = [obs[i] for i in range(n_envs)]
            actions = np.asarray(behaviour(np.stack(batch) if isinstance(batch[0], np.ndarray) else batch))
        else:
            actions = np.asarray(behaviour(obs[0]))[None]
        for i in live:
            nxt, reward, terminated, truncated, _ = env_list[i].step(actions[i])
            cols, o = streams[i], obs[i]
            if isinstance(o, dict):
                cols["goals"].append(o["desired_goal"])
                cols["observations"].append(o["observation"])
                cols["next_observations"].append(nxt["observation"])
            else:
                cols["observations"].append(o)
                cols["next_observations"].append(nxt)
            cols["actions"].append(actions[i])
            cols["rewards"].append(reward)
            cols["terminals"].append(terminated)
            cols["truncations"].append((truncated or t == lengths[i] - 1) and not terminated)
            cols.setdefault("_time_limit", []).append(bool(truncated))
            if terminated or truncated:
                episodes[i] += 1
                obs[i] = env_list[i].reset(seed=reset_seed(seed, i, episodes[i]))[0]
            else:
                obs[i] = nxt
    for env in env_list:
        env.close()
    # Rows where a stream stopped mid-episode: statistics over whole episodes leave those episodes out.
    cut_rows = np.cumsum(lengths) - 1
    cut = [int(r) for r, s in zip(cut_rows, streams, strict=True)
           if s["truncations"] and s["truncations"][-1] and not _time_limit_reached(s)]
    metadata = {**metadata, "cut_episode_ends": cut}
    joined = {k: [x for s in streams for x in s[k]] for k in FIELDS}
    arrays = {k: np.asarray(v, np.float32) for k, v in joined.items() if v and k not in ("terminals", "truncations")}
    return Dataset(**arrays, terminals=np.asarray(joined["terminals"], bool),
                   truncations=np.asarray(joined["truncations"], bool), metadata=metadata, source=source)


def _time_limit_reached(stream: dict[str, list[Any]]) -> bool:
    """Whether a stream's last episode ended at the env's own time limit (so it is whole)."""
    return bool(stream.get("_time_limit", [False])[-1])
