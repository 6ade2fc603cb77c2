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
    p.add_argument("--out", default=str(ROOT / "results" / "datasets.json"))
    args = p.parse_args()
    os.environ["HYBRIDRL_DATA"] = tempfile.mkdtemp(prefix="hybridrl-data-")  # a clean cache
    from hybridrl.data import suite

    names = [n for n in suite.SUITE if n.endswith("-small")] if args.small else args.names
    rows, start = [], time.time()
    for name in names:
        t = time.time()
        suite.build(name)
        info = suite.built_info(name)
        info["wall_seconds_incl_base"] = round(time.time() - t, 1)
        rows.append(info)
        print(json.dumps({k: info.get(k) for k in ("name", "transitions", "episodes", "behaviour_return",
                                                     "normalized_score", "wall_seconds_incl_base")}))
    total = time.time() - start
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.exists() else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    old.update({r["name"]: {**r, "commit": commit, "machine": platform.machine()} for r in rows})
    old["_last_run"] = {"names": names, "total_seconds": round(total, 1), "commit": commit}
    out.write_text(json.dumps(old, indent=2))
    print(f"total {total:.1f}s for {len(names)} datasets")
    write_markdown(old, out.with_suffix(".md"))


def write_markdown(d: dict, path: Path) -> None:
    last = d["_last_run"]
    rows = [d[n] for n in last["names"]]
    lines = ["# Built-in datasets: build times and behaviour scores", "",
             "Command: `python benchmarks/datasets.py --small` (a clean `$HYBRIDRL_DATA`; background jobs paused).",
             f"Commit `{last['commit']}` · the project's 2-core x86_64 VM, CPU · total **{last['total_seconds']} s** "
             f"for all {len(rows)} `-small` datasets (target: under 2 minutes).", "",
             "| dataset | transitions | episodes | behaviour return (mean ± std per episode) | normalised | build s |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        ret = (f"{r['behaviour_return']:.1f} ± {r['behaviour_return_std']:.1f}"
               if r.get("behaviour_return") is not None else "— (no rewards)")
        norm = f"{r['normalized_score']:.1f}" if r.get("normalized_score") is not None else "—"
        lines.append(f"| `{r['name']}` | {r['transitions']:,} | {r['episodes']} | {ret} | {norm} | "
                     f"{r['wall_seconds_incl_base']} |")
    lines += ["", "Maze returns count goals reached per 1000-step episode (sparse reward 1 per arrival; goals are",
              "redrawn on arrival). Variants (`-actionfree`, `-limited`) are cut from their base dataset's",
              "trajectories, so they take well under a second once the base is built. Locomotion normalised",
              "scores use D4RL's reference returns until the suite ships its own expert policies."]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
