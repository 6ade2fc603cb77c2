"""Our SAC / RLPD learner update and the yardstick's (../shared/yardsticks/ref_sac_jax.py) interleaved in one process,
so that machine drift between two programs' runs hits both sides alike. Prints updates/s per rep (CPU and wall time).

    taskset -c 0 python benchmarks/yardstick_interleaved.py ref,ours 8          # RLPD: c_rlpd vs ours
    taskset -c 0 python benchmarks/yardstick_interleaved.py ref_a,ours_sac 8    # SAC: a vs ours
    # ours_noinfo / ours_sac_noinfo: the same update with its metrics dropped (what the info dict costs)
"""
from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from hybridrl.agents.sac import SACAgent
from hybridrl.bench.throughput import ACT_DIM, OBS_DIM, PRESETS, _batch

UTD = 20  # c_rlpd's critic steps per call
YARDSTICK = Path(__file__).resolve().parents[2] / "shared" / "yardsticks" / "ref_sac_jax.py"


def _yardstick() -> Any:
    spec = importlib.util.spec_from_file_location("ref_sac_jax", YARDSTICK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_ref(rlpd: bool) -> Callable[[], Any]:
    ref = _yardstick()
    init, critic_step, actor_step, full_update = ref.build(10, True, 2) if rlpd else ref.build(2, False, 2)
    buf = ref.make_buffer()

    def rlpd_call(s: Any, buf: Any) -> Any:
        s, (obs, lc) = jax.lax.scan(lambda s, _: critic_step(s, buf), s, None, length=UTD)
        s, la = actor_step(s, obs[-1])
        return s, (lc, la)

    fn = jax.jit(rlpd_call if rlpd else full_update, donate_argnums=0)
    state = {"s": init()}

    def call() -> Any:
        state["s"], out = fn(state["s"], buf)
        return out

    return call


def make_ours(name: str, with_info: bool = True) -> Callable[[], Any]:
    cfg = PRESETS[name]
    key = jax.random.PRNGKey(0)
    batches = _batch(key, (cfg.utd, cfg.batch_size))
    update = jax.jit((lambda a, b, k: a.update(b, k)) if with_info else (lambda a, b, k: (a.update(b, k)[0], {})),
                     donate_argnums=0)
    state = {"a": SACAgent.create(key, OBS_DIM, ACT_DIM, cfg)}

    def call() -> Any:
        state["a"], _ = update(state["a"], batches, key)
        return state["a"]

    return call


MAKERS = {"ref": lambda: make_ref(True), "ref_a": lambda: make_ref(False), "ours": lambda: make_ours("rlpd"),
          "ours_noinfo": lambda: make_ours("rlpd", False), "ours_sac": lambda: make_ours("sac"),
          "ours_sac_noinfo": lambda: make_ours("sac", False)}
RLPD = ("ref", "ours", "ours_noinfo")  # 20 critic updates per call


def main() -> None:
    variants = sys.argv[1].split(",") if len(sys.argv) > 1 else ["ref", "ours"]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    calls = {v: MAKERS[v]() for v in variants}
    for call in calls.values():
        for _ in range(3):
            jax.block_until_ready(call())
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    wall: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(reps):
        for v, call in calls.items():
            n, per = (30, UTD) if v in RLPD else (300, 1)
            t_cpu, t_wall = time.process_time(), time.perf_counter()
            for _ in range(n):
                out = call()
            jax.block_until_ready(out)
            cpu[v].append(per * n / (time.process_time() - t_cpu))
            wall[v].append(per * n / (time.perf_counter() - t_wall))
    for label, rates in (("cpu", cpu), ("wall", wall)):
        print(label, json.dumps({v: [round(x, 1) for x in r] for v, r in rates.items()}))
        print(label, {v: round(float(np.median(r)), 1) for v, r in rates.items()})


if __name__ == "__main__":
    main()
