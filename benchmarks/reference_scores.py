"""Measure the suite's reference returns: the uniform-random policy and each shipped expert policy.

    python benchmarks/reference_scores.py            # writes results/reference-scores.{json,md}
    python benchmarks/reference_scores.py Hopper-v5  # re-measures one env, keeps the others' rows

Normalised score = 100·(R − R_random)/(R_expert − R_random). The values printed here are the ones
hard-coded in `hybridrl.envs.make.SUITE_REFERENCE_SCORES`.
"""
from __future__ import annotations

import json
import subprocess
import sys
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
    envs = [e for e, _ in LOCOMOTION.values()]
    chosen = sys.argv[1:] or envs
    if set(chosen) - set(envs):
        raise SystemExit(f"unknown env(s) {sorted(set(chosen) - set(envs))}; valid: {envs}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    path = ROOT / "results" / "reference-scores.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    # each env keeps the commit it was measured at (files written before that field: the file's commit)
    results = {e: {"commit": old.get("commit", "?"), **old[e]} for e in envs if e in old and e not in chosen}
    for env_id in chosen:
        shape = (1, *make_env(env_id).action_space.shape)
        rand = episode_returns(env_id, _random_behaviour(shape, 0), EPISODES["random"], seed=1)
        expert = episode_returns(env_id, _policy_behaviour(f"{env_id.lower()}-expert.npz", 0, 1.0),
                                 EPISODES["expert"], seed=2)
        results[env_id] = {"commit": commit, "random": float(rand.mean()), "random_std": float(rand.std()),
                           "expert": float(expert.mean()), "expert_std": float(expert.std())}
        print(env_id, results[env_id], flush=True)
    results = {e: results[e] for e in envs if e in results}
    path.write_text(json.dumps(results, indent=2))
    lines = ["# Suite reference scores", "",
             "Command: `python benchmarks/reference_scores.py [ENV ...]` · 2-core x86_64 VM (commit per row: the "
             "code that measured it; the policy is the one shipped at that commit).",
             f"Random: uniform actions, {EPISODES['random']} episodes. Expert: the shipped expert policy sampling "
             f"its own Gaussian (as the `expert` datasets do), {EPISODES['expert']} episodes.", "",
             "| env | random return | expert return | commit |", "|---|---:|---:|---|"]
    lines += [f"| {k} | {v['random']:.1f} ± {v['random_std']:.1f} | {v['expert']:.1f} ± {v['expert_std']:.1f} | "
              f"`{v['commit']}` |" for k, v in results.items()]
    (ROOT / "results" / "reference-scores.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
