#!/usr/bin/env bash
# Stage a sweep's finished runs for commit, without their checkpoints and policy snapshots, so that a later session on a
# fresh machine skips them (`hybridrl sweep` treats a run with done.json as finished) and `hybridrl report` still
# reads them. Interrupted runs are not staged: they need their checkpoints, which stay on the machine.
# --pretrained also stages each finished run's checkpoints/offline.npz (its agent at the offline→online switch), which
# the sweep's `from:` entries fine-tune from: a grid whose fine-tuning runs go on in another session needs it.
#   bash benchmarks/keep_done.sh benchmarks/runs/claim-calql && git commit -m "claim-calql: finished runs"
#   bash benchmarks/keep_done.sh benchmarks/runs/claim-mscp-200k --pretrained
set -euo pipefail
out=${1:?usage: keep_done.sh SWEEP_OUT [--pretrained]}
files="done.json config.json metrics.csv"
[ "${2:-}" = "--pretrained" ] && files="$files checkpoints/offline.npz"
find "$out" -name done.json | while read -r done; do
  run=$(dirname "$done")
  for f in $files; do
    [ -f "$run/$f" ] && git add -f "$run/$f"
  done
done
[ -f "$out/sweep.json" ] && git add -f "$out/sweep.json"
git status --short -- "$out" | wc -l | xargs echo "files staged under $out:"
