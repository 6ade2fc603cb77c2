"""Side-by-side with d3rlpy: IQL offline on the same dataset and SAC online on the same env, with the same
network sizes, batch, steps and seeds; final score and updates/s of each, in one run.

    python benchmarks/peers/vs_d3rlpy.py --d3rlpy-python /path/to/venv/bin/python --seeds 3 --steps 20000

The d3rlpy environment is separate (`pip install d3rlpy torch==2.13.0 mujoco`; never an unpinned torch).
Writes benchmarks/results/vs-d3rlpy.md. Runs one process at a time (never two timed runs at once).
"""
from __future__ import annotations

import argparse
import csv
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def ours(algo: str, dataset: str, env: str, steps: int, seed: int, hidden: int, batch: int, random_steps: int,
         online_steps: int = 0, log_std_init: float | None = None, protocol: str = "paper") -> dict:
    from hybridrl.recipes import resolve
    from hybridrl.training.loop import Trainer

    common = {"agent.hidden_dims": [hidden, hidden], "agent.batch_size": batch, "train.progress": False,
              "train.tensorboard": False, "train.eval_episodes": 10, "train.log_interval": 1000,
              "train.eval_interval": steps, "train.checkpoint_interval": 10**9}
    if log_std_init is not None and algo != "sac":  # IQL's actor: its initial log-std (d3rlpy's starts at −1.5)
        common["agent.log_std_init"] = log_std_init
    # protocol "paper": hybridrl's defaults, which are IQL's code (rewards scaled by the data's return range; the
    # actor lr cosine-decayed over an offline-only run, constant when fine-tuning); "constant": raw rewards and a
    # constant actor lr, d3rlpy's defaults (the protocol of this table before issue 19's fixes)
    old = {"agent.actor_decay_steps": 0, "train.reward_normalization": "none"} if protocol == "constant" else {}
    run = Path(tempfile.mkdtemp(prefix=f"ours-{algo}-")) / "run"
    if algo == "iql-o2o":  # the whole pipeline: offline phase, then fine-tuning with the data kept
        cfg = resolve("iql", env, {**common, **old, "train.start_steps": 0,
                                   "train.eval_interval": steps + online_steps}, dataset=dataset,
                      offline_steps=steps, online_steps=online_steps, seed=seed)
    elif algo == "iql":  # offline only: the same number of updates as d3rlpy's fit(n_steps)
        cfg = resolve("iql", env, {**common, **old}, dataset=dataset, offline_steps=steps,
                      online_steps=0, seed=seed)
    else:
        cfg = resolve("sac", env, {**common, "agent.target_entropy_scale": 1.0, "train.start_steps": random_steps},
                      online_steps=steps, seed=seed)
    t = time.time()
    result = Trainer(cfg, run).run()  # the Trainer's construction (data loading, buffers) is timed too
    wall = time.time() - t
    with open(run / "metrics.csv", newline="") as f:  # rows without an evaluation: pure training speed
        sps = [float(r["steps_per_sec"]) for r in csv.DictReader(f) if not r.get("eval_return")
               and int(r["step"]) > (random_steps if algo == "sac" else 1_000)]
    if algo == "iql-o2o":  # as d3rlpy's side: all updates over the whole pipeline's wall (our evaluations included)
        sps = [(steps + online_steps) / wall]
    row = {"peer": "hybridrl", "algo": algo, "seed": seed, "steps": steps, "online_steps": online_steps,
           "protocol": protocol if algo != "sac" else "", "wall_seconds": wall,
           "updates_per_sec": float(np.median(sps)), "eval_return": result["eval_return"]}
    return {**row, "variant": variant(log_std_init)} if variant(log_std_init) else row


def variant(log_std_init: float | None) -> str:
    """How a hybridrl row departs from its defaults ('' for none); rows are replaced per (algo, side, variant)."""
    return "" if log_std_init is None else f"log-std init {log_std_init:g}"


def _norm(env: str, ret: float) -> str:
    from hybridrl.envs.make import normalized_score

    score = normalized_score(env, ret)
    return "–" if score is None else f"{score:.1f}"


