"""The training env behind checks and retries, and what exact resume needs of it.

Every observation and reward is checked before it can reach the buffer. A call that raises or returns a bad
value is retried on a fresh env, brought to the same state by replaying this episode's actions from the
episode's reset seed (`train.env_retries` times), else the run stops naming the step and episode. A checkpoint
holds the current observation and this episode's actions, and `restore` replays them the same way.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from hybridrl.checkpoint import CheckpointError
from hybridrl.envs import EnvError


def episode_seed(seed: int, episode: int) -> int:
    """Reset seed of training episode `episode`: a function of the run seed only, so envs can be replayed."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


class TrainingEnv:
    """One training env, its current observation and this episode's actions. `host()` gives the episode and step
    counters (read for reset seeds and messages; `env_restarts` is counted there); `make` builds a fresh env;
    `kept_checkpoint` says, for an error message, which checkpoint survives."""

    def __init__(self, env_id: str, obs_dim: int, seed: int, retries: int, host: Callable[[], Any],
                 make: Callable[[], Any], kept_checkpoint: Callable[[], str]) -> None:
        self.env_id, self.obs_dim, self.seed, self.retries = env_id, obs_dim, seed, retries
        self._host, self.make, self.kept_checkpoint = host, make, kept_checkpoint
        self.env: Any = None
        self.obs: np.ndarray | None = None  # the observation the next action is taken in (None: no episode yet)
        self.episode_actions: list[np.ndarray] = []

    @property
    def host(self) -> Any:  # the run's counters (a restore replaces the object, hence a getter)
        return self._host()

    # ---- what the loop calls ------------------------------------------------------------------
    def open(self) -> None:
        self.env = self.make()

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None

    def reset(self) -> np.ndarray:
        """The next episode's first observation (the host's episode counter gives its seed)."""
        return self._call("reset", self._reset)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool]:
        def step(e: Any) -> tuple[np.ndarray, float, bool, bool]:
            obs, reward, terminated, truncated, _ = e.step(action)
            obs, reward = self.checked(obs, reward, "step")
            return obs, reward, bool(terminated), bool(truncated)

        return self._call("step", step)

    def restore(self, where: str) -> None:
        """After a checkpoint is loaded: bring the open env to the saved mid-episode state."""
        if not np.array_equal(self._replay(self.env), self.obs):
            raise CheckpointError(
                f"{where}: replaying episode {self.host.episode} did not reproduce the saved observation; env "
                f"{self.env_id} is not deterministic under a fixed seed, so exact resume is impossible")

    # ---- checks and retries -------------------------------------------------------------------
    def checked(self, obs: Any, reward: Any, call: str) -> tuple[np.ndarray, float]:
        try:
            arr = np.asarray(obs, np.float32)
        except (TypeError, ValueError) as exc:
            raise EnvError(f"{call} returned an observation that is not numeric ({exc})") from None
        if arr.shape != (self.obs_dim,):
            raise EnvError(f"{call} returned an observation of shape {arr.shape}; expected ({self.obs_dim},)")
        if not np.isfinite(arr).all():
            raise EnvError(f"{call} returned an observation with NaN/inf at indices "
                           f"{np.flatnonzero(~np.isfinite(arr))[:8].tolist()}")
        try:
            rew = float(reward)
        except (TypeError, ValueError) as exc:
            raise EnvError(f"{call} returned a reward that is not a number ({exc})") from None
        if not np.isfinite(rew):
            raise EnvError(f"{call} returned reward {rew}")
        return arr, rew

    def _reset(self, env: Any) -> np.ndarray:
        obs, _ = env.reset(seed=episode_seed(self.seed, self.host.episode))
        return self.checked(obs, 0.0, "reset")[0]

    def _replay(self, env: Any) -> np.ndarray:
        """Bring a fresh env to the current mid-episode state by replaying this episode's actions."""
        obs = self._reset(env)
        for action in self.episode_actions:
            obs, *_ = env.step(action)
        return np.asarray(obs, np.float32)

    def _call(self, call: str, fn: Callable[[Any], Any]) -> Any:
        """`fn(env)` with its output checked; on failure retry on a fresh env replayed to the same state
        (`retries` times), else stop with the step and episode."""
        h = self.host
        where = f"online step {h.online_step + 1} (episode {h.episode}, its step {h.episode_length + 1})"
        ready = True
        for attempt in range(self.retries + 1):
            if ready:
                try:
                    return fn(self.env)
                except Exception as exc:  # noqa: BLE001 - any env failure is reported or retried, never stored
                    failure = exc
            if attempt == self.retries:
                break
            print(f"hybridrl: env {self.env_id} failed at {where}: {type(failure).__name__}: {failure}; retrying on "
                  f"a fresh env ({attempt + 1}/{self.retries})", file=sys.stderr)
            with contextlib.suppress(Exception):  # the broken env is discarded either way
                self.env.close()
            try:
                self.env = self.make()
                h.env_restarts += 1
                if call == "step" and not np.array_equal(self._replay(self.env), self.obs):
                    raise EnvError("a fresh env replaying this episode's actions did not reach the same state "
                                   "(the env is not deterministic under a fixed seed)")
                ready = True
            except Exception as exc:  # noqa: BLE001 - a fresh env failing to catch up is one more failed attempt
                failure, ready = exc, False
        retried = f" after {self.retries} retries on fresh envs" if self.retries else \
            " (set train.env_retries=N to retry on a fresh env)"
        raise EnvError(f"training env {self.env_id} failed in {call} at {where}{retried}: {type(failure).__name__}: "
                       f"{failure}. Nothing from this step was stored; {self.kept_checkpoint()}.") from failure
