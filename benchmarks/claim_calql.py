"""Per-run table of the Cal-QL vs CQL claim grid (benchmarks/sweeps/claim-calql-200k.yaml): the offline success curve's
peak and value at the switch, the first online evaluation, the final one and the mean over the online phase (the
dip is switch → the lowest online evaluation in the first `--early` steps), and the critic's state at the end of
the run: mean Q (returns here lie in [−500, 5] with reward ×10 − 5 and γ 0.99), the conservative gap and its
weight (α·α′ with the Lagrange multiplier). A run that stopped on divergence says where.

    python benchmarks/claim_calql.py benchmarks/runs/claim-calql-200k --early 20000 [--plot FILE.png]

`--plot` draws each run's success curve over offline updates then online steps (`--mean`: each arm's mean over its
seeds, with the lowest-to-highest band).
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np


def row(run: Path, early: int) -> dict:
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    evals = [(r["phase"], int(r["step"]), float(r["success_rate"])) for r in rows if r.get("success_rate")]
    off = [(step, s) for phase, step, s in evals if phase == "offline"]
    on = [(step, s) for phase, step, s in evals if phase == "online"]
    last = rows[-1]
    failed = run / "failed.json"
    stopped = json.loads(failed.read_text())["error"].split(":")[1].strip()[:60] if failed.exists() else ""
    switch = off[-1][1] if off else float("nan")
    early_evals = [s for step, s in on if step <= early]
    return {"run": f"{run.parent.name}/{run.name}", "done": (run / "done.json").exists(), "stopped": stopped,
            "offline peak": max((s for _, s in off), default=float("nan")), "switch": switch,
            "first online": on[0][1] if on else float("nan"),
            "dip": switch - min(early_evals) if early_evals else float("nan"),
            "final": on[-1][1] if on else float("nan"),
            "mean online": float(np.mean([s for _, s in on])) if on else float("nan"),
            "Q mean": float(last["critic/q_mean"]), "gap": float(last["critic/cql_penalty"]),
            "weight": float(last["critic/cql_weight"]), "at": f'{last["phase"]} {last["step"]}'}


def curve(run: Path) -> tuple[list[int], list[float], int]:
    """The run's evaluations on one axis: offline updates, then offline updates + online env steps."""
    with open(run / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("success_rate")]
    offline = max((int(r["step"]) for r in rows if r["phase"] == "offline"), default=0)
    x = [int(r["step"]) + (offline if r["phase"] == "online" else 0) for r in rows]
    return x, [float(r["success_rate"]) for r in rows], offline


def plot(runs: list[Path], out: Path, mean: bool = False) -> None:
    """Each run's success curve, or with `mean` each arm's mean over its seeds (band: lowest to highest seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6))
    groups: dict[str, list[Path]] = {}
    switch = 0
    for run in runs:
        groups.setdefault(run.parent.name if mean else f"{run.parent.name}/{run.name}", []).append(run)
    for label, members in groups.items():
        curves = [curve(r) for r in members]
        n = max(len(x) for x, _, _ in curves)
        curves = [c for c in curves if len(c[0]) == n]  # a run still going is left out of the mean
        x, ys = curves[0][0][:n], np.array([y[:n] for _, y, _ in curves])
        switch = max(switch, *(off for _, _, off in curves))
        line, = ax.plot(x, ys.mean(0), marker=".", label=f"{label} ({len(curves)} seeds)" if mean else label)
        if mean:
            ax.fill_between(x, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.15)
    if switch:
        ax.axvline(switch, color="grey", ls="--", lw=1)
    ax.set_xlabel("offline updates, then online env steps after them" if not mean else "online env steps")
    ax.set_ylabel("success rate (10 episodes)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--early", type=int, default=20_000)
    ap.add_argument("--plot", type=Path, help="also draw the runs' success curves here")
    ap.add_argument("--only", default="*/*/seed*", help="runs to include, a glob under ROOT (task/arm/seed)")
    ap.add_argument("--mean", action="store_true", help="plot each arm's mean over its seeds")
    args = ap.parse_args()
    runs = [p.parent for p in sorted(args.root.glob(f"{args.only}/metrics.csv")) if p.read_text().count("\n") > 1]
    if args.plot:
        plot(runs, args.plot, args.mean)
    cols = ["run", "offline peak", "switch", "first online", "dip", "final", "mean online", "Q mean", "gap", "weight",
            "at", "stopped"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for run in runs:
        r = row(run, args.early)
        print("| " + " | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) and c in ("offline peak", "switch",
                                  "first online", "dip", "final", "mean online", "gap")
                                  else f"{r[c]:,.0f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
