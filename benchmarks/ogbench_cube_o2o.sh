#!/bin/bash
# Issue 22 benchmark: cube-single-play-singletask-task2 on the generated ogbench-cube-single-play data, 40k offline
# updates + 20k online env steps, 4x128 networks, 25 evaluation episodes every 20k steps, seeds 0-2; two lanes of one
# process each (2 cores). hybridrl from a source snapshot ($HYBRIDRL_SRC/src), the authors' FQL from $FQL_DIR.
#   HYBRIDRL_DATA=... HYBRIDRL_SRC=... FQL_DIR=... OUT=... bash benchmarks/ogbench_cube_o2o.sh
# Finished runs (a `done` file) are skipped; an interrupted hybridrl run resumes from its checkpoint.
export PYTHONPATH=$HYBRIDRL_SRC/src
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
RUNS=$OUT/runs/cube-single-task2
HY=${HY:-hybridrl}
COMMON="--dataset ogbench-cube-single-play --env cube-single-singletask-task2-v0 --no-progress
 --set agent.hidden_dims=[128,128,128,128] --set train.eval_interval=20000 --set train.eval_episodes=25
 --set train.log_interval=2000 --set train.checkpoint_interval=20000 --set train.tensorboard=false"
ours() {  # recipe seed offline online [extra --set ...]
  local r=$1 s=$2 off=$3 on=$4; shift 4
  local d=$RUNS/$r/seed$s
  [ -f $d/done ] && return
  local t0=$(date +%s)
  if [ -f $d/checkpoints/latest.npz ]; then
    $HY train --resume --out $d --offline-steps $off --online-steps $on --no-progress > $d.log 2>&1
  else
    mkdir -p $(dirname $d); $HY train --recipe $r --seed $s --offline-steps $off --online-steps $on --out $d $COMMON "$@" > $d.log 2>&1
  fi && echo $(( $(date +%s) - t0 )) > $d/done
}
peer() {
  local s=$1
  local d=$OUT/peer/seed$s
  [ -f $d/done ] && return
  rm -rf $d; mkdir -p $d; local t0=$(date +%s)
  $FQL_DIR/run.sh $s 40000 20000 128 $FQL_DIR/data $d 20000 25 > $d.log 2>&1 && echo $(( $(date +%s) - t0 )) > $d/done
}
# 2026-12-02 (commit 597b51d): lane a ran fql 0-2, lane b the authors' FQL 0-2 then rlpd 0-2; qc-fql is next.
lane_a() { ours fql 0 40000 20000; ours fql 1 40000 20000; ours fql 2 40000 20000
  for s in 0 1 2; do ours qc-fql $s 40000 20000; done; }
lane_b() { peer 0; peer 1; peer 2
  for s in 0 1 2; do ours rlpd $s 0 20000 --set agent.utd=1; done; }
[ "$1" = b ] || lane_a > $OUT/lane_a.log 2>&1 &
[ "$1" = a ] || lane_b > $OUT/lane_b.log 2>&1 &
wait
