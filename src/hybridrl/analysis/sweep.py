"""Sweeps: a grid of recipes x tasks x seeds x config overrides, each an ordinary run directory.

Each run executes in its own worker process (`python -m hybridrl.analysis.sweep --worker TASK_JSON`), so a
crash or a kill takes down that run only; its run directory keeps its last checkpoint. Re-running the
same sweep skips finished runs (`done.json`), resumes interrupted ones from their checkpoints, and
retries failed ones (`failed.json` holds the error). Backends: a local pool of worker processes sized to
the machine (default), or a Ray cluster (`backend="ray"`), one Ray task per run with its CPUs/GPUs
declared; run directories must then be on storage every node sees (the results are also gathered back).

Spec (YAML, read with `yaml.safe_load`, so a file cannot construct objects):

    out: runs/o2o-sweep
    recipes: [iql, cql]                 # or {label, recipe, set, offline_steps, online_steps} entries
    tasks: [{dataset: hopper-medium-small}, {env: hybridrl/PointReach-v0, dataset: data/toy.npz}]
    seeds: 3                            # or a list
    offline_steps: 10000
    online_steps: 10000
    set: {agent.hidden_dims: [64, 64]}  # for every run
    grid: {agent.utd: [1, 2]}           # cartesian product of overrides
    resources: {cpus: 1, gpus: 0}       # per run (Ray)

Pre-train once, fine-tune many: a recipe entry with `from: LABEL` has no offline phase of its own; each of its
runs starts its online phase from the pre-training (`checkpoints/offline.npz`) of LABEL's run of the same task,
seed and grid cell, as `hybridrl train --from-checkpoint` does, and starts as soon as that checkpoint is written.
Online ablations (a guidance weight, a frozen β, another recipe of the same agent) then share one pre-training:

    recipes: [mscp, {label: mscp-lambda1, recipe: mscp, from: mscp, set: {agent.guidance_weight: 1}}]
"""
from __future__ import annotations

import fnmatch
import itertools
import json
import os
import queue
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hybridrl.config import ConfigError


@dataclass(frozen=True)
class RunTask:
    run_dir: str
    recipe: str
    env: str
    dataset: str | None
    seed: int
    offline_steps: int | None = None
    online_steps: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    from_run: str | None = None  # a run directory whose offline checkpoint this run fine-tunes (`from:` in the spec)


def _slug(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in text).strip("_")


def load_spec(path: str | Path) -> dict[str, Any]:
    import yaml

    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the sweep spec ({exc})") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: a sweep spec is a mapping with recipes, tasks, seeds, ...; found "
                          f"{type(spec).__name__}")
    spec.setdefault("out", str(path.with_suffix("")))
    return spec


def expand(spec: dict[str, Any]) -> list[RunTask]:
    """Every run of the grid, in order: tasks, then recipes, then override combinations, then seeds."""
    from hybridrl.recipes import resolve_env

    known = {"out", "recipes", "tasks", "seeds", "offline_steps", "online_steps", "set", "grid", "resources"}
    unknown = set(spec) - known
    if unknown:
        raise ConfigError(f"sweep spec: unknown keys {sorted(unknown)}; valid: {sorted(known)}")
    for key in ("recipes", "tasks"):
        if not spec.get(key):
            raise ConfigError(f"sweep spec: '{key}' must be a non-empty list")
    seeds = spec.get("seeds", 1)
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    common = dict(spec.get("set") or {})
    grid = spec.get("grid") or {}
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())] or [{}]
    out = Path(spec["out"])
    entries = [{"recipe": e} if isinstance(e, str) else dict(e) for e in spec["recipes"]]
    _check_entries(entries)
    tasks = []
    for task in spec["tasks"]:
        task = {"dataset": task} if isinstance(task, str) else dict(task)
        dataset = task.get("dataset")
        env = task.get("env")
        try:
            env, dataset = resolve_env(env, dataset)  # a built-in or Minari dataset names its env
        except ConfigError as exc:
            raise ConfigError(f"sweep spec: task {task} needs an 'env' that fits its data: {exc}") from None
        task_name = task.get("name") or _slug(dataset or env)
        for entry in entries:
            label = entry.get("label") or entry["recipe"]
            for combo in combos:
                suffix = "".join(f"-{k.split('.')[-1]}{_slug(v)}" for k, v in combo.items())
                for seed in seeds:
                    source = entry.get("from")
                    tasks.append(RunTask(
                        run_dir=str(out / task_name / (label + suffix) / f"seed{seed}"), recipe=entry["recipe"],
                        env=env, dataset=dataset, seed=seed,
                        offline_steps=None if source else entry.get("offline_steps", spec.get("offline_steps")),
                        online_steps=entry.get("online_steps", spec.get("online_steps")),
                        overrides={**common, **_inherited(entries, entry), **dict(entry.get("set") or {}),
                                   **combo},
                        from_run=str(out / task_name / (source + suffix) / f"seed{seed}") if source else None))
    return tasks


