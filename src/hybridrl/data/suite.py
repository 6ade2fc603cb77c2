"""Built-in datasets, generated locally and deterministically from behaviour policies that ship with
hybridrl (no downloads). Cached under $HYBRIDRL_DATA, or ~/.cache/hybridrl.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import jax
import numpy as np

from hybridrl.data.dataset import DataError, Dataset, _from_npz


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    env: str
    transitions: int
    seed: int
    kind: str = "policy"  # "policy": a shipped actor; "random": uniform actions; "replay": a schedule of
    # behaviours; "maze": the waypoint controller
    policy: str | None = None  # file under hybridrl/data/policies (kind "policy")
    noise_scale: float = 1.0  # policy: 1 = sample the policy's own Gaussian, 0 = deterministic; maze: action noise
    action_free: bool = False  # drop actions and rewards (observations + episode ends only)
    limited: bool = False  # maze: remove legs that pass near both the eval start and the eval goal
    mixed_quality: bool = False  # maze: near-expert actions in one half of the maze, very noisy in the other
    base: str | None = None  # a variant is derived from this dataset's trajectories (built first, cached)
    concat: tuple[str, ...] = ()  # kind "concat": these datasets one after another (medium-expert)
    schedule: tuple[tuple[str, float], ...] = ()  # kind "replay": (policy file or "random", share) in order
    description: str = ""


def _maze_specs() -> list[SuiteSpec]:
    specs = []
    for size, env in (("medium", "PointMaze_Medium-v3"), ("large", "PointMaze_Large-v3")):
        seed = 2 if size == "medium" else 3
        for small, n in (("", 1_000_000), ("-small", 50_000)):
            for free in (False, True):
                for limited in (False, True):
                    name = (f"pointmaze-{size}-diverse{'-actionfree' if free else ''}{'-limited' if limited else ''}"
                            f"{small}")
                    desc = "noisy waypoint controller, goals redrawn on arrival"
                    desc += ", observations and episode ends only" if free else ""
                    desc += ", stretches from the eval start region to the goal region removed" if limited else ""
                    base = f"pointmaze-{size}-diverse{small}"
                    specs.append(SuiteSpec(name, env, n, seed=seed, kind="maze", noise_scale=0.3, action_free=free,
                                           limited=limited, description=desc,
                                           base=None if name == base else base))
            specs.append(SuiteSpec(f"pointmaze-{size}-mixedquality{small}", env, n, seed=seed + 10, kind="maze",
                                   mixed_quality=True, description="state-dependent quality: action noise 0.1 "
                                   "where x < 0, 2.0 where x >= 0"))
    return specs


# Per env: the medium-replay schedule (behaviour, share of the steps) and its length, the number of env
# steps the behaviour run took to reach the medium policy. Policies live in hybridrl/data/policies.
LOCOMOTION = {
    "hopper": ("Hopper-v5", 100_000),
    "halfcheetah": ("HalfCheetah-v5", 80_000),
    "walker2d": ("Walker2d-v5", 210_000),
}
SMALL_ROLLOUT = 25_000  # each -small locomotion rollout; medium-expert-small joins two of them


def _locomotion_specs() -> list[SuiteSpec]:
    specs = []
    for short, (env, replay_steps) in LOCOMOTION.items():
        file = f"{env.lower()}-{{}}.npz"
        for small in ("", "-small"):
            n = SMALL_ROLLOUT if small else 1_000_000
            specs.append(SuiteSpec(f"{short}-random{small}", env, n, seed=4, kind="random",
                                   description="uniformly random actions"))
            specs.append(SuiteSpec(f"{short}-medium{small}", env, n, seed=1, policy=file.format("medium"),
                                   description="stochastic rollouts of a SAC policy at about half the expert's "
                                   "return"))
            specs.append(SuiteSpec(f"{short}-expert{small}", env, n, seed=5, policy=file.format("expert"),
                                   description="stochastic rollouts of the shipped expert SAC policy"))
            specs.append(SuiteSpec(f"{short}-medium-replay{small}", env, min(n, replay_steps), seed=6, kind="replay",
                                   schedule=(("random", 0.1), (file.format("early"), 0.3),
                                             (file.format("mid"), 0.3), (file.format("medium"), 0.3)),
                                   description="a training run's replay buffer up to the medium policy: "
                                   "warm-up, then early, middle and medium snapshots"))
            specs.append(SuiteSpec(f"{short}-medium-expert{small}", env, 2 * n, seed=0, kind="concat",
                                   concat=(f"{short}-medium{small}", f"{short}-expert{small}"),
                                   description="medium followed by expert (D4RL's medium-expert)"))
            for part in ("medium", "medium-replay", "expert", "medium-expert"):
                base = next(s for s in specs if s.name == f"{short}-{part}{small}")
                specs.append(SuiteSpec(f"{short}-{part}-actionfree{small}", env, base.transitions, seed=0,
                                       base=base.name, action_free=True,
                                       description=f"{base.name} without actions and rewards"))
    return specs


def _ogbench_specs() -> list[SuiteSpec]:
    """OGBench's manipulation datasets, generated by its own oracles (data/ogbench_data.py). The env a recipe takes
    from one is the family's default singletask env; any `<family>-singletask-taskN-v0` reads the same data."""
    from hybridrl.data.ogbench_data import OGBENCH_SUITE

    return [SuiteSpec(s.name, s.env.replace("-v0", "-singletask-v0"), s.episodes * (EPISODE_ROWS - 1), s.seed,
                      kind="ogbench", description=f"OGBench's {s.kind} oracles on {s.env}, {s.episodes} episodes of "
                      f"{EPISODE_ROWS - 1} steps (+ {s.episodes // 10} in the -val file), generated here")
            for s in OGBENCH_SUITE.values()]


