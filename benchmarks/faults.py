"""Fault injection, full version (issue 8): many trials of each fault, counted, in one report.

    python benchmarks/faults.py                      # everything (~30 min on 2 cores)
    python benchmarks/faults.py --only fuzz soak     # some parts
    python benchmarks/faults.py --quick              # a few trials of each (smoke)

Writes benchmarks/results/reliability.json and benchmarks/results/reliability.md (with an RSS plot).
The trials themselves live in `tests/fault_harness.py`; tests/test_faults.py runs a fast subset in CI.
Every run trains SAC on the toy task (32x32 networks, batch 32); the toy task is chosen because a
trial's cost is then dominated by the fault, not by the simulator.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hybridrl.recipes import resolve
from hybridrl.training.loop import Trainer

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "tests"))
import fault_harness as faults  # noqa: E402 - test infrastructure, outside the package

RESULTS = ROOT / "results"
SMALL = {"agent.hidden_dims": [32, 32], "agent.batch_size": 32, "train.start_steps": 100,
         "train.eval_interval": 100, "train.log_interval": 100, "train.eval_episodes": 4,
         "train.checkpoint_interval": 100, "train.progress": False, "train.tensorboard": False, "train.seed": 2}
STEPS = 400
PARTS = ("fuzz", "atheris", "kill", "kill-recipes", "disk", "poison", "env", "soak", "guard")


def cfg(steps: int = STEPS, **extra: object):  # noqa: ANN201
    return resolve("sac", faults.TOY, {**SMALL, **extra}, online_steps=steps, seed=2)


def reference(work: Path) -> list[dict[str, str]]:
    run = work / "reference"
    if not run.exists():
        Trainer(cfg(), run).run()
    return faults.rows(run)


def part_fuzz(work: Path, n: int) -> dict:
    t = time.time()
    out = faults.fuzz_datasets(n, work / "fuzz")
    return out | {"wall_s": time.time() - t}


def part_atheris(work: Path, runs: int) -> dict:
    corpus = work / "atheris-corpus"
    shutil.rmtree(corpus, ignore_errors=True)  # atheris adds its finds here; start from the seeds each time
    corpus.mkdir(parents=True)
    arrays = faults.valid_arrays(2, 3, 2, 2, seed=0)
    np.savez(corpus / "valid.npz", **arrays)
    faults.write_hdf5(arrays, corpus / "valid.hdf5")
    from hybridrl import checkpoint

    checkpoint.save(corpus / "valid.ckpt", {"w": np.ones((2, 3), np.float32), "step": np.int32(3)}, {"m": 1})
    tags = {".npz": b"\x00", ".hdf5": b"\x01", ".ckpt": b"\x02"}  # the target picks the reader by the first byte
    for p in list(corpus.iterdir()):
        p.write_bytes(tags[p.suffix] + p.read_bytes())
    t = time.time()
    out = subprocess.run([sys.executable, str(ROOT / "fuzz_atheris.py"), f"-runs={runs}", "-max_len=8192",
                          "-rss_limit_mb=4096", "-timeout=30", str(corpus)], capture_output=True, text=True,
                         cwd=work)
    log = out.stdout + out.stderr
    done = [line for line in log.splitlines() if line.startswith("Done ")]
    executed = int(done[-1].split()[1]) if done else None
    crashed = out.returncode != 0
    return {"runs_asked": runs, "runs_executed": executed, "crashes": int(crashed), "wall_s": time.time() - t,
            "log_tail": log[-1500:] if crashed else ""}


def part_kill(work: Path, n_random: int, ref: list) -> dict:
    """SAC on the toy task: kills aimed inside checkpoint writes and evaluations, and at random moments."""
    trials = []
    wheres = [f"checkpoint:{k}" for k in (1, 2, 3, 4)] + [f"eval:{k}" for k in (1, 2, 3, 4)]
    rng = random.Random(0)
    wheres += [f"random:{rng.uniform(0.0, 4.0):.2f}" for _ in range(n_random)]  # s after the first metrics row
    for i, where in enumerate(wheres):
        run = work / f"kill{i}"
        shutil.rmtree(run, ignore_errors=True)
        delay = float(where.split(":")[1]) if where.startswith("random") else 0.0
        out = faults.kill_trial(run, SMALL, STEPS, ref, "random" if where.startswith("random") else where, delay)
        out["where"] = where
        trials.append(out)
        print(f"kill {where}: ok={out['ok']} resumed from {out['killed_at_checkpoint_step']}", flush=True)
    return _kill_summary(trials)


def _kill_summary(trials: list[dict]) -> dict:
    return {"trials": trials, "count": len(trials), "ok": sum(t["ok"] for t in trials),
            "killed_mid_run": sum(not t["finished_before_kill"] for t in trials),
            "resumed_from_checkpoint": sum(t["killed_at_checkpoint_step"] is not None for t in trials),
            "duplicate_rows": sum(t["duplicate_rows"] for t in trials)}


def part_kill_recipes(work: Path, per_recipe: int, recipes: list[str]) -> dict:
    """Every recipe (fingerprint.py's short runs: both phases, the recipe's own columns, mixers and preparation
    steps): `per_recipe` kills each, one aimed inside a checkpoint write, one inside an evaluation, the rest at
    random moments after the first metrics row (offline or online), each resumed and compared row by row with
    the recipe's straight run."""
    from fingerprint import RUNS, TINY, _datasets
    from fingerprint import STEPS as FP_STEPS

    data = _datasets(work)
    rng = random.Random(3)
    trials, per = [], {}
    log = work / "kill-recipes.jsonl"  # one record per finished trial: a rerun with the same --work goes on
    done = {(t["recipe"], t["index"]): t for t in map(json.loads, log.read_text().splitlines())} \
        if log.exists() else {}
    for name in recipes:
        env, kind, extra = RUNS[name]
        overrides = {**TINY, **extra, "train.seed": 0}
        run = {"recipe": name, "env": env, "dataset": data[kind] if kind else None,
               "offline_steps": FP_STEPS["offline"] if kind and name not in ("idm-label", "rlpd") else 0}
        wheres = ["checkpoint:2", "eval:2"] + [f"random:{rng.uniform(0.0, 6.0):.2f}" for _ in range(per_recipe - 2)]
        if all((name, i) in done for i in range(len(wheres))):
            got = [done[(name, i)] for i in range(len(wheres))]
            per[name] = {"count": len(got), "ok": sum(t["ok"] for t in got)}
            trials += got
            continue
        ref_dir = work / f"ref-{name}"
        if not (ref_dir / "metrics.csv").exists():
            shutil.rmtree(ref_dir, ignore_errors=True)
            subprocess.run(faults.child_command(ref_dir, overrides, FP_STEPS["online"], run=run), check=True,
                           capture_output=True)
        ref = faults.rows(ref_dir)
        got = []
        for i, where in enumerate(wheres):
            if (name, i) in done:
                got.append(done[(name, i)])
                continue
            run_dir = work / f"kill-{name}-{i}"
            shutil.rmtree(run_dir, ignore_errors=True)
            delay = float(where.split(":")[1]) if where.startswith("random") else 0.0
            out = faults.kill_trial(run_dir, overrides, FP_STEPS["online"], ref,
                                    "random" if where.startswith("random") else where, delay, run=run)
            out.update(where=where, recipe=name, index=i)
            got.append(out)
            with log.open("a") as f:
                f.write(json.dumps(out, default=str) + "\n")
            print(f"kill {name} {where}: ok={out['ok']} resumed from {out['killed_at_checkpoint_step']}", flush=True)
            shutil.rmtree(run_dir, ignore_errors=True)
        per[name] = {"count": len(got), "ok": sum(t["ok"] for t in got)}
        trials += got
    return {**_kill_summary(trials), "per_recipe": per}


