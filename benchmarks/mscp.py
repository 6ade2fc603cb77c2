"""Benchmark: MSCP vs HIQL vs inverse-dynamics labelling vs SAC from scratch on PointMaze Large (issue 6).

    python benchmarks/mscp.py --seeds 3 --offline-steps 10000 --online-steps 20000 --hidden 128 --batch 256 \
        --eval-episodes 50

Task: hybridrl/PointMaze_Large_FixedGoal-v3 (start and goal in opposite corners, sparse reward, success within
0.45, 800-step episodes). Per dataset (action-free, and its limited-coverage variant) and seed: one MSCP
pre-training run (offline only) from which both `mscp` and `hiql` fine-tune (their pre-training is the same);
`idm-label` (RLPD on the dataset labelled by inverse dynamics fitted on its 5k-step random warm-up); SAC from
scratch (no data, so one run per seed serves both datasets). Runs live under benchmarks/runs/mscp/ (finished
ones reused). Writes benchmarks/results/mscp.md with curves and a subgoal figure.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from offline_to_online import common_arguments, plot, summarise, write_report  # noqa: E402

ENV = "hybridrl/PointMaze_Large_FixedGoal-v3"
DATASETS = ["pointmaze-large-diverse-actionfree-small", "pointmaze-large-diverse-actionfree-limited-small"]


def overrides(args: argparse.Namespace, recipe: str) -> dict:
    o = {"agent.hidden_dims": [args.hidden] * 2, "agent.batch_size": args.batch,
         "train.eval_interval": args.eval_interval or args.online_steps // 4, "train.eval_episodes": args.eval_episodes,
         "train.log_interval": max(args.online_steps // 20, 1), "train.checkpoint_interval": 5_000,
         "train.progress": False, "train.tensorboard": False}
    if recipe == "idm-label":
        o["agent.utd"] = 1  # RLPD's UTD 20 does not fit this machine's budget
    return o


def finish(run_dir: Path, trainer: object) -> None:
    t = time.time()
    trainer.run()
    (run_dir / "done").write_text(json.dumps({"seconds": time.time() - t}))


def run_seed(args: argparse.Namespace, dataset: str, seed: int) -> dict[str, Path]:
    from hybridrl.recipes import resolve
    from hybridrl.training.loop import Trainer

    base = Path(args.runs)
    dirs = {"pretrain": base / dataset / f"pretrain-seed{seed}", "mscp": base / dataset / f"mscp-seed{seed}",
            "hiql": base / dataset / f"hiql-seed{seed}", "idm-label": base / dataset / f"idm-label-seed{seed}",
            "sac": base / f"sac-seed{seed}"}
    for label, d in dirs.items():
        if (d / "done").exists() or args.report_only or label in args.skip:
            continue
        print(f"[{time.strftime('%H:%M:%S')}] {dataset} {label} seed {seed}", flush=True)
        if (d / "checkpoints" / "latest.npz").exists():
            finish(d, Trainer.resume(d))
        elif label == "pretrain":
            o = {**overrides(args, "mscp"), "train.eval_episodes": 10}
            finish(d, Trainer(resolve("mscp", ENV, o, dataset=dataset, offline_steps=args.offline_steps,
                                      online_steps=0, seed=seed), d))
        elif label in ("mscp", "hiql"):
            finish(d, Trainer.from_pretrained(dirs["pretrain"], d, overrides(args, label), recipe=label,
                                              online_steps=args.online_steps, seed=seed))
        else:
            finish(d, Trainer(resolve(label, ENV, overrides(args, label), dataset=dataset if label != "sac" else None,
                                      online_steps=args.online_steps, seed=seed), d))
    return dirs


def main() -> None:
    p = argparse.ArgumentParser()
    common_arguments(p, "mscp", DATASETS, 10_000, 20_000, 128, 256)
    p.add_argument("--skip", nargs="*", default=[], help="labels not to run here (e.g. sac, when another process "
                   "runs it): two processes can share the grid by dataset")
    args = p.parse_args()
    from hybridrl.analysis.plots import plot_subgoals

    t0 = time.time()
    grid = {(d, s): run_seed(args, d, s) for s in range(args.seeds) for d in args.datasets}  # seeds outermost
    sections = []
    every = args.eval_interval or args.online_steps // 4
    budgets = [every, 2 * every, args.online_steps]
    for dataset in args.datasets:
        labels = ("mscp", "hiql", "idm-label", "sac")
        runs = {label: [grid[dataset, s][label] for s in range(args.seeds)
                        if (grid[dataset, s][label] / "done").exists()] for label in labels}
        runs = {k: v for k, v in runs.items() if v}
        png = f"mscp-{dataset}.png"
        plot(runs, "success_rate", ROOT / "results" / png, f"{dataset} → {ENV}")
        fits = []
        for d in runs.get("idm-label", []):
            if not (d / "labels.json").exists():
                continue
            info = json.loads((d / "labels.json").read_text())
            fits.append(f"{info['idm_loss_first']:.3f} → {info['idm_loss_last']:.3f}")
        sections += [f"## {dataset}", "", *summarise(runs, "success_rate", args.online_steps, budgets), "",
                     f"Success rate over {args.eval_episodes} evaluation episodes. 'end of offline' is the pre-trained "
                     "agent before any online step (its low-level policy is untrained, so 0 is expected for "
                     "mscp/hiql).", "",
                     "Inverse-dynamics fit (MSE on the warm-up's actions, first → last 100 steps): "
                     f"{', '.join(fits)}.",
                     "", f"![curves]({png})", ""]
        if runs.get("mscp"):
            sub = f"mscp-subgoals-{dataset}.png"
            info = plot_subgoals(runs["mscp"][0], ROOT / "results" / sub)
            sections += [f"Subgoals of the final MSCP agent (seed 0) along one evaluation episode: {info['steps']} "
                         f"steps, {'success' if info['success'] else 'no success'}, mean subgoal distance "
                         f"{info['mean_subgoal_distance']:.2f}.", "", f"![subgoals]({sub})", ""]
    write_report("mscp", "MSCP vs HIQL vs inverse-dynamics labelling vs SAC from scratch (PointMaze Large, action-free "
                 "data)", args, t0,
                 f"MSCP/HIQL: {args.hidden}x{args.hidden} LayerNorm+GELU value and planners (paper 512x3), batch "
                 f"{args.batch} online + {args.batch} offline per update (paper 1024), k = 25, 0.25 updates per env "
                 "step after a 2k-step random warm-up, λ = 7 (mscp) / 0 with expectile 0.7 online (hiql), "
                 "planners frozen; one pre-training per seed shared by both. idm-label: RLPD (E = 10 LayerNorm "
                 "critics) at UTD 1 "
                 "(paper 20) after a 5k-step random warm-up that trains the inverse-dynamics model. SAC: maze preset, "
                 "no data, 5k random steps.", sections)


if __name__ == "__main__":
    main()
