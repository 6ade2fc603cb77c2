"""`hybridrl report RUNS_DIR`: aggregate runs across seeds and tasks with rliable (Agarwal et al. 2021).

Scores: each run's last evaluation of the chosen metric, or the mean of its last `last` (normalised score by
default; success rate on goal tasks). Per method: mean, IQM and optimality gap with stratified-bootstrap 95%
intervals, performance profiles, the probability of improvement between methods, and learning curves (IQM over
runs and tasks at each evaluated step, with bootstrap bands). Writes REPORT.md and PNGs.

A run's task and method come from its place in the tree (TASK/METHOD/seedN, as `hybridrl sweep` lays
runs out), else from its config (env, recipe). Runs whose metrics stop short of their configured steps (still
running, or killed) are left out and listed, because their last evaluation is not a final score; pass
`include_unfinished` to report a sweep's progress.
"""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybridrl.config import ConfigError


@dataclass
class RunScores:
    task: str
    method: str
    run_dir: Path
    steps: np.ndarray  # evaluated online env steps; offline evaluations at (update − offline_steps) <= 0
    values: np.ndarray
    config: dict[str, Any] | None = None  # the run's resolved config (recipe, agent, train)

    def final(self, last: int = 1) -> float:
        """The run's score: the mean of its last `last` evaluations of its final phase (one evaluation of 10
        episodes is noisy; averaging the last few is the usual remedy)."""
        phase = self.values[self.steps > 0] if (self.steps > 0).any() else self.values
        return float(phase[-last:].mean())


def _planned_end(train: dict[str, Any]) -> tuple[str, int] | None:
    """(phase, step) of a run's last metrics row once it has finished; None where the config does not say."""
    if "online_steps" not in train or "offline_steps" not in train:
        return None
    return ("online", int(train["online_steps"])) if train["online_steps"] else ("offline", int(train["offline_steps"]))


def find_runs(root: Path, metric: str, include_unfinished: bool = False,
              unfinished: list[Path] | None = None) -> list[RunScores]:
    """Runs under `root` with evaluations of `metric`; those that stop short of their configured steps are left
    out (and appended to `unfinished`, when given) unless `include_unfinished`."""
    runs = []
    for metrics in sorted(root.rglob("metrics.csv")):
        d = metrics.parent
        try:
            cfg = json.loads((d / "config.json").read_text())["config"]
        except (OSError, KeyError, json.JSONDecodeError):
            continue
        steps, values, last = [], [], None
        with open(metrics, newline="") as f:
            for row in csv.DictReader(f):
                last = row
                if row.get(metric) not in (None, "", "nan"):
                    # online env steps on the x-axis; the offline phase before 0 (update u of U at u − U)
                    offset = cfg["train"]["offline_steps"] if row["phase"] == "offline" else 0
                    steps.append(int(row["step"]) - offset)
                    values.append(float(row[metric]))
        if not values:
            continue
        end = _planned_end(cfg["train"])
        if end is not None and not include_unfinished and (last["phase"], int(last["step"])) != end:
            if unfinished is not None:
                unfinished.append(d)
            continue
        rel = d.relative_to(root).parts
        if len(rel) >= 3 and rel[-1].startswith("seed"):
            task, method = rel[-3], rel[-2]
        else:  # the data is part of the task: one env's runs on two datasets are two tasks
            dataset = cfg["train"].get("dataset")
            if not dataset:
                task = cfg["train"]["env"]
            elif Path(dataset).suffix.lower() in (".npz", ".hdf5", ".h5"):  # a file: its name
                task = Path(dataset).stem
            else:  # a built-in name or a whole Minari id (mujoco/hopper/medium-v0, not medium-v0)
                task = dataset.replace("/", "-")
            method = cfg["recipe"]
        runs.append(RunScores(task, method, d, np.asarray(steps), np.asarray(values), cfg))
    return runs


# fields that differ between seeds of one setting without making it another setting
_PER_RUN = {"train.seed", "train.progress", "train.progress_interval", "train.tensorboard", "train.wandb",
            "train.wandb_project", "train.log_interval", "train.checkpoint_interval", "train.policy_snapshots"}


