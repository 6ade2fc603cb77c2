"""The one dataset type: flat transition arrays with episode ends; actions and rewards optional."""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


class DataError(ValueError):
    """A dataset that cannot be used as it is; names the file, the field, what was expected and found."""


ACTION_CLIP = 1.0 - 1e-5


def parse_action_bounds(bounds: Any, action_dim: int | None, source: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(low, high) per action dimension from two scalars, or from 2·A values (A lows, then A highs).

    Learners act in [-1, 1]; a dataset whose actions live in [low, high] is mapped there on load."""
    if bounds is None:
        return None
    if isinstance(bounds, tuple) and len(bounds) == 2 and np.ndim(bounds[0]) == 1:
        low, high = (np.asarray(b, np.float64) for b in bounds)
    else:
        flat = np.asarray(bounds, np.float64).ravel()
        if flat.size == 2:
            low, high = flat[:1], flat[1:]
        elif flat.size % 2 == 0 and flat.size > 2:
            low, high = flat[:flat.size // 2], flat[flat.size // 2:]
        else:
            raise DataError(f"{source}: action bounds {list(flat)} must be LOW,HIGH or A lows followed by A highs")
    if action_dim is not None:
        if low.size == 1:
            low, high = np.full(action_dim, low[0]), np.full(action_dim, high[0])
        if low.size != action_dim:
            raise DataError(f"{source}: action bounds give {low.size} dimensions; the actions have {action_dim}")
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low < high)):
        raise DataError(f"{source}: action bounds need finite low < high in every dimension; got low {low.tolist()}, "
                        f"high {high.tolist()}")
    return low, high


def is_unit_box(low: np.ndarray, high: np.ndarray) -> bool:
    return bool(np.allclose(low, -1.0) and np.allclose(high, 1.0))


def normalize_actions(actions: np.ndarray, low: np.ndarray, high: np.ndarray, source: str) -> np.ndarray:
    """[low, high] → [-1, 1] (what gymnasium's RescaleAction inverts when the env acts); values outside the
    declared bounds are a DataError naming the field and the first offending dimension."""
    tol = 1e-6 * np.maximum(1.0, high - low)
    outside = (actions < low - tol) | (actions > high + tol)
    if outside.any():
        row, dim = np.argwhere(outside)[0]
        raise DataError(f"{source}: field 'actions' has {int(outside.any(axis=1).sum())} rows outside the declared "
                        f"action bounds, e.g. row {row} dimension {dim}: {actions[row, dim]:.4g} not in "
                        f"[{low[dim]:.4g}, {high[dim]:.4g}]")
    return (2.0 * (actions - low) / (high - low) - 1.0).astype(np.float32)


def denormalize_actions(actions: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return (low + (np.asarray(actions, np.float64) + 1.0) * 0.5 * (high - low)).astype(np.float32)


def sparsify(rewards: Any) -> np.ndarray:
    """−1 where a reward is not 0, else 0: QC's sparse form of OGBench's −#unsolved rewards (−1 until solved)."""
    return -(np.asarray(rewards) != 0).astype(np.float32)


@dataclass
class Dataset:
    observations: np.ndarray  # (N, obs_dim)
    next_observations: np.ndarray  # (N, obs_dim)
    terminals: np.ndarray  # (N,) bool: a true end of the task (no bootstrap)
    truncations: np.ndarray  # (N,) bool: an episode cut by a time limit (bootstrap through it)
    actions: np.ndarray | None = None  # (N, act_dim) in [-1, 1]
    rewards: np.ndarray | None = None  # (N,)
    goals: np.ndarray | None = None  # (N, goal_dim): the goal commanded at each step (goal-reaching tasks)
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = "<memory>"

    def __post_init__(self) -> None:
        # Gymnasium may report a step as both terminated and truncated (the task ended on the time
        # limit's last step); terminated wins, as gymnasium defines, so such a row is a terminal.
        if np.shape(self.terminals) == np.shape(self.truncations):
            self.truncations = np.asarray(self.truncations, bool) & ~np.asarray(self.terminals, bool)
        self.validate()

    def __len__(self) -> int:
        return len(self.observations)

    @property
    def episode_ends(self) -> np.ndarray:
        return self.terminals | self.truncations

    def validate(self) -> None:
        src = self.source
        for name in ("observations", "next_observations", "terminals", "truncations", "actions", "rewards", "goals"):
            arr = getattr(self, name)
            if arr is not None and not isinstance(arr, np.ndarray):
                raise DataError(f"{src}: field '{name}' must be a NumPy array; found {type(arr).__name__}")
        if self.observations.ndim != 2:
            raise DataError(f"{src}: field 'observations' must be 2-D (N, obs_dim); found shape "
                            f"{self.observations.shape}")
        n = len(self.observations)
        expected = {"next_observations": (n, self.observations.shape[1]), "terminals": (n,), "truncations": (n,)}
        if self.rewards is not None:
            expected["rewards"] = (n,)
        if self.goals is not None:
            if self.goals.ndim != 2:
                raise DataError(f"{src}: field 'goals' must be 2-D (N, goal_dim); found shape {self.goals.shape}")
            expected["goals"] = (n, self.goals.shape[1])
        if self.actions is not None:
            if self.actions.ndim != 2:
                raise DataError(f"{src}: field 'actions' must be 2-D (N, act_dim); found shape {self.actions.shape}")
            expected["actions"] = (n, self.actions.shape[1])
        for name, shape in expected.items():
            arr = getattr(self, name)
            if arr.shape != shape:
                raise DataError(f"{src}: field '{name}' should have shape {shape} to match 'observations' "
                                f"{self.observations.shape}; found {arr.shape}")
        for name in ("observations", "next_observations", "actions", "rewards", "goals"):
            arr = getattr(self, name)
            if arr is not None and not np.all(np.isfinite(arr)):
                bad = int(np.sum(~np.isfinite(arr).reshape(len(arr), -1).all(axis=1)))
                raise DataError(f"{src}: field '{name}' has {bad} rows with NaN or inf; expected finite values")
        if self.actions is not None and np.abs(self.actions).max(initial=0.0) > 1.0 + 1e-6:
            raise DataError(f"{src}: field 'actions' has values up to {np.abs(self.actions).max():.4g}; expected "
                            "actions in [-1, 1], or declare the dataset's action bounds (--action-bounds=LOW,HIGH, "
                            "train.action_bounds, or 'action_low'/'action_high' fields) to have them rescaled")
        inner = ~self.episode_ends[:-1]
        broken = np.flatnonzero(inner & np.any(self.next_observations[:-1] != self.observations[1:], axis=1))
        if len(broken):
            raise DataError(f"{src}: 'next_observations'[{broken[0]}] differs from 'observations'[{broken[0] + 1}] "
                            f"but no episode ends there ({len(broken)} such rows); expected a terminal or truncation "
                            "at every episode boundary")

    def transitions(self, reward_scale: float = 1.0, reward_bias: float = 0.0) -> dict[str, np.ndarray]:
        """The arrays an action-based agent trains on: masks are 0 only at true terminals."""
        if self.actions is None or self.rewards is None:
            missing = [n for n in ("actions", "rewards") if getattr(self, n) is None]
            raise DataError(f"{self.source}: this recipe needs {' and '.join(missing)}, which the dataset lacks")
        obs, next_obs = self.observations, self.next_observations
        if self.goals is not None:  # goal-conditioned agents see [observation, goal], as make_env's envs do
            obs, next_obs = np.concatenate([obs, self.goals], 1), np.concatenate([next_obs, self.goals], 1)
        return {
            "observations": obs.astype(np.float32),
            "actions": np.clip(self.actions, -ACTION_CLIP, ACTION_CLIP).astype(np.float32),
            "rewards": (self.rewards * reward_scale + reward_bias).astype(np.float32),
            "next_observations": next_obs.astype(np.float32),
            "masks": (1.0 - self.terminals).astype(np.float32),
        }

    def with_task(self, rewards: np.ndarray, terminals: np.ndarray, goal: np.ndarray, info: dict[str, Any]
                  ) -> Dataset:
        """The same trajectories as one task sees them: its rewards, its ends added to the recorded ones, its goal
        at every row; `info` (what the task is) goes into metadata['task'], which marks the data as relabelled."""
        goal = np.asarray(goal, np.float32)
        arrays = {k: v for k, v in self.arrays().items() if k not in ("rewards", "terminals", "goals")}
        return Dataset(**arrays, rewards=np.asarray(rewards, np.float32), terminals=self.terminals | terminals,
                       goals=np.broadcast_to(goal, (len(self), len(goal))).copy(),
                       metadata={**self.metadata, "task": {**info, "successes": int(np.sum(rewards > 0))}},
                       source=self.source if self.source.endswith(")") else f"{self.source} (task)")

    def action_free(self) -> Dataset:
        """The same trajectories without actions and rewards (what an observation-only log holds)."""
        return Dataset(observations=self.observations, next_observations=self.next_observations,
                       terminals=self.terminals, truncations=self.truncations, goals=self.goals,
                       metadata=dict(self.metadata), source=f"{self.source} (action-free)")

    @staticmethod
    def concatenate(parts: list[Dataset], metadata: dict[str, Any], source: str) -> Dataset:
        """Whole-episode datasets one after another (D4RL's medium-expert is medium followed by expert)."""
        fields = parts[0].arrays().keys()
        if any(p.arrays().keys() != fields for p in parts):
            raise DataError(f"{source}: cannot concatenate datasets with different fields "
                            f"({[sorted(p.arrays()) for p in parts]})")
        return Dataset(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in fields},
                       metadata=metadata, source=source)

    def returns_to_go(self, discount: float, sparse_failure_reward: float | None = None,
                      reward_scale: float = 1.0, reward_bias: float = 0.0) -> np.ndarray:
        """Monte-Carlo discounted return from each transition to its episode's end (Cal-QL's G_MC).

        A terminal ends the sum; a truncation also ends it (the rest of the episode was not recorded).
        With `sparse_failure_reward` set, an episode whose every reward equals it (never successful)
        gets r/(1−γ) everywhere, the value of failing forever, as Cal-QL does. Rewards are transformed
        (r·scale + bias) first, so the returns match what the critic is trained on; `sparse_failure_reward`
        is compared with the transformed rewards. Cutting at truncations follows Cal-QL (with negative
        rewards it overestimates G near time limits).
        """
        if self.rewards is None:
            raise DataError(f"{self.source}: returns-to-go need rewards, which the dataset lacks")
        rewards = self.rewards * reward_scale + reward_bias
        return discounted_returns(rewards, self.episode_ends, discount, sparse_failure_reward)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for name, arr in self.arrays().items():
            h.update(f"{name}{arr.shape}{arr.dtype}".encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()[:16]

    def episode_returns(self) -> np.ndarray:
        if self.rewards is None:
            raise DataError(f"{self.source}: no rewards, so no returns")
        ends = episode_end_rows(self.episode_ends)
        starts = np.concatenate([[0], ends[:-1] + 1])
        return np.array([self.rewards[s:e + 1].sum() for s, e in zip(starts, ends, strict=True)])

    def summary(self) -> dict[str, Any]:
        """What `hybridrl data info` prints: size, episodes, returns, fields, action coverage."""
        info: dict[str, Any] = {"source": self.source, "transitions": len(self),
                                "episodes": len(episode_end_rows(self.episode_ends)),
                                "terminals": int(self.terminals.sum()), "truncations": int(self.truncations.sum()),
                                "obs_dim": int(self.observations.shape[1]),
                                "fields": list(self.arrays()),
                                "metadata": self.metadata}
        if self.actions is not None:
            info["action_dim"] = int(self.actions.shape[1])
            info["action_mean_abs"] = float(np.abs(self.actions).mean())
            info["action_std"] = [round(float(x), 4) for x in self.actions.std(axis=0)]
            bounds = self.metadata.get("action_bounds")
            info["action_bounds"] = ({"low": bounds["low"], "high": bounds["high"]} if bounds else
                                     "[-1, 1] (assumed: none declared)")
        if self.rewards is not None and self.episode_ends.any():
            rets = self.episode_returns()
            info["return"] = {"mean": float(rets.mean()), "std": float(rets.std()), "min": float(rets.min()),
                              "max": float(rets.max())}
            if self.metadata.get("cut_episode_ends"):  # `data list`'s behaviour return leaves these out
                from hybridrl.data.suite import whole_episode_returns

                whole = whole_episode_returns(self)
                info["return_whole_episodes"] = {"mean": float(whole.mean()), "std": float(whole.std()),
                                                 "episodes": len(whole), "left_out": len(rets) - len(whole)}
        return info

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in ("observations", "next_observations", "terminals", "truncations",
                                              "actions", "rewards", "goals") if getattr(self, k) is not None}

    def stored_arrays(self) -> dict[str, np.ndarray]:
        """The arrays as files hold them: actions in their original units, with 'action_low'/'action_high',
        when the dataset was read from another action range (so a round trip is exact)."""
        arrays = self.arrays()
        bounds = self.metadata.get("action_bounds")
        if self.actions is not None and bounds:
            low, high = np.asarray(bounds["low"]), np.asarray(bounds["high"])
            if not is_unit_box(low, high):
                arrays["actions"] = denormalize_actions(self.actions, low, high)
            arrays["action_low"], arrays["action_high"] = low.astype(np.float32), high.astype(np.float32)
        return arrays

    def save_npz(self, path: str | os.PathLike) -> None:
        with _atomic(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **self.stored_arrays())

    def save_hdf5(self, path: str | os.PathLike) -> None:
        """D4RL layout: time-limit ends go to `timeouts`, next observations are stored explicitly."""
        import h5py

        with _atomic(path) as tmp, h5py.File(tmp, "w") as f:
            for k, v in self.stored_arrays().items():
                f.create_dataset("timeouts" if k == "truncations" else k, data=v, compression="gzip")


@contextlib.contextmanager
def _atomic(path: str | os.PathLike) -> Iterator[str]:
    """A unique temporary name beside `path`, renamed onto it on success (removed on failure)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def episode_end_rows(episode_ends: np.ndarray) -> np.ndarray:
    """Index of each episode's last row; an unfinished final episode counts as one."""
    ends = np.flatnonzero(episode_ends)
    if len(episode_ends) and (len(ends) == 0 or ends[-1] != len(episode_ends) - 1):
        ends = np.append(ends, len(episode_ends) - 1)
    return ends


def discounted_returns(rewards: np.ndarray, episode_ends: np.ndarray, discount: float,
                       sparse_failure_reward: float | None = None) -> np.ndarray:
    """G_t = r_t + γ G_{t+1} within each episode (an unfinished tail counts as an episode)."""
    rewards = np.asarray(rewards, np.float64)
    out = np.zeros_like(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        if episode_ends[t] or t == len(rewards) - 1:
            running = 0.0
        running = rewards[t] + discount * running
        out[t] = running
    if sparse_failure_reward is not None:
        start = 0
        for end in episode_end_rows(episode_ends):
            if np.all(rewards[start:end + 1] == sparse_failure_reward):
                out[start:end + 1] = sparse_failure_reward / (1.0 - discount)
            start = end + 1
    return out.astype(np.float32)


def repair(fields: dict[str, np.ndarray | None]) -> tuple[dict[str, np.ndarray | None], dict[str, int]]:
    """What `--drop-invalid` does, counted: drop rows with NaN/inf (the row before a gap becomes a
    truncation), clip actions into [-1, 1], let a terminal win over a truncation on the same row, and
    mark an episode end wherever next_observations[t] != observations[t+1]."""
    f = dict(fields)
    n = len(f["observations"])
    for name in ("terminals", "truncations"):
        if f[name].shape != (n,):
            raise ValueError(f"'{name}' has shape {f[name].shape}; expected ({n},)")
    bad = np.zeros(n, bool)
    for name in ("observations", "next_observations", "actions", "rewards", "goals"):
        if f.get(name) is not None:
            bad |= ~np.isfinite(f[name]).reshape(n, -1).all(axis=1)
    report = {"rows_dropped_nonfinite": int(bad.sum())}
    if bad.any():
        before_gap = ~bad & np.append(bad[1:], False)
        f["truncations"] = f["truncations"] | (before_gap & ~f["terminals"])
        f = {k: (v[~bad] if v is not None else None) for k, v in f.items()}
    if f.get("actions") is not None:
        out = np.abs(f["actions"]) > 1.0
        report["actions_clipped"] = int(out.sum())
        f["actions"] = np.clip(f["actions"], -1.0, 1.0)
    both = f["terminals"] & f["truncations"]
    report["truncations_cleared_on_terminals"] = int(both.sum())
    f["truncations"] = f["truncations"] & ~f["terminals"]
    ends = f["terminals"] | f["truncations"]
    gap = np.append(~ends[:-1] & np.any(f["next_observations"][:-1] != f["observations"][1:], axis=1), False)
    report["episode_ends_added"] = int(gap.sum())
    f["truncations"] = f["truncations"] | gap
    return f, report


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of a .npz file, read without pickle (anything else is a DataError naming the file)."""
    import zipfile

    with open(path, "rb") as f:
        head = f.read(6)
    if not zipfile.is_zipfile(path) and head != b"\x93NUMPY":  # NumPy would call any other bytes "pickled"
        raise DataError(f"{path}: not a .npz file (a zip archive of .npy arrays); it starts with {head!r}"
                        + (" — empty" if not head else ""))
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except ValueError as exc:
        raise DataError(f"{path}: cannot read as a NumPy .npz without pickle ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - zipfile/numpy raise many types (BadZipFile, NotImplementedError, ...)
        raise DataError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None


def _from_npz(path: Path, drop_invalid: bool = False, action_bounds: Any = None,
              default_action_bounds: Any = None) -> Dataset:
    arrays = _read_npz(path)
    from hybridrl.data.ogbench_data import is_ogbench_layout, load_file

    if is_ogbench_layout(arrays):  # OGBench's own layout (trajectory ends are time-limit cuts; no rewards)
        return load_file(path, arrays=arrays)
    return _from_arrays(arrays, str(path), drop_invalid, action_bounds, default_action_bounds)


def _from_hdf5(path: Path, drop_invalid: bool = False, action_bounds: Any = None,
               default_action_bounds: Any = None) -> Dataset:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            arrays = {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset)}
            if "goals" not in arrays and "infos" in f and "goal" in f["infos"]:
                arrays["goals"] = f["infos"]["goal"][()]  # D4RL maze2d / AntMaze layout
    except Exception as exc:  # noqa: BLE001 - h5py raises many types for damaged files
        raise DataError(f"{path}: not a readable HDF5 file ({type(exc).__name__}: {exc})") from None
    return _from_arrays(arrays, str(path), drop_invalid, action_bounds, default_action_bounds)


def _field(arrays: dict[str, Any], name: str, source: str, dtype: type, ndim: tuple[int, ...]) -> np.ndarray:
    """One field as `dtype`, refused (DataError naming it) unless it holds plain numbers of a fitting rank."""
    arr = np.asarray(arrays[name])
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{source}: field '{name}' has dtype {arr.dtype}; expected numbers (bool, int or float)")
    if arr.ndim not in ndim:
        raise DataError(f"{source}: field '{name}' has shape {arr.shape}; expected "
                        + (" or ".join(f"{d}-D" for d in ndim)))
    with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values become inf: validation names them
        return arr.astype(dtype)


def next_rows_layout(arrays: dict[str, Any], source: str) -> tuple[dict[str, Any], dict[str, int]]:
    """D4RL's own layout (AntMaze, Maze2d, older locomotion files): no next_observations. Read as
    `d4rl.qlearning_dataset` does: the next state is the following row; a row cut by a timeout (whose
    following row starts another episode) and the file's last row are dropped. The row kept before a
    dropped one becomes a truncation (its episode continues past what was kept), unless it is a terminal."""
    obs = _field(arrays, "observations", source, np.float32, (2,))
    n = len(obs)
    terminals = _field(arrays, "terminals", source, bool, (1,))
    cuts = _field(arrays, "truncations", source, bool, (1,)) if "truncations" in arrays else np.zeros(n, bool)
    if terminals.shape != (n,) or cuts.shape != (n,) or n < 2:
        raise DataError(f"{source}: field 'terminals' (and 'timeouts') must have one entry per row of 'observations' "
                        f"({n} rows, at least 2 without 'next_observations'); found {terminals.shape}, {cuts.shape}")
    keep = ~cuts
    keep[-1] = False
    rows = np.flatnonzero(keep)
    out: dict[str, Any] = {"observations": obs[rows], "next_observations": obs[rows + 1], "terminals": terminals[rows]}
    followed = np.append(rows[1:] == rows[:-1] + 1, False)  # the next kept row is this row's successor
    out["truncations"] = ~followed & ~out["terminals"]
    for name in ("actions", "rewards", "goals"):
        if arrays.get(name) is not None:
            arr = np.asarray(arrays[name])
            if len(arr) != n:
                raise DataError(f"{source}: field '{name}' has {len(arr)} rows; 'observations' has {n}")
            out[name] = arr[rows]
    report = {"rows_in_file": n, "rows_dropped_at_timeouts": int(cuts[:-1].sum()), "rows_dropped_at_end": 1}
    return out, report


def _from_arrays(arrays: dict[str, np.ndarray], source: str, drop_invalid: bool = False,
                 action_bounds: Any = None, default_action_bounds: Any = None) -> Dataset:
    if "timeouts" in arrays and "truncations" not in arrays:  # D4RL's name for time-limit ends
        arrays = {**arrays, "truncations": arrays["timeouts"]}
    for name in ("observations", "terminals"):
        if name not in arrays:
            raise DataError(f"{source}: required field '{name}' is missing; found fields {sorted(arrays)}")
    metadata: dict[str, Any] = {}
    if "next_observations" not in arrays:
        arrays, metadata["next_observations_from_next_row"] = next_rows_layout(arrays, source)
    terminals = _field(arrays, "terminals", source, bool, (1,))
    fields: dict[str, np.ndarray | None] = {
        "observations": _field(arrays, "observations", source, np.float32, (2,)),
        "next_observations": _field(arrays, "next_observations", source, np.float32, (2,)),
        "terminals": terminals,
        "truncations": _field(arrays, "truncations", source, bool, (1,)) if "truncations" in arrays
        else np.zeros_like(terminals)}
    for name, ndim in (("actions", 2), ("rewards", 1), ("goals", 2)):
        fields[name] = None if arrays.get(name) is None else _field(arrays, name, source, np.float32, (ndim,))
    fields["actions"] = _declared_bounds(arrays, fields["actions"], action_bounds, default_action_bounds, source,
                                         metadata)
    if drop_invalid:
        try:
            fields, metadata["repairs"] = repair(fields)
        except (ValueError, IndexError) as exc:  # shapes too broken to repair: validation says why
            metadata["repairs"] = {"error": str(exc)}
    return Dataset(**fields, metadata=metadata, source=source)


def _declared_bounds(arrays: dict[str, Any], actions: np.ndarray | None, option: Any, default: Any, source: str,
                     metadata: dict[str, Any]) -> np.ndarray | None:
    """Actions mapped to [-1, 1] from their bounds: the file's 'action_low'/'action_high', else `option`, else
    `default` (the env's); the original bounds go to metadata['action_bounds'] (file and option disagreeing:
    DataError)."""
    if actions is None:
        return None
    dim = actions.shape[1] if actions.ndim == 2 else None
    stored = None
    if "action_low" in arrays or "action_high" in arrays:
        if not ("action_low" in arrays and "action_high" in arrays):
            raise DataError(f"{source}: 'action_low' and 'action_high' come together; found only one of them")
        low = _field(arrays, "action_low", source, np.float64, (0, 1))
        high = _field(arrays, "action_high", source, np.float64, (0, 1))
        stored = parse_action_bounds((np.atleast_1d(low), np.atleast_1d(high)), dim, source)
    given = parse_action_bounds(option, dim, source)
    if stored is not None and given is not None and not (np.allclose(stored[0], given[0])
                                                         and np.allclose(stored[1], given[1])):
        raise DataError(f"{source}: the file declares action bounds low {stored[0].tolist()}, high "
                        f"{stored[1].tolist()}; the option says low {given[0].tolist()}, high {given[1].tolist()}")
    bounds, by = (stored, "file") if stored is not None else (given, "option")
    if bounds is None:
        env_dim = np.size(default[0]) if isinstance(default, tuple) and len(default) == 2 else None
        if dim is not None and env_dim is not None and env_dim > 1 and env_dim != dim:
            raise DataError(f"{source}: the actions have {dim} dimensions but the env's action space has {env_dim}; "
                            "the data was recorded on another env (check --env)")
        bounds, by = parse_action_bounds(default, dim, source), "env"
    if bounds is None or dim is None:
        return actions
    metadata["action_bounds"] = {"low": bounds[0].tolist(), "high": bounds[1].tolist(), "declared_by": by}
    if is_unit_box(*bounds):
        return actions
    with np.errstate(invalid="ignore"):  # NaN rows are reported by validation
        finite = np.isfinite(actions).all(axis=1)
        mapped = actions.copy()
        mapped[finite] = normalize_actions(actions[finite], bounds[0], bounds[1], source)
    return mapped


def load_dataset(path_or_name: str, *, download: bool = False, drop_invalid: bool = False,
                 action_bounds: Any = None, default_action_bounds: Any = None) -> Dataset:
    """A dataset from a file (.npz, .hdf5/.h5), a Minari dataset directory, a built-in name (built
    locally on first use) or a Minari id (local; fetched from the Minari server only if `download`).
    `drop_invalid` repairs a .npz/.hdf5 file's problems instead of refusing it (see `repair`); what was
    changed is in `metadata["repairs"]`. `action_bounds` (LOW,HIGH or per-dimension lows then highs) declares
    where a file's actions live, so they are mapped to [-1, 1]; Minari datasets declare their own (their
    recorded action space). `default_action_bounds` (the env's) apply to data that declares none."""
    path = Path(path_or_name).expanduser()
    if path.is_dir():
        from hybridrl.data.minari_io import is_minari_dir, read_minari

        if is_minari_dir(path):
            return read_minari(str(path), action_bounds=action_bounds, default_action_bounds=default_action_bounds)
        raise DataError(f"{path}: a directory, but not a Minari dataset (no data/metadata.json)")
    if path.exists():
        suffix = path.suffix.lower()
        if suffix == ".npz":
            return _from_npz(path, drop_invalid, action_bounds, default_action_bounds)
        if suffix in (".hdf5", ".h5"):
            return _from_hdf5(path, drop_invalid, action_bounds, default_action_bounds)
        raise DataError(f"{path}: unknown dataset format {suffix!r}; expected .npz, .hdf5 or .h5")
    check_reference(path_or_name)
    from hybridrl.data.suite import SUITE, build

    if path_or_name in SUITE:
        return build(path_or_name)
    from hybridrl.data.minari_io import read_minari

    return read_minari(path_or_name, download=download, action_bounds=action_bounds,
                       default_action_bounds=default_action_bounds)


def check_reference(path_or_name: str) -> None:
    """The DataError `load_dataset` would raise for a missing file or an unknown name, without reading or building
    anything: so that a typo is reported as one, not as a missing --env or after a long build of something else."""
    import difflib

    from hybridrl.data.suite import SUITE

    path = Path(path_or_name).expanduser()
    if path.exists() or path_or_name in SUITE:
        return
    if path.suffix.lower() in (".npz", ".hdf5", ".h5"):
        raise DataError(f"{path}: no such file")
    if "/" in path_or_name and not path_or_name.startswith((".", "/", "~")):
        return  # a Minari id: Minari places (or downloads) it
    close = difflib.get_close_matches(path_or_name, list(SUITE), n=3, cutoff=0.6)
    raise DataError(f"dataset {path_or_name!r} is neither a file, a Minari dataset (id like 'namespace/name-v0' or a "
                    "directory) nor a built-in dataset; " + (f"did you mean {' or '.join(close)}? " if close else "")
                    + "`hybridrl data list` lists the built-in ones")


MINARI_ID = re.compile(r"^[-\w]+(/[-\w]+)*/[-\w]+?-v\d+$")  # Minari's own rule, the namespace required here


def check_destination(dst: str) -> str:
    """Where `save_dataset` would write: 'npz', 'hdf5' or 'minari'; checked before anything is read or written."""
    suffix = Path(dst).suffix.lower()
    if suffix == ".npz":
        return "npz"
    if suffix in (".hdf5", ".h5"):
        return "hdf5"
    if MINARI_ID.match(dst):
        return "minari"
    raise DataError(f"destination {dst!r}: use a .npz or .hdf5/.h5 path, or a Minari id like 'mydata/task-v0' "
                    "(namespace/name-vN)")


def save_dataset(ds: Dataset, dst: str, *, env_id: str | None = None) -> str:
    """Write by destination: `.npz`, `.hdf5`/`.h5`, or anything else as a Minari dataset id."""
    kind = check_destination(dst)
    if kind in ("npz", "hdf5"):
        path = str(Path(dst).expanduser())  # ~/out.npz, as the loaders read it
        if kind == "npz":
            ds.save_npz(path)
        else:
            ds.save_hdf5(path)
        return path
    from hybridrl.data.minari_io import write_minari

    return str(write_minari(ds, dst, env_id=env_id or ds.metadata.get("env")))