_ENTRY_KEYS = {"recipe", "label", "set", "offline_steps", "online_steps", "from"}


def _check_entries(entries: list[dict[str, Any]]) -> None:
    """Known keys, one run directory per label, and `from:` naming another entry of the same agent that pre-trains
    itself (no chains); whether the source has offline steps is checked once its config resolves
    (`source_problems`)."""
    from hybridrl.recipes import RECIPES

    labels: dict[str, dict[str, Any]] = {}
    for e in entries:
        name = e.get("label") or e.get("recipe")
        unknown = set(e) - _ENTRY_KEYS
        if unknown or "recipe" not in e:
            raise ConfigError(f"sweep spec: recipe entry {name!r}: " + (f"unknown keys {sorted(unknown)}; valid: "
                              f"{sorted(_ENTRY_KEYS)}" if unknown else "needs a 'recipe'"))
        if name in labels:
            raise ConfigError(f"sweep spec: two recipe entries are labelled {name!r} (their runs would share "
                              "directories); give one a 'label'")
        labels[name] = e
    for name, e in labels.items():
        source = e.get("from")
        if source is None:
            continue
        if source not in labels or source == name:
            raise ConfigError(f"sweep spec: {name!r} has from: {source!r}, which is not another entry's label; "
                              f"labels: {', '.join(labels)}")
        src = labels[source]
        if src.get("from"):
            raise ConfigError(f"sweep spec: {name!r} fine-tunes from {source!r}, which itself fine-tunes from "
                              f"{src['from']!r}; name the entry that pre-trains")
        if "offline_steps" in e or "train.offline_steps" in (e.get("set") or {}):
            raise ConfigError(f"sweep spec: {name!r} fine-tunes from {source!r} and has no offline phase of its own; "
                              "drop its offline_steps (the pre-training's count is the source's)")
        agents = {r: RECIPES[r].agent if r in RECIPES else None for r in (e["recipe"], src["recipe"])}
        if None not in agents.values() and agents[e["recipe"]] != agents[src["recipe"]]:
            raise ConfigError(f"sweep spec: {name!r} ({e['recipe']}, agent {agents[e['recipe']]}) cannot fine-tune "
                              f"from {source!r} ({src['recipe']}, agent {agents[src['recipe']]}): the agents must "
                              "match")


def _inherited(entries: list[dict[str, Any]], entry: dict[str, Any]) -> dict[str, Any]:
    """What a fine-tuning entry takes from its source entry's `set`: its run settings (reward scale, data reading),
    so both phases see the same task; the agent's settings come with the checkpoint, and the fine-tuning recipe's
    own presets (hiql from mscp) must win over the source's."""
    if not entry.get("from"):
        return {}
    src = next(e for e in entries if (e.get("label") or e["recipe"]) == entry["from"])
    return {k: v for k, v in (src.get("set") or {}).items() if not k.startswith("agent.")}


def run_status(run_dir: str | Path) -> str:
    """done | failed | interrupted (a checkpoint to resume) | new."""
    d = Path(run_dir)
    if (d / "done.json").exists():
        return "done"
    if (d / "failed.json").exists():
        return "failed"
    if (d / "checkpoints" / "latest.npz").exists():
        return "interrupted"
    return "new"


def config_error(task: RunTask) -> str | None:
    """Why this task's config does not resolve (an unknown key, a bad value), or None; checked before anything runs,
    so a typo in a grid fails in a second, not as one failed run per cell hours later."""
    from hybridrl.recipes import resolve

    try:
        resolve(task.recipe, task.env, {"train.progress": False, **task.overrides}, dataset=task.dataset,
                online_steps=task.online_steps, offline_steps=task.offline_steps, seed=task.seed)
    except ConfigError as exc:
        return str(exc)
    return None


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(path)


