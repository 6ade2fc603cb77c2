"""Fault injection (test infrastructure, outside the installed package): the harness behind
`tests/test_faults.py` (a fast subset) and `benchmarks/faults.py`
(the full version, with counts recorded in `benchmarks/results/reliability.md`).

Each trial breaks something on purpose and checks what the user is promised:
- malformed dataset files (hypothesis over shapes, dtypes, missing/extra fields, truncated and
  bit-flipped files; and raw bytes under atheris) either load or raise `DataError`, nothing else;
- a run killed by SIGKILL (at a random moment, inside a checkpoint write, inside evaluation) resumes
  to exactly the rows of an uninterrupted run;
- a run whose files stop fitting on disk (RLIMIT_FSIZE: the kernel refuses the write) stops with a
  `StorageError`, keeps its previous checkpoint, leaves no partial file, and resumes exactly;
- a learner poisoned with NaN or huge parameters is stopped at that very update;
- a failing env is retried on a fresh env (same numbers as a clean run) or stops the run with the
  step and episode, the buffer holding no corrupt transition;
- a long run's resident memory stays flat while its replay buffer wraps many times.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

FIELDS = ("observations", "next_observations", "actions", "rewards", "terminals", "truncations", "timeouts",
          "goals", "extra")
MINARI_FIELDS = ("observations", "actions", "rewards", "terminations", "truncations", "extra")
OGBENCH_FIELDS = ("observations", "actions", "terminals", "qpos", "qvel", "button_states", "valids", "extra")
DTYPES = ("float32", "float64", "float16", "int8", "int64", "uint8", "bool", "complex64", "S3")
RESHAPES = ("flat", "column", "short", "empty", "scalar", "transpose")
TOY = "hybridrl/PointReach-v0"


# ---- malformed dataset files ---------------------------------------------------------------------
def valid_arrays(episodes: int, length: int, obs_dim: int, act_dim: int, seed: int) -> dict[str, np.ndarray]:
    """A small, correct dataset: contiguous episodes, each ending in a truncation."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in FIELDS[:6]}
    for _ in range(episodes):
        states = rng.normal(size=(length + 1, obs_dim)).astype(np.float32)
        parts["observations"].append(states[:-1])
        parts["next_observations"].append(states[1:])
        parts["actions"].append(rng.uniform(-1, 1, (length, act_dim)).astype(np.float32))
        parts["rewards"].append(rng.normal(size=length).astype(np.float32))
        parts["terminals"].append(np.zeros(length, bool))
        parts["truncations"].append(np.arange(length) == length - 1)
    return {k: np.concatenate(v) for k, v in parts.items()}


def valid_ogbench_arrays(episodes: int, length: int, obs_dim: int, act_dim: int, seed: int
                         ) -> dict[str, np.ndarray]:
    """A small file in OGBench's raw layout: each episode's rows, its last row marked by `terminals`."""
    rng = np.random.default_rng(seed)
    n = episodes * (length + 1)
    return {"observations": rng.normal(size=(n, obs_dim)).astype(np.float32),
            "actions": rng.uniform(-1, 1, (n, act_dim)).astype(np.float32),
            "terminals": (np.arange(n) % (length + 1)) == length,
            "qpos": rng.normal(size=(n, 3)).astype(np.float32), "qvel": rng.normal(size=(n, 3)).astype(np.float32),
            "button_states": rng.integers(0, 2, (n, 2))}


def mutate(arrays: dict[str, np.ndarray], mutation: tuple[str, str, Any]) -> dict[str, np.ndarray]:
    """Apply one mutation; one that cannot apply to this array (bytes to float, a 0-d slice) changes nothing."""
    try:
        return _mutate(dict(arrays), *mutation)
    except (ValueError, TypeError, IndexError):
        return arrays


def _mutate(arrays: dict[str, np.ndarray], kind: str, name: str, arg: Any) -> dict[str, np.ndarray]:
    if kind == "drop":
        arrays.pop(name, None)
    elif kind == "replace":
        arrays[name] = arg
    elif name not in arrays:
        pass
    elif kind == "poison":
        index, value = arg
        a = np.array(arrays[name])
        if a.size and a.dtype.kind in "fc":
            with np.errstate(over="ignore", invalid="ignore"):
                a.reshape(-1)[index % a.size] = value
        arrays[name] = a
    elif kind == "retype":
        with np.errstate(over="ignore", invalid="ignore"):
            arrays[name] = arrays[name].astype(arg)
    elif kind == "reshape":
        a = arrays[name]
        arrays[name] = {"flat": lambda: a.reshape(-1), "column": lambda: a.reshape(-1, 1),
                        "short": lambda: a[:-1], "empty": lambda: a[:0], "transpose": lambda: a.T,
                        "scalar": lambda: np.asarray(a.reshape(-1)[:1].sum())}[arg]()
    return arrays


