"""Pick the suite's behaviour policies from a SAC run's snapshots (issue 19, item 0).

Lists every `policies/step_N.npz` of a run with its deterministic evaluation return and proposes: the expert (of the
8 best snapshots, the one whose sampled return — the policy drawing from its Gaussian, as the datasets roll it out —
is best; flagged if below the target), the medium snapshot (the one before the expert whose return is nearest
D4RL's medium return, or D4RL's medium-to-expert ratio of our expert when the expert falls short of D4RL's), and the
early and mid snapshots of the medium-replay schedule (a quarter and half of the medium snapshot's steps).
With `--copy` the chosen files are copied into src/hybridrl/data/policies under the suite's names; then rebuild with
`python benchmarks/reference_scores.py` and `python benchmarks/datasets.py --small`.

    python benchmarks/pick_behaviour.py /root/hybridrl-runs/behaviour-experts/hopper/sac/seed0 --env Hopper-v5
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# D4RL's (medium, expert) returns of the v2 datasets and the targets issue 19 sets (about 3/4 of the expert)
D4RL = {"Hopper-v5": (1422.0, 3234.3), "HalfCheetah-v5": (4770.3, 12135.0), "Walker2d-v5": (3308.0, 4592.3)}
TARGETS = {"Hopper-v5": 2500.0, "HalfCheetah-v5": 9000.0, "Walker2d-v5": 3500.0}


def snapshots(run: Path) -> list[tuple[int, float, Path]]:
    from hybridrl import checkpoint

    out = []
    for f in sorted((run / "policies").glob("step_*.npz"), key=lambda p: int(p.stem.split("_")[1])):
        meta = checkpoint.read_meta(f)
        out.append((int(meta["step"]), float(meta["eval_return"]), f))
    return out


def sampled_return(env: str, path: Path, episodes: int = 10) -> float:
    """The return of the policy sampling its own Gaussian, as the suite's datasets roll it out."""
    from reference_scores import episode_returns

    from hybridrl.data.suite import _policy_behaviour

    return float(episode_returns(env, _policy_behaviour(str(path), 0, 1.0), episodes, seed=3).mean())


def pick(snaps: list[tuple[int, float, Path]], env: str, sampled: int = 0) -> dict[str, tuple[int, float, Path]]:
    medium_d4rl, expert_d4rl = D4RL[env]
    expert = max(snaps, key=lambda s: s[1])
    if sampled:  # the expert datasets sample the policy: of the best deterministic snapshots, the best sampled one
        best = sorted(snaps, key=lambda s: -s[1])[:sampled]
        scored = [(sampled_return(env, s[2]), s) for s in best]
        for r, s in scored:
            print(f"sampled  step {s[0]:,}: {r:.1f} (deterministic {s[1]:.1f})")
        expert = max(scored, key=lambda x: x[0])[1]
    goal = medium_d4rl if expert[1] >= expert_d4rl else expert[1] * medium_d4rl / expert_d4rl
    # D4RL's medium is an early-stopped policy: the snapshot before the expert whose return is nearest the goal
    # (the first one past the goal can be far past it when the curve jumps, as Hopper's does)
    before = [s for s in snaps if s[0] < expert[0]] or [expert]
    medium = min(before, key=lambda s: (abs(s[1] - goal), s[0]))
    by_step = {s[0]: s for s in snaps}

    def nearest(step: float) -> tuple[int, float, Path]:
        return by_step[min(by_step, key=lambda k: abs(k - step))]

    return {"expert": expert, "medium": medium, "mid": nearest(medium[0] / 2), "early": nearest(medium[0] / 4)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--env", required=True, choices=sorted(D4RL))
    p.add_argument("--copy", action="store_true", help="copy the picks into src/hybridrl/data/policies")
    p.add_argument("--sampled", type=int, default=8, metavar="K",
                   help="choose the expert among the K best snapshots by its sampled return (0: deterministic best)")
    args = p.parse_args()
    snaps = snapshots(Path(args.run))
    if not snaps:
        raise SystemExit(f"{args.run}: no policies/step_N.npz (was train.policy_snapshots on?)")
    for step, ret, _ in snaps:
        print(f"{step:>9,}  {ret:10.1f}")
    chosen = pick(snaps, args.env, args.sampled)
    target = TARGETS[args.env]
    for role, (step, ret, _path) in chosen.items():
        flag = f"  (below the target {target:.0f})" if role == "expert" and ret < target else ""
        print(f"{role:<7} step {step:,}: {ret:.1f}{flag}")
    if args.copy:
        dst = Path(__file__).resolve().parents[1] / "src" / "hybridrl" / "data" / "policies"
        for role, (_, _, path) in chosen.items():
            shutil.copyfile(path, dst / f"{args.env.lower()}-{role}.npz")
        print(f"copied into {dst}")


if __name__ == "__main__":
    main()
