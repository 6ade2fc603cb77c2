"""How close is FQL's update to the machine's matmul rate? If ours already runs near the peak float32 matmul rate of
one core, no implementation of the same arithmetic (the authors' included) can be much slower than a small factor
behind it, and a speed target of "2x the authors" is bounded by that fraction, not by overhead.

    taskset -c 0 python benchmarks/fql_flops.py --widths 64 128 256 --seconds 10

Ours: the jitted update of `agents/fql.py` (one minibatch, batch 256, OGBench cube-single sizes: 28-dim observations,
5-dim actions, 4xH critic, flow and one-step policy), its FLOPs from XLA's cost analysis. Peak: an n x n float32
matmul (n = 1024 and 2048) under XLA, timed the same way. Run it on an otherwise idle core.
"""
from __future__ import annotations

import argparse
import json
import platform

import jax
import jax.numpy as jnp

from hybridrl.agents.fql import FQLAgent, FQLConfig
from hybridrl.bench.throughput import _flops, _time_calls

OBS, ACT, BATCH = 28, 5, 256


def batch(key: jax.Array) -> dict:
    k1, k2, k3 = jax.random.split(key, 3)
    return {"observations": jax.random.normal(k1, (1, BATCH, OBS)), "actions": jnp.tanh(jax.random.normal(
        k2, (1, BATCH, ACT))), "rewards": jax.random.normal(k3, (1, BATCH)),
        "next_observations": jax.random.normal(k3, (1, BATCH, OBS)), "masks": jnp.ones((1, BATCH))}


def measure(width: int, seconds: float) -> dict:
    key = jax.random.PRNGKey(0)
    agent = FQLAgent.create(key, OBS, ACT, FQLConfig(hidden_dims=(width,) * 4, batch_size=BATCH))
    b = batch(key)
    state = {"agent": agent}
    update = jax.jit(lambda a, x, k: a.update(x, k), donate_argnums=0)

    def call():
        state["agent"], info = update(state["agent"], b, key)
        return info

    per_call, calls = _time_calls(call, seconds)
    one = jax.tree_util.tree_map(lambda x: x[0], b)
    flops = _flops(lambda a, x, k: a.update_step(x, k), agent, one, key)
    return {"width": width, "updates_per_sec": 1 / per_call, "flops_per_update": flops,
            "flops_per_sec": flops / per_call, "timed_calls": calls}


def peak(n: int, seconds: float) -> float:
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    per_call, _ = _time_calls(lambda: f(a), seconds)
    return 2 * n**3 / per_call


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--widths", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--json")
    args = p.parse_args()
    out = {"machine": platform.processor() or platform.machine(), "jax": jax.__version__,
           "peak": {n: peak(n, min(args.seconds, 5)) for n in (1024, 2048)}, "rows": []}
    top = max(out["peak"].values())
    print("peak float32 matmul: " + ", ".join(f"{n}: {v / 1e9:.1f} GFLOP/s" for n, v in out["peak"].items()))
    for w in args.widths:
        r = measure(w, args.seconds)
        r["fraction_of_peak"] = r["flops_per_sec"] / top
        out["rows"].append(r)
        print(f"4x{w}: {r['updates_per_sec']:.1f} updates/s, {r['flops_per_update'] / 1e6:.0f} MFLOP/update, "
              f"{r['flops_per_sec'] / 1e9:.1f} GFLOP/s = {r['fraction_of_peak']:.0%} of peak")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
