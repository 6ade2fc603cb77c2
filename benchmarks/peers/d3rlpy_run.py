"""d3rlpy side of the side-by-side check (run with the d3rlpy virtual environment's python).

    PY=/path/to/d3rlpy-venv/bin/python
    $PY benchmarks/peers/d3rlpy_run.py iql --dataset DATA.npz --env Hopper-v5 --steps 20000 --seed 0
    $PY benchmarks/peers/d3rlpy_run.py sac --env Hopper-v5 --steps 20000 --seed 0

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
    p.add_argument("algo", choices=["iql", "sac"])
    p.add_argument("--dataset")
    p.add_argument("--env", default="Hopper-v5")
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--random-steps", type=int, default=5_000)
    args = p.parse_args()
    d3rlpy.seed(args.seed)
    enc = d3rlpy.models.VectorEncoderFactory([args.hidden, args.hidden])
    env = gym.make(args.env)
    noop = d3rlpy.logging.NoopAdapterFactory()
    if args.algo == "iql":
        z = np.load(args.dataset)
        data = d3rlpy.dataset.MDPDataset(observations=z["observations"], actions=z["actions"],
                                         rewards=z["rewards"], terminals=z["terminals"].astype(np.float32),
                                         timeouts=z["truncations"].astype(np.float32))
        algo = d3rlpy.algos.IQLConfig(actor_encoder_factory=enc, critic_encoder_factory=enc,
                                      value_encoder_factory=enc, batch_size=args.batch, expectile=0.7,
                                      weight_temp=3.0, max_weight=100.0).create(device="cpu:0")
        t = time.time()
        algo.fit(data, n_steps=args.steps, n_steps_per_epoch=args.steps, show_progress=False, logger_adapter=noop,
                 save_interval=10**9)
        wall = time.time() - t
        updates = args.steps
    else:
        algo = d3rlpy.algos.SACConfig(actor_encoder_factory=enc, critic_encoder_factory=enc,
                                      batch_size=args.batch).create(device="cpu:0")
        buffer = d3rlpy.dataset.create_fifo_replay_buffer(limit=args.steps + 1, env=env)
        t = time.time()
        algo.fit_online(env, buffer, n_steps=args.steps, n_steps_per_epoch=args.steps,
                        random_steps=args.random_steps, show_progress=False, logger_adapter=noop,
                        save_interval=10**9)
        wall = time.time() - t
        updates = args.steps - args.random_steps
    score = d3rlpy.metrics.evaluate_qlearning_with_environment(algo, gym.make(args.env), n_trials=10)
    print(json.dumps({"peer": "d3rlpy", "version": d3rlpy.__version__, "algo": args.algo, "seed": args.seed,
                      "steps": args.steps, "wall_seconds": wall, "updates_per_sec": updates / wall,
                      "eval_return": float(score)}))


if __name__ == "__main__":
    main()
