"""The run's typed, frozen config (the train section; each agent's config lives in its agent's file) and
`key=value` overrides.

Configs are frozen dataclasses so they can be static (hashable) arguments of jitted functions: a
config value is compiled in, never traced, and changing it is a visible recompilation.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from hybridrl.agents.sac import SACConfig
from hybridrl.errors import ConfigError
from hybridrl.replay.mixing import MIXERS

MIXINGS = ("symmetric", "append", "online-only", "density-ratio", "goal-relabel")
UPDATE_SCHEDULES = ("spread", "blocks", "episodes")


@dataclass(frozen=True)
class TrainConfig:
    """Everything about the run that is not the agent's own maths."""

    env: str = "Hopper-v5"
    dataset: str | None = None
    drop_invalid: bool = False  # repair a dataset file's problems (and say how many) instead of refusing it
    action_bounds: tuple[float, ...] | None = None  # where a bare file's actions live: LOW,HIGH or A lows then A
    # highs; mapped to [-1, 1] on load. None: the file's own bounds, a Minari dataset's action space, else the env's
    data_rewards: str = "task"  # "task": rewards and ends as the env's task defines them (a fixed-goal maze's goal,
    # D4RL-style); "recorded": the file's own (e.g. the goals the data was collected for)
    offline_steps: int = 0
    online_steps: int = 250_000
    seed: int = 0
    mixing: str = "symmetric"
    offline_ratio: float = 0.5  # fraction of every online minibatch drawn from the offline data
    ratio_temperature: float = 5.0  # density-ratio mixing: priorities ∝ w^(1/T) (Balanced Replay)
    ratio_hidden_dims: tuple[int, ...] = (256, 256)  # density-ratio network w(s, a)
    ratio_lr: float = 3e-4
    ratio_online_fraction: float = 0.5  # new online rows enter at the priority that makes the first 1,000 of
    # them this share of the draws (Balanced Replay's initial online fraction f)
    start_steps: int = 5_000  # warm-up: no updates before this many env steps
    update_every: int = 1  # train on every N-th env step after warm-up (MSCP: 4, i.e. 0.25 updates per step)
    update_schedule: str = "spread"  # "spread": updates as above, between env steps; "blocks": update_every updates
    # after each update_every env steps (Balanced Replay's rlkit loop: 1,000 after 1,000); "episodes": after each
    # episode, one update per env step of it (Cal-QL's JaxCQL loop)
    first_update_after_episode: bool = False  # no update before the first online episode has ended (Cal-QL's and
    # CQL's code collect a whole trajectory first)
    first_epoch_steps: int = 1_000  # the first online "epoch" after warm-up, whose env steps run
    first_epoch_multiplier: int = 1  # this many times the updates (Balanced Replay: 5)
    label_actions: str = "none"  # "idm": label an action-free dataset by inverse dynamics fitted on the
    # warm-up's online data, then mix it in (SS-ORL style); rewards from the goal env's compute_reward
    idm_steps: int = 5_000
    idm_hidden_dims: tuple[int, ...] = (256, 256)
    warmup_policy: str = "random"  # warm-up actions: "random" (uniform) or "agent" (the pre-trained policy, WSRL)
    buffer_capacity: int = 1_000_000
    reward_scale: float = 1.0
    reward_bias: float = 0.0
    reward_normalization: str = "none"  # "return-range": rewards (offline and online) also times 1000 / (max − min
    # episode return of the dataset), as IQL's and FamO2O's code do on locomotion (their β were tuned there)
    sparse_reward: bool = False  # returns-to-go: an episode never above reward_bias failed forever (Cal-QL)
    reward_sparsify: bool = False  # r → −1 unless r = 0, before scale and bias, offline and online (QC's --sparse:
    # OGBench's −#unsolved sub-tasks becomes −1 until the whole task is solved)
    offline_chunk: int = 1_000  # offline updates fused into one jitted call
    eval_interval: int = 5_000
    eval_episodes: int = 10
    eval_stochastic: bool = False  # also evaluate the sampling policy on the same episodes (eval_return_stochastic)
    log_interval: int = 1_000
    checkpoint_interval: int = 10_000
    policy_snapshots: bool = False  # also save the actor at every evaluation (policies/step_N.npz)
    divergence_bound: float = 1e8  # a metric (loss, Q-value, ...) past ±this, or NaN/Inf, is a divergence
    on_divergence: str = "stop"  # "stop": end the run with a diagnostic, keep the last good checkpoint;
    # "skip": drop that update (the agent stays as before it) and count it (metric skipped_updates)
    env_retries: int = 0  # a training env that raises or returns a NaN/misshapen observation or reward is
    # replaced by a fresh one, replayed to the same state, this many times per step before the run stops
    progress: bool = True
    progress_interval: float = 30.0  # seconds between plain progress lines when the output is not a terminal
    tensorboard: bool = True
    wandb: bool = False
    wandb_project: str = "hybridrl"

    def validate(self) -> None:
        for name in ("offline_steps", "online_steps", "start_steps", "env_retries", "first_epoch_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("eval_interval", "eval_episodes", "log_interval", "checkpoint_interval",
                     "offline_chunk", "buffer_capacity", "update_every", "idm_steps", "first_epoch_multiplier"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.offline_ratio <= 1.0:
            raise ConfigError(f"train.offline_ratio must be in [0, 1], got {self.offline_ratio}")
        if self.update_schedule not in UPDATE_SCHEDULES:
            raise ConfigError(f"train.update_schedule must be one of {', '.join(UPDATE_SCHEDULES)}; got "
                              f"{self.update_schedule!r}")
        if self.mixing not in MIXINGS:
            raise ConfigError(f"train.mixing must be one of {', '.join(MIXINGS)}; got {self.mixing!r}")
        if self.action_bounds is not None and (len(self.action_bounds) < 2 or len(self.action_bounds) % 2):
            raise ConfigError(f"train.action_bounds must be LOW,HIGH or A lows followed by A highs, got "
                              f"{list(self.action_bounds)}")
        if self.progress_interval < 0:
            raise ConfigError(f"train.progress_interval must be >= 0 seconds, got {self.progress_interval}")
        if self.ratio_temperature <= 0 or self.ratio_lr <= 0:
            raise ConfigError("train.ratio_temperature and train.ratio_lr must be > 0, got "
                              f"{self.ratio_temperature} and {self.ratio_lr}")
        if not 0.0 < self.ratio_online_fraction < 1.0:
            raise ConfigError(f"train.ratio_online_fraction must be in (0, 1), got {self.ratio_online_fraction}")
        if self.on_divergence not in ("stop", "skip"):
            raise ConfigError(f"train.on_divergence must be 'stop' or 'skip', got {self.on_divergence!r}")
        if not self.divergence_bound > 0:
            raise ConfigError(f"train.divergence_bound must be > 0, got {self.divergence_bound}")
        if self.reward_normalization not in ("none", "return-range"):
            raise ConfigError(f"train.reward_normalization must be 'none' or 'return-range', "
                              f"got {self.reward_normalization!r}")
        if self.label_actions not in ("none", "idm"):
            raise ConfigError(f"train.label_actions must be 'none' or 'idm', got {self.label_actions!r}")
        if self.data_rewards not in ("task", "recorded"):
            raise ConfigError(f"train.data_rewards must be 'task' or 'recorded', got {self.data_rewards!r}")
        if self.warmup_policy not in ("random", "agent"):
            raise ConfigError(f"train.warmup_policy must be 'random' or 'agent', got {self.warmup_policy!r}")


@dataclass(frozen=True)
class RunConfig:
    recipe: str = "rlpd"
    agent: Any = field(default_factory=SACConfig)  # the recipe's agent config (each agent's file defines its own)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> RunConfig:
        self.agent.validate()
        self.train.validate()
        t = self.train
        try:
            if hasattr(self.agent, "validate_run"):
                self.agent.validate_run(t)
            MIXERS[t.mixing].check_config(t, self.agent)
        except ConfigError as exc:
            raise ConfigError(f"recipe {self.recipe!r}: {exc}") from None
        if self.train.label_actions == "idm" and (self.train.dataset is None or self.train.start_steps < 1):
            raise ConfigError("train.label_actions=idm fits inverse dynamics on the warm-up's online data and labels "
                              "a dataset: it needs --dataset and train.start_steps >= 1")
        if self.train.label_actions == "idm" and self.train.offline_steps > 0:
            raise ConfigError("train.label_actions=idm labels the dataset from online data: it cannot pre-train on it "
                              f"first (set train.offline_steps=0, got {self.train.offline_steps})")
        uses_data = MIXERS[t.mixing].requires_offline(t)
        if uses_data and self.train.dataset is None and self.train.online_steps > 0:
            raise ConfigError(
                f"recipe {self.recipe!r} mixes offline data (train.mixing={self.train.mixing}, "
                f"train.offline_ratio={self.train.offline_ratio}) but no dataset was given: pass --dataset "
                "PATH_OR_NAME or --set train.offline_ratio=0"
            )
        return self

    def notices(self) -> list[str]:
        """Settings that are valid but almost never what a user meant: printed when a run starts."""
        t, out = self.train, []
        if 0 < t.online_steps <= t.start_steps:
            nothing = "" if t.offline_steps else " (nothing is learnt at all)"
            out.append(f"train.online_steps={t.online_steps} <= train.start_steps={t.start_steps}: the online phase "
                       f"only collects warm-up steps and makes no update{nothing}; raise --online-steps above "
                       f"{t.start_steps} or pass --set train.start_steps=N")
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], agent_cls: type) -> RunConfig:
        """From a dict such as `to_dict` writes; `agent_cls` is the recipe's agent config class
        (`hybridrl.recipes.run_config_from_dict` looks it up from the recipe name)."""
        return cls(
            recipe=d["recipe"],
            agent=_build(agent_cls, d.get("agent", {}), "agent"),
            train=_build(TrainConfig, d.get("train", {}), "train"),
        )


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown config key {prefix}.{key}; valid: {', '.join(sorted(known))}")
        kwargs[key] = _coerce(value, hints[key], f"{prefix}.{key}")
    return cls(**kwargs)


