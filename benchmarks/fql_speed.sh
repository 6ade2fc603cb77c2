#!/bin/bash
# FQL updates/s, hybridrl beside the authors' code (benchmarks/peers/fql_authors/), one core each, at 4xH for H in
# WIDTHS, 3,000 offline updates on OGBench cube-single-play task2. Results: benchmarks/results/ogbench-cube-o2o.md.
#   PEER_DATA=DIR_WITH_cube-single-play-v0.npz OUT=/tmp/fqlspeed bash benchmarks/fql_speed.sh
# Run it with nothing else on core ${CORE:-0}. Prints updates/s of the rows after the first (which holds compilation).
set -e
cd "$(dirname "$0")/.."
CORE=${CORE:-0}; OUT=${OUT:-/tmp/fqlspeed}; WIDTHS=${WIDTHS:-64 128 256}
DATA=${PEER_DATA:?set PEER_DATA to the folder holding cube-single-play-v0.npz and its -val file}
mkdir -p "$OUT"
for H in $WIDTHS; do
  rm -rf "$OUT/peer-$H" "$OUT/ours-$H"
  taskset -c "$CORE" bash benchmarks/peers/fql_authors/run.sh 0 3000 0 "$H" "$DATA" "$OUT/peer-$H" 100000 1 \
    > "$OUT-peer-$H.log" 2>&1
  taskset -c "$CORE" .venv/bin/hybridrl train --recipe fql --dataset "$DATA/cube-single-play-v0.npz" \
    --env cube-single-singletask-task2-v0 --offline-steps 3000 --online-steps 0 --out "$OUT/ours-$H" --no-progress \
    --set "agent.hidden_dims=[$H,$H,$H,$H]" --set train.eval_interval=100000 --set train.log_interval=1000 \
    --set train.offline_chunk=1000 --set train.tensorboard=false > /dev/null
  .venv/bin/python - "$H" "$(find "$OUT/peer-$H" -name train.csv | head -1)" "$OUT/ours-$H/metrics.csv" <<'PY'
import csv, sys
h, theirs, ours = sys.argv[1:]
t = [round(1 / float(r["time/epoch_time"]), 1) for r in csv.DictReader(open(theirs))][1:]
o = [round(float(r["steps_per_sec"]), 1) for r in csv.DictReader(open(ours))][1:]
print(f"4x{h}: hybridrl {o} updates/s, authors' FQL {t} it/s")
PY
done
