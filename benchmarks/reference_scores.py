"""Measure the suite's reference returns: the uniform-random policy and each shipped expert policy.

    python benchmarks/reference_scores.py            # writes results/reference-scores.{json,md}

Normalised score = 100·(R − R_random)/(R_expert − R_random). The values printed here are the ones
hard-coded in `hybridrl.envs.make.SUITE_REFERENCE_SCORES`.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from hybridrl.data.suite import LOCOMOTION, _policy_behaviour, _random_behaviour
from hybridrl.envs import make_env

ROOT = Path(__file__).resolve().parent
EPISODES = {"random": 100, "expert": 20}


def episode_returns(env_id: str, behaviour, episodes: int, seed: int) -> np.ndarray:
    env = make_env(env_id)
    out = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed * 10_000 + ep)
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(behaviour(np.asarray(obs, np.float32)[None])[0])
            total += float(r)
            done = term or trunc
        out.append(total)
    env.close()
    return np.asarray(out)


def main() -> None:
    results = {}
    for env_id, _ in LOCOMOTION.values():
        shape = (1, *make_env(env_id).action_space.shape)
        rand = episode_returns(env_id, _random_behaviour(shape, 0), EPISODES["random"], seed=1)
        expert = episode_returns(env_id, _policy_behaviour(f"{env_id.lower()}-expert.npz", 0, 1.0),
                                 EPISODES["expert"], seed=2)
        results[env_id] = {"random": float(rand.mean()), "random_std": float(rand.std()),
                           "expert": float(expert.mean()), "expert_std": float(expert.std())}
        print(env_id, results[env_id], flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    (ROOT / "results" / "reference-scores.json").write_text(json.dumps({"commit": commit, **results}, indent=2))
    lines = ["# Suite reference scores", "",
             f"Command: `python benchmarks/reference_scores.py` · commit `{commit}` · 2-core x86_64 VM.",
             f"Random: uniform actions, {EPISODES['random']} episodes. Expert: the shipped expert policy sampling "
             f"its own Gaussian (as the `expert` datasets do), {EPISODES['expert']} episodes.", "",
             "| env | random return | expert return |", "|---|---:|---:|"]
    lines += [f"| {k} | {v['random']:.1f} ± {v['random_std']:.1f} | {v['expert']:.1f} ± {v['expert_std']:.1f} |"
              for k, v in results.items()]
    (ROOT / "results" / "reference-scores.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
