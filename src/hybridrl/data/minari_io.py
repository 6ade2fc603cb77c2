"""Minari datasets (the field's standard format): read local ids or directories, write real Minari
datasets that Minari-aware tools open. Remote ids download only when asked (`download=True`)."""
from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hybridrl.data.dataset import (
    DataError,
    Dataset,
    denormalize_actions,
    is_unit_box,
    normalize_actions,
    parse_action_bounds,
)


@contextlib.contextmanager
def _datasets_root(root: str | os.PathLike | None) -> Iterator[None]:
    """Point Minari at `root` for the duration (Minari reads the location from an env variable)."""
    if root is None:
        yield
        return
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def _import_minari():  # noqa: ANN202
    try:
        import minari
    except ImportError:
        raise DataError("reading or writing Minari datasets needs the minari package: pip install minari") from None
    return minari


def is_minari_dir(path: Path) -> bool:
    return (path / "data" / "metadata.json").exists() or (path / "metadata.json").exists()


def recorded_env(id_or_path: str, root: str | os.PathLike | None = None) -> str | None:
    """The env id a Minari dataset records (from its metadata only), or None if it names none or is not local."""
    path = Path(id_or_path).expanduser()
    if path.is_dir():
        meta = path / "data" / "metadata.json" if (path / "data").is_dir() else path / "metadata.json"
    else:
        with _datasets_root(root):
            from minari.storage import get_dataset_path

            try:
                meta = Path(get_dataset_path(id_or_path)) / "data" / "metadata.json"
            except Exception:  # noqa: BLE001 - an id Minari cannot place: nothing recorded here
                return None
    try:
        import json

        spec = json.loads(meta.read_text()).get("env_spec")
        return json.loads(spec).get("id") if isinstance(spec, str) else (spec or {}).get("id")
    except (OSError, ValueError, AttributeError):
        return None


