"""Build built-in datasets from a clean cache, timing each; write benchmarks/results/datasets.md.

    python benchmarks/datasets.py --small          # every -small dataset (the CI/demo sizes)
    python benchmarks/datasets.py NAME [NAME ...]  # chosen ones (e.g. full-size)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("names", nargs="*")
    p.add_argument("--small", action="store_true", help="all datasets whose name ends in -small")
    p.add_argument("--jobs", type=int, default=2, help="rollouts in this many processes (the VM has 2 cores)")
    p.add_argument("--out", default=str(ROOT / "results" / "datasets.json"))
    p.add_argument("--note", default="", help="what else the machine was doing (written beside the timings)")
    args = p.parse_args()
    os.environ["HYBRIDRL_DATA"] = tempfile.mkdtemp(prefix="hybridrl-data-")  # a clean cache
    from hybridrl.data import suite

    # OGBench's sets have their own generator and timings (results/ogbench-datasets.md)
    names = ([n for n, spec in suite.SUITE.items() if n.endswith("-small") and spec.kind != "ogbench"]
             if args.small else args.names)
    start = time.time()
    suite.build_many(names, jobs=args.jobs)
    total = time.time() - start
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    rows = []
    for name in names:
        info = suite.built_info(name)
        rows.append({**info, "commit": commit, "machine": platform.machine()})
        print(json.dumps({k: info.get(k) for k in ("name", "transitions", "episodes", "behaviour_return",
                                                     "normalized_score", "build_seconds")}))
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.exists() else {}
    old = {k: v for k, v in old.items() if k.startswith("_") or k in suite.SUITE}  # drop retired names
    old.update({r["name"]: r for r in rows})
    key = "_small_run" if args.small else "_full_run"
    old[key] = {"names": names, "total_seconds": round(total, 1), "commit": commit, "jobs": args.jobs,
                "note": args.note}
    out.write_text(json.dumps(old, indent=2))
    print(f"total {total:.1f}s for {len(names)} datasets")
    write_markdown(old, out.with_suffix(".md"))


def _table(d: dict, names: list[str]) -> list[str]:
    from hybridrl.envs import normalized_score  # current references, not those at build time

    lines = ["| dataset | transitions | episodes | behaviour return (mean ± std per episode) | normalised | build s |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in (d[n] for n in names if n in d):
        ret = (f"{r['behaviour_return']:.1f} ± {r['behaviour_return_std']:.1f}"
               if r.get("behaviour_return") is not None else "— (no rewards)")
        score = normalized_score(r["env"], r["behaviour_return"]) if r.get("behaviour_return") is not None else None
        norm = f"{score:.1f}" if score is not None else "—"
        lines.append(f"| `{r['name']}` | {r['transitions']:,} | {r['episodes']} | {ret} | {norm} | "
                     f"{r['build_seconds']} |")
    return lines


def write_markdown(d: dict, path: Path) -> None:
    lines = ["# Built-in datasets: build times and behaviour scores", ""]
    if "_small_run" in d:
        run = d["_small_run"]
        lines += ["## Every `-small` dataset from a clean cache", "",
                  f"Command: `python benchmarks/datasets.py --small --jobs {run['jobs']}` (a clean `$HYBRIDRL_DATA`; "
                  f"{run.get('note') or 'background jobs paused'}).",
                  f"Commit `{run['commit']}` · 2-core x86_64 VM, CPU · total **{run['total_seconds']} s** "
                  f"wall for all {len(run['names'])} `-small` datasets (target: under 2 minutes). "
                  f"`build s` is each dataset's own build time (rollouts run {run['jobs']} at a time).", "",
                  *_table(d, run["names"]), ""]
    if "_full_run" in d:
        run = d["_full_run"]
        lines += ["## Full-size datasets", "",
                  f"Command: `python benchmarks/datasets.py --jobs {run['jobs']} {' '.join(run['names'])}`.",
                  f"Commit `{run['commit']}` · total **{run['total_seconds']} s** wall.", "",
                  *_table(d, run["names"]), ""]
    else:
        lines += ["Full-size datasets (1M transitions; medium-replay as many as the behaviour run took to reach its "
                  "medium policy) build on first use; none has been timed on the current behaviour policies.", ""]
    lines += ["Maze returns count goals reached per 1000-step episode (sparse reward 1 per arrival; goals are",
              "redrawn on arrival). Variants (`-actionfree`, `-limited`, `medium-expert`) are cut from or joined",
              "from their base datasets, so they take about a second once the bases are built. Locomotion",
              "normalised scores: 100·(R − R_random)/(R_expert − R_random) with the suite's own references",
              "(`hybridrl.envs.make.SUITE_REFERENCE_SCORES`: the uniform-random policy and the shipped expert policy)."]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