def execute(task: RunTask) -> dict[str, Any]:
    """Run (or resume) one task in this process; record done.json or failed.json in its directory."""
    from hybridrl.recipes import resolve
    from hybridrl.training.loop import Trainer

    d = Path(task.run_dir)
    if run_status(d) == "done":
        return {"run_dir": task.run_dir, "status": "skipped"}
    t0 = time.time()
    try:
        if (d / "checkpoints" / "latest.npz").exists():
            trainer = Trainer.resume(d, online_steps=task.online_steps, offline_steps=task.offline_steps)
            how = "resumed"
        elif task.from_run:
            trainer = Trainer.from_pretrained(_pretrained(task), d, {"train.progress": False, **task.overrides},
                                              recipe=task.recipe, online_steps=task.online_steps, seed=task.seed)
            how = "fine-tuned"
        else:
            cfg = resolve(task.recipe, task.env, {"train.progress": False, **task.overrides}, dataset=task.dataset,
                          online_steps=task.online_steps, offline_steps=task.offline_steps, seed=task.seed)
            trainer = Trainer(cfg, d)
            how = "started"
        result = trainer.run()
    except Exception as exc:  # recorded, never fatal to the sweep
        _write_json(d / "failed.json", {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(),
                                        "task": asdict(task)})
        return {"run_dir": task.run_dir, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    (d / "failed.json").unlink(missing_ok=True)
    payload = {"status": "done", "how": how, "seconds": time.time() - t0, "result": result, "task": asdict(task)}
    _write_json(d / "done.json", payload)
    return {"run_dir": task.run_dir, "status": "done", "how": how, "seconds": payload["seconds"]}


_PRETRAINED = "checkpoints/offline.npz"  # training.rundir.OFFLINE_CKPT_NAME (not imported: it loads JAX)


def _pretrained(task: RunTask) -> Path:
    """The source run's offline checkpoint, or a ConfigError saying why it is not there."""
    path = Path(task.from_run) / _PRETRAINED
    if not path.exists():
        state = run_status(task.from_run)
        why = {"done": "finished without it (its checkpoints were not kept: delete its done.json to pre-train again)",
               "failed": "failed (see its failed.json)"}.get(state, "has not reached its offline→online switch")
        raise ConfigError(f"{task.run_dir} fine-tunes from {task.from_run}, whose pre-training {path.name} is "
                          f"missing: that run {why}")
    return path


def source_state(task: RunTask, active: set[str]) -> str:
    """ready (no source, or its pre-training is written) | wait (the source is running or queued) | missing."""
    if not task.from_run or (Path(task.run_dir) / "checkpoints" / "latest.npz").exists():  # (a resume needs no source)
        return "ready"
    if (Path(task.from_run) / _PRETRAINED).exists():
        return "ready"
    return "wait" if task.from_run in active else "missing"


def source_problems(todo: list[RunTask], tasks: list[RunTask]) -> list[tuple[RunTask, str]]:
    """Fine-tuning runs that could never start, said before anything runs: the source is not selected (`--only`)
    and has no pre-training, finished without its checkpoint, or resolves to no offline steps."""
    from hybridrl.recipes import resolve

    by_dir, todo_dirs = {t.run_dir: t for t in tasks}, {t.run_dir for t in todo}
    problems = []
    for task in todo:
        if not task.from_run or source_state(task, set()) == "ready":
            continue
        src = by_dir[task.from_run]
        if run_status(src.run_dir) == "done":
            problems.append((task, f"its source {src.run_dir} finished without {_PRETRAINED} (kept without "
                                   "`keep_done.sh --pretrained`?): bring that file back, or delete the source's "
                                   "done.json to run it again, both phases"))
        elif src.run_dir not in todo_dirs:
            problems.append((task, f"its source {src.run_dir} is not selected and has not been pre-trained: select "
                                   f"it too (--only '{Path(src.run_dir).parent.name}/...') or run it first"))
        else:
            try:
                steps = resolve(src.recipe, src.env, {"train.progress": False, **src.overrides}, dataset=src.dataset,
                                online_steps=src.online_steps, offline_steps=src.offline_steps,
                                seed=src.seed).train.offline_steps
            except ConfigError:
                continue  # said by config_error
            if steps <= 0:
                problems.append((task, f"its source {src.run_dir} has no offline steps, so no pre-training"))
    return problems


def worker_env(threads: int, cores: set[int] | None = None) -> dict[str, str]:
    """Environment of a worker process: XLA and BLAS limited to `threads` so parallel runs do not
    oversubscribe the cores; `cores`: the CPUs the worker pins itself to before JAX starts."""
    env = dict(os.environ)
    env.pop(_CORES_VAR, None)
    if cores:
        env[_CORES_VAR] = ",".join(str(c) for c in sorted(cores))
    flags = env.get("XLA_FLAGS", "")
    if threads == 1 and "multi_thread_eigen" not in flags:
        flags += " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    env.update({"XLA_FLAGS": flags.strip(), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                "OPENBLAS_NUM_THREADS": str(threads)})
    return env


_CORES_VAR = "HYBRIDRL_WORKER_CORES"


def core_sets(workers: int, threads: int) -> list[set[int]] | None:
    """Disjoint CPU sets of `threads` cores, one per worker, when this process may use enough cores. XLA's CPU
    client sizes its thread pool by the process's CPU affinity and ignores the thread flags above (jax 0.10), so
    pinning is what keeps parallel runs from sharing cores."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < workers * threads:
        return None
    return [set(cores[i * threads:(i + 1) * threads]) for i in range(workers)]


def run_in_subprocess(task: RunTask, threads: int = 1, cores: set[int] | None = None) -> dict[str, Any]:
    """One task in a fresh worker process; a worker killed by a signal is recorded as failed (its
    checkpoint stays, so the next sweep resumes it)."""
    d = Path(task.run_dir)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "worker.log", "a") as log:
        proc = subprocess.Popen([sys.executable, "-m", "hybridrl.analysis.sweep", "--worker", json.dumps(asdict(task))],
                                stdout=log, stderr=subprocess.STDOUT, env=worker_env(threads, cores))
        (d / "worker.pid").write_text(str(proc.pid))  # who to signal to stop this run (it resumes later)
        proc.wait()
    if proc.returncode == 0:
        return json.loads((d / "done.json").read_text()) | {"run_dir": task.run_dir} if (d / "done.json").exists() \
            else {"run_dir": task.run_dir, "status": "failed", "error": "worker exited without a result"}
    if (d / "failed.json").exists():
        return {"run_dir": task.run_dir, "status": "failed",
                "error": json.loads((d / "failed.json").read_text())["error"]}
    error = f"worker exited with code {proc.returncode}" + (" (killed by a signal)" if proc.returncode < 0 else "")
    _write_json(d / "failed.json", {"error": error, "traceback": "", "task": asdict(task)})
    return {"run_dir": task.run_dir, "status": "failed", "error": error}


def _local(tasks: list[RunTask], workers: int, threads: int, poll: float = 2.0) -> list[dict[str, Any]]:
    """Runs in spec order on `workers` disjoint core sets; a fine-tuning run waits (without holding cores) until
    its source's pre-training is written, and runs that are ready go ahead of it meanwhile."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    free: queue.Queue[set[int] | None] = queue.Queue()
    for cores in core_sets(workers, threads) or [None] * workers:
        free.put(cores)

    def one(task: RunTask, cores: set[int] | None) -> dict[str, Any]:
        try:
            return run_in_subprocess(task, threads, cores)
        finally:
            free.put(cores)  # a worker's cores, back in the pool when its run ends

    results: dict[str, dict[str, Any]] = {}
    pending, running = list(tasks), {}
    # Threads only wait on worker processes; the learning happens in those processes.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while pending or running:
            active = {t.run_dir for t in pending} | {t.run_dir for t in running.values()}
            for task in list(pending):
                state = source_state(task, active - {task.run_dir})
                if state == "missing":  # its source is neither here nor pre-trained: say so, run the rest
                    pending.remove(task)
                    results[task.run_dir] = _fail(task)
                elif state == "ready" and not free.empty():
                    pending.remove(task)
                    running[pool.submit(one, task, free.get())] = task
            if running:
                done, _ = wait(running, timeout=poll, return_when=FIRST_COMPLETED)
                for future in done:
                    results[running.pop(future).run_dir] = future.result()
            elif pending:
                time.sleep(poll)
    return [results[t.run_dir] for t in tasks]


def _fail(task: RunTask) -> dict[str, Any]:
    """Record why a fine-tuning run cannot start (its source is missing) as the run's failure."""
    try:
        _pretrained(task)
        error = f"{task.run_dir}: its source {task.from_run} is not part of this sweep's runs"
    except ConfigError as exc:
        error = str(exc)
    _write_json(Path(task.run_dir) / "failed.json", {"error": f"ConfigError: {error}", "traceback": "",
                                                     "task": asdict(task)})
    return {"run_dir": task.run_dir, "status": "failed", "error": f"ConfigError: {error}"}


def _ray(tasks: list[RunTask], address: str | None, cpus: float, gpus: float, threads: int,
         workers: int) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs Ray: pip install 'hybridrl[sweep]'") from None
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(run_in_subprocess)
    # two waves: the runs that pre-train, then those that fine-tune from them (`from:`)
    first = [t for t in tasks if not t.from_run]
    by_dir = dict(zip([t.run_dir for t in first], ray.get([remote.remote(t, threads) for t in first]), strict=True))
    later = [t for t in tasks if t.from_run]
    ready = [t for t in later if source_state(t, set()) == "ready"]
    by_dir.update(zip([t.run_dir for t in ready], ray.get([remote.remote(t, threads) for t in ready]), strict=True))
    by_dir.update({t.run_dir: _fail(t) for t in later if t.run_dir not in by_dir})
    return [by_dir[t.run_dir] for t in tasks]


def run_name(task: RunTask, out: str | Path) -> str:
    """A run's name inside its sweep: `task/label/seedN`, what `--only` patterns match."""
    return Path(task.run_dir).relative_to(Path(out)).as_posix()


def select(tasks: list[RunTask], out: str | Path, only: list[str] | None) -> list[RunTask]:
    """The tasks whose name matches one of the glob patterns (all of them without patterns), so a machine with
    little time runs a slice of a grid now and the rest later; a pattern that matches no run is an error."""
    if not only:
        return tasks
    names = {t.run_dir: run_name(t, out) for t in tasks}
    unmatched = [p for p in only if not any(fnmatch.fnmatchcase(n, p) for n in names.values())]
    if unmatched:
        shown = ", ".join(list(names.values())[:6]) + (", ..." if len(names) > 6 else "")
        raise ConfigError(f"sweep --only: {', '.join(map(repr, unmatched))} matches none of the sweep's runs; "
                          f"names are task/label/seedN, e.g. {shown}")
    return [t for t in tasks if any(fnmatch.fnmatchcase(names[t.run_dir], p) for p in only)]


def run_sweep(spec: dict[str, Any], backend: str = "local", workers: int | None = None, address: str | None = None,
              threads: int = 1, only: list[str] | None = None) -> dict[str, Any]:
    """Run every unfinished task of the spec (of those `only` selects); write `sweep.json` (one row per run of the
    whole grid, the unselected ones marked so) under the spec's out."""
    tasks = expand(spec)
    chosen = {t.run_dir for t in select(tasks, spec["out"], only)}
    todo = [t for t in tasks if t.run_dir in chosen and run_status(t.run_dir) != "done"]
    bad = [(t, err) for t in todo if (err := config_error(t))]
    if bad:
        raise ConfigError(f"{len(bad)} of the sweep's runs have an invalid config, nothing was run:\n"
                          + "\n".join(f"  {t.run_dir}: {err[:300]}" for t, err in bad))
    stuck = source_problems(todo, tasks)
    if stuck:
        raise ConfigError(f"{len(stuck)} of the sweep's fine-tuning runs cannot start, nothing was run:\n"
                          + "\n".join(f"  {t.run_dir}: {why}" for t, why in stuck))
    workers = workers or max(1, (os.cpu_count() or 1) // threads)
    res = spec.get("resources") or {}
    if backend == "local":
        results = _local(todo, workers, threads)
    elif backend == "ray":
        results = _ray(todo, address, float(res.get("cpus", threads)), float(res.get("gpus", 0)), threads, workers)
    else:
        raise ConfigError(f"unknown sweep backend {backend!r}; valid: local, ray")
    by_dir = {r["run_dir"]: r for r in results}
    rows = [{"run_dir": t.run_dir, "recipe": t.recipe, "env": t.env, "dataset": t.dataset, "seed": t.seed,
             **({"from": t.from_run} if t.from_run else {}),
             **({"status": "skipped" if t.run_dir in chosen or run_status(t.run_dir) == "done" else "not selected"}
                if t.run_dir not in by_dir else
                {k: v for k, v in by_dir[t.run_dir].items() if k in ("status", "how", "seconds", "error")})}
            for t in tasks]
    summary = {"runs": len(tasks), "ran": len(todo), "backend": backend, "workers": workers,
               "failed": sum(r["status"] == "failed" for r in rows), "rows": rows}
    _write_json(Path(spec["out"]) / "sweep.json", summary)
    return summary


if __name__ == "__main__":  # the worker entry point
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        if os.environ.get(_CORES_VAR):  # before JAX makes its CPU client, which sizes its pool by the affinity
            os.sched_setaffinity(0, {int(c) for c in os.environ[_CORES_VAR].split(",")})
        out = execute(RunTask(**json.loads(sys.argv[2])))
        sys.exit(0 if out["status"] in ("done", "skipped") else 1)
    sys.exit("usage: python -m hybridrl.analysis.sweep --worker TASK_JSON")
