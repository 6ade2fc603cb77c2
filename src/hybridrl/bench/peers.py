"""`hybridrl bench peers`: training updates/s of hybridrl and d3rlpy, SAC and IQL, at equal settings.

Both sides run their own offline training loop on the same random data (obs 17, action 6: HalfCheetah's
sizes), 256x256 MLPs, batch 256, one process at a time: hybridrl's jitted chunk of updates with
sampling inside jit; d3rlpy's `update(dataset.sample_transition_batch(...))`, which is what its `fit`
does per step. FLOPs per update come from XLA's cost analysis of hybridrl's update; d3rlpy computes the
same losses with the same networks, so the same count is used for its fraction of peak. Peak = the
faster of a 2048³ float32 matmul in XLA and in torch on this machine.

d3rlpy lives in its own virtual environment with torch pinned (`torch==2.13.0`: an unpinned torch pulls
GBs of CUDA wheels); `--venv` names it and it is created on first use.
"""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hybridrl.bench.throughput import ACT_DIM, BATCH, OBS_DIM, _flops, _time_calls, measure_peak

PEER_REQUIREMENTS = ("torch==2.13.0", "d3rlpy==2.8.1")
PEER_SCRIPT = Path(__file__).with_name("peer_d3rlpy.py")
DEFAULT_VENV = Path.home() / ".cache" / "hybridrl" / "peers-venv"
UPDATES_PER_CALL = 50


def ensure_peer_python(venv: Path) -> Path:
    """The venv's python with d3rlpy and torch 2.13.0 importable; create and install it if needed."""
    python = venv / "bin" / "python"
    probe = "import d3rlpy, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
    if python.exists() and subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0:
        return python
    print(f"hybridrl bench peers: installing {' '.join(PEER_REQUIREMENTS)} into {venv} (once)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_REQUIREMENTS], check=True)
    check = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    if check.returncode:
        raise RuntimeError(f"{venv}: d3rlpy/torch 2.13.0 not importable after installing: {check.stderr[-500:]}")
    return python


def _random_buffer(rows: int) -> Any:
    from hybridrl.replay import ReplayBuffer

    rng = np.random.default_rng(0)
    return ReplayBuffer.from_arrays({
        "observations": rng.normal(size=(rows, OBS_DIM)).astype(np.float32),
        "actions": np.tanh(rng.normal(size=(rows, ACT_DIM))).astype(np.float32),
        "rewards": rng.normal(size=rows).astype(np.float32),
        "next_observations": rng.normal(size=(rows, OBS_DIM)).astype(np.float32),
        "masks": np.ones(rows, np.float32)})


def measure_ours(algo: str, seconds: float, rows: int = 100_000) -> dict[str, float]:
    """hybridrl's offline training loop: `UPDATES_PER_CALL` sampled-in-jit updates per call."""
    from hybridrl.agents import make_agent
    from hybridrl.agents.iql import IQLConfig
    from hybridrl.agents.sac import SACConfig
    from hybridrl.replay import make_mixer
    from hybridrl.training.loop import Carry, _commit, _offline_chunk

    cfg = (SACConfig(hidden_dims=(256, 256), batch_size=BATCH) if algo == "sac"
           else IQLConfig(hidden_dims=(256, 256), batch_size=BATCH, actor_decay_steps=0))
    key = jax.random.PRNGKey(0)
    agent = make_agent(algo, key, OBS_DIM, ACT_DIM, cfg)
    data = _random_buffer(rows)
    carry = _commit(Carry(agent=agent, buffer=_random_buffer(1), rng=key))
    chunk = jax.jit(partial(_offline_chunk, mixer=make_mixer("symmetric", 1.0), batch_size=BATCH, utd=1,
                            num_updates=UPDATES_PER_CALL), donate_argnums=0)
    state = {"carry": carry}

    def call() -> Any:
        state["carry"], info = chunk(state["carry"], data)
        return info

    per_call, calls = _time_calls(call, seconds)
    one = jax.tree_util.tree_map(lambda x: x[None], {k: jnp.asarray(v[:BATCH]) for k, v in data.data.items()})
    flops = _flops(lambda a, b, k: a.update(b, k), agent, one, key)
    return {"updates_per_sec": UPDATES_PER_CALL / per_call, "flops_per_update": flops, "timed_updates":
            calls * UPDATES_PER_CALL}


def measure_d3rlpy(python: Path, algo: str, seconds: float) -> dict[str, Any]:
    spec = {"algo": algo, "obs_dim": OBS_DIM, "act_dim": ACT_DIM, "hidden": 256, "batch": BATCH,
            "seconds": seconds, "rows": 100_000}
    out = subprocess.run([str(python), str(PEER_SCRIPT), json.dumps(spec)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the d3rlpy side failed: {out.stderr[-1500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_peers(venv: str | None = None, python: str | None = None, seconds: float = 10.0,
              json_path: str | None = None) -> dict[str, Any]:
    peer_python = Path(python) if python else ensure_peer_python(Path(venv) if venv else DEFAULT_VENV)
    dev = jax.devices()[0]
    out: dict[str, Any] = {"device": f"{dev.platform}:{getattr(dev, 'device_kind', '')}", "jax": jax.__version__,
                           "machine": platform.processor() or platform.machine(), "obs_dim": OBS_DIM,
                           "action_dim": ACT_DIM, "batch": BATCH, "hidden": [256, 256],
                           "date": time.strftime("%Y-%m-%d %H:%M")}
    xla_peak = measure_peak(min(seconds, 3.0))
    for algo in ("sac", "iql"):  # one timed process at a time: ours, then theirs
        ours = measure_ours(algo, seconds)
        theirs = measure_d3rlpy(peer_python, algo, seconds)
        out[algo] = {"hybridrl": ours, "d3rlpy": theirs,
                     "ratio": ours["updates_per_sec"] / theirs["updates_per_sec"]}
        out["d3rlpy_version"], out["torch_version"] = theirs["version"], theirs["torch"]
        out["torch_peak"] = max(out.get("torch_peak", 0.0), theirs["peak_flops_per_sec"])
    out["peak_flops_per_sec"] = max(xla_peak, out["torch_peak"])  # the highest matmul rate seen: conservative
    out["xla_peak"] = xla_peak
    for algo in ("sac", "iql"):
        flops = out[algo]["hybridrl"]["flops_per_update"]
        for side in ("hybridrl", "d3rlpy"):
            r = out[algo][side]
            r["fraction_of_peak"] = r["updates_per_sec"] * flops / out["peak_flops_per_sec"]
    _print(out)
    if json_path:
        Path(json_path).write_text(json.dumps(out, indent=2))
    return out


def _print(o: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"training updates/s, 256x256, batch 256 ({o['device']}, peak "
                    f"{o['peak_flops_per_sec'] / 1e9:.0f} GFLOP/s)")
    for col in ("algo", "hybridrl upd/s", "d3rlpy upd/s", "ratio", "hybridrl % peak", "d3rlpy % peak"):
        t.add_column(col, justify="right")
    for algo in ("sac", "iql"):
        a = o[algo]
        t.add_row(algo, f"{a['hybridrl']['updates_per_sec']:.0f}", f"{a['d3rlpy']['updates_per_sec']:.0f}",
                  f"{a['ratio']:.2f}x", f"{a['hybridrl']['fraction_of_peak']:.0%}",
                  f"{a['d3rlpy']['fraction_of_peak']:.0%}")
    Console().print(t)
