"""Per-run table of the MSCP claim grid (benchmarks/sweeps/claim-mscp-200k.yaml): success over the online
evaluations, how many logged rows carried a successful training episode, and how the guidance term weighs in the
low-level policy's AWR — over the first `--early` online steps and over the whole online phase:

- guide share: the fraction of online rows where |λ (r_g − V_g)| exceeds |V̄(s', w) − V̄(s, w)|, i.e. where the
  fast planner's guidance, not progress toward the subgoal, decides the sign and size of the advantage;
- guide-term std and progress std: their spread over the batch (what the exp() of AWR amplifies);
- goal-entries share: the part of the fast planner's squared miss ‖s' − (s + μ_f)‖² in the goal (position) entries.

    python benchmarks/claim_mscp.py benchmarks/runs/claim-mscp-200k --early 50000
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from claim_famo2o import close_table  # noqa: E402

DIAGNOSTICS = {"guide share": "low/guide_share", "guide-term std": "low/guide_term_std",
               "progress std": "low/progress_std", "goal-entries share": "guide/goal_entries_share"}


def _mean(rows: list[dict], key: str) -> float | None:
    vals = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
    return float(np.mean(vals)) if vals else None


def row(run: Path, early: int) -> dict:
    with open(run / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["phase"] == "online"]
    evals = [float(r["success_rate"]) for r in rows if r.get("success_rate")]
    logged = [r for r in rows if r.get("low/low_loss")]
    first = [r for r in logged if int(r["step"]) <= early]
    return {"task": run.parent.parent.name, "method": run.parent.name, "seed": run.name,
            "done": (run / "done.json").exists(), "evals": evals,
            "final": evals[-1] if evals else None, "mean": float(np.mean(evals)) if evals else None,
            "successful_rows": sum(float(r.get("episode_return") or 0) > 0 for r in logged), "rows": len(logged),
            "early": {name: _mean(first, key) for name, key in DIAGNOSTICS.items()},
            "all": {name: _mean(logged, key) for name, key in DIAGNOSTICS.items()}}


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}" if abs(x) >= 0.01 or x == 0 else f"{x:.0e}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root")
    p.add_argument("--early", type=int, default=50_000, help="online steps counted as the early phase")
    p.add_argument("--json", help="also write the rows here")
    args = p.parse_args()
    runs = sorted((d.parent for d in Path(args.root).glob("*/*/seed*/metrics.csv")),
                  key=lambda d: (d.parent.parent.name, d.parent.name, int(d.name[4:])))
    rows = [row(r, args.early) for r in runs]
    done = [r for r in rows if r["done"]]
    print("| task | method | seed | final | mean online | rows with a successful episode | "
          + " | ".join(f"{n} (first {args.early // 1000}k / all)" for n in DIAGNOSTICS) + " | evaluations |")
    print("|---|---|---:|---:|---:|---:|" + "---:|" * len(DIAGNOSTICS) + "---|")
    for r in done:
        diag = " | ".join(f"{_fmt(r['early'][n])} / {_fmt(r['all'][n])}" for n in DIAGNOSTICS)
        print(f"| {r['task']} | {r['method']} | {r['seed'][4:]} | {r['final']:.1f} | {r['mean']:.2f} | "
              f"{r['successful_rows']} of {r['rows']} | {diag} | {' '.join(f'{e:.1f}' for e in r['evals'])} |")
    print("\n| task | method | seeds | final (mean ± sample std) | mean online (mean ± sample std) |")
    print("|---|---|---:|---:|---:|")
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in done:
        groups.setdefault((r["task"], r["method"]), []).append(r)
    for (task, method), rs in groups.items():
        finals, means = [r["final"] for r in rs], [r["mean"] for r in rs]
        sd = (lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else float("nan"))
        print(f"| {task} | {method} | {len(rs)} | {np.mean(finals):.2f} ± {sd(finals):.2f} | "
              f"{np.mean(means):.2f} ± {sd(means):.2f} |")
    close_table(rows, args.json)


if __name__ == "__main__":
    main()