def part_disk(work: Path, n: int, ref: list) -> dict:
    probe = work / "disk-probe"
    if not probe.exists():
        Trainer(cfg(100), probe).run()
    first = (probe / "checkpoints" / "latest.npz").stat().st_size
    full = (work / "reference" / "checkpoints" / "latest.npz").stat().st_size
    trials = []
    for i, size in enumerate(np.linspace(first - 2000, full + 500, n).astype(int)):
        run = work / f"disk{i}"
        shutil.rmtree(run, ignore_errors=True)
        out = faults.disk_full_trial(run, SMALL, STEPS, ref, int(size))
        trials.append(out)
        print(f"disk limit {size}: hit={out['hit']} ok={out['ok']} kept={out['kept_step']} {out['stderr_tail']}",
              flush=True)
    return {"trials": trials, "count": len(trials), "hit": sum(t["hit"] for t in trials),
            "ok": sum(t["ok"] for t in trials), "partial_files": sum(t["partial_files"] for t in trials)}


def part_poison(work: Path, n: int) -> dict:
    rng = random.Random(1)
    trials = []
    for i in range(n):
        value = rng.choice([float("nan"), float("inf"), -float("inf"), 1e12, -1e12])
        at = rng.randint(101, STEPS)
        run = work / f"poison{i}"
        shutil.rmtree(run, ignore_errors=True)
        out = faults.poison_trial(run, cfg(**{"train.divergence_bound": 1e8}), at, value)
        out["ok"] = out["detected"] and out["detected_step"] == at
        trials.append(out)
        print(f"poison {value} at {at}: detected at {out.get('detected_step')}", flush=True)
    return {"trials": trials, "count": n, "detected": sum(t["detected"] for t in trials),
            "detected_at_that_update": sum(t["ok"] for t in trials)}


