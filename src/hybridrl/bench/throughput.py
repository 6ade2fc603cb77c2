"""`hybridrl bench throughput`: updates/s, online-step overhead and fraction of peak FLOP/s.

FLOPs come from XLA's cost analysis of the compiled programs. XLA counts a `lax.scan` body once,
so a UTD-U update is costed as U critic steps plus one actor/temperature step, each compiled alone.
"""
from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hybridrl.agents.sac import SACAgent, SACConfig

OBS_DIM, ACT_DIM, BATCH = 17, 6, 256

PRESETS = {
    "sac": SACConfig(hidden_dims=(256, 256), num_critics=2, num_target_critics=2, utd=1, batch_size=BATCH),
    "rlpd": SACConfig(hidden_dims=(256, 256), num_critics=10, num_target_critics=2, critic_layer_norm=True,
                      actor_aggregation="mean", utd=20, batch_size=BATCH),
}


def _flops(fn: Callable, *args: Any) -> float:
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    if isinstance(cost, list | tuple):
        cost = cost[0]
    return float(cost.get("flops", float("nan")))


def _batch(key: jax.Array, shape: tuple[int, ...]) -> dict[str, jax.Array]:
    k1, k2, k3 = jax.random.split(key, 3)
    return {"observations": jax.random.normal(k1, (*shape, OBS_DIM)),
            "actions": jnp.tanh(jax.random.normal(k2, (*shape, ACT_DIM))),
            "rewards": jax.random.normal(k3, shape), "next_observations": jax.random.normal(k1, (*shape, OBS_DIM)),
            "masks": jnp.ones(shape)}


def _time_calls(call: Callable[[], Any], seconds: float, min_calls: int = 3) -> tuple[float, int]:
    """Seconds per call, timing whole batches of calls until `seconds` have passed."""
    jax.block_until_ready(call())  # compile and warm up
    jax.block_until_ready(call())
    calls, start = 0, time.perf_counter()
    while True:
        out = call()
        calls += 1
        if calls >= min_calls and time.perf_counter() - start > seconds:
            break
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / calls, calls


def measure_peak(seconds: float = 3.0, n: int = 2048) -> float:
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    per_call, _ = _time_calls(lambda: f(a), seconds)
    return 2 * n**3 / per_call


def measure_updates(cfg: SACConfig, seconds: float) -> dict[str, float]:
    key = jax.random.PRNGKey(0)
    agent = SACAgent.create(key, OBS_DIM, ACT_DIM, cfg)
    batches = _batch(key, (cfg.utd, cfg.batch_size))
    state = {"agent": agent}
    stats: dict[str, Any] = {}
    update = jax.jit(lambda a, b, k: a.update(b, k), donate_argnums=0)

    def call() -> Any:
        state["agent"], info = update(state["agent"], batches, key)
        return info

    per_call, calls = _time_calls(call, seconds)
    stats["call"] = call
    one = jax.tree_util.tree_map(lambda x: x[0], batches)
    flops = cfg.utd * _flops(lambda a, b, k: a.update_critic(b, k), agent, one, key) \
        + _flops(lambda a, b, k: a.update_actor(b, k), agent, one, key)
    return {**stats, "calls_per_sec": 1.0 / per_call, "critic_updates_per_sec": cfg.utd / per_call,
            "flops_per_call": flops, "flops_per_sec": flops / per_call, "timed_calls": calls}


