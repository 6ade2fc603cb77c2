"""Per-run table of the FamO2O claim grid (benchmarks/sweeps/claim-famo2o.yaml): the score at the end of offline
training, the online mean, the mean of the last K evaluations and the final one, and for FamO2O arms β(s) over the
training batch at the end (mean and std across states), so a reader sees each seed beside the rliable aggregates.

    python benchmarks/claim_famo2o.py benchmarks/runs/claim-famo2o --last 5
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np


def _float(x: str) -> float | None:
    return float(x) if x not in ("", None) else None


def row(run: Path, last: int) -> dict:
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    metric = "normalized_score" if any(r.get("normalized_score") for r in rows) else "eval_return"
    evals = [(r["phase"], int(r["step"]), float(r[metric])) for r in rows if r.get(metric)]
    offline = [v for p, _, v in evals if p == "offline"]
    online = [v for p, _, v in evals if p == "online"]
    betas = [(_float(r.get("balance/beta_state_mean", "")), _float(r.get("balance/beta_state_std", "")))
             for r in rows if r.get("balance/beta_state_mean")]
    done = (run / "done.json").exists()
    return {"method": run.parent.name, "seed": run.name, "task": run.parent.parent.name, "done": done,
            "offline_range": (min(offline), max(offline)) if offline else None,
            "end_offline": offline[-1] if offline else None,
            "online_mean": float(np.mean(online)) if online else None,
            "last": float(np.mean(online[-last:])) if online else None,
            "final": online[-1] if online else None, "evals_online": len(online),
            "beta": betas[-1] if betas else None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root")
    p.add_argument("--last", type=int, default=5)
    p.add_argument("--json", help="also write the rows here")
    args = p.parse_args()
    runs = sorted(d.parent for d in Path(args.root).glob("*/*/seed*/metrics.csv"))
    rows = [row(r, args.last) for r in runs]
    print(f"| task | method | seed | end of offline (range over offline evals) | online mean | last {args.last} "
          "| final | β(s) mean ± std at the end |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        if not r["done"]:
            continue
        lo, hi = r["offline_range"] or (float("nan"),) * 2
        beta = f"{r['beta'][0]:.2f} ± {r['beta'][1]:.2f}" if r["beta"] else "–"
        print(f"| {r['task']} | {r['method']} | {r['seed'][4:]} | {r['end_offline']:.1f} ({lo:.0f}–{hi:.0f}) "
              f"| {r['online_mean']:.1f} | {r['last']:.1f} | {r['final']:.1f} | {beta} |")
    close_table(rows, args.json)


def close_table(rows: list[dict], json_path: str | None) -> None:
    """Name the runs left out (not finished) and write every row as JSON if asked."""
    unfinished = [f"{r['method']}/{r['seed']}" for r in rows if not r["done"]]
    if unfinished:
        print(f"\nnot finished (left out): {', '.join(unfinished)}")
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
