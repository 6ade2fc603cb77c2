"""FQL (Flow Q-Learning; Park, Li, Levine, ICML 2025): a flow-matching behaviour policy, distilled into a one-step
policy that also climbs Q. Read against seohongpark/fql `agents/fql.py`; differences are in the fidelity sheet.

Networks: twin critics Q_k(s, a); a velocity field v_θ(s, x, t) (the BC flow); a one-step policy μ_ω(s, z), z ~ N(0, I).
On a minibatch of (s, a, r, s', m), with every loss read at the parameters before this step:

    y        = r + γ m agg_k Q̄_k(s', a'),  a' = clip(μ_ω(s', z')),  agg = mean (default) or min   (`q_agg`)
    L_Q      = mean over k and batch of (Q_k(s, a) − y)²
    L_flow   = mean ‖v_θ(s, x_t, t) − (a − x_0)‖² / |A|,  x_0 ~ N(0, I), t ~ U[0, 1), x_t = (1 − t) x_0 + t a
    L_distil = mean ‖μ_ω(s, z) − a_flow(s, z)‖² / |A|,  a_flow = clip(Euler integral of v_θ from x = z, K steps)
    L_π      = L_flow + α L_distil − mean_k,batch Q_k(s, clip(μ_ω(s, z)))   (÷ mean |Q| with `normalize_q_loss`)

then one Adam step on each network (the losses touch disjoint parameters, so this is the authors' single Adam over
all of them) and Q̄ ← τ Q_before + (1 − τ) Q̄, from the critic's parameters before the step, as the authors' code.
Acting: clip(μ_ω(s, z)) with fresh z, in training and in evaluation (the authors evaluate the sampling policy).
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
from hybridrl.errors import ConfigError
from hybridrl.nn import Critic, ensemble_apply
from hybridrl.nn.flow import VectorField, euler_actions, flow_matching_loss


@dataclass(frozen=True)
class FQLConfig:
    """FQL's defaults (seohongpark/fql `agents/fql.py` get_config); α and q_agg are set per domain by the recipe."""

    hidden_dims: tuple[int, ...] = (512, 512, 512, 512)  # critic
    actor_hidden_dims: tuple[int, ...] | None = None  # the flow field and the one-step policy; None: hidden_dims
    layer_norm: bool = True  # in the critic (after each activation, as the authors' MLP)
    actor_layer_norm: bool = False
    num_critics: int = 2
    q_agg: str = "mean"  # the TD target over the critics: "mean" or "min" (the actor always reads the mean)
    alpha: float = 10.0  # weight of the distillation loss
    flow_steps: int = 10  # Euler steps of the BC flow
    normalize_q_loss: bool = False  # divide the actor's Q term by the batch's mean |Q|
    utd: int = 1
    batch_size: int = 256
    discount: float = 0.99
    tau: float = 0.005
    lr: float = 3e-4

    def validate(self) -> None:
        if self.q_agg not in ("mean", "min"):
            raise ConfigError(f"agent.q_agg must be 'mean' or 'min', got {self.q_agg!r}")
        if self.flow_steps < 1 or self.alpha < 0:
            raise ConfigError(f"agent.flow_steps must be >= 1 and agent.alpha >= 0; got {self.flow_steps}, "
                              f"{self.alpha}")
        check_learner(self, positive=("lr",))


