"""SAC with a critic ensemble — the learner behind SAC, RLPD, and (later) WSRL and Balanced Replay.

    y   = r + γ m [ min_{j∈Z} Q̄_j(s', a') − 1_backup · α log π(a'|s') ],   a' ~ π(·|s'),  m = 1 − terminal
    L_Q = mean over members and batch of (Q_i(s, a) − y)²
    L_π = E[ α log π(ã|s) − agg_i Q_i(s, ã) ],   agg = mean (RLPD) or min
    L_α = α (H − H̄),   H = −E[log π(ã|s)]

`update` takes `utd` minibatches stacked on a leading axis: the critic takes one step (and one Polyak
target update) per minibatch inside `lax.scan`; the actor and temperature take one step on the last.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from hybridrl.agents.base import AgentAPI
from hybridrl.agents.common import (
    Batch,
    Temperature,
    check_init,
    check_learner,
    critic_ensemble,
    critic_steps_then_actor,
    polyak,
    prefixed,
    td_target,
    temperature_step,
)
from hybridrl.errors import ConfigError
from hybridrl.nn import Critic, TanhGaussianActor, draw_members, ensemble_apply, subset


@dataclass(frozen=True)
class SACConfig:
    """SAC with a critic ensemble: covers SAC, RLPD and their variants by value alone."""

    hidden_dims: tuple[int, ...] = (256, 256)
    actor_hidden_dims: tuple[int, ...] | None = None  # None: hidden_dims (Cal-QL's mazes: critic 256×4, actor 256×2)
    critic_layer_norm: bool = False
    actor_layer_norm: bool = False  # LayerNorm in the policy too (WSRL)
    actor_log_std_offset: float | None = None  # log-std = m·raw + b, m and b learned from 1 and this (Cal-QL: −1)
    actor_state_dependent_std: bool = True  # False: one learned log-std vector from 0 (WSRL's AntMaze "uniform")
    init: str = "xavier"  # kernel initialisers (nn/mlp.py INITS): "xavier" (RLPD's code), "orthogonal" (√2 on every
    # layer: IQL), "orthogonal-small-output" (√2 hidden, 1e-2 output: Cal-QL's JaxCQL), "wsrl", "rlkit", ...
    num_critics: int = 2  # E
    num_target_critics: int = 2  # Z: the target is the min over a random subset of this size
    subset_with_replacement: bool = False  # draw the Z members independently, so one can come twice (WSRL's code);
    # False: Z distinct members (RLPD's code)
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


class SACAgent(AgentAPI, flax.struct.PyTreeNode):
    config_class = SACConfig  # (not a field) the registry's config for this agent
    actor: TrainState
    critic: TrainState
    target_critic_params: Any
    temp: TrainState
    target_entropy: float = flax.struct.field(pytree_node=False)
    config: SACConfig = flax.struct.field(pytree_node=False)

    # ---- losses -------------------------------------------------------------------------------
    def critic_loss(self, critic_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        cfg = self.config
        key_act, key_sub = jax.random.split(key)
        next_actions, next_log_probs = self.policy(self.actor.params, batch["next_observations"]) \
            .sample_and_log_prob(key_act)
        members = draw_members(key_sub, cfg.num_critics, cfg.num_target_critics, cfg.subset_with_replacement)
        next_qs = ensemble_apply(self.critic.apply_fn, subset(self.target_critic_params, members),
                                 batch["next_observations"], next_actions)
        target = td_target(batch["rewards"], batch["masks"], next_qs.min(axis=0), next_log_probs,
                           self.temp.apply_fn(self.temp.params), cfg.discount, cfg.backup_entropy)
        qs = ensemble_apply(self.critic.apply_fn, critic_params, batch["observations"], batch["actions"])
        loss = ((qs - jax.lax.stop_gradient(target)[None]) ** 2).mean()
        return loss, {"critic_loss": loss, "q_mean": qs.mean(), "q_max": qs.max(), "q_min": qs.min(),
                      "target_mean": target.mean()}

    def actor_loss(self, actor_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        actions, log_probs = self.policy(actor_params, batch["observations"]).sample_and_log_prob(key)
        qs = ensemble_apply(self.critic.apply_fn, self.critic.params, batch["observations"], actions)
        q = qs.mean(axis=0) if self.config.actor_aggregation == "mean" else qs.min(axis=0)
        temperature = self.temp.apply_fn(self.temp.params)
        loss = (temperature * log_probs - q).mean()
        return loss, {"actor_loss": loss, "entropy": -log_probs.mean()}

    # ---- updates ------------------------------------------------------------------------------
    def update_critic(self, batch: Batch, key: jax.Array) -> tuple[SACAgent, dict]:
        grads, info = jax.grad(self.critic_loss, has_aux=True)(self.critic.params, batch, key)
        critic = self.critic.apply_gradients(grads=grads)
        target = polyak(critic.params, self.target_critic_params, self.config.tau)
        return self.replace(critic=critic, target_critic_params=target), prefixed("critic", info)

    def update_actor(self, batch: Batch, key: jax.Array) -> tuple[SACAgent, dict]:
        grads, info = jax.grad(self.actor_loss, has_aux=True)(self.actor.params, batch, key)
        temp, temp_info = temperature_step(self.temp, info["entropy"], self.target_entropy)
        return self.replace(actor=self.actor.apply_gradients(grads=grads), temp=temp), \
            {**prefixed("actor", info), **prefixed("temperature", temp_info)}

    def update(self, batches: Batch, key: jax.Array) -> tuple[SACAgent, dict]:
        """All critic steps for one env step (one per stacked minibatch), then actor and temperature."""
        return critic_steps_then_actor(self, batches, key, joined=self.config.actor_full_batch)

    def export_policy(self) -> dict[str, Any] | None:
        a = self.config
        shape = {k: v for k, v in (("layer_norm", a.actor_layer_norm), ("log_std_offset", a.actor_log_std_offset))
                 if v not in (False, None)}  # only what differs from the plain actor, so older files still read
        if not a.actor_state_dependent_std:
            shape["state_dependent_std"] = False
        return {"params": self.actor.params, "hidden_dims": a.actor_hidden_dims or a.hidden_dims, **shape}

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def create(cls, key: jax.Array, obs_dim: int, action_dim: int, config: SACConfig,
               actor_extra_inputs: int = 0) -> SACAgent:
        """`actor_extra_inputs`: features appended to the state for the actor only (FamO2O's enc(β))."""
        key_actor, key_critic, key_temp = jax.random.split(key, 3)
        obs = jnp.zeros((1, obs_dim), jnp.float32)
        act = jnp.zeros((1, action_dim), jnp.float32)
        actor_def = TanhGaussianActor(config.actor_hidden_dims or config.hidden_dims, action_dim,
                                      layer_norm=config.actor_layer_norm, log_std_offset=config.actor_log_std_offset,
                                      state_dependent_std=config.actor_state_dependent_std, init_scheme=config.init)
        critic_def = Critic(config.hidden_dims, layer_norm=config.critic_layer_norm, init_scheme=config.init)
        temp_def = Temperature(config.init_temperature)
        actor_obs = jnp.zeros((1, obs_dim + actor_extra_inputs), jnp.float32)
        actor = TrainState.create(apply_fn=actor_def.apply, params=actor_def.init(key_actor, actor_obs),
                                  tx=optax.adam(config.actor_lr))
        critic, target_critic_params = critic_ensemble(critic_def, key_critic, config.num_critics, obs, act,
                                                       optax.adam(config.critic_lr))
        temp = TrainState.create(apply_fn=temp_def.apply, params=temp_def.init(key_temp),
                                 tx=optax.adam(config.temp_lr))
        target_entropy = (config.target_entropy if config.target_entropy is not None
                          else -config.target_entropy_scale * action_dim)
        return cls(actor=actor, critic=critic, target_critic_params=target_critic_params, temp=temp,
                   target_entropy=float(target_entropy), config=config)
