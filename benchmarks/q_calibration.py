"""How far pre-training took the conservative critics: Q at the end of the offline phase against the
data's Monte-Carlo returns, read from finished offline→online runs (nothing is trained here).

    python benchmarks/q_calibration.py --runs benchmarks/runs/o2o --datasets hopper-medium-small \\
        hopper-medium-replay-small                      # prints a Markdown table; --out FILE.md writes it
    ... --policy-q                                      # + Q(s, π(s)) vs G_MC per seed at the switch checkpoint

Cal-QL's argument (and the dip it removes) needs a critic that pre-training made *over-conservative*:
converged, and pushed below the behaviour policy's value by the CQL term. A critic still far below
the data's returns and still rising has not reached that regime. The logged `critic/q_mean` is the ensemble's
mean Q(s, a) over a training batch; in the offline phase the batch is offline data, so it is compared
with the mean discounted return-to-go G_MC over the dataset, computed with the run's own discount and
reward transform (the returns Cal-QL bounds Q with).
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from hybridrl.data.suite import build

ROOT = Path(__file__).resolve().parent


def offline_q(run: Path) -> list[tuple[int, float]]:
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    key = "critic/q_mean" if rows and "critic/q_mean" in rows[0] else "q_mean"  # runs before issue 21: q_mean
    return [(int(r["step"]), float(r[key])) for r in rows if r["phase"] == "offline" and r.get(key)]


def data_returns(run: Path) -> tuple[Any, np.ndarray]:
    """The run's dataset and its per-transition G_MC."""
    cfg = json.loads((run / "config.json").read_text())["config"]
    train = cfg["train"]
    failure = train["reward_bias"] if train["sparse_reward"] else None  # as the training loop computes them
    data = build(train["dataset"])
    return data, data.returns_to_go(cfg["agent"]["discount"], failure, train["reward_scale"], train["reward_bias"])


def policy_q(run: Path, samples: int = 20_000) -> dict[str, float]:
    """At the switch checkpoint: the ensemble-mean Q of the data's actions and of the policy's own
    (deterministic) actions on dataset states, and the share of states where Q(s, π(s)) < G_MC — the
    over-conservatism Cal-QL's floor targets shows as Q(s, π) below the returns."""
    import jax
    import jax.numpy as jnp

    from hybridrl.nn.ensemble import ensemble_apply
    from hybridrl.training.loop import OFFLINE_CKPT_NAME, load_run_agent

    data, g = data_returns(run)
    _, agent, _ = load_run_agent(run, OFFLINE_CKPT_NAME)
    rows = np.random.default_rng(0).choice(len(g), min(samples, len(g)), replace=False)
    obs = jnp.asarray(data.observations[rows], jnp.float32)

    @jax.jit
    def q(actions: jax.Array) -> jax.Array:
        return ensemble_apply(agent.critic.apply_fn, agent.critic.params, obs, actions).mean(0)

    q_data = np.asarray(q(jnp.asarray(data.actions[rows], jnp.float32)))
    q_pi = np.asarray(q(agent.eval_actions(obs)))
    return {"g": float(g[rows].mean()), "q_data": float(q_data.mean()), "q_pi": float(q_pi.mean()),
            "below": float((q_pi < g[rows]).mean())}


def table(runs: Path, datasets: list[str], recipes: list[str]) -> list[str]:
    lines = ["| dataset | mean G_MC of the data | recipe | mean Q(s, a) on the batch along the offline phase "
             "(mean over seeds) | end Q / G_MC | seeds |", "|---|---:|---|---|---:|---:|"]
    for ds in datasets:
        for recipe in recipes:
            seeds = sorted((runs / ds).glob(f"{recipe}-seed*"))
            seeds = [s for s in seeds if (s / "metrics.csv").exists()]
            if not seeds:
                continue
            g = float(data_returns(seeds[0])[1].mean())
            curves = [offline_q(s) for s in seeds]
            n = min(len(c) for c in curves)
            mean = np.mean([[q for _, q in c[:n]] for c in curves], axis=0)
            steps = [st for st, _ in curves[0][:n]]
            every = 1000 * max(1, steps[-1] // 5000)  # at most ~5 points along the offline phase
            path = " → ".join(f"{st // 1000}k: {q:.1f}" for st, q in zip(steps, mean, strict=True) if st % every == 0)
            lines.append(f"| {ds} | {g:.1f} | {recipe} | {path} | {mean[-1] / g:.2f} | {len(seeds)} |")
    return lines


def policy_table(runs: Path, datasets: list[str], recipes: list[str]) -> list[str]:
    lines = ["| dataset | recipe | seed | mean G_MC (sample) | Q(s, a_data) | Q(s, π(s)) | Q(s, π) / G_MC | "
             "states with Q(s, π) < G_MC |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for ds in datasets:
        for recipe in recipes:
            for run in sorted((runs / ds).glob(f"{recipe}-seed*")):
                if not (run / "checkpoints" / "offline.npz").exists():
                    continue
                r = policy_q(run)
                seed = run.name.rsplit("seed", 1)[1]
                lines.append(f"| {ds} | {recipe} | {seed} | {r['g']:.1f} | {r['q_data']:.1f} | {r['q_pi']:.1f} | "
                             f"{r['q_pi'] / r['g']:.2f} | {r['below']:.0%} |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", default=str(ROOT / "runs" / "o2o"))
    p.add_argument("--datasets", nargs="+", required=True)
    p.add_argument("--recipes", nargs="+", default=["cql", "cal-ql", "wsrl"])
    p.add_argument("--out", default=None, help="write the table to this Markdown file")
    p.add_argument("--policy-q", action="store_true",
                   help="also Q of the policy's own actions per seed, from each run's switch checkpoint")
    args = p.parse_args()
    lines = table(Path(args.runs), args.datasets, args.recipes)
    if args.policy_q:
        lines += ["", *policy_table(Path(args.runs), args.datasets, args.recipes)]
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