EPISODE_ROWS = 1001
SUITE: dict[str, SuiteSpec] = {s.name: s for s in [*_locomotion_specs(), *_maze_specs(), *_ogbench_specs()]}


def cache_dir() -> Path:
    return Path(os.environ.get("HYBRIDRL_DATA", Path.home() / ".cache" / "hybridrl")).expanduser()


def dataset_path(name: str) -> Path:
    """Where a built dataset lives; OGBench's under ogbench/ with OGBench's own file names (and -val files)."""
    if SUITE.get(name) is not None and SUITE[name].kind == "ogbench":
        from hybridrl.data.ogbench_data import OGBENCH_SUITE

        return cache_dir() / "ogbench" / f"{OGBENCH_SUITE[name].ogbench_name}.npz"
    return cache_dir() / f"{name}.npz"


def recipe_key(name: str) -> str:
    """What a built dataset was made from: its spec (all but the description), the bytes of the behaviour policies
    it rolls out and its parts' keys. A cached file with another key is stale (say, the shipped policies changed)."""
    spec = SUITE[name]
    h = hashlib.sha256(json.dumps({k: v for k, v in asdict(spec).items() if k != "description"}, sort_keys=True,
                                  default=str).encode())
    for policy in [spec.policy, *(b for b, _ in spec.schedule)]:
        if policy and policy != "random":
            h.update(policy_path(policy).read_bytes())
    for dep in dependencies(name):
        h.update(recipe_key(dep).encode())
    return h.hexdigest()[:16]


def is_stale(name: str) -> bool:
    """Built, but from another recipe than today's (OGBench files are checked by their own generator)."""
    if SUITE[name].kind == "ogbench" or not dataset_path(name).exists():
        return False
    return (built_info(name) or {}).get("recipe_key") != recipe_key(name)


def is_built(name: str) -> bool:
    return dataset_path(name).exists() and not is_stale(name)


def built_info(name: str) -> dict | None:
    """The summary written next to a built dataset (behaviour return, normalised score, build time)."""
    path = dataset_path(name).with_suffix(".json")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def policy_path(filename: str) -> Path:
    return Path(str(resources.files("hybridrl.data") / "policies" / filename))


