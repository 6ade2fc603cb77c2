"""ReBRAC (Tarasov et al. 2023): TD3 with behaviour-cloning penalties in the actor and in the critic's target, read
against tinkoff-ai/ReBRAC `src/algorithms/rebrac.py` (the FQL repository's variant differs in networks and
optimiser; see the fidelity sheet).

On a minibatch of (s, a, r, s', m, a'_data), a'_data the data's next action within the episode:

    a'   = clip(π̄(s') + clip(N(0, σ²), ±c), −1, 1)                    (target actor, smoothing noise)
    y    = r + γ m [ min_k Q̄_k(s', a') − β_critic ‖a' − a'_data‖² ]
    L_Q  = Σ_k mean (Q_k(s, a) − y)²                                    (every step)
    L_π  = mean[ β_actor ‖π(s) − a‖² − λ min_k Q_k(s, π(s)) ],  λ = 1 / mean |Q| (stop-gradient)

The actor steps every `policy_freq` critic steps, against the critic just updated; on those steps the target
actor (from the actor before its step) and the target critics (from the critics after theirs) move by τ.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

from hybridrl.agents.base import AgentAPI, RewardTransform
from hybridrl.agents.common import Batch, check_learner, critic_ensemble, polyak, prefixed, scan_updates
from hybridrl.errors import ConfigError
from hybridrl.nn import ensemble_apply


@dataclass(frozen=True)
class ReBRACConfig:
    """The authors' locomotion defaults (tinkoff-ai/ReBRAC configs/rebrac/*); β per task, set by the recipe."""

    hidden_dims: tuple[int, ...] = (256, 256, 256)
    actor_layer_norm: bool = False
    critic_layer_norm: bool = True
    num_critics: int = 2
    actor_bc_coef: float = 0.01  # β_actor
    critic_bc_coef: float = 0.01  # β_critic
    policy_noise: float = 0.2  # σ of the target smoothing noise (and of the online exploration noise)
    noise_clip: float = 0.5
    policy_freq: int = 2
    normalize_q: bool = True
    utd: int = 1
    batch_size: int = 1024
    discount: float = 0.99
    tau: float = 5e-3
    actor_lr: float = 1e-3
    critic_lr: float = 1e-3

    def validate(self) -> None:
        if self.policy_freq < 1 or self.noise_clip < 0 or self.policy_noise < 0:
            raise ConfigError("agent.policy_freq must be >= 1 and agent.policy_noise, agent.noise_clip >= 0; got "
                              f"{self.policy_freq}, {self.policy_noise}, {self.noise_clip}")
        if self.actor_bc_coef < 0 or self.critic_bc_coef < 0:
            raise ConfigError(f"agent.actor_bc_coef and agent.critic_bc_coef must be >= 0; got {self.actor_bc_coef}, "
                              f"{self.critic_bc_coef}")
        check_learner(self, positive=("actor_lr", "critic_lr"))


def _uniform(bound: float) -> Any:
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)


class EDACMLP(nn.Module):
    """The authors' networks (EDAC's initialisation): Dense with PyTorch's default kernel init U(±1/√fan_in) and bias
    0.1, ReLU, then LayerNorm if enabled; the output layer U(±`out_scale`) for kernel and bias."""

    hidden_dims: tuple[int, ...]
    out_dim: int
    layer_norm: bool
    out_scale: float

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        for size in self.hidden_dims:
            x = nn.Dense(size, kernel_init=_uniform(math.sqrt(1.0 / x.shape[-1])),
                         bias_init=nn.initializers.constant(0.1))(x)
            x = nn.relu(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
        return nn.Dense(self.out_dim, kernel_init=_uniform(self.out_scale), bias_init=_uniform(self.out_scale))(x)


class DeterministicActor(nn.Module):
    hidden_dims: tuple[int, ...]
    action_dim: int
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs: jnp.ndarray) -> jnp.ndarray:
        return jnp.tanh(EDACMLP(self.hidden_dims, self.action_dim, self.layer_norm, 1e-3)(obs))


