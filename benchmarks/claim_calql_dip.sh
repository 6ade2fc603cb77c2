#!/bin/bash
# Issue 19, claim 2: the dip at the switch at a fine grain. Fine-tunes one arm's pre-trained agent of
# benchmarks/sweeps/claim-calql-200k.yaml (its checkpoints/offline.npz) for the first ONLINE steps, evaluating every
# EVERY env steps (10 episodes), once per online seed in SEEDS; one process, one XLA thread.
#   ARM=cql-fixed-alpha bash benchmarks/claim_calql_dip.sh
#   python benchmarks/claim_calql.py benchmarks/runs/calql-dip --early 5000 --only '*/*/seed*'
set -e
cd "$(dirname "$0")/.."
ARM=${ARM:?set ARM to an arm of claim-calql-200k.yaml, e.g. cal-ql-fixed-alpha}
PRE=${PRE:-benchmarks/runs/claim-calql-200k/maze-medium-fixed/$ARM/seed0}
OUT=${OUT:-benchmarks/runs/calql-dip/maze-medium-fixed/$ARM}
ONLINE=${ONLINE:-20000}; EVERY=${EVERY:-1000}; SEEDS=${SEEDS:-0 1 2}
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" OMP_NUM_THREADS=1
for s in $SEEDS; do
  grep -qs "^$ONLINE,online" "$OUT/seed$s/metrics.csv" && continue  # finished
  rm -rf "$OUT/seed$s"
  .venv/bin/hybridrl train --from-checkpoint "$PRE" --offline-steps 0 --online-steps "$ONLINE" --seed "$s" \
    --out "$OUT/seed$s" --no-progress --set train.eval_interval="$EVERY" --set train.eval_episodes=10 \
    --set train.log_interval="$EVERY" --set train.tensorboard=false > "$OUT.seed$s.log" 2>&1
done
