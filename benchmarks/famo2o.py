"""Benchmark: FamO2O vs IQL at fixed balance coefficients vs FamO2O with β frozen at its mean (issue 5).

    python benchmarks/famo2o.py --datasets hopper-medium-replay-small halfcheetah-medium-replay-small \
        --seeds 3 --offline-steps 5000 --online-steps 5000 --hidden 64 --batch 128

For every dataset, variants x seeds, one ordinary run directory under benchmarks/runs/famo2o/ (finished
runs reused). IQL's fixed β values are the ends and the middle of FamO2O's range for that domain. For the
FamO2O runs the distribution of β(s) over evaluation states is measured (collapse check) and β(s) is drawn
along an episode. Writes benchmarks/results/famo2o.md and PNGs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from offline_to_online import common_arguments, curve, dataset_env, plot, run_grid, summarise, write_report  # noqa: E402


def variants(env: str) -> dict[str, tuple[str, dict]]:
    from hybridrl.recipes import resolve

    cfg = resolve("famo2o-iql", env).agent
    lo, hi = cfg.beta_min, cfg.beta_max
    mid = 0.5 * (lo + hi)
    out = {"famo2o": ("famo2o-iql", {}), "famo2o β=mean": ("famo2o-iql", {"agent.beta_mode": "mean"})}
    for beta in (lo, mid, hi):
        out[f"iql β={beta:g}"] = ("iql", {"agent.awr_temperature": beta})
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    common_arguments(p, "famo2o", ["hopper-medium-replay-small"], 5_000, 5_000, 64, 128)
    args = p.parse_args()
    args.rlpd_utd = 1

    from hybridrl.analysis.plots import plot_beta
    from hybridrl.training.loop import evaluate_run

    t0 = time.time()
    sections = []
    for dataset in args.datasets:
        env, metric = dataset_env(dataset)
        runs = run_grid(args, dataset, env, variants(env))
        first = next(iter(runs.values()))[0]  # the runs' own evaluation interval (report-only may differ)
        every = json.loads((first / "config.json").read_text())["config"]["train"]["eval_interval"]
        budgets = [args.online_steps // 2 // every * every, args.online_steps]  # steps that have an evaluation
        png = f"famo2o-{dataset}.png"
        plot(runs, metric, ROOT / "results" / png, f"{dataset} ({env})")
        betas = []
        for d in runs.get("famo2o", []):
            report = evaluate_run(d, episodes=args.eval_episodes, seed=777)["beta"]
            betas.append(report)
        beta_png = f"famo2o-beta-{dataset}.png"
        if runs.get("famo2o"):
            plot_beta(runs["famo2o"][0], ROOT / "results" / beta_png)
        best_fixed = max((k for k in runs if k.startswith("iql")),
                         key=lambda k: np.mean([curve(d, metric)[1][-1] for d in runs[k]]), default=None)
        lines = [f"## {dataset} ({env}) — {metric.replace('_', ' ')}", "",
                 *summarise(runs, metric, args.online_steps, budgets), "",
                 f"Evaluation every {every:,} online steps.", "",
                 f"Best fixed β (by final mean): **{best_fixed}**.", ""]
        if betas:
            lines += [f"β(s) of the final FamO2O agents over the states of {args.eval_episodes} evaluation episodes "
                      "(collapse check: std/range > 0.02 and < 90% of states within 2% of an end):", "",
                      "| seed | mean | std | p10 | p50 | p90 | std / range | saturated |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|"]
            lines += [f"| {i} | {b['mean']:.2f} | {b['std']:.3f} | {b['p10']:.2f} | {b['p50']:.2f} | {b['p90']:.2f} | "
                      f"{b['std_over_range']:.3f} | {b['saturated_fraction']:.0%} |" for i, b in enumerate(betas)]
            lines += ["", f"![curves]({png})", "", f"![beta]({beta_png})", ""]
        sections += lines
    write_report("famo2o", "FamO2O vs IQL at fixed β vs FamO2O with β frozen at its mean", args, t0,
                 "The balance model has the same width. Every variant keeps the offline data online (append, "
                 "uniform), UTD 1. `famo2o β=mean` is the same universal policy and balance model but acts and "
                 "fine-tunes with one state-independent β, the running mean of β(s) over training states.",
                 sections)


if __name__ == "__main__":
    main()