def measure_online_step(cfg: SACConfig, seconds: float, env_id: str = "HalfCheetah-v5") -> dict[str, float]:
    """The real online step of the training loop (env step on the host + one jitted insert/update/act)."""
    from hybridrl.envs import make_env
    from hybridrl.replay import ReplayBuffer, make_mixer
    from hybridrl.training.loop import Carry, _commit, _insert, _online_step

    env = make_env(env_id)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    key = jax.random.PRNGKey(0)
    agent = SACAgent.create(key, obs_dim, act_dim, cfg)
    example = {"observations": np.zeros(obs_dim, np.float32), "actions": np.zeros(act_dim, np.float32),
               "rewards": np.float32(0), "next_observations": np.zeros(obs_dim, np.float32), "masks": np.float32(1)}
    buffer = ReplayBuffer.create(example, 100_000)
    offline = ReplayBuffer.from_arrays({k: np.random.default_rng(0).normal(size=(10_000, *np.shape(v)))
                                        .astype(np.float32) for k, v in example.items()})
    carry = _commit(Carry(agent=agent, buffer=buffer, rng=key))
    mixer = make_mixer("symmetric", 0.5)
    insert = jax.jit(partial(_insert, mixer=mixer), donate_argnums=0)  # the loop's two calls per env step
    step = jax.jit(partial(_online_step, mixer=mixer, batch_size=cfg.batch_size, utd=cfg.utd),
                   static_argnames=("train",), donate_argnums=0)
    state = {"carry": carry, "obs": env.reset(seed=0)[0].astype(np.float32), "action": np.zeros(act_dim, np.float32)}

    def call() -> Any:
        next_obs, reward, term, trunc, _ = env.step(state["action"])
        next_obs = next_obs.astype(np.float32)
        tr = {"observations": state["obs"], "actions": state["action"], "rewards": np.float32(reward),
              "next_observations": next_obs, "masks": np.float32(not term)}
        if term or trunc:
            next_obs = env.reset()[0].astype(np.float32)
        state["carry"] = insert(state["carry"], tr, np.bool_(False))
        state["carry"], action, _ = step(state["carry"], offline, next_obs, train=True)
        state["action"], state["obs"] = np.asarray(action), next_obs
        return action

    per_call, calls = _time_calls(call, seconds)
    return {"call": call, "env_steps_per_sec": 1.0 / per_call, "seconds_per_step": per_call, "timed_calls": calls}


def interleaved_overhead(update_call: Callable[[], Any], step_call: Callable[[], Any], seconds: float) -> float:
    """Median online-step time over median update-only time, minus 1, timing the two alternately so that
    drifts in machine speed hit both equally."""
    upd, stp = [], []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(upd) < 5:
        for call, sink in ((update_call, upd), (step_call, stp)):
            t = time.perf_counter()
            jax.block_until_ready(call())
            sink.append(time.perf_counter() - t)
    return float(np.median(stp) / np.median(upd) - 1.0)


def run_throughput(json_path: str | None = None, seconds: float = 10.0) -> dict[str, Any]:
    dev = jax.devices()[0]
    out: dict[str, Any] = {"device": f"{dev.platform}:{getattr(dev, 'device_kind', '')}", "jax": jax.__version__,
                           "machine": platform.processor() or platform.machine(), "obs_dim": OBS_DIM,
                           "action_dim": ACT_DIM, "batch": BATCH, "hidden": [256, 256]}
    out["peak_flops_per_sec"] = measure_peak(min(seconds, 3.0))
    out["sac"] = measure_updates(PRESETS["sac"], seconds)
    out["rlpd"] = measure_updates(PRESETS["rlpd"], seconds)
    out["rlpd_online_step"] = measure_online_step(PRESETS["rlpd"], seconds)
    out["rlpd_online_step"]["overhead_vs_updates"] = interleaved_overhead(
        out["rlpd"].pop("call"), out["rlpd_online_step"].pop("call"), 2 * seconds)
    out["sac"].pop("call")
    for name in ("sac", "rlpd"):
        out[name]["fraction_of_peak"] = out[name]["flops_per_sec"] / out["peak_flops_per_sec"]
    _print(out)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(out, f, indent=2)
    return out


def _print(o: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"hybridrl throughput on {o['device']} (jax {o['jax']}), 256x256, batch 256, obs 17 / act 6")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row("peak float32 matmul", f"{o['peak_flops_per_sec'] / 1e9:.1f} GFLOP/s")
    t.add_row("SAC (E=2, UTD 1) updates/s", f"{o['sac']['critic_updates_per_sec']:.1f}")
    t.add_row("  FLOPs per update / fraction of peak",
              f"{o['sac']['flops_per_call'] / 1e6:.0f} M / {o['sac']['fraction_of_peak']:.0%}")
    t.add_row("RLPD (E=10, Z=2, LN, UTD 20) critic updates/s", f"{o['rlpd']['critic_updates_per_sec']:.1f}")
    t.add_row("  FLOPs per env step / fraction of peak",
              f"{o['rlpd']['flops_per_call'] / 1e9:.2f} G / {o['rlpd']['fraction_of_peak']:.0%}")
    t.add_row("RLPD full online step (env + insert + 20 updates)/s",
              f"{o['rlpd_online_step']['env_steps_per_sec']:.2f}")
    t.add_row("  overhead vs updates alone", f"{o['rlpd_online_step']['overhead_vs_updates']:+.1%}")
    Console().print(t)