def _damage(path: Path, damage: tuple | None) -> None:
    if damage is None or not path.exists():
        return
    raw = bytearray(path.read_bytes())
    if damage[0] == "truncate":
        raw = raw[: int(len(raw) * damage[1])]
    elif raw:
        raw[min(int(len(raw) * damage[1]), len(raw) - 1)] ^= damage[2]
    path.write_bytes(bytes(raw))


def write_hdf5(arrays: dict[str, np.ndarray], path: Path) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)


def minari_template(directory: Path) -> Path:
    """A real Minari dataset (2 episodes of the toy task) written by hybridrl, to be copied and broken."""
    from hybridrl.data.dataset import Dataset
    from hybridrl.data.minari_io import write_minari

    a = valid_arrays(2, 3, 2, 2, seed=0)
    ds = Dataset(observations=a["observations"], next_observations=a["next_observations"], actions=a["actions"],
                 rewards=a["rewards"], terminals=a["terminals"], truncations=a["truncations"])
    old = os.environ.get("MINARI_DATASETS_PATH")
    shutil.rmtree(directory / "minari-root", ignore_errors=True)
    os.environ["MINARI_DATASETS_PATH"] = str(directory / "minari-root")
    try:
        return Path(write_minari(ds, "fuzz/template-v0", env_id=TOY))
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH")
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def materialise(case: dict[str, Any], directory: Path, template: Path | None = None) -> Path:
    """Write one fuzz case (see `case_strategy`) as a file or Minari directory; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    container = case["container"]
    if container == "minari":
        import h5py

        path = directory / "minari"
        shutil.copytree(template, path)
        data = path / "data" / "main_data.hdf5"
        with h5py.File(data, "r+") as f:
            group = f["episode_0"]
            arrays = {k: group[k][()] for k in group if isinstance(group[k], h5py.Dataset)}
            for m in case["mutations"]:
                arrays = mutate(arrays, (m[0], MINARI_FIELDS[FIELDS.index(m[1]) % len(MINARI_FIELDS)], m[2]))
            for k in list(group):
                del group[k]
            for k, v in arrays.items():
                group.create_dataset(k, data=v)
        if case.get("meta") is not None:
            meta_path = path / "data" / "metadata.json"
            key, value = case["meta"]
            meta = json.loads(meta_path.read_text())
            if value == "<garbage>":
                meta_path.write_text("{not json")
            else:
                meta[key] = value
                meta_path.write_text(json.dumps(meta))
        _damage(data, case.get("damage"))
        return path
    if container == "ogbench":  # OGBench's own layout, read by the .npz loader
        arrays = valid_ogbench_arrays(case["episodes"], case["length"], case["obs_dim"], case["act_dim"],
                                      case["seed"])
        for m in case["mutations"]:
            arrays = mutate(arrays, (m[0], OGBENCH_FIELDS[FIELDS.index(m[1]) % len(OGBENCH_FIELDS)], m[2]))
        path = directory / "cube-single-play-v0.npz"
        np.savez(path, **arrays)
        _damage(path, case.get("damage"))
        return path
    arrays = valid_arrays(case["episodes"], case["length"], case["obs_dim"], case["act_dim"], case["seed"])
    for m in case["mutations"]:
        arrays = mutate(arrays, m)
    path = directory / f"data.{container}"
    if container == "npz":
        np.savez(path, **arrays)
    else:
        write_hdf5(arrays, path)
    _damage(path, case.get("damage"))
    return path


def load_outcome(path: Path) -> str:
    """'loaded' or 'refused' (a DataError); any other exception is a bug and propagates."""
    from hybridrl.data import DataError, load_dataset

    try:
        load_dataset(str(path))
    except DataError:
        return "refused"
    return "loaded"


def case_strategy() -> Any:
    """Hypothesis strategy over fuzz cases: a container, a valid start, up to 3 mutations, file damage."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    names = st.sampled_from(FIELDS)
    random_array = st.sampled_from(DTYPES).flatmap(
        lambda dt: hnp.arrays(np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
    values = st.sampled_from([np.nan, np.inf, -np.inf, 1e39, -1e39, 3.0, 1e30])
    mutation = st.one_of(
        st.tuples(st.just("drop"), names, st.none()),
        st.tuples(st.just("replace"), names, random_array),
        st.tuples(st.just("poison"), names, st.tuples(st.integers(0, 10_000), values)),
        st.tuples(st.just("retype"), names, st.sampled_from(DTYPES)),
        st.tuples(st.just("reshape"), names, st.sampled_from(RESHAPES)),
    )
    damage = st.one_of(st.none(), st.none(), st.tuples(st.just("truncate"), st.floats(0, 1)),
                       st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)))
    json_value = st.one_of(st.none(), st.integers(-5, 10**6), st.text(max_size=8), st.just("<garbage>"),
                           st.lists(st.integers(), max_size=2))
    meta = st.one_of(st.none(), st.tuples(st.sampled_from(
        ["total_episodes", "total_steps", "observation_space", "action_space", "env_spec", "data_format",
         "dataset_id", "minari_version"]), json_value))
    return st.fixed_dictionaries({
        "container": st.sampled_from(["npz", "hdf5", "minari", "ogbench"]), "episodes": st.integers(1, 3),
        "length": st.integers(1, 4), "obs_dim": st.integers(1, 3), "act_dim": st.integers(1, 2),
        "seed": st.integers(0, 2**16), "mutations": st.lists(mutation, max_size=3), "meta": meta, "damage": damage})


