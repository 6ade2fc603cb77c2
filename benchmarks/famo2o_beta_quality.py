"""Does FamO2O's balance model pick β by the quality of the data around a state? β(s) of a finished run's agent (at the
offline→online switch and at the end) over every state of its dataset, grouped by the return of the episode the
state came from (quartiles), plus the rank correlation between β(s) and that return.

    python benchmarks/famo2o_beta_quality.py benchmarks/runs/claim-famo2o/hopper-medium-replay-small/famo2o-iql/seed2

On a medium-replay set the episodes run from the first, nearly random policy to the medium one, so episode return
is a proxy for the quality of the actions near a state. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def beta_by_quality(run: Path, checkpoint: str) -> dict:
    import jax
    import jax.numpy as jnp

    from hybridrl.data import load_dataset
    from hybridrl.data.dataset import episode_end_rows
    from hybridrl.training.rundir import load_run_agent

    cfg, agent, _ = load_run_agent(run, checkpoint)
    _, fn, _ = agent.state_scalar()
    ds = load_dataset(cfg.train.dataset)
    ends = episode_end_rows(ds.episode_ends)
    starts = np.concatenate([[0], ends[:-1] + 1])
    ret = ds.episode_returns()
    per_row = np.repeat(ret, ends - starts + 1)
    beta = np.concatenate([np.asarray(jax.jit(fn)(jnp.asarray(ds.observations[i:i + 4096])))
                           for i in range(0, len(ds), 4096)])
    q = np.quantile(ret, [0.25, 0.5, 0.75])
    group = np.searchsorted(q, per_row, side="right")
    rank = lambda x: np.argsort(np.argsort(x)).astype(float)  # noqa: E731
    rho = float(np.corrcoef(rank(beta), rank(per_row))[0, 1])
    return {"groups": [(float(beta[group == g].mean()), float(beta[group == g].std()), int((group == g).sum()),
                        float(per_row[group == g].mean())) for g in range(4)],
            "rho": rho, "mean": float(beta.mean()), "std": float(beta.std())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+")
    args = p.parse_args()
    print("| run | agent | β(s) mean ± std, all states | β by episode-return quartile (low → high; mean return) "
          "| Spearman ρ(β, return) |")
    print("|---|---|---:|---|---:|")
    for run in map(Path, args.runs):
        for name, ckpt in (("switch", "checkpoints/offline.npz"), ("end", "checkpoints/latest.npz")):
            if not (run / ckpt).exists():
                continue
            r = beta_by_quality(run, ckpt)
            quart = ", ".join(f"{m:.2f} ({ret:.0f})" for m, _, _, ret in r["groups"])
            if r["std"] == 0:  # beta_mode "mean": one β for every state, nothing to correlate
                quart, r["rho"] = "one β for every state (beta_mode mean)", float("nan")
            print(f"| {run.parent.name}/{run.name} | {name} | {r['mean']:.2f} ± {r['std']:.2f} | {quart} "
                  f"| {r['rho']:+.2f} |")


if __name__ == "__main__":
    main()
