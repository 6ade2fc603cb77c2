"""Online steps per second of SAC (256x256, batch 256, Hopper-v5 shapes) against the replay buffer's capacity:
the loop's own jitted insert + update calls, 200 timed steps after 3 warm-up steps, no env.

    python benchmarks/online_step_capacity.py 4000 1000000
"""
from __future__ import annotations

import sys
import tempfile
import time

import jax
import numpy as np

from hybridrl.recipes import resolve
from hybridrl.training.loop import Trainer


def steps_per_sec(capacity: int, steps: int = 200) -> float:
    cfg = resolve("sac", "Hopper-v5", {"agent.hidden_dims": [256, 256], "train.start_steps": 0, "train.progress": False,
                                       "train.tensorboard": False, "train.buffer_capacity": capacity},
                  online_steps=1_000_000)
    t = Trainer(cfg, tempfile.mkdtemp())
    tr = {k: np.asarray(v) for k, v in t._example_transition().items()}
    obs = np.zeros(t.obs_dim, np.float32)

    def one() -> jax.Array:
        t.carry = t._insert_fn(t.carry, tr, np.bool_(False))
        t.carry, action, _ = t._step_fn(t.carry, None, obs, train=True, act="agent", repeats=1)
        return action

    for _ in range(3):
        jax.block_until_ready(one())
    start = time.perf_counter()
    for _ in range(steps):
        np.asarray(one())
    return steps / (time.perf_counter() - start)


if __name__ == "__main__":
    for cap in [int(c) for c in sys.argv[1:]] or [4000, 1_000_000]:
        print(f"capacity {cap:>9,}: {steps_per_sec(cap):.1f} online steps/s")
