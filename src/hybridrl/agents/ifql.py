"""IFQL (the FQL paper's flow version of IDQL): IQL's value and critics, a flow-matching BC policy, and acting by
picking the best of N flow samples under Q. Read against seohongpark/fql `agents/ifql.py`.

On a minibatch of (s, a, r, s', m), every loss read at the parameters before this step:

    L_V    = mean |τ − 1(u < 0)| u²,  u = min_k Q̄_k(s, a) − V(s)            (expectile τ, target critics)
    L_Q    = mean over batch of Σ_k (Q_k(s, a) − r − γ m V(s'))²          (a sum over the critics, as the authors)
    L_flow = mean ‖v_θ(s, x_t, t) − (a − x_0)‖² / |A|                      (flow matching, as FQL's BC flow)

then one Adam step on each network and Q̄ ← τ Q_before + (1 − τ) Q̄. Acting (training and evaluation, as the
authors): N flow samples (K Euler steps each, clipped), the one with the largest min_k Q_k(s, ·).
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
from hybridrl.agents.common import Batch, check_learner, critic_ensemble, polyak, prefixed, scan_updates
from hybridrl.agents.iql import expectile_loss
from hybridrl.errors import ConfigError
from hybridrl.nn import Critic, ValueNet, ensemble_apply
from hybridrl.nn.flow import VectorField, best_of_n, euler_actions, flow_matching_loss


@dataclass(frozen=True)
class IFQLConfig:
    """IFQL's defaults (seohongpark/fql `agents/ifql.py` get_config)."""

    hidden_dims: tuple[int, ...] = (512, 512, 512, 512)  # value and critics
    actor_hidden_dims: tuple[int, ...] | None = None  # the flow field; None: hidden_dims
    layer_norm: bool = True  # value and critics (after each activation)
    actor_layer_norm: bool = False
    num_critics: int = 2
    expectile: float = 0.9
    num_samples: int = 32  # N flow samples per action choice
    flow_steps: int = 10
    utd: int = 1
    batch_size: int = 256
    discount: float = 0.99
    tau: float = 0.005
    lr: float = 3e-4

    def validate(self) -> None:
        if not 0.0 < self.expectile < 1.0:
            raise ConfigError(f"agent.expectile must be in (0, 1), got {self.expectile}")
        if self.num_samples < 1 or self.flow_steps < 1:
            raise ConfigError(f"agent.num_samples and agent.flow_steps must be >= 1; got {self.num_samples}, "
                              f"{self.flow_steps}")
        check_learner(self, positive=("lr",))


class IFQLAgent(AgentAPI, flax.struct.PyTreeNode):
    config_class = IFQLConfig  # (not a field) the registry's config for this agent
    value: TrainState
    critic: TrainState
    target_critic_params: Any
    actor: TrainState  # the flow's velocity field v_θ(s, x, t)
    action_dim: int = flax.struct.field(pytree_node=False)
    config: IFQLConfig = flax.struct.field(pytree_node=False)

    # ---- losses -----------------------------------------------------------------------------------
    def value_loss(self, value_params: Any, batch: Batch) -> tuple[jnp.ndarray, dict]:
        obs = batch["observations"]
        q = ensemble_apply(self.critic.apply_fn, self.target_critic_params, obs, batch["actions"]).min(axis=0)
        v = self.value.apply_fn(value_params, obs)
        loss = expectile_loss(q - v, self.config.expectile).mean()
        return loss, {"value_loss": loss, "v_mean": v.mean(), "v_max": v.max(), "v_min": v.min()}

    def critic_loss(self, critic_params: Any, batch: Batch) -> tuple[jnp.ndarray, dict]:
        next_v = self.value.apply_fn(self.value.params, batch["next_observations"])
        target = batch["rewards"] + self.config.discount * batch["masks"] * next_v
        qs = ensemble_apply(self.critic.apply_fn, critic_params, batch["observations"], batch["actions"])
        loss = ((qs - jax.lax.stop_gradient(target)[None]) ** 2).sum(axis=0).mean()
        return loss, {"critic_loss": loss, "q_mean": qs.mean(), "q_max": qs.max(), "q_min": qs.min()}

    def actor_loss(self, actor_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        loss = flow_matching_loss(self.actor.apply_fn, actor_params, batch["observations"], batch["actions"], key)
        return loss, {"actor_loss": loss}

    # ---- update -----------------------------------------------------------------------------------
    def update_step(self, batch: Batch, key: jax.Array) -> tuple[IFQLAgent, dict]:
        v_grads, v_info = jax.grad(self.value_loss, has_aux=True)(self.value.params, batch)
        c_grads, c_info = jax.grad(self.critic_loss, has_aux=True)(self.critic.params, batch)
        a_grads, a_info = jax.grad(self.actor_loss, has_aux=True)(self.actor.params, batch, key)
        target = polyak(self.critic.params, self.target_critic_params, self.config.tau)  # the pre-step critic
        agent = self.replace(value=self.value.apply_gradients(grads=v_grads),
                             critic=self.critic.apply_gradients(grads=c_grads), target_critic_params=target,
                             actor=self.actor.apply_gradients(grads=a_grads))
        return agent, {**prefixed("value", v_info), **prefixed("critic", c_info), **prefixed("actor", a_info)}

    def update(self, batches: Batch, key: jax.Array) -> tuple[IFQLAgent, dict]:
        return scan_updates(self, batches, key)

    # ---- acting -----------------------------------------------------------------------------------
    def sample_actions(self, observations: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
        """Best of N flow samples under min_k Q_k, for each observation of the batch."""
        return best_of_n(
            lambda obs, noise: euler_actions(self.actor.apply_fn, self.actor.params, obs, noise,
                                             self.config.flow_steps),
            lambda obs, actions: ensemble_apply(self.critic.apply_fn, self.critic.params, obs, actions).min(axis=0),
            observations, key, self.config.num_samples, self.action_dim)

    def eval_actions(self, observations: jnp.ndarray) -> jnp.ndarray:
        """Best of N with a fixed key (used only when evaluation is set to be deterministic)."""
        return self.sample_actions(observations, jax.random.PRNGKey(0))

    @property
    def evaluates_by_sampling(self) -> bool:
        return True  # the authors evaluate with fresh samples (their temperature argument is unused)

    # ---- construction -----------------------------------------------------------------------------
    @classmethod
    def create(cls, key: jax.Array, obs_dim: int, action_dim: int, config: IFQLConfig) -> IFQLAgent:
        key_value, key_critic, key_actor = jax.random.split(key, 3)
        obs = jnp.zeros((1, obs_dim), jnp.float32)
        act = jnp.zeros((1, action_dim), jnp.float32)
        net = {"layer_norm": config.layer_norm, "activation": "gelu", "norm_after_activation": True}
        value_def = ValueNet(tuple(config.hidden_dims), **net)
        critic_def = Critic(tuple(config.hidden_dims), **net)
        flow_def = VectorField(tuple(config.actor_hidden_dims or config.hidden_dims), action_dim,
                               layer_norm=config.actor_layer_norm)
        tx = optax.adam(config.lr)
        critic, target_critic_params = critic_ensemble(critic_def, key_critic, config.num_critics, obs, act, tx)
        return cls(value=TrainState.create(apply_fn=value_def.apply, params=value_def.init(key_value, obs), tx=tx),
                   critic=critic, target_critic_params=target_critic_params,
                   actor=TrainState.create(apply_fn=flow_def.apply, params=flow_def.init(key_actor, obs, act,
                                                                                         act[:, :1]), tx=tx),
                   action_dim=action_dim, config=config)


__all__ = ["IFQLAgent", "IFQLConfig"]
