#!/bin/bash
# run.sh SEED OFFLINE ONLINE HIDDEN DATA_DIR OUT_DIR [EVAL_INTERVAL] [EVAL_EPISODES]
# The authors' FQL (seohongpark/fql 719d044) on cube-single-play-singletask-task2-v0, alpha 300 (their README),
# 4 hidden layers of width HIDDEN. The XLA thread flags are set but jax 0.10 ignores them: pin with taskset.
set -e
SEED=$1; OFF=$2; ON=$3; H=$4; DATA=$5; OUT=$6; EI=${7:-100000}; EE=${8:-50}
cd "${FQL_DIR:-/root/peers/fql}"
export DATASET_DIR=$DATA WANDB_MODE=disabled WANDB_SILENT=true
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
exec venv/bin/python launch.py --seed=$SEED --env_name=cube-single-play-singletask-task2-v0 --agent.alpha=300 \
  --offline_steps=$OFF --online_steps=$ON --eval_interval=$EI --eval_episodes=$EE --log_interval=1000 \
  --save_dir=$OUT --agent.actor_hidden_dims="($H,$H,$H,$H)" --agent.value_hidden_dims="($H,$H,$H,$H)"
