"""FamO2O (Wang et al., NeurIPS 2023): a family of policies and a per-state balance coefficient.

A *universal* policy π_u(a | s, β) is trained for every balance coefficient β at once (β enters the
network as 6 fixed sinusoids), and a *balance model* π_b(β | s) picks, per state, the β whose action the
critic values most. It decorates an offline→online learner:

  IQL (primary), β = the AWR inverse temperature:
    L_V  = E[ |τ − 1(d < 0)| d² ],  d = min_j Q̄_j(s, a) − V(s)
    L_b  = E[ α_b log π_b(u|s) − min_j Q̄_j(s, a_u) ],  β = β_min + (u + 1)/2 (β_max − β_min),
           a_u ~ π_u(·|s, β) reparameterised; π_u and Q̄ frozen, so only π_b (and α_b) learn
    L_αb = α_b (H_b − H̄_b)
    L_π  = −E[ min(exp(β (min_j Q̄_j(s, a) − V(s))), w_max) · log π_u(a | s, β) ]
           β ~ U[β_min, β_max] per sample offline;  β ~ π_b(·|s) (no gradient) online
    L_Q  = Σ_j E[ (Q_j(s, a) − r − γ m V(s'))² ],  then the targets
    in this order each step (V → π_b → α_b → π_u → Q → targets); π_b every `balance_every` steps.

  CQL (secondary), β weighs Q in the actor:
    L_π  = E[ α log π_u(ã | s, β) − β min_j Q_j(s, ã) ],  β ~ U[β_min, β_max] offline, π_b online;
    the critic's conservative term and backup, as the authors' code: current-state actions at the training β,
    next-state actions and the backup at β ~ π_b(·|s) of the current state (`critic_beta`).

Acting always uses the deterministic β(s) (the balance model's mode); `beta_mode="mean"` replaces β(s)
by one state-independent β, the running mean of β(s) (the paper's "is adaptivity what helps" ablation).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

from hybridrl.agents.common import Batch, Temperature, prefixed, temperature_step
from hybridrl.agents.cql import CQLAgent, CQLConfig
from hybridrl.agents.iql import IQLAgent, IQLConfig, awr_weights
from hybridrl.errors import ConfigError
from hybridrl.nn import ensemble_apply
from hybridrl.nn.mlp import TanhGaussianActor

BETA_EMA = 0.995  # smoothing of the running mean of β(s) over training states


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


def beta_encoding(beta: jnp.ndarray) -> jnp.ndarray:
    """[sin β, cos β, sin(β/10000^{1/3}), cos(β/10000^{1/3}), sin(β/10000^{2/3}), cos(β/10000^{2/3})]."""
    x = beta[..., None] * 10000.0 ** (-jnp.arange(3) / 3.0)
    return jnp.stack([jnp.sin(x), jnp.cos(x)], axis=-1).reshape(*beta.shape, 6)


def beta_from_unit(u: jnp.ndarray, beta_min: float, beta_max: float) -> jnp.ndarray:
    """The affine map of the balance model's tanh output u ∈ (−1, 1) onto [β_min, β_max]."""
    return beta_min + (u + 1.0) * 0.5 * (beta_max - beta_min)


def beta_report(betas: np.ndarray, lo: float, hi: float) -> dict[str, float]:
    """Summary of β(s) over states, with the collapse checks: spread relative to the range, and the
    fraction of states within 2% of the range's ends."""
    span = hi - lo
    saturated = (betas <= lo + 0.02 * span) | (betas >= hi - 0.02 * span)
    return {"states": int(betas.size), "mean": float(betas.mean()), "std": float(betas.std()),
            "min": float(betas.min()), "max": float(betas.max()),
            **{f"p{q}": float(np.percentile(betas, q)) for q in (10, 50, 90)},
            "std_over_range": float(betas.std() / span), "saturated_fraction": float(saturated.mean())}