def mixed_settings(runs: list[RunScores]) -> list[str]:
    """Groups pooled as seeds of one method on one task whose configs differ in more than the seed: their spread
    is not seed noise, so the report says which fields differ."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        if r.config is not None:
            flat = {f"{sec}.{k}": json.dumps(v, sort_keys=True) for sec in ("agent", "train")
                    for k, v in r.config.get(sec, {}).items()}
            groups[(r.task, r.method)].append({k: v for k, v in flat.items() if k not in _PER_RUN})
    out = []
    for (task, method), cfgs in sorted(groups.items()):
        shared = set.intersection(*(set(c) for c in cfgs))  # a field a run's older version did not write is no sign
        keys = sorted(k for k in shared if len({c[k] for c in cfgs}) > 1)
        if keys:
            out.append(f"{task}/{method} ({', '.join(keys[:6])}{', …' if len(keys) > 6 else ''})")
    return out


def switch_table(runs: list[RunScores], window: float = 0.1, last: int = 1) -> list[dict[str, Any]]:
    """The offline→online switch per task and method, over runs with an offline phase: the score at the switch
    (the last offline evaluation), the dip (the lowest online evaluation in the first `window` of the online
    steps, minus the switch score) and the final score — mean and std over runs (the Cal-QL and WSRL claims)."""
    groups: dict[tuple[str, str], list[tuple[float, float, float]]] = defaultdict(list)
    for r in runs:
        before, after = r.steps <= 0, r.steps > 0
        if not before.any() or not after.any():
            continue
        at_switch = float(r.values[before][np.argmax(r.steps[before])])
        horizon = max(window * float(r.steps.max()), float(r.steps[after].min()))
        early = r.values[after & (r.steps <= horizon)]
        groups[(r.task, r.method)].append((at_switch, float(early.min()) - at_switch, r.final(last)))
    rows = []
    for (task, method), vals in sorted(groups.items()):
        arr = np.asarray(vals)
        rows.append({"task": task, "method": method, "runs": len(vals),
                     **{f"{k}_{stat}": float(f(arr[:, i])) for i, k in enumerate(("switch", "dip", "final"))
                        for stat, f in (("mean", np.mean), ("std", np.std))}})
    return rows


def evaluation_rows(runs: list[RunScores]) -> list[str]:
    """One Markdown row per run with every evaluation in order, offline then online, and the run's best: the
    final score alone hides whether a method got there steadily or swings between evaluations."""
    def fmt(values: np.ndarray) -> str:
        return " ".join(f"{v:.3g}" for v in values) or "—"

    return [f"| {r.task} | {r.method} | {r.run_dir.name} | {fmt(r.values[r.steps <= 0])} | "
            f"{fmt(r.values[r.steps > 0])} | {float(r.values.max()):.3g} |"
            for r in sorted(runs, key=lambda r: (r.task, r.method, r.run_dir.name))]


def score_matrix(runs: list[RunScores], last: int = 1, dropped: list[str] | None = None
                 ) -> tuple[dict[str, np.ndarray], list[str]]:
    """{method: (runs, tasks) final scores}. rliable bootstraps each method on its own, so methods may have
    different numbers of runs; within a method every task needs the same number (the smallest found), and the
    runs past it are named in `dropped` ("method/task: N run(s)") rather than silently lost."""
    by = defaultdict(lambda: defaultdict(list))
    for r in runs:
        by[r.method][r.task].append(r.final(last))
    tasks = sorted({r.task for r in runs})
    methods = [m for m in sorted(by) if all(by[m][t] for t in tasks)]
    if not methods:
        raise ConfigError("no method has runs on every task; report the tasks separately")
    if dropped is not None:
        dropped += [f"{m} (no run on {', '.join(t for t in tasks if not by[m][t])})" for m in sorted(by)
                    if m not in methods]
    scores = {}
    for m in methods:
        n = min(len(by[m][t]) for t in tasks)
        scores[m] = np.array([[by[m][t][i] for t in tasks] for i in range(n)])
        if dropped is not None:
            dropped += [f"{m}/{t}: {len(by[m][t]) - n} run(s)" for t in tasks if len(by[m][t]) > n]
    return scores, tasks


def aggregates(scores: dict[str, np.ndarray], gap_threshold: float, reps: int = 2000,
               seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Point estimates and 95% stratified-bootstrap intervals of (mean, IQM, optimality gap)."""
    from rliable import library as rly
    from rliable import metrics

    def fn(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_mean(x), metrics.aggregate_iqm(x),
                         metrics.aggregate_optimality_gap(x, gap_threshold)])

    np.random.seed(seed)  # rliable's stratified bootstrap draws from NumPy's global generator
    return rly.get_interval_estimates(scores, fn, reps=reps)


