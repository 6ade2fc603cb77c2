"""Benchmark: does prior data help? RLPD vs the same learner without prior data on Hopper-v5.

    python benchmarks/rlpd_vs_sac.py --seeds 3 --online-steps 20000

Runs the demo's arms for every seed (reusing finished runs), then writes
benchmarks/results/rlpd-vs-sac.md and the learning-curve PNG next to it.
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--online-steps", type=int, default=20_000)
    p.add_argument("--runs", default=str(ROOT / "runs" / "rlpd-vs-sac"))
    args = p.parse_args()

    import jax

    from hybridrl import demo
    from hybridrl.analysis.plots import plot_runs, read_curve
    from hybridrl.analysis.scores import markdown_table

    t0 = time.time()
    out = Path(args.runs)
    demo.run_demo(out, online_steps=args.online_steps, seeds=args.seeds)
    runs = {"rlpd (with prior data)": [out / f"rlpd-seed{s}" for s in range(args.seeds)],
            "sac (no prior data)": [out / f"sac-seed{s}" for s in range(args.seeds)]}
    steps = read_curve(runs["rlpd (with prior data)"][0], "normalized_score")[0].tolist()
    budgets = [b for b in steps if b in (steps[0], steps[len(steps) // 2], steps[-1])]
    results = ROOT / "results"
    png = results / "rlpd-vs-sac.png"
    plot_runs([d for ds in runs.values() for d in ds], "normalized_score", png,
              labels=[k for k, ds in runs.items() for _ in ds], title="Hopper-v5: RLPD vs SAC (same learner)")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    md = f"""# RLPD (with prior data) vs SAC (without), Hopper-v5

Command: `python benchmarks/rlpd_vs_sac.py --seeds {args.seeds} --online-steps {args.online_steps}`
Commit: `{commit}` · machine: {platform.processor() or platform.machine()}, {jax.devices()[0].platform}, jax
{jax.__version__} · seeds 0..{args.seeds - 1} · wall time {(time.time() - t0) / 60:.1f} min (finished runs reused)

Prior data: `{demo.DEMO_DATASET}` (built-in; see `hybridrl data info {demo.DEMO_DATASET}`).
Both arms use the demo's light learner preset ({", ".join(f"{k}={v}" for k, v in demo.LIGHT_PRESET.items())});
the only difference is `train.offline_ratio` (0.5 for RLPD, 0 for SAC) and the dataset.
Normalised score uses D4RL's Hopper references (random −20.3, expert 3234.3); evaluation = 10 episodes,
deterministic policy, fixed seeds.

{markdown_table(runs, "normalized_score", budgets)}

![curves](rlpd-vs-sac.png)
"""
    (results / "rlpd-vs-sac.md").write_text(md)
    print(md)


if __name__ == "__main__":
    sys.exit(main())
