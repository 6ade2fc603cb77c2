"""Per-seed table of a `hybridrl demo --seeds N --out DIR` run for benchmarks/results/demo.md: every
evaluation of both arms (deterministic and stochastic policy), the areas under the curves, and the
evaluations where the deterministic policy failed while the sampling one did not.

    python benchmarks/demo_seeds.py DIR [--label TEXT]
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def evals(run: Path) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    with open(run / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["phase"] == "online" and r["normalized_score"] not in ("", "nan")]
    steps = [int(r["step"]) for r in rows]
    det = np.array([float(r["normalized_score"]) for r in rows])
    sto = np.array([float(r["normalized_score_stochastic"]) for r in rows])
    std = np.array([float(r["eval_return_std"]) for r in rows])
    return steps, det, sto, std


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--label", default="")
    args = p.parse_args()
    out = Path(args.out)
    seeds = sorted(int(d.name.split("seed")[1]) for d in out.glob("rlpd-seed*"))
    lines = [f"### {args.label or out}", "",
             "| seed | RLPD evaluations (deterministic / stochastic) | SAC evaluations (deterministic / stochastic) "
             "| area RLPD | area SAC | RLPD − SAC | stochastic areas |", "|---:|---|---|---:|---:|---:|---:|"]
    wins, gaps, failures = 0, [], []
    for s in seeds:
        cells, areas, sareas = [], [], []
        for arm in ("rlpd", "sac"):
            steps, det, sto, std = evals(out / f"{arm}-seed{s}")
            cells.append(" ".join(f"{d:.0f}/{t:.0f}" for d, t in zip(det, sto, strict=True)))
            areas.append(det.mean())
            sareas.append(sto.mean())
            for st, d, t, sd in zip(steps, det, sto, std, strict=True):
                if t - d > 10:
                    failures.append(f"{arm} seed {s} at {st:,}: deterministic {d:.1f} (return std over its 10 "
                                    f"episodes {sd:.1f}), stochastic {t:.1f}")
        wins += areas[0] > areas[1]
        gaps.append(areas[0] - areas[1])
        lines.append(f"| {s} | {cells[0]} | {cells[1]} | {areas[0]:.1f} | {areas[1]:.1f} | {areas[0] - areas[1]:+.1f} "
                     f"| {sareas[0]:.1f} vs {sareas[1]:.1f} |")
    lines += ["", f"RLPD ahead on the area on {wins} of {len(seeds)} seeds; mean difference {np.mean(gaps):+.1f} "
              f"(min {np.min(gaps):+.1f}).", "",
              "Evaluations where the deterministic policy scored more than 10 points below the stochastic one:", ""]
    lines += [f"- {f}" for f in failures] or ["- none"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
