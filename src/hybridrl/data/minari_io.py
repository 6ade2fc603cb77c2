"""Minari datasets (the field's standard format): read local ids or directories, write real Minari
datasets that Minari-aware tools open. Remote ids download only when asked (`download=True`)."""
from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hybridrl.data.dataset import DataError, Dataset


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


def read_minari(id_or_path: str, *, download: bool = False, root: str | os.PathLike | None = None) -> Dataset:
    """A Minari dataset as a hybridrl Dataset: a dataset directory, or an id (local; remote if `download`)."""
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
    for ep in mds.iterate_episodes():
        obs = ep.observations
        if isinstance(obs, dict):  # goal environments: observation + desired_goal
            if not {"observation", "desired_goal"} <= set(obs):
                raise DataError(f"{source}: dict observations need 'observation' and 'desired_goal'; found keys "
                                f"{sorted(obs)}")
            parts["goal"].append(np.asarray(obs["desired_goal"], np.float32)[:-1].reshape(len(ep.rewards), -1))
            obs = obs["observation"]
        obs = np.asarray(obs, np.float32).reshape(len(obs), -1)
        n = len(ep.rewards)
        if len(obs) != n + 1:
            raise DataError(f"{source}: episode {ep.id} has {len(obs)} observations for {n} steps; expected "
                            f"{n + 1}")
        parts["obs"].append(obs[:-1])
        parts["next"].append(obs[1:])
        parts["act"].append(np.asarray(ep.actions, np.float32).reshape(n, -1))
        parts["rew"].append(np.asarray(ep.rewards, np.float32))
        term = np.asarray(ep.terminations, bool)
        trunc = np.asarray(ep.truncations, bool)
        if n and not (term[-1] or trunc[-1]):
            trunc = trunc.copy()
            trunc[-1] = True  # an episode cut off by the end of recording: bootstrap through it
        parts["term"].append(term)
        parts["trunc"].append(trunc)
    if not parts["obs"]:
        raise DataError(f"{source}: the Minari dataset has no episodes")
    meta = {"env": (mds.spec.env_spec.id if getattr(mds.spec, "env_spec", None) is not None else None),
            "minari_id": getattr(mds.spec, "dataset_id", None)}
    return Dataset(observations=np.concatenate(parts["obs"]), next_observations=np.concatenate(parts["next"]),
                   actions=np.concatenate(parts["act"]), rewards=np.concatenate(parts["rew"]),
                   terminals=np.concatenate(parts["term"]), truncations=np.concatenate(parts["trunc"]),
                   goals=np.concatenate(parts["goal"]) if parts["goal"] else None, metadata=meta, source=source)


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
        buffers.append(EpisodeBuffer(id=i, observations=obs, actions=ds.actions[s:e + 1],
                                     rewards=list(ds.rewards[s:e + 1].astype(np.float64)),
                                     terminations=list(ds.terminals[s:e + 1]), truncations=list(trunc)))
    obs_space = gym.spaces.Box(-np.inf, np.inf, ds.observations.shape[1:], np.float32)
    if ds.goals is not None:
        obs_space = gym.spaces.Dict({"observation": obs_space, "desired_goal": gym.spaces.Box(
            -np.inf, np.inf, ds.goals.shape[1:], np.float32)})
    act_space = gym.spaces.Box(-1.0, 1.0, ds.actions.shape[1:], np.float32)
    if env_id:
        from hybridrl.envs.make import _register_robotics, _register_toy

        _register_toy()
        _register_robotics(env_id)
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
