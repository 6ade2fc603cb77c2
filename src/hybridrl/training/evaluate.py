"""Evaluation with a vector of environments and one batched, jitted, deterministic policy call per step."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import jax
import numpy as np

from hybridrl.envs import make_env, normalized_score


def make_eval_envs(env_id: str, num: int) -> gym.vector.VectorEnv:
    return gym.vector.SyncVectorEnv([lambda: make_env(env_id) for _ in range(num)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def evaluate(policy: Callable[[Any, np.ndarray], Any], params: Any, env_id: str, episodes: int, seed: int,
             envs: gym.vector.VectorEnv | None = None,
             observer: Callable[[np.ndarray], None] | None = None, chunk: int = 1) -> dict[str, float | None]:
    """Run `episodes` episodes (one per sub-env, `num_envs` at a time), fixed reset seeds, no exploration.

    `policy(params, obs_batch) -> actions` should be jitted; it sees the whole batch at once.
    `observer`, if given, receives the states the policy acted in (of episodes still counted).
    `chunk` h > 1: the policy returns chunks of h actions, each executed open-loop in its sub-env; the policy is
    asked again (for the whole batch) when some sub-env has used up its chunk, and a new episode starts a new one.
    """
    own = envs is None
    envs = envs or make_eval_envs(env_id, min(episodes, 10))
    n = envs.num_envs
    returns: list[float] = []
    successes: list[float] = []
    reports_success = False
    try:
        round_ = 0
        while len(returns) < episodes:
            obs, _ = envs.reset(seed=[seed + round_ * n + i for i in range(n)])
            active = np.ones(n, bool)
            ep_ret = np.zeros(n)
            ep_success = np.zeros(n)
            left = np.zeros(n, int)  # actions left in each sub-env's chunk
            chunks = None
            while active.any():
                if chunk == 1:
                    actions = np.asarray(policy(params, obs))
                else:
                    if (left == 0).any():
                        fresh = np.asarray(policy(params, obs)).reshape(n, chunk, -1)
                        chunks = fresh if chunks is None else np.where((left == 0)[:, None, None], fresh, chunks)
                        left = np.where(left == 0, chunk, left)
                    actions = np.clip(chunks[np.arange(n), chunk - left], -1.0, 1.0)
                    left = left - 1
                if observer is not None:
                    counted = active & (np.cumsum(active) + len(returns) <= episodes)
                    observer(np.asarray(obs)[counted])
                obs, rew, term, trunc, info = envs.step(actions)
                ep_ret += rew * active
                flags = step_success(info, n)
                if flags is not None:
                    reports_success = True
                    ep_success = np.maximum(ep_success, flags * active)
                left = np.where(term | trunc, 0, left)
                done = (term | trunc) & active
                for i in np.flatnonzero(done):
                    if len(returns) < episodes:
                        returns.append(float(ep_ret[i]))
                        successes.append(float(ep_success[i]))
                active &= ~done
            round_ += 1
    finally:
        if own:
            envs.close()
    mean = float(np.mean(returns))
    return {
        "eval_return": mean,
        "eval_return_std": float(np.std(returns)),
        "normalized_score": normalized_score(env_id, mean),
        "success_rate": float(np.mean(successes)) if reports_success else None,
    }


def step_success(info: dict[str, Any], n: int) -> np.ndarray | None:
    """Per sub-env success flags of one vector step (None if the env reports none). A sub-env whose
    episode ended this step was reset at once: its step's info is under `final_info`, and the top-level
    entry belongs to the new episode (reading only that missed every success that ends an episode)."""
    flags = None
    final = info.get("final_info", {})
    for key in ("success", "is_success"):
        if key in info:
            present = np.asarray(info.get(f"_{key}", np.ones(n, bool)), bool)
            flags = np.asarray(info[key], float) * present
        if key in final:
            ended = np.asarray(info["_final_info"], bool) & np.asarray(final.get(f"_{key}", np.ones(n, bool)), bool)
            flags = np.where(ended, np.asarray(final[key], float), 0.0 if flags is None else flags)
        if flags is not None:
            return flags
    return None


def jit_policy(eval_actions: Callable[[Any, Any], Any]) -> Callable[[Any, np.ndarray], Any]:
    return jax.jit(eval_actions)