class QNet(nn.Module):
    hidden_dims: tuple[int, ...]
    layer_norm: bool = True

    @nn.compact
    def __call__(self, obs: jnp.ndarray, actions: jnp.ndarray) -> jnp.ndarray:
        return EDACMLP(self.hidden_dims, 1, self.layer_norm, 3e-3)(jnp.concatenate([obs, actions], -1)).squeeze(-1)


class ReBRACAgent(AgentAPI, flax.struct.PyTreeNode):
    config_class = ReBRACConfig  # (not a field) the registry's config for this agent
    actor: TrainState
    target_actor_params: Any
    critic: TrainState
    target_critic_params: Any
    action_dim: int = flax.struct.field(pytree_node=False)
    config: ReBRACConfig = flax.struct.field(pytree_node=False)

    # ---- the data's next action: a column the losses read ------------------------------------------
    @property
    def batch_fields(self) -> tuple[str, ...]:
        return ("next_actions",)

    @property
    def episode_columns(self) -> tuple[str, ...]:
        return ("next_actions",)

    def column_defaults(self) -> dict[str, np.ndarray]:
        return {"next_actions": np.zeros(self.action_dim, np.float32)}

    def offline_columns(self, dataset: Any, reward: RewardTransform) -> dict[str, np.ndarray]:
        return {"next_actions": next_actions_within_episodes(dataset.actions, dataset.episode_ends)}

    def fill_episode_columns(self, episode: dict[str, np.ndarray], reward: RewardTransform) -> dict[str, np.ndarray]:
        ends = np.zeros(len(episode["actions"]), bool)
        ends[-1] = True
        return {"next_actions": next_actions_within_episodes(episode["actions"], ends)}

    # ---- losses -----------------------------------------------------------------------------------
    def critic_loss(self, critic_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        cfg = self.config
        next_obs = batch["next_observations"]
        next_actions = self.actor.apply_fn(self.target_actor_params, next_obs)
        noise = jnp.clip(jax.random.normal(key, next_actions.shape) * cfg.policy_noise, -cfg.noise_clip,
                         cfg.noise_clip)
        next_actions = jnp.clip(next_actions + noise, -1.0, 1.0)
        penalty = ((next_actions - batch["next_actions"]) ** 2).sum(-1)
        next_q = ensemble_apply(self.critic.apply_fn, self.target_critic_params, next_obs, next_actions).min(axis=0)
        target = batch["rewards"] + cfg.discount * batch["masks"] * (next_q - cfg.critic_bc_coef * penalty)
        qs = ensemble_apply(self.critic.apply_fn, critic_params, batch["observations"], batch["actions"])
        loss = ((qs - jax.lax.stop_gradient(target)[None]) ** 2).mean(axis=1).sum()
        return loss, {"critic_loss": loss, "q_mean": qs.mean(), "q_min": qs.min(axis=0).mean(),
                      "critic_bc_penalty": penalty.mean()}

    def actor_loss(self, actor_params: Any, batch: Batch) -> tuple[jnp.ndarray, dict]:
        cfg = self.config
        actions = self.actor.apply_fn(actor_params, batch["observations"])
        bc = ((actions - batch["actions"]) ** 2).sum(-1)
        q = ensemble_apply(self.critic.apply_fn, self.critic.params, batch["observations"], actions).min(axis=0)
        lam = jax.lax.stop_gradient(1.0 / jnp.abs(q).mean()) if cfg.normalize_q else 1.0
        loss = (cfg.actor_bc_coef * bc - lam * q).mean()
        return loss, {"actor_loss": loss, "bc_mse_policy": bc.mean(), "action_mse": ((actions - batch["actions"]) ** 2)
                      .mean()}

    # ---- update -----------------------------------------------------------------------------------
    def update_step(self, batch: Batch, key: jax.Array) -> tuple[ReBRACAgent, dict]:
        full = self.critic.step % self.config.policy_freq == 0
        grads, c_info = jax.grad(self.critic_loss, has_aux=True)(self.critic.params, batch, key)
        agent = self.replace(critic=self.critic.apply_gradients(grads=grads))

        def with_actor(a: ReBRACAgent) -> tuple[ReBRACAgent, dict]:
            a_grads, info = jax.grad(a.actor_loss, has_aux=True)(a.actor.params, batch)
            tau = a.config.tau
            return a.replace(actor=a.actor.apply_gradients(grads=a_grads),
                             target_actor_params=polyak(a.actor.params, a.target_actor_params, tau),
                             target_critic_params=polyak(a.critic.params, a.target_critic_params, tau)), info

        def critic_only(a: ReBRACAgent) -> tuple[ReBRACAgent, dict]:
            return a, a.actor_loss(a.actor.params, batch)[1]  # the actor's metrics, without a step

        agent, a_info = jax.lax.cond(full, with_actor, critic_only, agent)
        return agent, {**prefixed("critic", c_info), **prefixed("actor", a_info)}

    def update(self, batches: Batch, key: jax.Array) -> tuple[ReBRACAgent, dict]:
        return scan_updates(self, batches, key)

    # ---- acting -----------------------------------------------------------------------------------
    def sample_actions(self, observations: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
        """π(s) plus clipped Gaussian noise (σ = policy_noise), as the FQL repository's ReBRAC explores online."""
        cfg = self.config
        actions = self.actor.apply_fn(self.actor.params, observations)
        noise = jnp.clip(jax.random.normal(key, actions.shape) * cfg.policy_noise, -cfg.noise_clip, cfg.noise_clip)
        return jnp.clip(actions + noise, -1.0, 1.0)

    def eval_actions(self, observations: jnp.ndarray) -> jnp.ndarray:
        return self.actor.apply_fn(self.actor.params, observations)

    # ---- construction -----------------------------------------------------------------------------
    @classmethod
    def create(cls, key: jax.Array, obs_dim: int, action_dim: int, config: ReBRACConfig) -> ReBRACAgent:
        key_actor, key_critic = jax.random.split(key)
        obs = jnp.zeros((1, obs_dim), jnp.float32)
        act = jnp.zeros((1, action_dim), jnp.float32)
        actor_def = DeterministicActor(tuple(config.hidden_dims), action_dim, config.actor_layer_norm)
        critic_def = QNet(tuple(config.hidden_dims), config.critic_layer_norm)
        actor_params = actor_def.init(key_actor, obs)
        critic, target_critic_params = critic_ensemble(critic_def, key_critic, config.num_critics, obs, act,
                                                       optax.adam(config.critic_lr))
        return cls(actor=TrainState.create(apply_fn=actor_def.apply, params=actor_params,
                                           tx=optax.adam(config.actor_lr)),
                   target_actor_params=jax.tree_util.tree_map(jnp.copy, actor_params),
                   critic=critic, target_critic_params=target_critic_params, action_dim=action_dim, config=config)


def next_actions_within_episodes(actions: np.ndarray, episode_ends: np.ndarray) -> np.ndarray:
    """Each row's next action in its own episode; an episode's last row keeps its own. tinkoff-ai/ReBRAC takes row
    i + 1 of a file whose time-limit rows were dropped (so it crosses only at terminals, where the mask zeroes it);
    seohongpark/fql takes row i + 1 across every end, which its code notes as a simplification. Ours differs from
    tinkoff only on data that keeps an episode's cut last row (the suite, Minari): that row bootstraps with its own
    action as the next one, the data holding no other."""
    actions = np.asarray(actions, np.float32)
    nxt = np.concatenate([actions[1:], actions[-1:]])
    ends = np.asarray(episode_ends, bool)
    nxt[ends] = actions[ends]
    return nxt


__all__ = ["ReBRACAgent", "ReBRACConfig", "next_actions_within_episodes"]
