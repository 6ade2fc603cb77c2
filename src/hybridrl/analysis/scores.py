"""Tables of a metric across seeds at fixed online budgets."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hybridrl.analysis.plots import read_curve


def at_budgets(runs: dict[str, list[Path]], metric: str, budgets: list[int]) -> dict[str, list[np.ndarray]]:
    """For each label, the metric of every run (seed) at each budget (NaN where a run has no value there)."""
    out = {}
    for label, dirs in runs.items():
        per_budget = []
        for b in budgets:
            vals = []
            for d in dirs:
                steps, values = read_curve(d, metric)
                vals.append(float(values[steps == b][0]) if (steps == b).any() else np.nan)
            per_budget.append(np.asarray(vals))
        out[label] = per_budget
    return out


def markdown_table(runs: dict[str, list[Path]], metric: str, budgets: list[int]) -> str:
    """Mean ± std over seeds (n seeds) at each budget, as a Markdown table."""
    table = at_budgets(runs, metric, budgets)
    lines = ["| method | " + " | ".join(f"{b:,} steps" for b in budgets) + " |",
             "|---|" + "---:|" * len(budgets)]
    for label, cols in table.items():
        cells = [f"{np.nanmean(v):.1f} ± {np.nanstd(v):.1f} (n={int(np.isfinite(v).sum())})" for v in cols]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