def read_minari(id_or_path: str, *, download: bool = False, root: str | os.PathLike | None = None,
                action_bounds: object = None, default_action_bounds: object = None) -> Dataset:
    """A Minari dataset as a hybridrl Dataset: a dataset directory, or an id (local; remote if `download`).
    Actions are mapped from the dataset's recorded action space (a Box) to [-1, 1], as make_env maps the env's."""
    minari = _import_minari()
    path = Path(id_or_path).expanduser()
    source = str(path)
    try:
        if path.is_dir():
            mds = minari.MinariDataset(path / "data" if (path / "data").is_dir() else path)
        else:
            with _datasets_root(root):
                local = minari.list_local_datasets()
                if id_or_path not in local and not download:
                    raise DataError(f"Minari dataset {id_or_path!r} is not available locally (local: "
                                    f"{', '.join(sorted(local)) or 'none'}); pass download=True (or "
                                    "`--download`) to fetch it from the Minari server")
                mds = minari.load_dataset(id_or_path, download=download)
            source = f"minari:{id_or_path}"
    except DataError:
        raise
    except Exception as exc:  # minari raises a variety of errors for bad directories
        raise DataError(f"{source}: cannot open as a Minari dataset ({type(exc).__name__}: {exc})") from None
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "next", "act", "rew", "term", "trunc", "goal")}
    episode = 0
    try:
        for ep in mds.iterate_episodes():
            _read_episode(ep, parts)
            episode += 1
    except DataError as exc:
        raise DataError(f"{source}: episode {episode}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - minari/h5py raise many types for damaged episodes
        raise DataError(f"{source}: episode {episode} cannot be read ({type(exc).__name__}: {exc})") from None
    if not parts["obs"]:
        raise DataError(f"{source}: the Minari dataset has no episodes")
    if parts["goal"] and len(parts["goal"]) != len(parts["obs"]):
        raise DataError(f"{source}: some episodes have dict (goal) observations and some do not")
    for name, arrays in parts.items():
        widths = {a.shape[1:] for a in arrays}
        if len(widths) > 1:
            raise DataError(f"{source}: episodes disagree on the shape of {_PART_NAMES[name]} per step: "
                            f"{sorted(widths)}")
    try:
        env_spec = getattr(mds.spec, "env_spec", None)
        meta = {"env": getattr(env_spec, "id", None), "minari_id": getattr(mds.spec, "dataset_id", None)}
    except Exception:  # noqa: BLE001 - a damaged env_spec only loses the env's name
        meta = {"env": None, "minari_id": None}
    actions = np.concatenate(parts["act"])
    bounds = _recorded_bounds(mds, actions.shape[1], source)
    given = parse_action_bounds(action_bounds, actions.shape[1], source)
    if bounds is not None and given is not None and not (np.allclose(bounds[0], given[0])
                                                         and np.allclose(bounds[1], given[1])):
        raise DataError(f"{source}: the Minari dataset's action space is low {bounds[0].tolist()}, high "
                        f"{bounds[1].tolist()}; the option says low {given[0].tolist()}, high {given[1].tolist()}")
    by = "minari action_space" if bounds is not None else "option"
    bounds = bounds if bounds is not None else given
    if bounds is None:
        bounds, by = parse_action_bounds(default_action_bounds, actions.shape[1], source), "env"
    if bounds is not None:
        meta["action_bounds"] = {"low": bounds[0].tolist(), "high": bounds[1].tolist(), "declared_by": by}
        if not is_unit_box(*bounds):
            finite = np.isfinite(actions).all(axis=1)  # NaN rows: validation names them
            actions = actions.copy()
            actions[finite] = normalize_actions(actions[finite], bounds[0], bounds[1], source)
    return Dataset(observations=np.concatenate(parts["obs"]), next_observations=np.concatenate(parts["next"]),
                   actions=actions, rewards=np.concatenate(parts["rew"]),
                   terminals=np.concatenate(parts["term"]), truncations=np.concatenate(parts["trunc"]),
                   goals=np.concatenate(parts["goal"]) if parts["goal"] else None, metadata=meta, source=source)


def _recorded_bounds(mds: object, dim: int, source: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The recorded action space's bounds, when it is a finite Box of the actions' size (else None)."""
    try:
        space = mds.spec.action_space
        low, high = np.asarray(space.low, np.float64).ravel(), np.asarray(space.high, np.float64).ravel()
    except Exception:  # noqa: BLE001 - no recorded Box (or damaged metadata): nothing declared
        return None
    if low.size != dim or not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        return None
    return parse_action_bounds((low, high), dim, source)


_PART_NAMES = {"obs": "observations", "next": "observations", "act": "actions", "rew": "rewards",
               "term": "terminations", "trunc": "truncations", "goal": "desired_goal"}


def _numbers(value: object, name: str, rank: int | None = None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"'{name}' has dtype {arr.dtype}; expected numbers")
    if arr.ndim == 0 or (rank is not None and arr.ndim != rank):
        raise DataError(f"'{name}' has shape {arr.shape}; expected {rank or 'at least 1'}-D")
    return arr


def _read_episode(ep: object, parts: dict[str, list[np.ndarray]]) -> None:
    """One episode's arrays, checked field by field, appended to `parts`."""
    rewards = _numbers(ep.rewards, "rewards", 1).astype(np.float32)
    n = len(rewards)
    obs = ep.observations
    if isinstance(obs, dict):  # goal environments: observation + desired_goal
        if not {"observation", "desired_goal"} <= set(obs):
            raise DataError(f"dict observations need 'observation' and 'desired_goal'; found keys {sorted(obs)}")
        goal = _numbers(obs["desired_goal"], "desired_goal").astype(np.float32)
        if len(goal) != n + 1:
            raise DataError(f"{len(goal)} desired goals for {n} steps; expected {n + 1}")
        parts["goal"].append(goal[:-1].reshape(n, -1))
        obs = obs["observation"]
    obs = _numbers(obs, "observations").astype(np.float32)
    if len(obs) != n + 1:
        raise DataError(f"{len(obs)} observations for {n} steps; expected {n + 1}")
    obs = obs.reshape(n + 1, -1)
    actions = _numbers(ep.actions, "actions").astype(np.float32)
    if len(actions) != n:
        raise DataError(f"{len(actions)} actions for {n} steps")
    term = _numbers(ep.terminations, "terminations", 1).astype(bool)
    trunc = _numbers(ep.truncations, "truncations", 1).astype(bool)
    if len(term) != n or len(trunc) != n:
        raise DataError(f"{len(term)} terminations and {len(trunc)} truncations for {n} steps")
    if n and not (term[-1] or trunc[-1]):
        trunc = trunc.copy()
        trunc[-1] = True  # an episode cut off by the end of recording: bootstrap through it
    parts["obs"].append(obs[:-1])
    parts["next"].append(obs[1:])
    parts["act"].append(actions.reshape(n, -1))
    parts["rew"].append(rewards)
    parts["term"].append(term)
    parts["trunc"].append(trunc)


def write_minari(ds: Dataset, dataset_id: str, *, env_id: str | None = None,
                 root: str | os.PathLike | None = None, description: str | None = None,
                 ref_min_score: float | None = None, ref_max_score: float | None = None) -> Path:
    """Write `ds` as a Minari dataset (one Minari episode per hybridrl episode); returns its directory."""
    minari = _import_minari()
    import gymnasium as gym
    from minari.data_collector import EpisodeBuffer

    if ds.actions is None or ds.rewards is None:
        raise DataError(f"{ds.source}: Minari datasets need actions and rewards; write an action-free dataset "
                        "as .npz or .hdf5 instead")
    actions = ds.actions
    bounds = ds.metadata.get("action_bounds")
    if bounds:  # read from another action range: written back in its own units and action space
        bounds = (np.asarray(bounds["low"], np.float32), np.asarray(bounds["high"], np.float32))
        actions = denormalize_actions(ds.actions, *bounds)
    ends = np.flatnonzero(ds.episode_ends)
    if len(ends) == 0 or ends[-1] != len(ds) - 1:
        ends = np.append(ends, len(ds) - 1)
    starts = np.concatenate([[0], ends[:-1] + 1])
    buffers = []
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        obs = np.concatenate([ds.observations[s:e + 1], ds.next_observations[e:e + 1]])
        if ds.goals is not None:  # goal datasets become Minari's dict observations
            goal = np.concatenate([ds.goals[s:e + 1], ds.goals[e:e + 1]])
            obs = {"observation": obs, "desired_goal": goal}
        if e > s and not np.array_equal(ds.next_observations[s:e], ds.observations[s + 1:e + 1]):
            raise DataError(f"{ds.source}: episode {i} (rows {s}..{e}) is not contiguous (next_observations[t] != "
                            "observations[t+1]); Minari stores episodes as observation sequences")
        trunc = ds.truncations[s:e + 1].copy()
        trunc[-1] = trunc[-1] or not ds.terminals[e]
        buffers.append(EpisodeBuffer(id=i, observations=obs, actions=actions[s:e + 1],
                                     rewards=list(ds.rewards[s:e + 1].astype(np.float64)),
                                     terminations=list(ds.terminals[s:e + 1]), truncations=list(trunc)))
    obs_space = gym.spaces.Box(-np.inf, np.inf, ds.observations.shape[1:], np.float32)
    if ds.goals is not None:
        obs_space = gym.spaces.Dict({"observation": obs_space, "desired_goal": gym.spaces.Box(
            -np.inf, np.inf, ds.goals.shape[1:], np.float32)})
    act_space = gym.spaces.Box(-1.0, 1.0, ds.actions.shape[1:], np.float32)
    if bounds:
        act_space = gym.spaces.Box(bounds[0], bounds[1], ds.actions.shape[1:], np.float32)
    if env_id:
        from hybridrl.envs.make import register_envs

        register_envs(env_id)
    with _datasets_root(root), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is set to None.*")  # optional authorship fields
        try:
            minari.create_dataset_from_buffers(
                dataset_id, buffers, env=env_id if env_id else None, observation_space=obs_space,
                action_space=act_space, algorithm_name="hybridrl",
                description=description or f"written by hybridrl from {ds.source}",
                ref_min_score=ref_min_score, ref_max_score=ref_max_score)
        except gym.error.Error as exc:
            raise DataError(f"{ds.source}: cannot write Minari dataset {dataset_id!r} for env {env_id!r}: {exc}") \
                from None
        from minari.storage import get_dataset_path

        return Path(get_dataset_path(dataset_id))