class FQLAgent(AgentAPI, flax.struct.PyTreeNode):
    config_class = FQLConfig  # (not a field) the registry's config for this agent
    critic: TrainState
    target_critic_params: Any
    flow: TrainState  # v_θ(s, x, t)
    actor: TrainState  # μ_ω(s, z)
    action_dim: int = flax.struct.field(pytree_node=False)
    config: FQLConfig = flax.struct.field(pytree_node=False)

    # ---- policies ---------------------------------------------------------------------------------
    def one_step(self, params: Any, observations: jnp.ndarray, noise: jnp.ndarray) -> jnp.ndarray:
        return self.actor.apply_fn(params, observations, noise)

    def flow_actions(self, observations: jnp.ndarray, noise: jnp.ndarray) -> jnp.ndarray:
        """The BC flow's action for `noise`: K Euler steps of v_θ from x = noise at t = i/K, clipped once at the end."""
        return euler_actions(self.flow.apply_fn, self.flow.params, observations, noise, self.config.flow_steps)

    @property
    def bootstrap_discount(self) -> float:
        """The discount of the bootstrapped value: γ per transition (γ^h over a window of h steps, in QC)."""
        return self.config.discount

    def noise(self, key: jax.Array, observations: jnp.ndarray) -> jnp.ndarray:
        return jax.random.normal(key, (*observations.shape[:-1], self.action_dim))

    # ---- losses -----------------------------------------------------------------------------------
    def critic_loss(self, critic_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        next_obs = batch["next_observations"]
        next_actions = self.sample_actions(next_obs, key)  # the acting rule: clip(μ_ω(s', z'))
        next_qs = ensemble_apply(self.critic.apply_fn, self.target_critic_params, next_obs, next_actions)
        next_q = next_qs.min(axis=0) if self.config.q_agg == "min" else next_qs.mean(axis=0)
        target = batch["rewards"] + self.bootstrap_discount * batch["masks"] * next_q
        qs = ensemble_apply(self.critic.apply_fn, critic_params, batch["observations"], batch["actions"])
        loss = ((qs - jax.lax.stop_gradient(target)[None]) ** 2).mean()
        return loss, {"critic_loss": loss, "q_mean": qs.mean(), "q_max": qs.max(), "q_min": qs.min()}

    def flow_loss(self, flow_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        loss = flow_matching_loss(self.flow.apply_fn, flow_params, batch["observations"], batch["actions"], key)
        return loss, {"bc_flow_loss": loss}

    def actor_loss(self, actor_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        cfg, obs = self.config, batch["observations"]
        z = self.noise(key, obs)
        target = jax.lax.stop_gradient(self.flow_actions(obs, z))
        actions = self.one_step(actor_params, obs, z)
        distill = ((actions - target) ** 2).mean()
        qs = ensemble_apply(self.critic.apply_fn, self.critic.params, obs, jnp.clip(actions, -1.0, 1.0))
        q = qs.mean(axis=0)
        q_loss = -q.mean()
        if cfg.normalize_q_loss:
            q_loss = q_loss / jax.lax.stop_gradient(jnp.abs(q).mean())
        loss = cfg.alpha * distill + q_loss
        return loss, {"distill_loss": distill, "q_loss": q_loss, "q": q.mean()}

    # ---- update -----------------------------------------------------------------------------------
    def update_step(self, batch: Batch, key: jax.Array) -> tuple[FQLAgent, dict]:
        """Critic, flow and one-step policy, each from the parameters before this step; then the target."""
        key_critic, key_flow, key_actor = jax.random.split(key, 3)
        c_grads, c_info = jax.grad(self.critic_loss, has_aux=True)(self.critic.params, batch, key_critic)
        f_grads, f_info = jax.grad(self.flow_loss, has_aux=True)(self.flow.params, batch, key_flow)
        a_grads, a_info = jax.grad(self.actor_loss, has_aux=True)(self.actor.params, batch, key_actor)
        target = polyak(self.critic.params, self.target_critic_params, self.config.tau)  # the pre-step critic
        agent = self.replace(critic=self.critic.apply_gradients(grads=c_grads), target_critic_params=target,
                             flow=self.flow.apply_gradients(grads=f_grads),
                             actor=self.actor.apply_gradients(grads=a_grads))
        actor_info = {**f_info, **a_info, "actor_loss": f_info["bc_flow_loss"] + a_info["q_loss"]
                      + self.config.alpha * a_info["distill_loss"]}
        return agent, {**prefixed("critic", c_info), **prefixed("actor", actor_info)}

    def update(self, batches: Batch, key: jax.Array) -> tuple[FQLAgent, dict]:
        """One update per stacked minibatch (`utd` of them), fused with `lax.scan`; mean metrics."""
        return scan_updates(self, batches, key)

    # ---- acting -----------------------------------------------------------------------------------
    def sample_actions(self, observations: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
        return jnp.clip(self.one_step(self.actor.params, observations, self.noise(key, observations)), -1.0, 1.0)

    def eval_actions(self, observations: jnp.ndarray) -> jnp.ndarray:
        """μ_ω(s, 0): the policy at zero noise (used only when evaluation is set to be deterministic)."""
        zero = jnp.zeros((*observations.shape[:-1], self.action_dim), observations.dtype)
        return jnp.clip(self.one_step(self.actor.params, observations, zero), -1.0, 1.0)

    @property
    def evaluates_by_sampling(self) -> bool:
        return True  # the authors evaluate the sampling policy (their temperature argument is unused)

    # ---- construction -----------------------------------------------------------------------------
    @classmethod
    def create(cls, key: jax.Array, obs_dim: int, action_dim: int, config: FQLConfig) -> FQLAgent:
        key_critic, key_flow, key_actor = jax.random.split(key, 3)
        obs = jnp.zeros((1, obs_dim), jnp.float32)
        act = jnp.zeros((1, action_dim), jnp.float32)
        actor_dims = tuple(config.actor_hidden_dims or config.hidden_dims)
        critic_def = Critic(tuple(config.hidden_dims), layer_norm=config.layer_norm, activation="gelu",
                            norm_after_activation=True)
        policy_def = VectorField(actor_dims, action_dim, layer_norm=config.actor_layer_norm)
        tx = optax.adam(config.lr)
        critic, target_critic_params = critic_ensemble(critic_def, key_critic, config.num_critics, obs, act, tx)
        return cls(critic=critic, target_critic_params=target_critic_params,
                   flow=TrainState.create(apply_fn=policy_def.apply, params=policy_def.init(key_flow, obs, act,
                                                                                           act[:, :1]), tx=tx),
                   actor=TrainState.create(apply_fn=policy_def.apply, params=policy_def.init(key_actor, obs, act),
                                           tx=tx),
                   action_dim=action_dim, config=config)


__all__ = ["FQLAgent", "FQLConfig"]