def improvement(scores: dict[str, np.ndarray], reps: int = 2000, seed: int = 0
                ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """P(X > Y) for every ordered pair of methods X, Y ("X,Y"), with bootstrap intervals."""
    from rliable import library as rly
    from rliable import metrics

    pairs = {f"{a},{b}": (scores[a], scores[b]) for a in scores for b in scores if a != b}
    if not pairs:
        return {}, {}
    np.random.seed(seed)
    return rly.get_interval_estimates(pairs, metrics.probability_of_improvement, reps=reps)


def write_report(root: str | Path, out: str | Path | None = None, metric: str | None = None,
                 gap_threshold: float | None = None, reps: int = 2000,
                 include_unfinished: bool = False, last: int = 1) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import library as rly
    from rliable import metrics, plot_utils

    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: no such folder (report reads a folder of run directories, e.g. a sweep's out)")
    out = Path(out) if out else root / "report"
    out.mkdir(parents=True, exist_ok=True)
    if metric is None:  # the score a task family reports
        metric = next((m for m in ("normalized_score", "success_rate")
                       if find_runs(root, m, include_unfinished=True)), "eval_return")
    unfinished: list[Path] = []
    runs = find_runs(root, metric, include_unfinished, unfinished)
    if not runs:
        hint = f"; {len(unfinished)} unfinished (pass --include-unfinished to see them)" if unfinished else ""
        raise ConfigError(f"{root}: no finished run with evaluations of {metric!r} (run directories hold "
                          f"metrics.csv){hint}")
    gap = gap_threshold if gap_threshold is not None else (1.0 if metric == "success_rate" else 100.0)
    if last < 1:
        raise ConfigError(f"report: last must be >= 1 (the number of final evaluations averaged), got {last}")
    dropped: list[str] = []
    mixed = mixed_settings(runs)
    scores, tasks = score_matrix(runs, last, dropped)
    point, ci = aggregates(scores, gap, reps)
    methods = list(scores)

    fig, _ = plot_utils.plot_interval_estimates(point, ci, metric_names=["Mean", "IQM", "Optimality gap"],
                                                algorithms=methods, xlabel=metric.replace("_", " "))
    fig.savefig(out / "aggregates.png", dpi=120, bbox_inches="tight")
    plt.close(fig)

    hi = max(gap, max(float(s.max()) for s in scores.values()))
    taus = np.linspace(min(0.0, min(float(s.min()) for s in scores.values())), hi, 51)
    profiles, profile_cis = rly.create_performance_profile(scores, taus)
    fig, ax = plt.subplots(figsize=(6, 4))
    colors = dict(zip(methods, plt.rcParams["axes.prop_cycle"].by_key()["color"] * 4, strict=False))
    plot_utils.plot_performance_profiles(profiles, taus, performance_profile_cis=profile_cis, ax=ax, colors=colors,
                                         xlabel=f"{metric.replace('_', ' ')} τ")
    from matplotlib.lines import Line2D

    ax.legend([Line2D([0], [0], color=colors[m]) for m in methods], methods, fontsize=8)
    fig.savefig(out / "profiles.png", dpi=120, bbox_inches="tight")
    plt.close(fig)

    p_point, p_ci = improvement(scores, reps)
    if p_point:
        fig = plot_utils.plot_probability_of_improvement(p_point, p_ci)
        fig = fig.figure if hasattr(fig, "figure") else plt.gcf()
        fig.savefig(out / "improvement.png", dpi=120, bbox_inches="tight")
        plt.close(fig)

    # learning curves: IQM over runs x tasks at the steps every run evaluated
    fig, ax = plt.subplots(figsize=(6.5, 4))
    curves = {}
    for m in methods:
        mine = [r for r in runs if r.method == m]
        common = sorted(set.intersection(*(set(r.steps.tolist()) for r in mine)))
        if not common:
            continue
        per_task = defaultdict(list)
        for r in mine:
            lookup = dict(zip(r.steps.tolist(), r.values.tolist(), strict=True))
            per_task[r.task].append([lookup[s] for s in common])
        n = min(len(v) for v in per_task.values())
        arr = np.stack([np.array(per_task[t][:n]) for t in tasks if t in per_task], axis=1)  # (runs, tasks, steps)
        np.random.seed(0)
        c_point, c_ci = rly.get_interval_estimates(
            {m: arr}, lambda x: np.array([metrics.aggregate_iqm(x[..., j]) for j in range(x.shape[-1])]),
            reps=max(reps // 4, 100))
        curves[m] = (common, c_point[m], c_ci[m])
        ax.plot(common, c_point[m], label=m)
        ax.fill_between(common, c_ci[m][0], c_ci[m][1], alpha=0.2)
    ax.axvline(0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("online environment steps (offline updates before 0)")
    ax.set_ylabel(f"IQM {metric.replace('_', ' ')}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=120)
    plt.close(fig)

    n_runs = {m: scores[m].shape[0] for m in methods}
    what = "each run's last evaluation" if last == 1 else f"each run's mean over its last {last} evaluations"
    lines = [f"# Report: {root}", "",
             f"Metric: `{metric}` ({what}) on {len(tasks)} task(s): {', '.join(tasks)}. "
             f"95% stratified-bootstrap intervals ({reps} resamples, rliable); optimality gap below {gap:g}."
             + (" Unfinished runs are included, at their latest evaluation." if include_unfinished else ""), "",
             *([f"Left out, unfinished (their metrics stop short of the configured steps): "
                f"{', '.join(str(u.relative_to(root)) for u in unfinished)}.", ""] if unfinished else []),
             *([f"**Pooled as seeds of one method, but their configs differ** (the spread is not seed noise; lay "
                f"runs out as TASK/METHOD/seedN to keep settings apart): {'; '.join(mixed)}.", ""] if mixed else []),
             *([f"Left out of the aggregates, to keep a method's runs equal across its tasks (rliable's stratified "
                f"bootstrap needs it): {'; '.join(dropped)}.", ""] if dropped else []),
             "| method | runs per task | mean | IQM | optimality gap |", "|---|---:|---:|---:|---:|"]
    for m in methods:
        cells = [f"{point[m][i]:.3g} [{ci[m][0][i]:.3g}, {ci[m][1][i]:.3g}]" for i in range(3)]
        lines.append(f"| {m} | {n_runs[m]} | " + " | ".join(cells) + " |")
    lines += ["", f"Per task, mean ± std over runs ({what}):", "",
              "| method | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(f"{scores[m][:, j].mean():.3g} ± {scores[m][:, j].std():.2g}"
                                            for j in range(len(tasks))) + " |")
    lines += ["", f"Per run ({what}; the run directory's name in brackets):", "",
              "| task | method | runs | per run |", "|---|---|---:|---|"]
    for t in tasks:
        for m in sorted({r.method for r in runs if r.task == t}):
            mine = [r for r in runs if r.task == t and r.method == m]
            lines.append(f"| {t} | {m} | {len(mine)} | "
                         + ", ".join(f"{r.final(last):.3g} [{r.run_dir.name}]" for r in mine) + " |")
    if p_point:
        lines += ["", "Probability of improvement P(X > Y):", "", "| X | Y | P | 95% CI |", "|---|---|---:|---:|"]
        for pair, p in p_point.items():
            x, y = pair.split(",")
            lo, hi = np.ravel(p_ci[pair])
            lines.append(f"| {x} | {y} | {float(np.ravel(p)[0]):.2f} | [{lo:.2f}, {hi:.2f}] |")
    switch = switch_table(runs, last=last)
    if switch:
        lines += ["", "Offline → online switch (runs with an offline phase): the score at the switch, the dip (the "
                  "lowest online evaluation in the first 10% of the online steps minus the switch score) and the "
                  f"final score ({what}), mean ± std over runs:", "",
                  "| task | method | runs | at the switch | dip | final |",
                  "|---|---|---:|---:|---:|---:|"]
        lines += [f"| {r['task']} | {r['method']} | {r['runs']} | {r['switch_mean']:.3g} ± {r['switch_std']:.2g} | "
                  f"{r['dip_mean']:.3g} ± {r['dip_std']:.2g} | {r['final_mean']:.3g} ± {r['final_std']:.2g} |"
                  for r in switch]
    lines += ["", "Every evaluation, per run, in order (offline phase | online phase; best: the run's highest):", "",
              "| task | method | run | offline | online | best |", "|---|---|---|---|---|---:|",
              *evaluation_rows(runs)]
    lines += ["", "![aggregates](aggregates.png)", "", "![profiles](profiles.png)", "",
              *(["![improvement](improvement.png)", ""] if p_point else []), "![curves](curves.png)", ""]
    (out / "REPORT.md").write_text("\n".join(lines))
    return {"metric": metric, "tasks": tasks, "methods": methods, "switch": switch,
            "unfinished": [str(u) for u in unfinished], "dropped": dropped, "mixed": mixed,
            "point": {m: point[m].tolist() for m in methods},
            "ci": {m: np.asarray(ci[m]).tolist() for m in methods}, "report": str(out / "REPORT.md")}
