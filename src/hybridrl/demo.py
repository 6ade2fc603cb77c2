"""`make demo` / `hybridrl demo`: does prior data help? RLPD vs the same learner without it, on Hopper-v5.

The full RLPD preset (E=10, UTD 20) runs at a few env steps per second on a 2-core CPU, so the demo uses
a lighter preset that finishes in minutes; it says so in its output. The learner, data mixing and loop
are the real ones: only sizes and budgets shrink.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

DEMO_DATASET = "hopper-expert-small"  # 25k transitions of the suite's expert (its return: 100 normalised)
DEMO_ENV = "Hopper-v5"
DEMO_STEPS = 10_000
LIGHT_PRESET = {
    "agent.hidden_dims": [128, 128],
    "agent.batch_size": 128,
    "agent.num_critics": 4,
    "agent.num_target_critics": 2,
    "agent.critic_layer_norm": True,
    "agent.actor_aggregation": "mean",
    "agent.utd": 4,
    "train.start_steps": 1000,
    "train.eval_interval": 2000,
    "train.log_interval": 500,
    "train.eval_episodes": 10,
    "train.eval_stochastic": True,  # the sampling policy's return beside the deterministic one
    "train.checkpoint_interval": 5000,
}


def curve_area(run_dir: Path, metric: str = "normalized_score") -> float:
    """Mean of `metric` over every online evaluation: the area under the learning curve per step, which one
    lucky or unlucky evaluation moves far less than it moves a single budget's score."""
    from hybridrl.analysis.plots import read_curve

    return float(np.mean(read_curve(run_dir, metric)[1]))


def reference_label(env_id: str) -> str:
    from hybridrl.envs.make import SUITE_REFERENCE_SCORES

    if env_id in SUITE_REFERENCE_SCORES:
        return "suite references: 0 = uniform random policy, 100 = the suite's expert"
    return "D4RL references"


def run_demo(out: Path, online_steps: int | None = None, seeds: int = 1) -> None:
    from rich.console import Console
    from rich.table import Table

    from hybridrl.analysis.plots import plot_runs, read_curve
    from hybridrl.analysis.scores import at_budgets
    from hybridrl.data import load_dataset
    from hybridrl.recipes import resolve
    from hybridrl.training.loop import Trainer

    console = Console()
    steps = online_steps or DEMO_STEPS
    console.print(f"[bold]hybridrl demo[/]: {DEMO_ENV}, {steps} online steps, {seeds} seed(s).\n"
                  "Light preset for a 2-core CPU (128x128 nets, batch 128, 4 LayerNorm critics, UTD 4) instead of "
                  "the paper's RLPD (256x256, 10 critics, UTD 20); both arms use the same learner, only the prior "
                  "data differs.")
    t0 = time.time()
    ds = load_dataset(DEMO_DATASET)
    rets = ds.episode_returns()
    console.print(f"prior data: {DEMO_DATASET} — {len(ds)} transitions, {len(rets)} episodes, behaviour return "
                  f"{rets.mean():.0f} ± {rets.std():.0f} ({time.time() - t0:.0f}s to load/build)")
    runs: dict[str, list[Path]] = {"rlpd (with prior data)": [], "sac (no prior data)": []}
    arms = (("rlpd (with prior data)", "rlpd", DEMO_DATASET), ("sac (no prior data)", "sac", None))
    for seed in range(seeds):
        for label, recipe, dataset in arms:
            run_dir = out / f"{recipe}-seed{seed}"
            console.print(f"→ {label}, seed {seed} → {run_dir}")
            if (run_dir / "checkpoints" / "latest.npz").exists():  # re-running the demo reuses finished runs
                Trainer.resume(run_dir, online_steps=steps).run()
            else:
                cfg = resolve(recipe, DEMO_ENV, LIGHT_PRESET, dataset=dataset, online_steps=steps, seed=seed)
                Trainer(cfg, run_dir).run()
            runs[label].append(run_dir)
    evals = read_curve(runs["rlpd (with prior data)"][0], "normalized_score")[0].tolist()
    budgets = sorted({evals[0], evals[len(evals) // 2], evals[-1]})
    spread = ", mean ± std over seeds" if seeds > 1 else ", seed 0 (more: --seeds N)"
    table = Table(title=f"{DEMO_ENV}: normalised score ({reference_label(DEMO_ENV)}){spread}")
    table.add_column("method")
    for b in budgets:
        table.add_column(f"{b:,} steps", justify="right")
    table.add_column(f"area ({len(evals)} evals)", justify="right")
    areas = {label: np.array([curve_area(d) for d in dirs]) for label, dirs in runs.items()}
    stoch = {label: np.array([curve_area(d, "normalized_score_stochastic") for d in dirs])
             for label, dirs in runs.items()}
    for label, cols in at_budgets(runs, "normalized_score", budgets).items():
        cells = [*cols, areas[label]]
        table.add_row(label, *[f"{np.nanmean(v):.1f}" + (f" ± {np.nanstd(v):.1f}" if len(v) > 1 else "")
                               for v in cells])
    console.print(table)
    with_data, without = areas["rlpd (with prior data)"], areas["sac (no prior data)"]
    if seeds > 1:
        per_seed = Table(title="per seed: area under the curve (mean normalised score over the online evaluations)")
        for col in ("seed", "rlpd", "sac", "rlpd − sac", "rlpd stochastic", "sac stochastic"):
            per_seed.add_column(col, justify="right")
        for i in range(seeds):
            per_seed.add_row(str(i), f"{with_data[i]:.1f}", f"{without[i]:.1f}", f"{with_data[i] - without[i]:+.1f}",
                             f"{stoch['rlpd (with prior data)'][i]:.1f}", f"{stoch['sac (no prior data)'][i]:.1f}")
        console.print(per_seed)
    wins = int((with_data > without).sum())
    console.print(f"What the table shows: with the prior data the same learner scores {with_data.mean():.1f} vs "
                  f"{without.mean():.1f} without it, averaged over its {len(evals)} evaluations in {steps:,} online "
                  f"steps (ahead on {wins} of {seeds} seed(s)); the stochastic policy's area: "
                  f"{stoch['rlpd (with prior data)'].mean():.1f} vs {stoch['sac (no prior data)'].mean():.1f}.")
    png = out / "learning_curves.png"
    all_dirs = [d for dirs in runs.values() for d in dirs]
    labels = [label for label, dirs in runs.items() for _ in dirs]
    plot_runs(all_dirs, "normalized_score", png, labels=labels, title=f"{DEMO_ENV}: prior data vs none")
    console.print(f"learning curves: {png}   (total {time.time() - t0:.0f}s)")
