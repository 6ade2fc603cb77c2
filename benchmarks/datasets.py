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


if __name__ == "__main__":
    main()