def part_env(work: Path, n: int, ref: list) -> dict:
    rng = random.Random(2)
    trials = []
    for i in range(n):
        kind = rng.choice(["raise", "nan-obs", "shape", "nan-reward"])
        persistent = rng.random() < 0.5
        at = rng.randint(1, STEPS)
        run = work / f"env{i}"
        shutil.rmtree(run, ignore_errors=True)
        retries = 0 if persistent and rng.random() < 0.5 else 2
        out = faults.env_failure_trial(run, cfg(**{"train.env_retries": retries}), at, kind, persistent,
                                       None if persistent else ref)
        out["retries"] = retries
        out["ok"] = out["buffer_finite"] and ((out["error"] is not None) == persistent) and out["ok"]
        trials.append(out)
        print(f"env {kind} at {at} persistent={persistent} retries={retries}: ok={out['ok']}", flush=True)
    return {"trials": trials, "count": n, "ok": sum(t["ok"] for t in trials),
            "recovered_identically": sum(t["error"] is None and t.get("rows_match", False) for t in trials),
            "stopped_with_diagnostic": sum(t["error"] is not None for t in trials),
            "corrupt_transitions_stored": sum(not t["buffer_finite"] for t in trials)}


def part_soak(work: Path, steps: int, capacity: int) -> dict:
    run = work / "soak"
    shutil.rmtree(run, ignore_errors=True)
    c = cfg(steps, **{"train.buffer_capacity": capacity, "train.eval_interval": steps // 10,
                      "train.log_interval": 1000, "train.checkpoint_interval": steps // 10})
    return faults.soak(run, c, every=max(steps // 50, 1))


def _fuzz_row(f: dict) -> tuple:
    per = ", ".join(f"{k}: {v['loaded']} loaded / {v['refused']} refused" for k, v in sorted(f["by_container"].items()))
    return ("malformed datasets (hypothesis: missing/extra/retyped/reshaped/poisoned fields, damaged Minari metadata, "
            "truncated and bit-flipped files)", f["total"],
            f"**{f['crashes']} crashes** (anything but DataError); {per}; slowest load "
            f"{f['slowest_load_s'] * 1000:.0f} ms")


def _per_recipe(k: dict) -> str:
    return ", ".join(f"{name} {v['ok']}/{v['count']}" for name, v in k["per_recipe"].items())


# Each part's row of the report table: (fault, trials, outcome).
ROWS = {
    "fuzz": _fuzz_row,
    "atheris": lambda a: ("raw bytes as a dataset .npz / .hdf5 or a checkpoint (atheris, coverage-guided, seeded "
                          "with valid files)", a["runs_executed"], f"**{a['crashes']} crashes**"),
    "kill": lambda k: ("SIGKILL (4 inside checkpoint writes before the rename, 4 inside evaluations, the rest at "
                       "random moments 0–4 s after the first metrics row)", k["count"],
                       f"{k['ok']}/{k['count']} resumed to identical rows; {k['resumed_from_checkpoint']} from a "
                       f"checkpoint, the rest restarted (killed before the first); {k['duplicate_rows']} duplicated "
                       "rows"),
    "kill-recipes": lambda k: (
        f"SIGKILL in every recipe ({len(k['per_recipe'])}: fingerprint.py's short runs, offline and online phases, "
        "each recipe's columns, mixers and preparation steps); per recipe one inside a checkpoint write, one inside an "
        "evaluation, the rest at random moments 0–6 s after the first metrics row", k["count"],
        f"{k['ok']}/{k['count']} resumed to rows identical to the recipe's straight run "
        f"({_per_recipe(k)}); "
        f"{k['resumed_from_checkpoint']} from a checkpoint, the rest restarted; {k['duplicate_rows']} duplicated rows"),
    "disk": lambda d: ("files capped by RLIMIT_FSIZE (the kernel refuses the write, EFBIG, as a full disk refuses "
                       "with ENOSPC), cap between the first and the last checkpoint's size", d["count"],
                       f"{d['hit']} hit the cap and stopped with a StorageError naming the file, keeping the "
                       f"previous checkpoint ({sum(t['hit'] and t['kept_step'] is None for t in d['trials'])} of "
                       "them hit it at the first checkpoint: nothing to keep, the run restarted); "
                       f"{d['ok']}/{d['count']} as promised (clear error or none, no partial file, rows identical "
                       f"to the reference after resuming); {d['partial_files']} partial files"),
    "poison": lambda q: ("NaN / ±inf / ±1e12 written into the critic's parameters before a random update",
                         q["count"], f"{q['detected']}/{q['count']} detected, "
                         f"{q['detected_at_that_update']}/{q['count']} at that very update"),
    "env": lambda e: ("env raising, NaN observation, misshapen observation, NaN reward; transient or persistent; "
                      "0 or 2 retries", e["count"],
                      f"{e['ok']}/{e['count']} as promised: {e['recovered_identically']} recovered on a fresh env "
                      f"with identical rows, {e['stopped_with_diagnostic']} stopped naming step and episode; "
                      f"{e['corrupt_transitions_stored']} corrupt transitions stored"),
    "soak": lambda s: (f"soak: {s['steps']:,} online steps, buffer of {s['buffer_capacity']:,} wrapping "
                       f"{s['wraps']:.0f} times, RSS sampled every {s['steps'] // 50:,} steps", 1,
                       f"RSS {s['rss_after_quarter_mb']:.0f} MB after a quarter, {s['rss_end_mb']:.0f} MB at the "
                       f"end (**{s['growth_after_quarter_mb']:+.1f} MB**); {s['wall_s']:.0f} s"),
    "guard": lambda g: (f"cost of the divergence guard: a 256x256 SAC chunk of {g['updates_per_call']} updates with "
                        f"and without it, timed alternately ({g['calls_each']} calls each, medians)", 1,
                        f"{g['guarded_updates_per_sec']:.0f} vs {g['plain_updates_per_sec']:.0f} updates/s: "
                        f"**{g['overhead']:+.1%}**"),
}


def write_report(result: dict, path_md: Path) -> None:
    runs: dict[tuple[str, str], list[str]] = {}
    for name, part in result["parts"].items():  # parts may come from separate runs (--only)
        runs.setdefault((part.get("command", result["command"]), part.get("commit", result["commit"])), []).append(name)
    lines = ["# Reliability: fault injection with counts (issue 8)", "",
             *[f"- `{cmd}` at commit `{commit}`: {', '.join(names)}" for (cmd, commit), names in runs.items()], "",
             f"Machine: {result['machine']}. Date: {result['date']}.", "",
             "Every training run is SAC on the toy task (32x32, batch 32, 400 online steps, checkpoint and "
             "evaluation every 100 steps, seed 2), except the kill-recipes part, which runs each recipe's "
             "`benchmarks/fingerprint.py` run (32x32, 300 offline updates where the recipe has them, 600 online "
             "steps, checkpoint and evaluation every 200); the reference is the same run uninterrupted, and a trial "
             "passes only if the broken-then-resumed run's metrics.csv equals the reference's row for row "
             "(wall-clock columns aside). Trials live in `tests/fault_harness.py`.", "",
             "| fault | trials | outcome |", "|---|---:|---|"]
    p = result["parts"]
    for part in PARTS:  # one table row per part present, in a fixed order
        if part in p:
            lines.append("| " + " | ".join(str(cell) for cell in ROWS[part](p[part])) + " |")
    lines += ["", "Raw trial records: `reliability.json`."]
    if "soak" in p:
        lines += ["", "![RSS during the soak run](reliability-rss.png)"]
    path_md.write_text("\n".join(lines) + "\n")


def plot_rss(samples: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, rss = zip(*samples, strict=True)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(steps, rss, marker=".")
    ax.set_xlabel("online step")
    ax.set_ylabel("RSS (MB)")
    ax.set_ylim(0, max(rss) * 1.1)
    ax.set_title("soak run: resident memory")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", choices=PARTS, default=list(PARTS))
    ap.add_argument("--quick", action="store_true", help="a few trials of each part (smoke)")
    ap.add_argument("--random-kills", type=int, default=16, help="kills at random moments (besides the 8 aimed ones)")
    ap.add_argument("--kills-per-recipe", type=int, default=8, help="kill-recipes: trials per recipe")
    ap.add_argument("--recipes", nargs="*", default=None, help="kill-recipes: these recipes only (default: all)")
    ap.add_argument("--work", default=None, help="scratch directory (default: a new temporary one)")
    ap.add_argument("--out", default=str(RESULTS), help="where reliability.md/json go")
    args = ap.parse_args()
    q = args.quick
    work = Path(args.work or tempfile.mkdtemp(prefix="hybridrl-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "reliability.json"
    previous = json.loads(json_path.read_text()) if json_path.exists() else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    result = {"command": "python benchmarks/faults.py " + " ".join(sys.argv[1:]), "commit": commit,
              "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, 2 cores, Linux, CPU only",
              "date": time.strftime("%Y-%m-%d"), "parts": dict(previous.get("parts", {}))}
    ref = reference(work) if {"kill", "disk", "env"} & set(args.only) else []
    for part in args.only:
        t = time.time()
        print(f"== {part}", flush=True)
        if part == "fuzz":
            r = part_fuzz(work, 100 if q else 3000)
        elif part == "atheris":
            r = part_atheris(work, 200 if q else 5000)
        elif part == "kill":
            r = part_kill(work, 2 if q else args.random_kills, ref)
        elif part == "kill-recipes":
            from fingerprint import RUNS

            r = part_kill_recipes(work, 2 if q else args.kills_per_recipe, args.recipes or list(RUNS))
        elif part == "disk":
            r = part_disk(work, 2 if q else 8, ref)
        elif part == "poison":
            r = part_poison(work, 2 if q else 20)
        elif part == "env":
            r = part_env(work, 3 if q else 24, ref)
        elif part == "soak":
            r = part_soak(work, 5000 if q else 100_000, 1000)
            plot_rss(r["samples"], out_dir / "reliability-rss.png")
        else:  # timed: run it alone on the machine
            r = faults.guard_overhead(5.0 if q else 30.0)
        r["part_wall_s"] = time.time() - t
        r["command"], r["commit"], r["date"] = result["command"], commit, result["date"]
        result["parts"][part] = r
        json_path.write_text(json.dumps(result, indent=1, default=str))
        write_report(result, out_dir / "reliability.md")
    print((out_dir / "reliability.md").read_text())


if __name__ == "__main__":
    main()
