"""Typed, frozen configs and `key=value` overrides.

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


class ConfigError(ValueError):
    """A bad config key or value; the message lists what is valid."""


INITS = ("xavier", "orthogonal", "orthogonal-small-output")


def check_init(name: str) -> None:
    if name not in INITS:
        raise ConfigError(f"agent.init must be one of {', '.join(INITS)}; got {name!r}")


def check_learner(cfg: Any, positive: tuple[str, ...]) -> None:
    """The checks every agent config shares: counts >= 1, τ in (0, 1], γ in [0, 1], rates > 0."""
    for name in ("utd", "batch_size", "num_critics"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"agent.{name} must be >= 1, got {getattr(cfg, name)}")
    if not 0.0 < cfg.tau <= 1.0:
        raise ConfigError(f"agent.tau must be in (0, 1], got {cfg.tau}")
    if not 0.0 <= cfg.discount <= 1.0:
        raise ConfigError(f"agent.discount must be in [0, 1], got {cfg.discount}")
    for name in positive:
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"agent.{name} must be > 0, got {getattr(cfg, name)}")


@dataclass(frozen=True)
class SACConfig:
    """SAC with a critic ensemble: covers SAC, RLPD and their variants by value alone."""

    hidden_dims: tuple[int, ...] = (256, 256)
    actor_hidden_dims: tuple[int, ...] | None = None  # None: hidden_dims (Cal-QL's mazes: critic 256×4, actor 256×2)
    critic_layer_norm: bool = False
    actor_layer_norm: bool = False  # LayerNorm in the policy too (WSRL)
    actor_log_std_offset: float | None = None  # log-std = m·raw + b, m and b learned from 1 and this (Cal-QL: −1)
    init: str = "xavier"  # kernel initialisers: "xavier" (RLPD's code), "orthogonal" (√2 on every layer: IQL, WSRL),
    # "orthogonal-small-output" (√2 hidden, 1e-2 output: Cal-QL's JaxCQL)
    num_critics: int = 2  # E
    num_target_critics: int = 2  # Z: the target is the min over a random subset of this size
    actor_aggregation: str = "min"  # how the actor reads the ensemble: "mean" (RLPD) or "min"
    backup_entropy: bool = True
    utd: int = 1  # critic steps per env step (each with its own minibatch and target update)
    batch_size: int = 256
    discount: float = 0.99
    tau: float = 0.005
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    temp_lr: float = 3e-4
    init_temperature: float = 1.0
    target_entropy: float | None = None  # None: -target_entropy_scale * |A|
    target_entropy_scale: float = 0.5
    actor_full_batch: bool = False  # actor/temperature step on all UTD minibatches joined (WSRL), not the last

    def validate(self) -> None:
        check_init(self.init)
        if self.actor_aggregation not in ("mean", "min"):
            raise ConfigError(f"agent.actor_aggregation must be 'mean' or 'min', got {self.actor_aggregation!r}")
        if not 1 <= self.num_target_critics <= self.num_critics:
            raise ConfigError(
                f"agent.num_target_critics must be in [1, num_critics={self.num_critics}], "
                f"got {self.num_target_critics}"
            )
        check_learner(self, positive=("actor_lr", "critic_lr", "temp_lr", "init_temperature"))


@dataclass(frozen=True)
class CQLConfig(SACConfig):
    """SAC plus the conservative term of CQL; `calibrated` turns it into Cal-QL."""

    actor_aggregation: str = "min"
    backup_entropy: bool = False
    target_entropy_scale: float = 1.0
    actor_lr: float = 1e-4
    temp_lr: float = 1e-4  # the authors' code steps the temperature at the policy's rate
    init: str = "orthogonal-small-output"  # Cal-QL's JaxCQL (orthogonal_init=True)
    cql_alpha: float = 5.0  # weight of the conservative term (Cal-QL's and WSRL's locomotion default)
    cql_n_actions: int = 10  # actions sampled from each of uniform, π(·|s), π(·|s')
    cql_temperature: float = 1.0
    calibrated: bool = False  # Cal-QL: policy-action Q-values in the logsumexp floored at the MC return
    lagrange: bool = False  # learn the weight so the conservative gap stays near target_action_gap
    target_action_gap: float = 0.8
    lagrange_init_log_alpha: float = 1.0  # log α′ before training (Cal-QL's code: 1.0, i.e. α′ = e)
    max_backup: bool = True  # target: max over cql_n_actions next actions of the min over the target subset (the
    # authors' default everywhere)
    online_max_backup: bool | None = None  # online phase; None: as max_backup (WSRL's online SAC: off on locomotion)
    online_conservative: bool = True  # keep the conservative term online (False: plain SAC online, as WSRL)

    def validate(self) -> None:
        super().validate()
        if self.cql_n_actions < 1 or self.cql_temperature <= 0 or self.cql_alpha < 0:
            raise ConfigError("agent.cql_n_actions must be >= 1, agent.cql_temperature > 0 and agent.cql_alpha >= 0; "
                              f"got {self.cql_n_actions}, {self.cql_temperature}, {self.cql_alpha}")


@dataclass(frozen=True)
class BalancedConfig(CQLConfig):
    """Balanced Replay's learner: `ensemble_size` CQL agents offline (each with `num_critics` critics),
    merged into one pessimistic-ensemble SAC learner online (the conservative term dropped)."""

    ensemble_size: int = 5  # N
    online_conservative: bool = False
    online_backup_entropy: bool = True  # the online SAC's soft backup (CQL pre-training keeps backup_entropy)
    online_temperature: str = "fresh"  # online SAC's temperature starts at init_temperature (the authors' code) or
    # at the members' mean ("members-mean")
    online_actor_lr: float | None = 3e-4  # the actors' lr online, with a new Adam (the authors'); None: keep actor_lr

    def validate(self) -> None:
        super().validate()
        if self.ensemble_size < 1:
            raise ConfigError(f"agent.ensemble_size must be >= 1, got {self.ensemble_size}")
        if self.online_actor_lr is not None and not self.online_actor_lr > 0:
            raise ConfigError(f"agent.online_actor_lr must be > 0 (or none), got {self.online_actor_lr}")
        if self.online_temperature not in ("fresh", "members-mean"):
            raise ConfigError(f"agent.online_temperature must be 'fresh' or 'members-mean', "
                              f"got {self.online_temperature!r}")
        if self.online_conservative:
            raise ConfigError("agent.online_conservative is not supported by balanced-replay: its online phase is "
                              "SAC on the merged ensemble (use recipe cql to keep the conservative term)")


@dataclass(frozen=True)
class IQLConfig:
    """Implicit Q-learning: expectile value, twin critics trained toward V(s'), advantage-weighted actor."""

    hidden_dims: tuple[int, ...] = (256, 256)
    num_critics: int = 2
    expectile: float = 0.7  # τ (0.9 on mazes)
    awr_temperature: float = 3.0  # β (10 on mazes)
    awr_max_weight: float = 100.0
    utd: int = 1
    batch_size: int = 256
    discount: float = 0.99
    tau: float = 0.005
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    value_lr: float = 3e-4
    actor_decay_steps: int | None = None  # cosine decay of the actor lr over this many updates; None: the run's
    # offline steps when it has no online phase, else 0 (constant, as IQL's fine-tuning configs); by resolve
    init: str = "orthogonal"  # IQL's common.py: orthogonal, gain √2, on every layer (see SACConfig.init)
    log_std_init: float = 0.0  # the actor's log-std before training (IQL's code: 0; d3rlpy's IQL: −1.5). Adam
    # moves it by ~lr per update, so after a short pre-training it still sets the online exploration noise

    def validate(self) -> None:
        check_init(self.init)
        if not 0.0 < self.expectile < 1.0:
            raise ConfigError(f"agent.expectile must be in (0, 1), got {self.expectile}")
        if not -5.0 <= self.log_std_init <= 2.0:
            raise ConfigError(f"agent.log_std_init must be in [-5, 2] (the actor's log-std range), "
                              f"got {self.log_std_init}")
        check_learner(self, positive=("actor_lr", "critic_lr", "value_lr", "awr_temperature", "awr_max_weight"))


@dataclass(frozen=True)
class BalanceOptions:
    """FamO2O's balance model π_b(β|s) and the range of the balance coefficient β it picks from."""

    beta_min: float = 1.0  # IQL: AWR inverse temperature range (locomotion [1, 5], mazes [8, 14]);
    beta_max: float = 5.0  # CQL: the weight on Q in the actor ([0.5, 1.5])
    balance_hidden_dims: tuple[int, ...] = (256, 256)
    balance_lr: float = 3e-4
    balance_temp_lr: float = 3e-4
    balance_init_temperature: float = 1.0
    balance_target_entropy: float = -0.5
    balance_every: int = 1  # balance-model update period in updates (the authors' code: every update)
    beta_mode: str = "adaptive"  # "adaptive": β(s); "mean": one β for all states, the running mean of β(s)
    awr_beta_weighting: str = "per-sample"  # IQL: exp(β_i A_i) (the paper); "batch-mean": mean_j exp(β_j A_i), what
    # the authors' code computes by broadcasting A (B,) against β (B, 1)

    def validate_balance(self) -> None:
        if not self.beta_min < self.beta_max:
            raise ConfigError(f"agent.beta_min must be < agent.beta_max, got {self.beta_min} and {self.beta_max}")
        if self.balance_every < 1:
            raise ConfigError(f"agent.balance_every must be >= 1, got {self.balance_every}")
        if self.beta_mode not in ("adaptive", "mean"):
            raise ConfigError(f"agent.beta_mode must be 'adaptive' or 'mean', got {self.beta_mode!r}")
        if self.awr_beta_weighting not in ("per-sample", "batch-mean"):
            raise ConfigError(f"agent.awr_beta_weighting must be 'per-sample' or 'batch-mean', "
                              f"got {self.awr_beta_weighting!r}")
        for name in ("balance_lr", "balance_temp_lr", "balance_init_temperature"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"agent.{name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class FamO2OIQLConfig(BalanceOptions, IQLConfig):
    """IQL whose AWR inverse temperature is β, chosen per state by the balance model (awr_temperature unused)."""

    def validate(self) -> None:
        IQLConfig.validate(self)
        self.validate_balance()


@dataclass(frozen=True)
class FamO2OCQLConfig(BalanceOptions, CQLConfig):
    """CQL whose actor weighs Q by β, chosen per state by the balance model."""

    beta_min: float = 0.5
    beta_max: float = 1.5
    critic_beta: str = "authors"  # β of the critic's policy actions: "authors" (training β at s; π_b(·|s) samples
    # for s′ and the backup) or "deterministic" (β(·) of the state acted in)

    def validate(self) -> None:
        CQLConfig.validate(self)
        self.validate_balance()
        if self.critic_beta not in ("authors", "deterministic"):
            raise ConfigError(f"agent.critic_beta must be 'authors' or 'deterministic', got {self.critic_beta!r}")


@dataclass(frozen=True)
class MSCPConfig:
    """MSCP (Wu et al. 2024): goal-conditioned value and slow/fast state planners pre-trained on
    action-free data, a low-level policy learned online toward the slow planner's subgoals.
    `guidance_weight=0, online_expectile=0.7` is the HIQL ablation."""

    hidden_dims: tuple[int, ...] = (256, 256)  # paper: 512x3 (scaled down for CPU)
    layer_norm: bool = True  # value and planner MLPs: LayerNorm + GELU, as the paper
    activation: str = "gelu"
    goal_dim: int = 0  # a goal fixes the state's first goal_dim entries; 0: the env's desired_goal size
    subgoal_steps: int = 25  # k: the slow planner's horizon (about one maze cell of travel)
    discount: float = 0.99
    tau: float = 0.005
    expectile: float = 0.7  # τ_e on offline batches
    online_expectile: float = 0.5  # τ_e on online batches (HIQL ablation: 0.7)
    planner_temperature: float = 1.0  # β of the planners' AWR
    low_temperature: float = 1.0  # of the low-level policy's AWR: weights min(exp(this · A), awr_max_weight)
    awr_max_weight: float = 100.0
    guidance_weight: float = 7.0  # λ (mazes); 0 = HIQL
    # Readings of the paper's guidance (no public code; measured in benchmarks/sweeps/claim-mscp.yaml):
    guidance_dims: str = "state"  # r_g over the whole state, its "goal" entries only, or "normalized" (each entry
    # divided by the fast planner's std, so PointMaze's velocities do not outweigh its positions)
    fast_planner_goal: str = "high"  # μ_f conditioned on the high goal g_h, or on the "subgoal" w π_ℓ and V_g see
    guide_value_data: str = "both"  # V_g fitted on "both" batches, or "online" only (the offline rows' r_g is near
    # 0 by construction, which biases λ (r_g − V_g) negative on online rows)
    finetune_planners: bool = False  # online: keep training the planners (AWR on both batches)
    p_cur: float = 0.2  # relabelling: value goal = s_t
    p_traj: float = 0.5  # value goal = a future state of the trajectory (else a random state)
    p_rand_high: float = 0.3  # high-level goal = a random state (else a future one)
    lr: float = 3e-4
    batch_size: int = 256  # each of the online and offline batches (paper 1024)
    utd: int = 1  # updates per training env step (see train.update_every for fewer than one)

    def validate(self) -> None:
        for name in ("expectile", "online_expectile"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"agent.{name} must be in (0, 1), got {getattr(self, name)}")
        for name in ("utd", "batch_size", "subgoal_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"agent.{name} must be >= 1, got {getattr(self, name)}")
        if not (self.p_cur >= 0 and self.p_traj >= 0 and self.p_cur + self.p_traj <= 1 and 0 <= self.p_rand_high <= 1):
            raise ConfigError("agent.p_cur, agent.p_traj must be >= 0 with sum <= 1 and agent.p_rand_high in [0, 1]; "
                              f"got {self.p_cur}, {self.p_traj}, {self.p_rand_high}")
        if self.guidance_weight < 0 or self.goal_dim < 0:
            raise ConfigError("agent.guidance_weight and agent.goal_dim must be >= 0")
        if self.activation not in ("relu", "gelu"):
            raise ConfigError(f"agent.activation must be 'relu' or 'gelu', got {self.activation!r}")
        for name, valid in (("guidance_dims", ("state", "goal", "normalized")),
                            ("fast_planner_goal", ("high", "subgoal")), ("guide_value_data", ("both", "online"))):
            if getattr(self, name) not in valid:
                raise ConfigError(f"agent.{name} must be one of {', '.join(valid)}; got {getattr(self, name)!r}")
        check_learner(self, positive=("lr", "planner_temperature", "low_temperature", "awr_max_weight"))

    @property
    def num_critics(self) -> int:  # the twin goal-conditioned value (for the shared checks)
        return 2


AGENT_CONFIGS: dict[str, type] = {"sac": SACConfig, "cql": CQLConfig, "iql": IQLConfig, "balanced": BalancedConfig,
                                  "famo2o-iql": FamO2OIQLConfig, "famo2o-cql": FamO2OCQLConfig,
                                  "mscp": MSCPConfig}


def agent_config_class(recipe: str) -> type:
    from hybridrl.recipes import RECIPES  # recipes import this module

    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r}; valid recipes: {', '.join(sorted(RECIPES))}")
    return AGENT_CONFIGS[RECIPES[recipe].agent]


MIXINGS = ("symmetric", "append", "online-only", "density-ratio", "goal-relabel")


@dataclass(frozen=True)
class TrainConfig:
    """Everything about the run that is not the agent's own maths."""

    env: str = "Hopper-v5"
    dataset: str | None = None
    drop_invalid: bool = False  # repair a dataset file's problems (and say how many) instead of refusing it
    action_bounds: tuple[float, ...] | None = None  # where a bare file's actions live: LOW,HIGH or A lows then A
    # highs; mapped to [-1, 1] on load. None: the file's own bounds, a Minari dataset's action space, else the env's
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
        if self.warmup_policy not in ("random", "agent"):
            raise ConfigError(f"train.warmup_policy must be 'random' or 'agent', got {self.warmup_policy!r}")


@dataclass(frozen=True)
class RunConfig:
    recipe: str = "rlpd"
    agent: Any = field(default_factory=SACConfig)  # the recipe's agent config (SACConfig, CQLConfig, IQLConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> RunConfig:
        self.agent.validate()
        self.train.validate()
        if not isinstance(self.agent, agent_config_class(self.recipe)):
            raise ConfigError(f"recipe {self.recipe!r} needs a {agent_config_class(self.recipe).__name__}, "
                              f"got {type(self.agent).__name__}")
        goal_agent = isinstance(self.agent, MSCPConfig)
        if goal_agent != (self.train.mixing == "goal-relabel"):
            raise ConfigError(f"train.mixing=goal-relabel and recipe mscp/hiql go together (recipe {self.recipe!r}, "
                              f"mixing {self.train.mixing!r})")
        if goal_agent and self.train.dataset is None:
            raise ConfigError(f"recipe {self.recipe!r} learns its planners from a dataset: pass --dataset")
        if goal_agent and self.train.buffer_capacity < self.train.online_steps:
            raise ConfigError(f"recipe {self.recipe!r} relabels goals within online episodes, so the online buffer "
                              f"must keep every step: train.buffer_capacity ({self.train.buffer_capacity}) must be >= "
                              f"train.online_steps ({self.train.online_steps})")
        if self.train.label_actions == "idm" and (self.train.dataset is None or self.train.start_steps < 1):
            raise ConfigError("train.label_actions=idm fits inverse dynamics on the warm-up's online data and labels "
                              "a dataset: it needs --dataset and train.start_steps >= 1")
        uses_data = ((self.train.offline_ratio > 0 and self.train.mixing == "symmetric")
                     or self.train.mixing == "density-ratio")
        if uses_data and self.train.dataset is None and self.train.online_steps > 0:
            raise ConfigError(
                f"recipe {self.recipe!r} mixes offline data (train.mixing={self.train.mixing}, "
                f"train.offline_ratio={self.train.offline_ratio}) but no dataset was given: pass --dataset "
                "PATH_OR_NAME or --set train.offline_ratio=0"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        return cls(
            recipe=d["recipe"],
            agent=_build(agent_config_class(d["recipe"]), d.get("agent", {}), "agent"),
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


def all_keys(agent_cls: type = SACConfig) -> list[str]:
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
    if isinstance(overrides, dict):
        items = list(overrides.items())
    else:
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
    sections = {"agent": dict(dataclasses.asdict(cfg.agent)), "train": dict(dataclasses.asdict(cfg.train))}
    for key, value in items:
        section, name = _resolve_key(key, type(cfg.agent))
        sections[section][name] = value
    return RunConfig.from_dict({"recipe": cfg.recipe, **sections})


def _resolve_key(key: str, agent_cls: type) -> tuple[str, str]:
    keys = all_keys(agent_cls)
    if key in keys:
        section, name = key.split(".", 1)
        return section, name
    matches = [k for k in keys if k.split(".", 1)[1] == key]
    if len(matches) == 1:
        section, name = matches[0].split(".", 1)
        return section, name
    raise ConfigError(f"unknown config key {key!r} (this recipe's agent is configured by {agent_cls.__name__}); "
                      f"valid keys: {', '.join(keys)}")
