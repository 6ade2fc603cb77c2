"""d3rlpy side of the side-by-side check (run with the d3rlpy virtual environment's python).

    PY=/path/to/d3rlpy-venv/bin/python
    $PY benchmarks/peers/d3rlpy_run.py iql --dataset DATA.npz --env Hopper-v5 --steps 20000 --seed 0
    $PY benchmarks/peers/d3rlpy_run.py sac --env Hopper-v5 --steps 20000 --seed 0
    $PY benchmarks/peers/d3rlpy_run.py iql-o2o --dataset DATA.npz --env Hopper-v5 --steps 5000 --online-steps 5000

Prints one JSON line: updates/s over training, wall time, and the final evaluation return (10 episodes,
deterministic policy). Settings mirror hybridrl's: 256x256 MLPs, batch 256, lr 3e-4, γ 0.99, τ 0.005.
"""
from __future__ import annotations

import argparse
import json
import time

import d3rlpy
import gymnasium as gym
import numpy as np


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("algo", choices=["iql", "sac", "iql-o2o"])
    p.add_argument("--dataset")
    p.add_argument("--env", default="Hopper-v5")
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--random-steps", type=int, default=5_000)
    p.add_argument("--online-steps", type=int, default=0, help="iql-o2o: fine-tuning env steps after --steps")
    p.add_argument("--reward-scale", choices=["none", "return-range"], default="none",
                   help="return-range: rewards x 1000 / (max - min episode return), as IQL's code and d3rlpy's "
                        "IQL reproduction script")
    p.add_argument("--actor-cosine", action="store_true",
                   help="cosine-anneal the actor lr over --steps (IQL's offline protocol; d3rlpy's reproduction)")
    args = p.parse_args()
    t_start = time.time()  # iql-o2o reports the whole pipeline: data, offline phase, online phase
    d3rlpy.seed(args.seed)
    enc = d3rlpy.models.VectorEncoderFactory([args.hidden, args.hidden])
    env = gym.make(args.env)
    noop = d3rlpy.logging.NoopAdapterFactory()
    if args.algo in ("iql", "iql-o2o"):
        z = np.load(args.dataset)
        data = d3rlpy.dataset.MDPDataset(observations=z["observations"], actions=z["actions"],
                                         rewards=z["rewards"], terminals=z["terminals"].astype(np.float32),
                                         timeouts=z["truncations"].astype(np.float32))
        extra = {}
        if args.reward_scale == "return-range":  # fitted on the dataset's episodes, then applied to every batch
            extra["reward_scaler"] = d3rlpy.preprocessing.ReturnBasedRewardScaler(multiplier=1000.0)
        if args.actor_cosine:
            extra["actor_optim_factory"] = d3rlpy.optimizers.AdamFactory(
                lr_scheduler_factory=d3rlpy.optimizers.CosineAnnealingLRFactory(T_max=args.steps))
        algo = d3rlpy.algos.IQLConfig(actor_encoder_factory=enc, critic_encoder_factory=enc,
                                      value_encoder_factory=enc, batch_size=args.batch, expectile=0.7,
                                      weight_temp=3.0, max_weight=100.0, **extra).create(device="cpu:0")
        t = time.time()
        algo.fit(data, n_steps=args.steps, n_steps_per_epoch=args.steps, show_progress=False, logger_adapter=noop,
                 save_interval=10**9)
        wall = time.time() - t
        updates = args.steps
        if args.algo == "iql-o2o":  # fine-tune with the offline data kept in the buffer (uniform replay)
            buffer = d3rlpy.dataset.create_fifo_replay_buffer(limit=len(z["observations"]) + args.online_steps + 1,
                                                              episodes=data.episodes, env=env)
            algo.fit_online(env, buffer, n_steps=args.online_steps, n_steps_per_epoch=args.online_steps,
                            random_steps=0, show_progress=False, logger_adapter=noop, save_interval=10**9)
            wall = time.time() - t_start
            updates += args.online_steps
    else:
        algo = d3rlpy.algos.SACConfig(actor_encoder_factory=enc, critic_encoder_factory=enc,
                                      batch_size=args.batch).create(device="cpu:0")
        buffer = d3rlpy.dataset.create_fifo_replay_buffer(limit=args.steps + 1, env=env)
        t = time.time()
        algo.fit_online(env, buffer, n_steps=args.steps, n_steps_per_epoch=args.steps,
                        random_steps=args.random_steps, update_start_step=args.random_steps,
                        show_progress=False, logger_adapter=noop, save_interval=10**9)
        # update_start_step: d3rlpy otherwise updates during the random warm-up (from the 257th step), i.e.
        # more updates than hybridrl's start_steps gives and than the `updates` counted below
        wall = time.time() - t
        updates = args.steps - args.random_steps
    score = d3rlpy.metrics.evaluate_qlearning_with_environment(algo, gym.make(args.env), n_trials=10)
    print(json.dumps({"peer": "d3rlpy", "version": d3rlpy.__version__, "algo": args.algo, "seed": args.seed,
                      "online_steps": args.online_steps, "reward_scale": args.reward_scale,
                      "actor_cosine": args.actor_cosine,
                      "steps": args.steps, "wall_seconds": wall, "updates_per_sec": updates / wall,
                      "eval_return": float(score)}))


if __name__ == "__main__":
    main()
