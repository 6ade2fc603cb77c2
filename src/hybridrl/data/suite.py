"""Built-in datasets, generated locally and deterministically from behaviour policies that ship with
hybridrl (no downloads). Cached under $HYBRIDRL_DATA, or ~/.cache/hybridrl.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
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


SUITE: dict[str, SuiteSpec] = {
    s.name: s
    for s in [
        SuiteSpec("hopper-medium-small", "Hopper-v5", 30_000, seed=1, policy="hopper-v5-medium.npz",
                  description="stochastic rollouts of a SAC policy at about a third of expert return"),
        SuiteSpec("hopper-medium-actionfree-small", "Hopper-v5", 30_000, seed=1, base="hopper-medium-small",
                  action_free=True, description="hopper-medium-small without actions and rewards"),
        *[SuiteSpec(f"{env.split('-')[0].lower()}-random{small}", env, n, seed=4, kind="random",
                    description="uniformly random actions")
          for env in ("Hopper-v5", "HalfCheetah-v5", "Walker2d-v5")
          for small, n in (("", 1_000_000), ("-small", 50_000))],
        *_maze_specs(),
    ]
}


def cache_dir() -> Path:
    return Path(os.environ.get("HYBRIDRL_DATA", Path.home() / ".cache" / "hybridrl")).expanduser()


def dataset_path(name: str) -> Path:
    return cache_dir() / f"{name}.npz"


def is_built(name: str) -> bool:
    return dataset_path(name).exists()


def built_info(name: str) -> dict | None:
    """The summary written next to a built dataset (behaviour return, normalised score, build time)."""
    path = dataset_path(name).with_suffix(".json")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def policy_path(filename: str) -> Path:
    return Path(str(resources.files("hybridrl.data") / "policies" / filename))


def build(name: str, force: bool = False) -> Dataset:
    """Roll out the spec's behaviour policy (once; later calls read the cache)."""
    if name not in SUITE:
        raise DataError(f"unknown built-in dataset {name!r}; valid: {', '.join(sorted(SUITE))}")
    path = dataset_path(name)
    if path.exists() and not force:
        ds = _from_npz(path)
        info = built_info(name) or {}
        ds.metadata.update(info.get("metadata", {}), name=name, env=SUITE[name].env)
        return ds
    start = time.time()
    spec = SUITE[name]
    if spec.base is not None:  # same trajectories as the base dataset, then cut and/or stripped
        ds = build(spec.base)
        ds.metadata.update(name=name, base=spec.base)
        if spec.limited:
            from hybridrl.data.maze import limit_coverage

            ds = limit_coverage(ds, spec.env)
    else:
        ds = rollout(spec)
    if spec.action_free:
        ds = ds.action_free()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_npz(path)
    from hybridrl.envs import normalized_score

    info = {"name": name, "env": spec.env, "transitions": len(ds), "episodes": int(ds.episode_ends.sum()),
            "fields": list(ds.arrays()), "build_seconds": round(time.time() - start, 1), "metadata": ds.metadata}
    if ds.rewards is not None:
        rets = ds.episode_returns()
        info.update(behaviour_return=float(rets.mean()), behaviour_return_std=float(rets.std()),
                    normalized_score=normalized_score(spec.env, float(rets.mean())))
    path.with_suffix(".json").write_text(json.dumps(info, indent=2))
    return ds


def rollout(spec: SuiteSpec) -> Dataset:
    """Roll out the spec's behaviour: a shipped policy, uniform random actions, a schedule of policies
    (a replay-style dataset), or the maze controller."""
    from hybridrl.data.collect import collect
    from hybridrl.envs import make_env

    meta: dict = {"name": spec.name, "env": spec.env, "behaviour": spec.kind}
    if spec.kind == "maze":
        from hybridrl.data.maze import maze_behaviour, mixed_quality_noise

        noise = mixed_quality_noise() if spec.mixed_quality else spec.noise_scale
        env, behaviour = maze_behaviour(spec.env, spec.seed, noise)
        return collect(env, behaviour, spec.transitions, spec.seed, meta, f"built-in:{spec.name}")
    env = make_env(spec.env)
    if spec.kind == "random":
        behaviour = _random_behaviour(env.action_space.shape, spec.seed)
    elif spec.kind == "replay":
        behaviour = _scheduled_behaviour(spec, env.action_space.shape)
        meta["schedule"] = [list(x) for x in spec.schedule]
    else:
        assert spec.policy is not None, spec
        behaviour = _policy_behaviour(spec.policy, spec.seed, spec.noise_scale)
        meta["policy"] = spec.policy
    return collect(env, behaviour, spec.transitions, spec.seed, meta, f"built-in:{spec.name}")


Behaviour = Callable[[np.ndarray], np.ndarray]


def _random_behaviour(shape: tuple[int, ...], seed: int) -> Behaviour:
    rng = np.random.default_rng(seed)
    return lambda obs: rng.uniform(-1.0, 1.0, shape).astype(np.float32)


def _policy_behaviour(filename: str, seed: int, noise_scale: float) -> Behaviour:
    from hybridrl.training.policy import load_policy, policy_fn

    actor, params, _ = load_policy(policy_path(filename))
    act = policy_fn(actor)
    state = {"key": jax.random.PRNGKey(seed)}

    def behaviour(obs: np.ndarray) -> np.ndarray:
        state["key"], sub = jax.random.split(state["key"])
        return np.asarray(act(params, obs[None].astype(np.float32), sub, noise_scale))[0]

    return behaviour


def _scheduled_behaviour(spec: SuiteSpec, shape: tuple[int, ...]) -> Behaviour:
    """Behaviours in sequence, each for its fraction of the transitions: the replay buffer of a training
    run approximated by its uniform warm-up followed by its policy snapshots, in order."""
    parts = [(_random_behaviour(shape, spec.seed + i) if name == "random"
              else _policy_behaviour(name, spec.seed + i, spec.noise_scale), fraction)
             for i, (name, fraction) in enumerate(spec.schedule)]
    bounds = np.cumsum([f for _, f in parts]) / sum(f for _, f in parts) * spec.transitions
    state = {"step": 0}

    def behaviour(obs: np.ndarray) -> np.ndarray:
        part = min(int(np.searchsorted(bounds, state["step"], side="right")), len(parts) - 1)
        state["step"] += 1
        return parts[part][0](obs)

    return behaviour
