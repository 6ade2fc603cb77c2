"""Issue 22's table: success over training for hybridrl's runs and the authors' FQL on the same generated
OGBench data, seeds side by side.

    python benchmarks/ogbench_o2o_report.py --ours RUNS/<task> --peer PEER_DIR --offline 40000 \
        --out benchmarks/results/ogbench-cube-o2o

`--ours` holds `<label>/seed<N>/metrics.csv` (hybridrl runs); `--peer` holds `seed<N>/**/eval.csv` and
`train.csv` (seohongpark/fql's CSV logs). Steps are counted the authors' way: offline updates, then offline +
online env steps (a run without an offline phase, RLPD, is placed by its online steps in the same columns).
Updates/s: the offline phase's rate (ours: `steps_per_sec` of the offline rows; theirs:
1 / `time/epoch_time`, host-side sampling included)."""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def ours(run: Path, offline: int) -> tuple[dict[int, float], float]:
    """{step: success} at every evaluation, offline-phase updates/s."""
    rows = _rows(run / "metrics.csv")
    success, rates = {}, []
    for r in rows:
        step = int(r["step"]) + (offline if r["phase"] == "online" else 0)
        if r.get("success_rate"):
            success[step] = float(r["success_rate"])
        if r["phase"] == "offline" and r.get("steps_per_sec") and int(r["step"]) > 2_000:  # past compilation
            rates.append(float(r["steps_per_sec"]))
    return success, float(np.median(rates)) if rates else float("nan")


def peer(seed_dir: Path, offline: int) -> tuple[dict[int, float], float]:
    (ev,) = seed_dir.rglob("eval.csv")
    (tr,) = seed_dir.rglob("train.csv")
    success = {int(r["step"]): float(r["evaluation/success"]) for r in _rows(ev) if int(r["step"]) > 1}
    rates = [1.0 / float(r["time/epoch_time"]) for r in _rows(tr) if 2_000 < int(r["step"]) <= offline]
    return success, float(np.median(rates)) if rates else float("nan")


def collect(ours_dir: Path | None, peer_dir: Path | None, offline: int) -> dict[str, dict[int, tuple]]:
    methods: dict[str, dict[int, tuple]] = {}
    if ours_dir:
        for label in sorted(p.name for p in ours_dir.iterdir() if p.is_dir()):
            seeds = sorted(ours_dir.glob(f"{label}/seed*/metrics.csv"))
            runs = {int(m.parent.name[4:]): ours(m.parent, offline) for m in seeds}
            if runs:
                methods[f"hybridrl {label}"] = runs
    if peer_dir:
        runs = {int(d.name[4:]): peer(d, offline) for d in sorted(peer_dir.glob("seed*")) if d.is_dir()
                and list(d.rglob("eval.csv"))}
        if runs:
            methods["authors' FQL"] = runs
    return methods


def table(methods: dict[str, dict[int, tuple]], offline: int) -> str:
    steps = sorted({s for runs in methods.values() for succ, _ in runs.values() for s in succ})
    head = "| method | seeds | " + " | ".join(f"{s // 1000}k" + (" (offline)" if s <= offline else "")
                                              for s in steps) + " | offline updates/s (median) |"
    lines = [head, "|" + "---|" * (len(steps) + 3)]
    for name, runs in methods.items():
        cells = []
        for s in steps:
            vals = [succ[s] for succ, _ in runs.values() if s in succ]
            cells.append(f"{100 * np.mean(vals):.0f} ± {100 * np.std(vals):.0f} (n={len(vals)})" if vals else "—")
        rates = [r for _, r in runs.values() if np.isfinite(r)]
        lines.append(f"| {name} | {', '.join(str(k) for k in sorted(runs))} | " + " | ".join(cells)
                     + (f" | {np.mean(rates):.1f} |" if rates else " | — |"))
    return "\n".join(lines)


def plot(methods: dict[str, dict[int, tuple]], offline: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, runs in methods.items():
        steps = sorted({s for succ, _ in runs.values() for s in succ})
        mean = [100 * np.mean([succ[s] for succ, _ in runs.values() if s in succ]) for s in steps]
        std = [100 * np.std([succ[s] for succ, _ in runs.values() if s in succ]) for s in steps]
        ax.errorbar(np.array(steps) / 1000, mean, yerr=std, marker="o", capsize=3, label=f"{name} ({len(runs)})")
    ax.axvline(offline / 1000, color="grey", ls="--", lw=1)
    ax.set_xlabel("offline updates, then + online env steps (k)")
    ax.set_ylabel("success (%)")
    ax.set_ylim(-2, 102)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ours", type=Path)
    ap.add_argument("--peer", type=Path)
    ap.add_argument("--offline", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True, help="writes OUT.json (per seed) and OUT.png")
    args = ap.parse_args()
    methods = collect(args.ours, args.peer, args.offline)
    print(table(methods, args.offline))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    per_seed = {name: {seed: {"success": {str(k): v for k, v in succ.items()}, "updates_per_s": rate}
                       for seed, (succ, rate) in runs.items()} for name, runs in methods.items()}
    args.out.with_suffix(".json").write_text(json.dumps(per_seed, indent=1))
    plot(methods, args.offline, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