def fuzz_datasets(examples: int, directory: Path, seed: int = 0) -> dict[str, Any]:
    """Run `examples` hypothesis cases; count outcomes per container. A crash raises (hypothesis shrinks it)."""
    from hypothesis import HealthCheck, given, settings

    template = minari_template(directory)
    counts: dict[str, dict[str, int]] = {}
    slowest = [0.0]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case_strategy())
    def trial(case: dict[str, Any]) -> None:
        work = directory / "case"
        shutil.rmtree(work, ignore_errors=True)
        path = materialise(case, work, template)
        t0 = time.perf_counter()
        outcome = load_outcome(path)
        slowest[0] = max(slowest[0], time.perf_counter() - t0)
        per = counts.setdefault(case["container"], {"loaded": 0, "refused": 0})
        per[outcome] += 1

    trial()
    return {"by_container": counts, "total": sum(sum(c.values()) for c in counts.values()),
            "crashes": 0, "slowest_load_s": slowest[0]}


# ---- runs: a child process that can be killed, starved of disk, or paused at a chosen point --------
def child_command(run_dir: Path, overrides: dict[str, Any], steps: int, pause: str | None = None,
                  fsize: int | None = None, resume: bool = False, run: dict[str, Any] | None = None) -> list[str]:
    """`run`: the recipe, env, dataset and offline steps (default: SAC on the toy task, online only)."""
    spec = {"run_dir": str(run_dir), "overrides": overrides, "steps": steps, "pause": pause, "fsize": fsize,
            "resume": resume, "run": run or {}}
    return [sys.executable, str(Path(__file__).resolve()), "child", json.dumps(spec)]


def _child(spec: dict[str, Any]) -> int:
    """Train the toy task; optionally stop inside a checkpoint write or an evaluation and wait to be killed."""
    if spec["fsize"] is not None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG, as a full disk fails
        resource.setrlimit(resource.RLIMIT_FSIZE, (spec["fsize"], spec["fsize"]))
    from hybridrl import checkpoint
    from hybridrl.training import loop

    marker = Path(spec["run_dir"] + ".paused")
    pause = spec["pause"]
    if pause is not None:
        kind, nth = pause.split(":")
        calls = [0]

        def wait() -> None:
            calls[0] += 1
            if calls[0] == int(nth):
                marker.write_text(kind)
                time.sleep(600)

        if kind == "checkpoint":  # after the temporary file is fully written, before the rename
            real_replace = os.replace

            def replace(src: Any, dst: Any) -> None:
                if str(src).endswith(".tmp") and "checkpoints" in str(dst):
                    wait()
                real_replace(src, dst)

            checkpoint.os.replace = replace
        elif kind == "eval":
            real_eval = loop.evaluate

            def evaluate(*args: Any, **kwargs: Any) -> Any:
                wait()
                return real_eval(*args, **kwargs)

            loop.evaluate = evaluate
    from hybridrl.cli import main

    args = ["train", "--out", spec["run_dir"], "--online-steps", str(spec["steps"]), "--no-progress"]
    if spec["resume"]:
        args.append("--resume")
    else:
        run = {"recipe": "sac", "env": TOY, "dataset": None, "offline_steps": 0, **spec.get("run", {})}
        args += ["--recipe", run["recipe"], "--env", run["env"], "--offline-steps", str(run["offline_steps"]),
                 *(["--dataset", run["dataset"]] if run["dataset"] else []),
                 *[f"--set={k}={json.dumps(v)}" for k, v in spec["overrides"].items()]]
    return main(args)


