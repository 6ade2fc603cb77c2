"""IQL (Kostrikov et al., 2022): in-sample learning with an expectile value and advantage-weighted actor.

On a minibatch of (s, a, r, s', m), in this order:

    L_V = E[ |τ − 1(u < 0)| u² ],   u = min_j Q̄_j(s, a) − V(s)          (expectile regression)
    L_π = −E[ min(exp(β (min_j Q̄_j(s, a) − V(s))), w_max) · log π(a|s) ]   (AWR with clipped weights)
    L_Q = Σ_j E[ (Q_j(s, a) − r − γ m V(s'))² ],  then Q̄ ← Polyak(Q, Q̄)

No action outside the data is ever evaluated, which is why it pre-trains stably and why its online
fine-tuning (offline data kept, appended, uniform) is the standard baseline.
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
from hybridrl.agents.common import Batch, check_init, check_learner, critic_ensemble, polyak, prefixed, scan_updates
from hybridrl.errors import ConfigError
from hybridrl.nn import Critic, GaussianActor, ValueNet, ensemble_apply


@dataclass(frozen=True)
class IQLConfig:
    """Implicit Q-learning: expectile value, twin critics trained toward V(s'), advantage-weighted actor."""

    per_run_fields = ("actor_decay_steps",)  # (not a field) derived from each run's steps, never inherited by a
    # run fine-tuned from this one (IQL: cosine over an offline-only run's steps; constant when fine-tuning)

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

    def run_fields(self, train: Any) -> dict[str, Any]:
        """actor_decay_steps None: as IQL's code, cosine over the offline steps of an offline-only run, a constant
        rate in its fine-tuning configs."""
        if self.actor_decay_steps is not None:
            return {}
        return {"actor_decay_steps": train.offline_steps if train.online_steps == 0 else 0}

    def validate(self) -> None:
        check_init(self.init)
        if not 0.0 < self.expectile < 1.0:
            raise ConfigError(f"agent.expectile must be in (0, 1), got {self.expectile}")
        if not -5.0 <= self.log_std_init <= 2.0:
            raise ConfigError(f"agent.log_std_init must be in [-5, 2] (the actor's log-std range), "
                              f"got {self.log_std_init}")
        check_learner(self, positive=("actor_lr", "critic_lr", "value_lr", "awr_temperature", "awr_max_weight"))


def expectile_loss(diff: jnp.ndarray, expectile: float) -> jnp.ndarray:
    """|τ − 1(u < 0)| u²: τ > 0.5 weighs under-estimates of the upper expectile more."""
    weight = jnp.where(diff < 0, 1.0 - expectile, expectile)
    return weight * diff**2


def awr_weights(advantages: jnp.ndarray, temperature: float, max_weight: float) -> jnp.ndarray:
    return jnp.minimum(jnp.exp(temperature * advantages), max_weight)


class IQLAgent(AgentAPI, flax.struct.PyTreeNode):
    config_class = IQLConfig  # (not a field) the registry's config for this agent
    actor: TrainState
    critic: TrainState
    target_critic_params: Any
    value: TrainState
    config: IQLConfig = flax.struct.field(pytree_node=False)

    # ---- losses -------------------------------------------------------------------------------
    def target_q(self, batch: Batch) -> jnp.ndarray:
        qs = ensemble_apply(self.critic.apply_fn, self.target_critic_params, batch["observations"], batch["actions"])
        return qs.min(axis=0)

    def value_loss(self, value_params: Any, batch: Batch) -> tuple[jnp.ndarray, dict]:
        v = self.value.apply_fn(value_params, batch["observations"])
        loss = expectile_loss(self.target_q(batch) - v, self.config.expectile).mean()
        return loss, {"value_loss": loss, "v_mean": v.mean()}

    def actor_loss(self, actor_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        cfg = self.config
        advantages = self.target_q(batch) - self.value.apply_fn(self.value.params, batch["observations"])
        weights = awr_weights(advantages, cfg.awr_temperature, cfg.awr_max_weight)
        log_probs = self.policy(actor_params, batch["observations"]).log_prob(batch["actions"])
        loss = -(jax.lax.stop_gradient(weights) * log_probs).mean()
        return loss, {"actor_loss": loss, "adv_mean": advantages.mean(), "awr_weight_mean": weights.mean()}

    def critic_loss(self, critic_params: Any, batch: Batch) -> tuple[jnp.ndarray, dict]:
        next_v = self.value.apply_fn(self.value.params, batch["next_observations"])
        target = batch["rewards"] + self.config.discount * batch["masks"] * next_v
        qs = ensemble_apply(self.critic.apply_fn, critic_params, batch["observations"], batch["actions"])
        loss = ((qs - target[None]) ** 2).mean(axis=1).sum()
        return loss, {"critic_loss": loss, "q_mean": qs.mean(), "q_max": qs.max(), "q_min": qs.min()}

    # ---- updates ------------------------------------------------------------------------------
    def value_step(self, batch: Batch) -> tuple[IQLAgent, dict]:
        grads, info = jax.grad(self.value_loss, has_aux=True)(self.value.params, batch)
        return self.replace(value=self.value.apply_gradients(grads=grads)), prefixed("value", info)

    def actor_step(self, batch: Batch, key: jax.Array) -> tuple[IQLAgent, dict]:
        grads, info = jax.grad(self.actor_loss, has_aux=True)(self.actor.params, batch, key)
        return self.replace(actor=self.actor.apply_gradients(grads=grads)), prefixed("actor", info)

    def critic_step(self, batch: Batch) -> tuple[IQLAgent, dict]:
        grads, info = jax.grad(self.critic_loss, has_aux=True)(self.critic.params, batch)
        critic = self.critic.apply_gradients(grads=grads)
        return self.replace(critic=critic, target_critic_params=polyak(critic.params, self.target_critic_params,
                                                                        self.config.tau)), prefixed("critic", info)

    def update_step(self, batch: Batch, key: jax.Array) -> tuple[IQLAgent, dict]:
        """V, then π, then Q and the targets (the order of the paper's pseudo-code)."""
        agent, v_info = self.value_step(batch)
        agent, a_info = agent.actor_step(batch, key)
        agent, c_info = agent.critic_step(batch)
        return agent, {**v_info, **a_info, **c_info}

    def update(self, batches: Batch, key: jax.Array) -> tuple[IQLAgent, dict]:
        """One full step per stacked minibatch (`utd` of them), fused with `lax.scan`."""
        return scan_updates(self, batches, key)

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def create(cls, key: jax.Array, obs_dim: int, action_dim: int, config: IQLConfig,
               actor_extra_inputs: int = 0) -> IQLAgent:
        """`actor_extra_inputs`: features appended to the state for the actor only (FamO2O's enc(β))."""
        key_actor, key_critic, key_value = jax.random.split(key, 3)
        obs = jnp.zeros((1, obs_dim), jnp.float32)
        act = jnp.zeros((1, action_dim), jnp.float32)
        actor_def = GaussianActor(config.hidden_dims, action_dim, log_std_init=config.log_std_init,
                                  init_scheme=config.init)
        critic_def = Critic(config.hidden_dims, init_scheme=config.init)
        value_def = ValueNet(config.hidden_dims, init_scheme=config.init)
        # always a schedule (constant when actor_decay_steps is 0), so the optimiser state has one shape and a
        # fine-tuning run at a constant rate can start from a pre-training run that decayed
        actor_lr = (optax.cosine_decay_schedule(config.actor_lr, config.actor_decay_steps)
                    if config.actor_decay_steps else optax.constant_schedule(config.actor_lr))
        actor_obs = jnp.zeros((1, obs_dim + actor_extra_inputs), jnp.float32)
        actor = TrainState.create(apply_fn=actor_def.apply, params=actor_def.init(key_actor, actor_obs),
                                  tx=optax.adam(actor_lr))
        critic, target_critic_params = critic_ensemble(critic_def, key_critic, config.num_critics, obs, act,
                                                       optax.adam(config.critic_lr))
        value = TrainState.create(apply_fn=value_def.apply, params=value_def.init(key_value, obs),
                                  tx=optax.adam(config.value_lr))
        return cls(actor=actor, critic=critic, target_critic_params=target_critic_params, value=value, config=config)