class BalanceMixin:
    """What both FamO2O agents share: β(s), the universal policy's input, the balance model's step.
    (Fields are declared on each agent class: balance, balance_temp, beta_mean, online.)"""

    balance: TrainState
    balance_temp: TrainState
    beta_mean: jnp.ndarray
    online: bool
    config: Any

    balance_entropy = True  # L_b carries α_b log π_b (FamO2O-IQL); the CQL variant's has none

    def to_online(self) -> Any:
        return self.replace(online=True)

    @property
    def balance_critic_params(self) -> Any:
        """The critics L_b reads: the target critics (IQL: the ones its AWR reads)."""
        return self.target_critic_params

    def universal(self, actor_params: Any, observations: jnp.ndarray, beta: jnp.ndarray) -> Any:
        return self.actor.apply_fn(actor_params, jnp.concatenate([observations, beta_encoding(beta)], axis=-1))

    def beta(self, observations: jnp.ndarray) -> jnp.ndarray:
        """The deterministic β(s) used for acting (batch of states → batch of β)."""
        if self.config.beta_mode == "mean":
            return jnp.broadcast_to(self.beta_mean, observations.shape[:-1])
        u = self.balance.apply_fn(self.balance.params, observations).mode()[..., 0]
        return beta_from_unit(u, self.config.beta_min, self.config.beta_max)

    # ---- extras the loop and `hybridrl eval` ask for -----------------------------------------------
    @property
    def reports_on_states(self) -> bool:
        return True

    def state_report(self, states: np.ndarray) -> dict[str, Any]:
        """β(s) over the states an evaluation visited, with its collapse checks."""
        betas = np.asarray(jax.jit(self.beta)(jnp.asarray(states, jnp.float32)))
        return {"beta": beta_report(betas, self.config.beta_min, self.config.beta_max)}

    def state_scalar(self) -> tuple[str, Any, tuple[float, float]]:
        return "β(s)", self.beta, (self.config.beta_min, self.config.beta_max)

    def export_policy(self) -> None:  # the universal policy also reads β(s): it cannot act from the state alone
        return None

    def policy(self, actor_params: Any, observations: jnp.ndarray) -> Any:
        return self.universal(actor_params, observations, jax.lax.stop_gradient(self.beta(observations)))

    def training_beta(self, observations: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
        """β per sample for the universal policy's loss: uniform offline, the balance model's online."""
        cfg = self.config
        if not self.online:
            return jax.random.uniform(key, observations.shape[:-1], minval=cfg.beta_min, maxval=cfg.beta_max)
        if cfg.beta_mode == "mean":
            return jnp.broadcast_to(self.beta_mean, observations.shape[:-1])
        u = self.balance.apply_fn(self.balance.params, observations).sample(key)[..., 0]
        return jax.lax.stop_gradient(beta_from_unit(u, cfg.beta_min, cfg.beta_max))

    def balance_loss(self, balance_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        cfg = self.config
        obs = batch["observations"]
        key_u, key_a = jax.random.split(key)
        u, log_p = self.balance.apply_fn(balance_params, obs).sample_and_log_prob(key_u)
        beta = beta_from_unit(u[..., 0], cfg.beta_min, cfg.beta_max)
        # reparameterised in β and unclipped (as the authors' code): a clipped sample has dQ/dβ = 0 wherever
        # the action mean sits near ±1, which left β(s) where it started
        actions = self.universal(self.actor.params, obs, beta).rsample(key_a)
        q = ensemble_apply(self.critic.apply_fn, self.balance_critic_params, obs, actions).min(axis=0)
        entropy_term = self.balance_temp.apply_fn(self.balance_temp.params) * log_p if self.balance_entropy else 0.0
        loss = (entropy_term - q).mean()
        return loss, {"balance_loss": loss, "balance_entropy": -log_p.mean()}

    def balance_step(self, batch: Batch, key: jax.Array) -> tuple[Any, dict]:
        """One step of π_b and α_b every `balance_every` updates; the running mean of β(s) every update."""
        cfg = self.config
        grads, info = jax.grad(self.balance_loss, has_aux=True)(self.balance.params, batch, key)
        balance = self.balance.apply_gradients(grads=grads)
        temp, temp_info = temperature_step(self.balance_temp, info["balance_entropy"], cfg.balance_target_entropy)
        due = self.updates % cfg.balance_every == 0
        keep = jax.tree_util.tree_map(lambda new, old: jnp.where(due, new, old), (balance, temp),
                                      (self.balance, self.balance_temp))
        agent = self.replace(balance=keep[0], balance_temp=keep[1])
        u = agent.balance.apply_fn(agent.balance.params, batch["observations"]).mode()[..., 0]
        beta_s = beta_from_unit(u, cfg.beta_min, cfg.beta_max)
        agent = agent.replace(beta_mean=BETA_EMA * self.beta_mean + (1.0 - BETA_EMA) * beta_s.mean())
        return agent, prefixed("balance", {**info, "balance_temperature": temp_info["temperature"],
                                           "beta_state_mean": beta_s.mean(), "beta_state_std": beta_s.std()})

    @staticmethod
    def balance_parts(key: jax.Array, obs_dim: int, config: BalanceOptions) -> dict[str, Any]:
        key_b, key_t = jax.random.split(key)
        # a state-independent log-std clipped to [-10, 2], as the authors' balance model (FamO2O-IQL)
        balance_def = TanhGaussianActor(config.balance_hidden_dims, 1, log_std_min=-10.0, log_std_max=2.0,
                                        state_dependent_std=False, init_scheme=config.init)
        temp_def = Temperature(config.balance_init_temperature)
        return {"balance": TrainState.create(apply_fn=balance_def.apply,
                                             params=balance_def.init(key_b, jnp.zeros((1, obs_dim))),
                                             tx=optax.adam(config.balance_lr)),
                "balance_temp": TrainState.create(apply_fn=temp_def.apply, params=temp_def.init(key_t),
                                                  tx=optax.adam(config.balance_temp_lr)),
                "beta_mean": jnp.asarray(0.5 * (config.beta_min + config.beta_max), jnp.float32)}


class FamO2OIQLAgent(BalanceMixin, IQLAgent):
    config_class = FamO2OIQLConfig  # (not a field) the registry's config for this agent
    balance: TrainState = None
    balance_temp: TrainState = None
    beta_mean: jnp.ndarray = None
    online: bool = flax.struct.field(pytree_node=False, default=False)

    @property
    def updates(self) -> jnp.ndarray:
        return self.value.step

    def actor_loss(self, actor_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        obs = batch["observations"]
        beta = self.training_beta(obs, key)
        advantages = self.target_q(batch) - self.value.apply_fn(self.value.params, obs)
        if self.config.awr_beta_weighting == "batch-mean":  # the authors' code: adv (B,) times β (B, 1)
            weights = awr_weights(advantages[None, :], beta[:, None], self.config.awr_max_weight).mean(axis=0)
        else:  # the paper's equation: each sample's weight uses its own β
            weights = awr_weights(advantages, beta, self.config.awr_max_weight)
        log_probs = self.universal(actor_params, obs, beta).log_prob(batch["actions"])
        loss = -(jax.lax.stop_gradient(weights) * log_probs).mean()
        return loss, {"actor_loss": loss, "adv_mean": advantages.mean(), "awr_weight_mean": weights.mean(),
                      "beta_train_mean": beta.mean()}

    def update_step(self, batch: Batch, key: jax.Array) -> tuple[FamO2OIQLAgent, dict]:
        """V → π_b → α_b → π_u → Q → targets."""
        key_b, key_a = jax.random.split(key)
        agent, v_info = self.value_step(batch)
        agent, b_info = agent.balance_step(batch, key_b)
        agent, a_info = agent.actor_step(batch, key_a)
        agent, c_info = agent.critic_step(batch)
        return agent, {**v_info, **b_info, **a_info, **c_info}

    @classmethod
    def create(cls, key: jax.Array, obs_dim: int, action_dim: int, config: Any) -> FamO2OIQLAgent:
        key_iql, key_balance = jax.random.split(key)
        agent = super().create(key_iql, obs_dim, action_dim, config, actor_extra_inputs=6)  # π_u reads enc(β)
        return agent.replace(**cls.balance_parts(key_balance, obs_dim, config))


class FamO2OCQLAgent(BalanceMixin, CQLAgent):
    config_class = FamO2OCQLConfig  # (not a field) the registry's config for this agent
    balance: TrainState = None
    balance_temp: TrainState = None
    beta_mean: jnp.ndarray = None
    balance_entropy = False  # the authors' FamO2O-CQL: L_b = −E[Q(s, a_u)], no entropy term

    @property
    def balance_critic_params(self) -> Any:
        """The current critics, as the authors' FamO2O-CQL reads them."""
        return self.critic.params

    def critic_policy(self, observations: jnp.ndarray, batch: Batch, key: jax.Array, role: str) -> Any:
        """The universal policy as the critic reads it. The authors' code (`critic_beta="authors"`): the
        conservative term's current-state actions at the actor's training β (uniform offline, π_b online),
        the next-state actions and the backup at a β sampled from π_b(·|s) at the *current* state, in both
        phases; "deterministic": β(·) of the state the actions are drawn at, as acting uses."""
        if self.config.critic_beta == "deterministic":
            return self.policy(self.actor.params, observations)
        s = batch["observations"]
        if role == "current":
            beta = self.training_beta(s, key)
        else:
            u = self.balance.apply_fn(self.balance.params, s).sample(key)[..., 0]
            beta = beta_from_unit(u, self.config.beta_min, self.config.beta_max)
        return self.universal(self.actor.params, observations, jax.lax.stop_gradient(beta))

    @property
    def updates(self) -> jnp.ndarray:
        return self.actor.step

    def actor_loss(self, actor_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        obs = batch["observations"]
        key_beta, key_act = jax.random.split(key)
        beta = self.training_beta(obs, key_beta)
        actions, log_probs = self.universal(actor_params, obs, beta).sample_and_log_prob(key_act)
        q = ensemble_apply(self.critic.apply_fn, self.critic.params, obs, actions)
        q = q.mean(axis=0) if self.config.actor_aggregation == "mean" else q.min(axis=0)
        loss = (self.temp.apply_fn(self.temp.params) * log_probs - beta * q).mean()
        return loss, {"actor_loss": loss, "entropy": -log_probs.mean(), "beta_train_mean": beta.mean()}

    def update_actor(self, batch: Batch, key: jax.Array) -> tuple[FamO2OCQLAgent, dict]:
        """π_b and α_b, then SAC's actor and temperature step on the universal policy."""
        key_b, key_a = jax.random.split(key)
        agent, b_info = self.balance_step(batch, key_b)
        agent, info = CQLAgent.update_actor(agent, batch, key_a)
        return agent, {**b_info, **info}

    @classmethod
    def create(cls, key: jax.Array, obs_dim: int, action_dim: int, config: Any) -> FamO2OCQLAgent:
        key_cql, key_balance = jax.random.split(key)
        agent = super().create(key_cql, obs_dim, action_dim, config, actor_extra_inputs=6)  # π_u reads enc(β)
        return agent.replace(**cls.balance_parts(key_balance, obs_dim, config))


__all__ = ["FamO2OCQLAgent", "FamO2OIQLAgent", "beta_encoding", "beta_from_unit", "beta_report"]