def build(name: str, force: bool = False, jobs: int = 1) -> Dataset:
    """Roll out the spec's behaviour policy (once; later calls read the cache)."""
    if name not in SUITE:
        raise DataError(f"unknown built-in dataset {name!r}; valid: {', '.join(sorted(SUITE))}")
    path = dataset_path(name)
    if not force and not is_built(name) and not is_stale(name):
        print(f"building {name} into {path.parent} (first use; later runs read the file)", file=sys.stderr,
              flush=True)
    if SUITE[name].kind == "ogbench":
        return _build_ogbench(name, force, jobs)
    if is_stale(name) and not force:
        print(f"{path}: built from older behaviour policies or settings than this version's; rebuilding {name}",
              file=sys.stderr)
        force = True
    if path.exists() and not force:
        ds = _from_npz(path)
        info = built_info(name) or {}
        ds.metadata.update(info.get("metadata", {}), name=name, env=SUITE[name].env)
        return ds
    start = time.time()
    spec = SUITE[name]
    if spec.kind == "concat":
        parts = [build(part) for part in spec.concat]
        offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
        cut = [int(r + o) for p, o in zip(parts, offsets, strict=True) for r in p.metadata.get("cut_episode_ends", [])]
        ds = Dataset.concatenate(parts, {"name": name, "env": spec.env, "behaviour": "concat",
                                         "parts": list(spec.concat), "cut_episode_ends": cut}, f"built-in:{name}")
    elif spec.base is not None:  # same trajectories as the base dataset, then cut and/or stripped
        ds = build(spec.base)
        ds.metadata.update(name=name, base=spec.base)
        if spec.limited:
            from hybridrl.data.maze import limit_coverage

            ds = limit_coverage(ds, spec.env)
            ds.metadata.pop("cut_episode_ends", None)  # rows moved
    else:
        ds = rollout(spec)
    if spec.action_free:
        ds = ds.action_free()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_npz(path)
    from hybridrl.envs import normalized_score

    info = {"name": name, "env": spec.env, "transitions": len(ds), "episodes": int(ds.episode_ends.sum()),
            "fields": list(ds.arrays()), "build_seconds": round(time.time() - start, 1), "metadata": ds.metadata,
            "recipe_key": recipe_key(name)}
    if ds.rewards is not None:
        rets = whole_episode_returns(ds)
        info.update(behaviour_return=float(rets.mean()), behaviour_return_std=float(rets.std()),
                    normalized_score=normalized_score(spec.env, float(rets.mean())))
    path.with_suffix(".json").write_text(json.dumps(info, indent=2))
    return ds


def _build_ogbench(name: str, force: bool, jobs: int) -> Dataset:
    from hybridrl.data import ogbench_data

    ds, stats = ogbench_data.build(name, dataset_path(name).parent, jobs=jobs, force=force)
    if stats:  # generated now: record what it took and what the oracles did
        info = {"name": name, "env": SUITE[name].env, "transitions": len(ds),
                "episodes": int(ds.episode_ends.sum()), "fields": list(ds.arrays()),
                "build_seconds": stats["seconds"], "generation": stats, "metadata": ds.metadata,
                "action_mean": ds.actions.mean(0).round(4).tolist(), "action_std": ds.actions.std(0).round(4).tolist()}
        dataset_path(name).with_suffix(".json").write_text(json.dumps(info, indent=2))
    return ds


def whole_episode_returns(ds: Dataset) -> np.ndarray:
    """Episode returns, leaving out episodes a rollout stream stopped in the middle of (when any remain)."""
    from hybridrl.data.dataset import episode_end_rows

    rets = ds.episode_returns()
    cut = set(ds.metadata.get("cut_episode_ends", []))
    keep = np.array([row not in cut for row in episode_end_rows(ds.episode_ends)])
    return rets[keep] if keep.any() else rets


def dependencies(name: str) -> list[str]:
    """The datasets `name` is cut from or joined from (built before it)."""
    spec = SUITE[name]
    return list(spec.concat) + ([spec.base] if spec.base else [])


def build_many(names: list[str], jobs: int = 1, force: bool = False) -> dict[str, float]:
    """Build several datasets, the rollouts in `jobs` processes at once, the cheap derived ones after.

    Returns seconds per dataset. Processes are spawned (JAX does not survive a fork)."""
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        raise DataError(f"unknown built-in dataset(s) {', '.join(unknown)}; valid: {', '.join(SUITE)}")
    order: list[str] = []

    def visit(name: str) -> None:
        for dep in dependencies(name):
            visit(dep)
        if name not in order:
            order.append(name)

    for name in names:
        visit(name)
    rollouts = [n for n in order if not dependencies(n) and (force or not is_built(n)) and SUITE[n].kind != "ogbench"]
    times: dict[str, float] = {}
    if jobs > 1 and len(rollouts) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            for name, seconds in zip(rollouts, pool.map(_timed_build, rollouts, [force] * len(rollouts)),
                                     strict=True):
                times[name] = seconds
    for name in order:  # OGBench's generators use the `jobs` processes themselves
        if name not in times:
            times[name] = _timed_build(name, force and name in names, jobs if SUITE[name].kind == "ogbench" else 1)
    return times