def all_keys(agent_cls: type) -> list[str]:
    return [f"agent.{f.name}" for f in dataclasses.fields(agent_cls)] + [
        f"train.{f.name}" for f in dataclasses.fields(TrainConfig)
    ]


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Turn a parsed override (str, number, list) into the field's declared type."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        is_none = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if is_none and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key)
    try:
        if origin is tuple:
            if isinstance(value, str):
                value = [v for v in value.replace("(", "").replace(")", "").split(",") if v.strip()]
            return tuple(_coerce(v, args[0], key) for v in value)
        if hint is bool:
            if isinstance(value, str):
                if value.lower() in ("true", "1", "yes", "on"):
                    return True
                if value.lower() in ("false", "0", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(float(value)) if isinstance(value, str) else int(value)
        if hint is float:
            return float(value)
        if hint is str:
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} expects {getattr(hint, '__name__', hint)}, got {value!r}") from None
    return value


def apply_overrides(cfg: RunConfig, overrides: list[str] | dict[str, Any]) -> RunConfig:
    """Apply `section.key=value` (or a unique bare `key=value`) overrides; values are JSON or plain text."""
    items = list(overrides.items()) if isinstance(overrides, dict) else parse_overrides(overrides)
    sections = {"agent": dict(dataclasses.asdict(cfg.agent)), "train": dict(dataclasses.asdict(cfg.train))}
    for key, value in items:
        section, name = _resolve_key(key, type(cfg.agent))
        sections[section][name] = value
    return RunConfig.from_dict({"recipe": cfg.recipe, **sections}, type(cfg.agent))


def parse_overrides(overrides: list[str]) -> list[tuple[str, Any]]:
    """`key=value` strings as (key, value) pairs, the value read as JSON where it parses (numbers, lists, booleans)."""
    items = []
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value, e.g. agent.utd=20")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        items.append((key.strip(), value))
    return items


def _resolve_key(key: str, agent_cls: type) -> tuple[str, str]:
    keys = all_keys(agent_cls)
    if key in keys:
        section, name = key.split(".", 1)
        return section, name
    matches = [k for k in keys if k.split(".", 1)[1] == key]
    if len(matches) == 1:
        section, name = matches[0].split(".", 1)
        return section, name
    import difflib

    close = difflib.get_close_matches(key, keys + [k.split(".", 1)[1] for k in keys], n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise ConfigError(f"unknown config key {key!r} (this recipe's agent is configured by {agent_cls.__name__}); "
                      f"{hint}valid keys: {', '.join(keys)}")
