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
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from offline_to_online import curve, plot, run_one, summarise  # noqa: E402


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
    p.add_argument("--datasets", nargs="+", default=["hopper-medium-replay-small"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--offline-steps", type=int, default=5_000)
    p.add_argument("--online-steps", type=int, default=5_000)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--eval-episodes", type=int, default=5)
    p.add_argument("--eval-interval", type=int, default=None, help="default: every 5%% of the online budget")
    p.add_argument("--runs", default=str(ROOT / "runs" / "famo2o"))
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args()
    args.rlpd_utd = 1

    import jax

    from hybridrl.bench.plots import plot_beta
    from hybridrl.data.suite import SUITE
    from hybridrl.training.loop import evaluate_run

    t0 = time.time()
    sections = []
    for dataset in args.datasets:
        env = SUITE[dataset].env if dataset in SUITE else dataset.split(":")[0]
        table = variants(env)
        slug = {label: label.replace(" ", "-").replace("β=", "beta") for label in table}
        runs = {label: [Path(args.runs) / dataset / f"{slug[label]}-seed{s}" for s in range(args.seeds)]
                for label in table}
        if not args.report_only:
            for seed in range(args.seeds):
                for label, (recipe, extra) in table.items():
                    print(f"[{time.strftime('%H:%M:%S')}] {dataset} {label} seed {seed}", flush=True)
                    run_one(runs[label][seed], recipe, env, dataset, seed, args, extra)
        runs = {k: [d for d in ds if (d / "done").exists()] for k, ds in runs.items()}
        runs = {k: ds for k, ds in runs.items() if ds}
        metric = "success_rate" if "maze" in env.lower() else "normalized_score"
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
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    cmd = " ".join(["python", "benchmarks/famo2o.py", *sys.argv[1:]])
    header = [
        "# FamO2O vs IQL at fixed β vs FamO2O with β frozen at its mean", "",
        f"Command: `{cmd}`  ",
        f"Commit `{commit}` · {platform.machine()} VM (2 cores), {jax.devices()[0].platform}, jax {jax.__version__}"
        f" · seeds 0..{args.seeds - 1} · report written after {(time.time() - t0) / 60:.1f} min (finished runs "
        "reused).", "",
        f"Scaled to this machine: {args.offline_steps:,} offline updates (paper: 1M), {args.online_steps:,} online "
        f"steps (paper: 1M), {args.hidden}x{args.hidden} networks (balance model too), batch {args.batch}, "
        f"evaluation every {args.eval_interval or max(args.online_steps // 20, 1):,} steps with {args.eval_episodes} "
        "episodes. "
        "Every variant keeps the offline data online (append, uniform), UTD 1. `famo2o β=mean` is the same "
        "universal policy and balance model but acts and fine-tunes with one state-independent β, the running "
        "mean of β(s) over training states.", "",
    ]
    (ROOT / "results" / "famo2o.md").write_text("\n".join(header + sections) + "\n")
    print("\n".join(header + sections))


if __name__ == "__main__":
    main()
