"""SAC with a critic ensemble — the learner behind SAC, RLPD, and (later) WSRL and Balanced Replay.

    y   = r + γ m [ min_{j∈Z} Q̄_j(s', a') − 1_backup · α log π(a'|s') ],   a' ~ π(·|s'),  m = 1 − terminal
    L_Q = mean over members and batch of (Q_i(s, a) − y)²
    L_π = E[ α log π(ã|s) − agg_i Q_i(s, ã) ],   agg = mean (RLPD) or min
    L_α = α (H − H̄),   H = −E[log π(ã|s)]

`update` takes `utd` minibatches stacked on a leading axis: the critic takes one step (and one Polyak
target update) per minibatch inside `lax.scan`; the actor and temperature take one step on the last.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from hybridrl.agents.base import AgentAPI
from hybridrl.config import SACConfig
from hybridrl.nn import Critic, TanhGaussianActor, ensemble_apply, ensemble_init, subset

Batch = dict[str, jnp.ndarray]


class Temperature(nn.Module):
    init_value: float = 1.0

    @nn.compact
    def __call__(self) -> jnp.ndarray:
        log_temp = self.param("log_temp", lambda _: jnp.full((), jnp.log(self.init_value), jnp.float32))
        return jnp.exp(log_temp)


def td_target(rewards: jnp.ndarray, masks: jnp.ndarray, next_q: jnp.ndarray, next_log_probs: jnp.ndarray,
              temperature: jnp.ndarray, discount: float, backup_entropy: bool) -> jnp.ndarray:
    """Soft TD target; `masks` is 0 only at true terminals (a time-limit truncation still bootstraps)."""
    if backup_entropy:
        next_q = next_q - temperature * next_log_probs
    return rewards + discount * masks * next_q


def polyak(params: Any, target_params: Any, tau: float) -> Any:
    return jax.tree_util.tree_map(lambda p, t: tau * p + (1.0 - tau) * t, params, target_params)


def temperature_step(temp: TrainState, entropy: jnp.ndarray, target_entropy: float) -> tuple[TrainState, dict]:
    """One step of L_α = α (H − H̄): α falls while the policy is more random than the target."""

    def loss_fn(params: Any) -> tuple[jnp.ndarray, dict]:
        temperature = temp.apply_fn(params)
        loss = temperature * (jax.lax.stop_gradient(entropy) - target_entropy)
        return loss, {"temperature": temperature, "temperature_loss": loss}

    grads, info = jax.grad(loss_fn, has_aux=True)(temp.params)
    return temp.apply_gradients(grads=grads), info


def critic_steps_then_actor(agent: Any, batches: Batch, key: jax.Array) -> tuple[Any, dict]:
    """SAC's update schedule: one critic step (and target update) per stacked minibatch inside
    `lax.scan`, then one actor/temperature step on the last minibatch (or on all of them joined,
    `actor_full_batch`). `agent` provides update_critic(batch, key) and update_actor(batch, key)."""
    num = jax.tree_util.tree_leaves(batches)[0].shape[0]
    key_critic, key_actor = jax.random.split(key)

    def critic_step(a: Any, xs: tuple[Batch, jax.Array]) -> tuple[Any, dict]:
        return a.update_critic(*xs)

    agent, critic_info = jax.lax.scan(critic_step, agent, (batches, jax.random.split(key_critic, num)))
    if agent.config.actor_full_batch:  # WSRL: the critic's minibatches joined into one actor batch
        actor_batch = jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), batches)
    else:
        actor_batch = jax.tree_util.tree_map(lambda x: x[-1], batches)
    agent, actor_info = agent.update_actor(actor_batch, key_actor)
    return agent, {**jax.tree_util.tree_map(jnp.mean, critic_info), **actor_info}


class SACAgent(AgentAPI, flax.struct.PyTreeNode):
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
        members = jax.random.choice(key_sub, cfg.num_critics, (cfg.num_target_critics,), replace=False)
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
        return self.replace(critic=critic, target_critic_params=target), info

    def update_actor(self, batch: Batch, key: jax.Array) -> tuple[SACAgent, dict]:
        grads, info = jax.grad(self.actor_loss, has_aux=True)(self.actor.params, batch, key)
        temp, temp_info = temperature_step(self.temp, info["entropy"], self.target_entropy)
        return self.replace(actor=self.actor.apply_gradients(grads=grads), temp=temp), {**info, **temp_info}

    def update(self, batches: Batch, key: jax.Array) -> tuple[SACAgent, dict]:
        """All critic steps for one env step (one per stacked minibatch), then actor and temperature."""
        return critic_steps_then_actor(self, batches, key)

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
                                      init_scheme=config.init)
        critic_def = Critic(config.hidden_dims, layer_norm=config.critic_layer_norm, init_scheme=config.init)
        temp_def = Temperature(config.init_temperature)
        actor_obs = jnp.zeros((1, obs_dim + actor_extra_inputs), jnp.float32)
        actor = TrainState.create(apply_fn=actor_def.apply, params=actor_def.init(key_actor, actor_obs),
                                  tx=optax.adam(config.actor_lr))
        critic_params = ensemble_init(critic_def, key_critic, config.num_critics, obs, act)
        critic = TrainState.create(apply_fn=critic_def.apply, params=critic_params, tx=optax.adam(config.critic_lr))
        temp = TrainState.create(apply_fn=temp_def.apply, params=temp_def.init(key_temp),
                                 tx=optax.adam(config.temp_lr))
        target_entropy = (config.target_entropy if config.target_entropy is not None
                          else -config.target_entropy_scale * action_dim)
        return cls(actor=actor, critic=critic, target_critic_params=jax.tree_util.tree_map(jnp.copy, critic_params),
                   temp=temp,
                   target_entropy=float(target_entropy), config=config)