def side(row: dict) -> str:
    return row["peer"] + (f" ({row['variant']})" if row.get("variant") else "")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--d3rlpy-python", help="the d3rlpy venv's python (needed unless --sides hybridrl)")
    p.add_argument("--dataset", default="hopper-medium-small")
    p.add_argument("--env", default="Hopper-v5")
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--algos", nargs="+", default=["iql", "sac"])
    p.add_argument("--sac-seeds", type=int, default=None, help="seeds for SAC (default: --seeds)")
    p.add_argument("--random-steps", type=int, default=5_000, help="SAC's uniform warm-up (both sides)")
    p.add_argument("--online-steps", type=int, default=5_000, help="iql-o2o: fine-tuning env steps")
    p.add_argument("--log-std-init", type=float, default=None,
                   help="hybridrl's IQL actor log-std before training (default: ours, 0; d3rlpy's IQL starts at -1.5)")
    p.add_argument("--sides", nargs="+", default=["hybridrl", "d3rlpy"], choices=["hybridrl", "d3rlpy"])
    p.add_argument("--protocol", choices=["paper", "constant"], default="paper",
                   help="IQL on both sides: paper = IQL's code (rewards x 1000 / return range; offline-only actor "
                        "lr cosine-decayed), constant = raw rewards and a constant lr (d3rlpy's defaults)")
    p.add_argument("--results", default="vs-d3rlpy",
                   help="stem of the .json/.md written under benchmarks/results/ (rows of other runs are kept)")
    args = p.parse_args()
    if "d3rlpy" in args.sides and not args.d3rlpy_python:
        p.error("--d3rlpy-python is needed for the d3rlpy side (or run --sides hybridrl)")
    from hybridrl.data.suite import build, dataset_path

    build(args.dataset)
    rows = []
    for algo in args.algos:
        for seed in range(args.sac_seeds if algo == "sac" and args.sac_seeds is not None else args.seeds):
            for peer in args.sides:
                print(f"[{time.strftime('%H:%M:%S')}] {algo} seed {seed} {peer}", flush=True)
                if peer == "hybridrl":
                    rows.append(ours(algo, args.dataset, args.env, args.steps, seed, 256, 256, args.random_steps,
                                     args.online_steps, args.log_std_init, args.protocol))
                else:
                    cmd = [args.d3rlpy_python, str(Path(__file__).parent / "d3rlpy_run.py"), algo,
                           "--env", args.env, "--steps", str(args.steps), "--seed", str(seed),
                           "--random-steps", str(args.random_steps), "--online-steps", str(args.online_steps),
                           "--dataset", str(dataset_path(args.dataset))]
                    if args.protocol == "paper" and algo != "sac":
                        cmd += ["--reward-scale", "return-range"] + (["--actor-cosine"] if algo == "iql" else [])
                    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                    row = json.loads(out.strip().splitlines()[-1])
                    rows.append({**row, "protocol": args.protocol if algo != "sac" else ""})
                print(json.dumps(rows[-1]), flush=True)
    out = ROOT / "results" / f"{args.results}.json"
    if out.exists():  # keep earlier rows of the (algorithm, side, steps, protocol) keys not re-run now
        def key(r: dict) -> tuple:
            return r["algo"], side(r), r["steps"], r.get("online_steps", 0), r.get("protocol", "")

        rerun = {key(r) for r in rows}
        rows = [r for r in json.loads(out.read_text()) if key(r) not in rerun] + rows
    args.algos = sorted({r["algo"] for r in rows})
    out.write_text(json.dumps(rows, indent=2))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    lines = ["# hybridrl vs d3rlpy: same data, sizes, batch, steps and seeds", "",
             f"Command: `python benchmarks/peers/vs_d3rlpy.py {' '.join(sys.argv[1:])}` · commit `{commit}` · "
             f"{platform.machine()} VM, 2 cores, CPU.",
             f"d3rlpy {next((r['version'] for r in rows if r['peer'] == 'd3rlpy'), '?')} with torch 2.13.0 (CPU).", "",
             "IQL: offline only on the dataset (τ 0.7, β 3, weight clip 100). Protocol `paper`: IQL's code on both "
             "sides — rewards × 1000 / (max − min episode return of the dataset; d3rlpy's ReturnBasedRewardScaler), "
             "the actor lr cosine-annealed over the offline steps of an offline-only run, constant when "
             "fine-tuning; `constant`: raw rewards and a constant lr (d3rlpy's defaults). SAC: online from scratch "
             f"({args.random_steps} random steps, UTD 1, target entropy −|A|). Both 256x256, batch 256. "
             f"iql-o2o: the full pipeline, {args.steps} offline updates then {args.online_steps} online env steps "
             "with one update each and the offline data kept in the buffer (uniform replay), no random warm-up; "
             "wall s = data loading to the end of fine-tuning (hybridrl's includes an evaluation at the phase "
             "switch and at the end; d3rlpy's evaluation runs after its timer). "
             "Eval: 10 episodes, deterministic policy, at the end. Updates/s: hybridrl's median logged rate "
             "between evaluations; d3rlpy's: updates / wall time of `fit` (no evaluation inside); iql-o2o, both "
             "sides: all updates / the pipeline's wall time.", "",
             "| algo | protocol | offline / online steps | side | eval return (mean ± std over seeds) | per seed | "
             "normalised | updates/s (mean) | wall s (mean) |",
             "|---|---|---:|---|---:|---|---:|---:|---:|"]

    for algo, steps, online, protocol in sorted({(r["algo"], r["steps"], r.get("online_steps", 0),
                                                  r.get("protocol", "")) for r in rows}):
        group = [r for r in rows if (r["algo"], r["steps"], r.get("online_steps", 0), r.get("protocol", ""))
                 == (algo, steps, online, protocol)]
        for label in sorted({side(r) for r in group}, key=lambda x: (x.startswith("d3rlpy"), x)):
            rs = [r for r in group if side(r) == label]
            ret = np.array([r["eval_return"] for r in rs])
            ups = np.array([r["updates_per_sec"] for r in rs])
            budget = f"{steps:,} / {online:,}" if algo == "iql-o2o" else (
                f"– / {steps:,}" if algo == "sac" else f"{steps:,} / –")
            lines.append(f"| {algo} | {protocol or '–'} | {budget} | {label} | {ret.mean():.1f} ± {ret.std():.1f} "
                         f"(n={len(rs)}) | {', '.join(f'{x:.0f}' for x in ret)} | "
                         f"{_norm(args.env, float(ret.mean()))} | {ups.mean():.0f} | "
                         f"{np.mean([r['wall_seconds'] for r in rs]):.0f} |")
    (ROOT / "results" / f"{args.results}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