def rows(run_dir: Path) -> list[dict[str, str]]:
    import csv

    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k not in ("wall_time", "steps_per_sec")} for r in csv.DictReader(f)]


def _no_partial_files(run_dir: Path) -> bool:
    return not list(run_dir.rglob("*.tmp"))


def kill_trial(run_dir: Path, overrides: dict[str, Any], steps: int, reference: list[dict[str, str]],
               where: str, delay: float = 0.0, env: dict[str, str] | None = None,
               run: dict[str, Any] | None = None) -> dict[str, Any]:
    """SIGKILL a run `where` ('random': `delay` s after its first metrics row, 'checkpoint:N', 'eval:N'), then
    resume it to the end. `run`: recipe, env, dataset, offline steps (see `child_command`)."""
    from hybridrl import checkpoint

    marker = Path(str(run_dir) + ".paused")
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen(child_command(run_dir, overrides, steps, pause=None if where == "random" else where,
                                          run=run), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    if where == "random":  # a random moment after training has started (the first metrics row is written)
        metrics = run_dir / "metrics.csv"
        while proc.poll() is None and time.time() < deadline and (
                not metrics.exists() or metrics.read_text().count("\n") < 2):
            time.sleep(0.02)
        time.sleep(delay)
    else:
        while not marker.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
    finished_before_kill = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ckpt = run_dir / "checkpoints" / "latest.npz"
    result: dict[str, Any] = {"where": where, "delay": delay, "finished_before_kill": finished_before_kill}
    if ckpt.exists():
        meta = checkpoint.read_meta(ckpt)  # loadable: a torn checkpoint would raise CheckpointError here
        result["killed_at_checkpoint_step"] = meta["host"]["online_step"]
        out = subprocess.run(child_command(run_dir, overrides, steps, resume=True, run=run), env=env,
                             capture_output=True, text=True)
        result["resume_rc"] = out.returncode
        result["resume_error"] = out.stderr[-2000:] if out.returncode else ""
    else:  # killed before the first checkpoint: the run starts again from nothing (the CLI refuses nothing)
        result["killed_at_checkpoint_step"] = None
        shutil.rmtree(run_dir, ignore_errors=True)  # killed before even the run directory existed
        out = subprocess.run(child_command(run_dir, overrides, steps, run=run), env=env, capture_output=True,
                             text=True)
        result["resume_rc"] = out.returncode
    got = rows(run_dir)
    result["rows_match"] = got == reference
    result["duplicate_rows"] = len(got) - len({(r["phase"], r["step"]) for r in got})
    result["partial_files"] = not _no_partial_files(run_dir)
    result["ok"] = result["rows_match"] and result["resume_rc"] == 0 and not result["partial_files"]
    return result


def disk_full_trial(run_dir: Path, overrides: dict[str, Any], steps: int, reference: list[dict[str, str]],
                    fsize: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run with every file capped at `fsize` bytes; the growing checkpoint hits the cap mid-run."""
    from hybridrl import checkpoint

    out = subprocess.run(child_command(run_dir, overrides, steps, fsize=fsize), env=env, capture_output=True,
                         text=True)
    result: dict[str, Any] = {"fsize": fsize, "rc": out.returncode, "hit": out.returncode != 0}
    named = "cannot write checkpoint" in out.stderr or "cannot append to" in out.stderr
    result["clear_error"] = out.returncode == 0 or (named and "Traceback" not in out.stderr)
    result["partial_files"] = not _no_partial_files(run_dir)
    ckpt = run_dir / "checkpoints" / "latest.npz"
    result["kept_step"] = checkpoint.read_meta(ckpt)["host"]["online_step"] if ckpt.exists() else None
    if out.returncode != 0 and ckpt.exists():
        res = subprocess.run(child_command(run_dir, overrides, steps, resume=True), env=env, capture_output=True,
                             text=True)
        result["resume_rc"] = res.returncode
    elif out.returncode != 0:
        shutil.rmtree(run_dir, ignore_errors=True)
        res = subprocess.run(child_command(run_dir, overrides, steps), env=env, capture_output=True, text=True)
        result["resume_rc"] = res.returncode
    else:
        result["resume_rc"] = 0
    result["rows_match"] = rows(run_dir) == reference
    result["stderr_tail"] = out.stderr.strip().splitlines()[-1][:300] if out.stderr.strip() else ""
    result["ok"] = result["clear_error"] and not result["partial_files"] and result["rows_match"]
    return result


# ---- a diverging learner: poison the agent at a chosen update; the guard must stop that update ----
def poison_trial(run_dir: Path, cfg: Any, at_step: int, value: float, phase: str = "online") -> dict[str, Any]:
    import jax

    from hybridrl.training.loop import DivergenceError, Trainer

    trainer = Trainer(cfg, run_dir)
    real = trainer._step_fn if phase == "online" else trainer._chunk_fn

    def poison(carry: Any) -> Any:
        leaves, treedef = jax.tree_util.tree_flatten(carry.agent.critic.params)
        leaves[0] = leaves[0] * 0 + value
        return carry.replace(agent=carry.agent.replace(critic=carry.agent.critic.replace(
            params=jax.tree_util.tree_unflatten(treedef, leaves))))

    def wrapped(carry: Any, *args: Any, **kwargs: Any) -> Any:
        step = trainer.host.online_step if phase == "online" else trainer.host.offline_step
        if step + 1 == at_step or (phase == "offline" and step < at_step <= step + kwargs.get("num_updates", 1)):
            carry = poison(carry)
        return real(carry, *args, **kwargs)

    if phase == "online":
        trainer._step_fn = wrapped
    else:
        trainer._chunk_fn = wrapped
    try:
        trainer.run()
    except DivergenceError as exc:
        message = str(exc)
        detected_step = int(message.split(" at step ")[1].split(" ")[0])
        return {"value": value, "at": at_step, "detected": True, "detected_step": detected_step,
                "ok": detected_step >= at_step, "message": message[:200]}
    return {"value": value, "at": at_step, "detected": False, "ok": False}


def guard_overhead(seconds: float = 20.0, updates: int = 50) -> dict[str, Any]:
    """Time a 256x256 SAC chunk of `updates` updates with the divergence guard (the training loop's) and
    the same chunk without it, alternately, so machine-speed drift hits both alike; medians compared."""
    from functools import partial

    import jax
    import jax.numpy as jnp

    from hybridrl.agents import make_agent
    from hybridrl.agents.sac import SACConfig
    from hybridrl.bench.peers import _random_buffer
    from hybridrl.bench.throughput import ACT_DIM, BATCH, OBS_DIM
    from hybridrl.replay import make_mixer
    from hybridrl.training.loop import Carry, _commit, _offline_chunk

    key = jax.random.PRNGKey(0)
    agent = make_agent("sac", key, OBS_DIM, ACT_DIM, SACConfig(hidden_dims=(256, 256), batch_size=BATCH))
    mixer, data = make_mixer("symmetric", 1.0), _random_buffer(50_000)
    carry = _commit(Carry(agent=agent, buffer=_random_buffer(1), rng=key))
    guarded = jax.jit(partial(_offline_chunk, mixer=mixer, batch_size=BATCH, utd=1, num_updates=updates))

    @jax.jit
    def plain(c: Any, offline: Any) -> Any:
        def body(c: Any, _: None) -> Any:
            rng, key_batch, key_update = jax.random.split(c.rng, 3)
            new, info = c.agent.update(mixer.offline_batches(key_batch, offline, BATCH, 1), key_update)
            return c.replace(agent=new, rng=rng), info

        c, infos = jax.lax.scan(body, c, None, length=updates)
        return c, jax.tree_util.tree_map(jnp.mean, infos)

    times: dict[str, list[float]] = {"guarded": [], "plain": []}
    for fn in (guarded, plain):
        jax.block_until_ready(fn(carry, data))
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times["plain"]) < 5:
        for name, fn in (("guarded", guarded), ("plain", plain)):
            t = time.perf_counter()
            jax.block_until_ready(fn(carry, data))
            times[name].append(time.perf_counter() - t)
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {"updates_per_call": updates, "calls_each": len(times["plain"]),
            "guarded_updates_per_sec": updates / med["guarded"], "plain_updates_per_sec": updates / med["plain"],
            "overhead": med["guarded"] / med["plain"] - 1.0}


# ---- a failing env, wrapped around the real one --------------------------------------------------
class FlakyEnv:
    """Wraps an env: at the given global step numbers raise, or return a NaN / misshapen observation or a
    NaN reward; `persistent` keeps failing from the first such step on."""

    def __init__(self, env: Any, fail_at: set[int], kind: str, persistent: bool, counter: list[int]) -> None:
        self.env, self.fail_at, self.kind, self.persistent, self.counter = env, fail_at, kind, persistent, counter

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def reset(self, **kwargs: Any) -> Any:
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        self.counter[0] += 1
        n = self.counter[0]
        failing = n in self.fail_at or (self.persistent and n >= min(self.fail_at))
        if failing and not self.persistent:
            self.fail_at.discard(n)
        obs, reward, term, trunc, info = self.env.step(action)
        if not failing:
            return obs, reward, term, trunc, info
        if self.kind == "raise":
            raise RuntimeError(f"simulated simulator crash at env step {n}")
        if self.kind == "nan-obs":
            return np.full_like(obs, np.nan), reward, term, trunc, info
        if self.kind == "shape":
            return np.concatenate([obs, obs]), reward, term, trunc, info
        return obs, float("nan"), term, trunc, info


def env_failure_trial(run_dir: Path, cfg: Any, at_step: int, kind: str, persistent: bool,
                      reference: list[dict[str, str]] | None) -> dict[str, Any]:
    from hybridrl.envs import EnvError
    from hybridrl.envs import make_env as real_make_env
    from hybridrl.training import loop

    counter = [0]
    fail_at = {at_step}
    old = loop.make_env
    loop.make_env = lambda env_id: FlakyEnv(real_make_env(env_id), fail_at, kind, persistent, counter)
    trainer = loop.Trainer(cfg, run_dir)
    try:
        trainer.run()
        error = None
    except EnvError as exc:
        error = str(exc)
    finally:
        loop.make_env = old
    buffer = trainer.carry.buffer
    n = int(buffer.size)
    finite = all(bool(np.isfinite(np.asarray(v)[:n]).all()) for v in buffer.data.values())
    result = {"kind": kind, "persistent": persistent, "at": at_step, "error": error, "buffer_finite": finite,
              "restarts": trainer.host.env_restarts}
    if error is None:
        result["rows_match"] = reference is not None and rows(run_dir) == reference
        result["ok"] = finite and result["rows_match"]
    else:
        result["ok"] = finite and "online step" in error and "episode" in error
    return result


# ---- a long run: RSS sampled while the buffer wraps ----------------------------------------------
def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def soak(run_dir: Path, cfg: Any, every: int) -> dict[str, Any]:
    from hybridrl.training.loop import Trainer

    trainer = Trainer(cfg, run_dir)
    samples: list[tuple[int, float]] = []
    real = trainer._after_steps

    def after(phase: str, before: int, step: int, target: int, info: dict[str, Any]) -> None:
        real(phase, before, step, target, info)
        if step // every != before // every:
            samples.append((step, rss_mb()))

    trainer._after_steps = after
    t0 = time.time()
    trainer.run()
    quarter = samples[len(samples) // 4][1]
    return {"steps": cfg.train.online_steps, "buffer_capacity": int(trainer.carry.buffer.capacity),
            "wraps": cfg.train.online_steps / trainer.carry.buffer.capacity, "samples": samples,
            "rss_after_quarter_mb": quarter, "rss_end_mb": samples[-1][1],
            "growth_after_quarter_mb": samples[-1][1] - quarter, "wall_s": time.time() - t0}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "child":
        sys.exit(_child(json.loads(sys.argv[2])))
    sys.exit("usage: python tests/fault_harness.py child SPEC_JSON (used by the fault-injection trials)")
