"""Bit-for-bit proof that a refactor changes no behaviour (issue 21): a short run of every recipe, its metric
values recorded exactly (float64 repr of what metrics.csv holds), then compared after the change.

    python benchmarks/fingerprint.py --out /tmp/before.json           # at the commit before the change
    python benchmarks/fingerprint.py --compare /tmp/before.json       # after it: every value must be equal

Each run covers both phases (offline updates, warm-up, online updates, evaluations) and, for the recipes that
have them, the per-transition columns (Cal-QL's returns-to-go, with an episode ending mid-run), the density-ratio
priorities, goal relabelling and inverse-dynamics labelling. Metric keys renamed by the change are mapped with
`--rename old=new` (repeatable) or `RENAMES` below, and a key namespaced by its loss (`q_mean` ->
`critic/q_mean`) is found by itself, so the comparison is under the new names. A resumed run (stopped
at online step 400, then `--resume`d) is compared with the straight run inside each fingerprint as well.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

TOY = "hybridrl/PointReach-v0"
MAZE = "hybridrl/PointMaze_Medium_FixedGoal-v3"
TINY = {"agent.hidden_dims": [32, 32], "agent.batch_size": 32, "train.start_steps": 100, "train.eval_interval": 200,
        "train.log_interval": 100, "train.eval_episodes": 2, "train.checkpoint_interval": 200, "train.progress": False,
        "train.tensorboard": False, "train.offline_chunk": 100}
# recipe -> (env, dataset kind, extra overrides); small nets everywhere, both phases where the recipe has both
RUNS = {
    "sac": (TOY, None, {}),
    "rlpd": (TOY, "toy", {"agent.utd": 2, "agent.num_critics": 4}),
    "iql": (TOY, "toy", {}),
    "cql": (TOY, "toy", {"agent.actor_hidden_dims": [32, 32]}),
    "cal-ql": (TOY, "toy", {"agent.actor_hidden_dims": [32, 32]}),
    "wsrl": (TOY, "toy", {"agent.num_critics": 4, "agent.utd": 2, "train.start_steps": 150}),
    "balanced-replay": (TOY, "toy", {"agent.ensemble_size": 2, "train.start_steps": 100,
                                     "train.first_epoch_steps": 100}),
    "famo2o-iql": (TOY, "toy", {"agent.balance_hidden_dims": [32, 32]}),
    "famo2o-cql": (TOY, "toy", {"agent.balance_hidden_dims": [32, 32]}),
    "mscp": (MAZE, "maze-free", {"train.start_steps": 300, "train.eval_interval": 400}),
    "hiql": (MAZE, "maze-free", {"train.start_steps": 300, "train.eval_interval": 400}),
    "idm-label": (MAZE, "maze-free", {"train.start_steps": 300, "agent.utd": 2, "agent.num_critics": 2,
                                      "train.eval_interval": 400}),
    "fql": (TOY, "toy", {"train.start_steps": 0}),
    "ifql": (TOY, "toy", {"train.start_steps": 0, "agent.num_samples": 4}),
    "rebrac": (TOY, "toy", {"train.start_steps": 0}),
    "qc": (TOY, "toy", {"train.start_steps": 100, "agent.num_samples": 4}),  # chunks of 5, acted open-loop
    "qc-fql": (TOY, "toy", {"train.start_steps": 100}),
}
STEPS = {"offline": 300, "online": 600}
VOLATILE = {"wall_time", "steps_per_sec"}
RENAMES: dict[str, str] = {}  # old metric name -> new, for a change that renames keys


def _datasets(root: Path) -> dict[str, str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import toy_dataset

    from hybridrl.data import load_dataset
    from hybridrl.data.maze import rollout_maze

    toy = toy_dataset(root / "toy.npz")
    maze = root / "maze.npz"
    rollout_maze("PointMaze_Medium-v3", 1_500, seed=0).save_npz(maze)
    free = root / "maze-free.npz"
    load_dataset(str(maze)).action_free().save_npz(free)
    return {"toy": str(toy), "maze-free": str(free)}


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in VOLATILE and v != ""} for row in csv.DictReader(f)]


def fingerprint(recipes: list[str]) -> dict[str, list[dict[str, str]]]:
    from hybridrl.recipes import resolve
    from hybridrl.training.loop import Trainer

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = _datasets(root)
        for name in recipes:
            env, kind, extra = RUNS[name]
            offline = STEPS["offline"] if kind and name not in ("idm-label", "rlpd") else 0
            fields = {"dataset": data[kind] if kind else None, "offline_steps": offline,
                      "online_steps": STEPS["online"], "seed": 0}
            cfg = resolve(name, env, {**TINY, **extra}, **fields)
            Trainer(cfg, root / name).run()
            rows = _rows(root / name)
            # the same run stopped at online step 400 (on the log and eval schedules), then resumed: same rows
            half = resolve(name, env, {**TINY, **extra}, **{**fields, "online_steps": 400})
            Trainer(half, root / f"{name}-resumed").run()
            Trainer.resume(root / f"{name}-resumed", online_steps=STEPS["online"]).run()
            resumed = _rows(root / f"{name}-resumed")
            out[name] = rows
            out[f"{name} (resumed)"] = resumed
            print(f"{name}: {len(rows)} rows, resume {'matches' if resumed == rows else 'DIFFERS'}", flush=True)
    return out


def _renamed(key: str, row: dict[str, str], renames: dict[str, str]) -> str:
    """A metric's name after the change: an explicit rename, the same name, or the one name of the new row that
    namespaces it (`q_mean` -> `critic/q_mean`)."""
    if key in renames:
        return renames[key]
    if key in row:
        return key
    spaced = [k for k in row if k.endswith("/" + key)]
    return spaced[0] if len(spaced) == 1 else key


def compare(before: dict, after: dict, renames: dict[str, str]) -> list[str]:
    problems = []
    for run, rows in before.items():
        if run not in after:
            problems.append(f"{run}: missing after the change")
            continue
        new = after[run]
        if len(rows) != len(new):
            problems.append(f"{run}: {len(rows)} rows before, {len(new)} after")
        for i, (a, b) in enumerate(zip(rows, new, strict=False)):
            a = {_renamed(k, b, renames): v for k, v in a.items()}
            if a != b:
                diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                problems.append(f"{run} row {i} (step {a.get('step')} {a.get('phase')}): "
                                + ", ".join(f"{k}: {a.get(k)} -> {b.get(k)}" for k in diff[:6]))
                break
    return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", help="write the fingerprint to this JSON file")
    p.add_argument("--compare", help="a fingerprint written before the change: fail on any difference")
    p.add_argument("--rename", action="append", default=[], help="OLD=NEW metric name (repeatable)")
    p.add_argument("--recipes", nargs="*", default=list(RUNS))
    args = p.parse_args()
    fp = fingerprint(args.recipes)
    if args.out:
        Path(args.out).write_text(json.dumps(fp, indent=1))
    bad_resume = [r for r in args.recipes if fp[r] != fp[f"{r} (resumed)"]]
    if bad_resume:
        print(f"resume differs from the straight run: {', '.join(bad_resume)}")
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
        before = {k: v for k, v in before.items() if k.split(" ")[0] in args.recipes}
        renames = {**RENAMES, **dict(r.split("=", 1) for r in args.rename)}
        problems = compare(before, fp, renames)
        for line in problems:
            print(line)
        print(f"{len(before)} runs compared: " + ("bit-identical" if not problems else f"{len(problems)} differ"))
        return 1 if problems or bad_resume else 0
    return 1 if bad_resume else 0


if __name__ == "__main__":
    sys.exit(main())
