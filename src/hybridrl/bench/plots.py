"""Learning-curve figures from run directories."""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np


def read_curve(run_dir: Path, metric: str, phase: str | None = "online") -> tuple[np.ndarray, np.ndarray]:
    steps, values = [], []
    with open(run_dir / "metrics.csv", newline="") as f:
        for row in csv.DictReader(f):
            if (phase is None or row["phase"] == phase) and row.get(metric) not in (None, "", "nan"):
                steps.append(int(row["step"]))
                values.append(float(row[metric]))
    return np.asarray(steps), np.asarray(values)


def run_label(run_dir: Path) -> str:
    try:
        cfg = json.loads((run_dir / "config.json").read_text())["config"]
        return cfg["recipe"]
    except (OSError, KeyError, json.JSONDecodeError):
        return run_dir.name


def plot_runs(runs: list[Path], metric: str, out: Path, labels: list[str] | None = None,
              title: str | None = None) -> None:
    """Curves of `metric` against online steps; runs with the same label are averaged (band = min..max)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for i, run in enumerate(runs):
        label = labels[i] if labels else run_label(run)
        groups[label].append(read_curve(run, metric))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, curves in groups.items():
        n = min(len(s) for s, _ in curves)
        if n == 0:
            continue
        steps = curves[0][0][:n]
        vals = np.stack([v[:n] for _, v in curves])
        ax.plot(steps, vals.mean(0), label=f"{label} (n={len(curves)})")
        if len(curves) > 1:
            ax.fill_between(steps, vals.min(0), vals.max(0), alpha=0.2)
    ax.set_xlabel("online environment steps")
    ax.set_ylabel(metric.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
