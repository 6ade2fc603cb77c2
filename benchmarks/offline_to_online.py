"""Benchmark: offline→online methods on the built-in suite (issue 4).

    python benchmarks/offline_to_online.py --datasets hopper-medium-small --seeds 3 \
        --offline-steps 10000 --online-steps 10000

For every dataset x recipe x seed, one ordinary run directory under benchmarks/runs/o2o/ (finished runs
are reused, interrupted ones resumed). Reports, per method: the normalised score (or success rate) at
the end of the offline phase, the lowest point in the first 10% of the online phase (the "dip"), and
at fixed online budgets; writes benchmarks/results/offline-to-online.md and one PNG per dataset.
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
RECIPES = ["iql", "cql", "cal-ql", "wsrl", "balanced-replay", "rlpd"]


def scaled(args: argparse.Namespace, recipe: str) -> dict:
    """The same network and batch for every method, sized to this machine."""
    o = {"agent.hidden_dims": [args.hidden] * 2, "agent.batch_size": args.batch,
         "train.eval_interval": getattr(args, "eval_interval", None) or max(args.online_steps // 20, 1),
         "train.eval_episodes": args.eval_episodes,
         "train.log_interval": max(args.online_steps // 20, 1), "train.checkpoint_interval": 5_000,
         "train.progress": False, "train.tensorboard": False}
    if recipe == "wsrl":  # warm-up scaled with the online budget (paper: 5k of 1M... here 5% of the budget)
        o["train.start_steps"] = max(args.online_steps // 20, 1)
    if recipe.startswith("famo2o"):
        o["agent.balance_hidden_dims"] = [args.hidden] * 2
    if recipe == "balanced-replay":  # the density-ratio network sized like the others
        o["train.ratio_hidden_dims"] = [args.hidden] * 2
    if recipe == "rlpd":
        o["train.start_steps"] = max(args.online_steps // 20, 1)
        o["agent.utd"] = args.rlpd_utd
    return o


def run_one(run_dir: Path, recipe: str, env: str, dataset: str, seed: int, args: argparse.Namespace,
            extra: dict | None = None) -> None:
    from hybridrl.recipes import resolve
    from hybridrl.training.loop import Trainer

    if (run_dir / "done").exists():
        return
    offline = 0 if recipe == "rlpd" else args.offline_steps
    if (run_dir / "checkpoints" / "latest.npz").exists():
        trainer = Trainer.resume(run_dir)
    else:
        cfg = resolve(recipe, env, {**scaled(args, recipe), **(extra or {})}, dataset=dataset,
                      online_steps=args.online_steps,
                      offline_steps=offline, seed=seed)
        trainer = Trainer(cfg, run_dir)
    t = time.time()
    trainer.run()
    (run_dir / "done").write_text(json.dumps({"seconds": time.time() - t}))


def curve(run_dir: Path, metric: str) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Online (steps, values) and the value at the end of the offline phase (None without one)."""
    import csv

    steps, values, offline_last = [], [], None
    with open(run_dir / "metrics.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row.get(metric) in (None, ""):
                continue
            if row["phase"] == "offline":
                offline_last = float(row[metric])
            else:
                steps.append(int(row["step"]))
                values.append(float(row[metric]))
    return np.asarray(steps), np.asarray(values), offline_last


def summarise(runs: dict[str, list[Path]], metric: str, online_steps: int, budgets: list[int]) -> list[str]:
    def fmt(v: list[float]) -> str:
        v = [x for x in v if x is not None and np.isfinite(x)]
        digits = 2 if metric == "success_rate" else 1
        return f"{np.mean(v):.{digits}f} ± {np.std(v):.{digits}f}" if v else "—"

    lines = ["| method | end of offline | dip (min, first 10% online) | "
             + " | ".join(f"{b:,} online steps" for b in budgets) + " |",
             "|---|---:|---:|" + "---:|" * len(budgets)]
    for recipe, dirs in runs.items():
        offline, dips, at = [], [], {b: [] for b in budgets}
        for d in dirs:
            steps, values, off = curve(d, metric)
            offline.append(off)
            early = values[steps <= online_steps // 10]
            dips.append(min([*early, *([off] if off is not None else [])]) if len(early) else None)
            for b in budgets:
                at[b].append(float(values[steps == b][0]) if (steps == b).any() else None)
        lines.append(f"| {recipe} (n={len(dirs)}) | {fmt(offline)} | {fmt(dips)} | "
                     + " | ".join(fmt(at[b]) for b in budgets) + " |")
    return lines


def plot(runs: dict[str, list[Path]], metric: str, out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for recipe, dirs in runs.items():
        curves = []
        for d in dirs:
            steps, values, off = curve(d, metric)
            if off is not None:  # the pre-trained agent, drawn at online step 0
                steps, values = np.concatenate([[0], steps]), np.concatenate([[off], values])
            curves.append((steps, values))
        n = min(len(s) for s, _ in curves)
        steps, vals = curves[0][0][:n], np.stack([v[:n] for _, v in curves])
        ax.plot(steps, vals.mean(0), label=f"{recipe} (n={len(curves)})")
        ax.fill_between(steps, vals.min(0), vals.max(0), alpha=0.15)
    ax.set_xlabel("online environment steps (0 = end of offline pre-training)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def common_arguments(p: argparse.ArgumentParser, runs: str, datasets: list[str], offline: int, online: int,
                     hidden: int, batch: int) -> None:
    """The arguments every suite benchmark shares (scale, seeds, where runs live)."""
    p.add_argument("--datasets", nargs="+", default=datasets)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--offline-steps", type=int, default=offline)
    p.add_argument("--online-steps", type=int, default=online)
    p.add_argument("--hidden", type=int, default=hidden)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--eval-episodes", type=int, default=5)
    p.add_argument("--eval-interval", type=int, default=None, help="default: every 5%% of the online budget")
    p.add_argument("--runs", default=str(ROOT / "runs" / runs))
    p.add_argument("--report-only", action="store_true")


def parse_set(text: str) -> tuple[str, object]:
    """KEY=VALUE with VALUE read as JSON where it parses (10, true, [64, 64]) and as a string otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--set expects KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def dataset_env(dataset: str) -> tuple[str, str]:
    """The env a suite dataset (or `ENV:path`) belongs to, and the metric reported for it."""
    from hybridrl.data.suite import SUITE

    env = SUITE[dataset].env if dataset in SUITE else dataset.split(":")[0]
    return env, "success_rate" if "maze" in env.lower() else "normalized_score"


def run_grid(args: argparse.Namespace, dataset: str, env: str, table: dict[str, tuple[str, dict]]
             ) -> dict[str, list[Path]]:
    """Run (or reuse) every variant x seed — `table` maps a label to (recipe, config overrides) — and
    return the finished run directories per label. Seeds outermost: an early stop still has n ≥ 1 each."""
    slug = {label: label.replace(" ", "-").replace("β=", "beta") for label in table}
    runs = {label: [Path(args.runs) / dataset / f"{slug[label]}-seed{s}" for s in range(args.seeds)]
            for label in table}
    if not args.report_only:
        for seed in range(args.seeds):
            for label, (recipe, extra) in table.items():
                print(f"[{time.strftime('%H:%M:%S')}] {dataset} {label} seed {seed}", flush=True)
                run_one(runs[label][seed], recipe, env, dataset, seed, args, extra)
    runs = {k: [d for d in ds if (d / "done").exists()] for k, ds in runs.items()}
    return {k: ds for k, ds in runs.items() if ds}


def write_report(name: str, title: str, args: argparse.Namespace, t0: float, scale: str,
                 sections: list[str]) -> None:
    """benchmarks/results/NAME.md: title, the exact command, commit and machine, the scale, the sections."""
    import jax

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    cmd = " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    header = [
        f"# {title}", "",
        f"Command: `{cmd}`  ",
        f"Commit `{commit}` · {platform.machine()} VM (2 cores), {jax.devices()[0].platform}, jax {jax.__version__}"
        f" · seeds 0..{args.seeds - 1} · this report written after {(time.time() - t0) / 60:.1f} min "
        "(finished runs reused).", "",
        f"Scaled to this machine: {args.offline_steps:,} offline updates (papers: 1M), {args.online_steps:,} online "
        f"steps, {args.hidden}x{args.hidden} networks and batch {args.batch} for every method, evaluation every "
        f"{args.eval_interval or max(args.online_steps // 20, 1):,} steps with {args.eval_episodes} episodes. "
        + scale, "",
    ]
    (ROOT / "results" / f"{name}.md").write_text("\n".join(header + sections) + "\n")
    print("\n".join(header + sections))


def main() -> None:
    p = argparse.ArgumentParser()
    common_arguments(p, "o2o", ["hopper-medium-small"], 10_000, 10_000, 256, 256)
    p.add_argument("--recipes", nargs="+", default=RECIPES)
    p.add_argument("--rlpd-utd", type=int, default=20)
    p.add_argument("--report", default="offline-to-online",
                   help="benchmarks/results/REPORT.md (another name keeps a report made at another scale)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override for every recipe, e.g. --set agent.cql_alpha=10 (repeatable; "
                        "use a separate --runs and --report)")
    args = p.parse_args()
    extra = dict(parse_set(o) for o in args.overrides)

    t0 = time.time()
    sections = []
    for dataset in args.datasets:
        env, metric = dataset_env(dataset)
        runs = run_grid(args, dataset, env, {r: (r, extra) for r in args.recipes})
        budgets = [args.online_steps // 4, args.online_steps // 2, args.online_steps]
        png = f"{args.report}-{dataset}.png"
        plot(runs, metric, ROOT / "results" / png, f"{dataset} ({env})")
        seconds = {r: np.mean([json.loads((d / "done").read_text())["seconds"] for d in ds]) for r, ds in runs.items()}
        sections += [f"## {dataset} ({env}) — {metric.replace('_', ' ')}", "",
                     *summarise(runs, metric, args.online_steps, budgets), "",
                     "Mean wall time per run: " + ", ".join(f"{r} {s / 60:.1f} min" for r, s in seconds.items()),
                     "", f"![curves]({png})", ""]
    write_report(args.report, "Offline→online methods on the built-in suite", args, t0,
                 f"WSRL's and RLPD's warm-up is 5% of the online budget; RLPD runs UTD {args.rlpd_utd} with no "
                 "pre-training. Scores are normalised with the suite's references "
                 "(`benchmarks/results/reference-scores.md`).", sections)


if __name__ == "__main__":
    main()