def _timed_build(name: str, force: bool, jobs: int = 1) -> float:
    start = time.time()
    build(name, force=force, jobs=jobs)
    return time.time() - start


def rollout(spec: SuiteSpec) -> Dataset:
    """Roll out the spec's behaviour: a shipped policy, uniform random actions, a schedule of policies
    (a replay-style dataset), or the maze controller. Locomotion rollouts step ROLLOUT_ENVS envs at once."""
    from hybridrl.data.collect import collect
    from hybridrl.envs import make_env

    meta: dict = {"name": spec.name, "env": spec.env, "behaviour": spec.kind}
    if spec.kind == "maze":
        from hybridrl.data.maze import maze_behaviour, mixed_quality_noise

        noise = mixed_quality_noise() if spec.mixed_quality else spec.noise_scale
        env, behaviour = maze_behaviour(spec.env, spec.seed, noise)
        return collect(env, behaviour, spec.transitions, spec.seed, meta, f"built-in:{spec.name}")
    n_envs = max(1, min(ROLLOUT_ENVS, spec.transitions // 5_000))  # streams of several whole episodes
    envs = [make_env(spec.env) for _ in range(n_envs)]
    shape = (n_envs, *envs[0].action_space.shape)
    if spec.kind == "random":
        behaviour = _random_behaviour(shape, spec.seed)
    elif spec.kind == "replay":
        behaviour = _scheduled_behaviour(spec, shape, -(-spec.transitions // n_envs))
        meta["schedule"] = [list(x) for x in spec.schedule]
    else:
        assert spec.policy is not None, spec
        behaviour = _policy_behaviour(spec.policy, spec.seed, spec.noise_scale)
        meta["policy"] = spec.policy
    return collect(envs, behaviour, spec.transitions, spec.seed, meta, f"built-in:{spec.name}")


Behaviour = Callable[[np.ndarray], np.ndarray]
ROLLOUT_ENVS = 16


def _random_behaviour(shape: tuple[int, ...], seed: int) -> Behaviour:
    rng = np.random.default_rng(seed)
    return lambda obs: rng.uniform(-1.0, 1.0, shape).astype(np.float32)


def _policy_behaviour(filename: str, seed: int, noise_scale: float) -> Behaviour:
    """A shipped policy acting on a batch of observations, sampling with `noise_scale` x its own std."""
    from hybridrl.nn.policy_file import load_policy, policy_fn

    actor, params, _ = load_policy(policy_path(filename))
    act = policy_fn(actor)
    state = {"key": jax.random.PRNGKey(seed)}

    def behaviour(obs: np.ndarray) -> np.ndarray:
        state["key"], sub = jax.random.split(state["key"])
        return np.asarray(act(params, obs.astype(np.float32), sub, noise_scale))

    return behaviour


def _scheduled_behaviour(spec: SuiteSpec, shape: tuple[int, ...], stream_length: int) -> Behaviour:
    """Behaviours in sequence, each for its share of every env's stream: the replay buffer of a training
    run approximated by its uniform warm-up followed by its policy snapshots, in order."""
    parts = [(_random_behaviour(shape, spec.seed + i) if name == "random"
              else _policy_behaviour(name, spec.seed + i, spec.noise_scale), share)
             for i, (name, share) in enumerate(spec.schedule)]
    bounds = np.cumsum([f for _, f in parts]) / sum(f for _, f in parts) * stream_length
    state = {"step": 0}

    def behaviour(obs: np.ndarray) -> np.ndarray:
        part = min(int(np.searchsorted(bounds, state["step"], side="right")), len(parts) - 1)
        state["step"] += 1
        return parts[part][0](obs)

    return behaviour
