"""Balanced Replay with a pessimistic Q-ensemble (Lee et al., CoRL 2022): the learner.

Offline: N independent CQL agents (each its own actor, twin critics and temperature, each on its own
minibatch), trained as one vmapped update — the CQL maths is `agents/cql.py`'s, unchanged.

Online: one SAC learner made of them (the conservative term is dropped):

    π(·|s) = tanh of the moment-matched merge of the members' Gaussians
             μ = mean_n μ_n,   σ² = mean_n (σ_n² + μ_n²) − μ²      (gradients reach every member's actor)
    y_n    = r + γ m [ min_j Q̄_{n,j}(s', a') − α log π(a'|s') ],   a' ~ π(·|s')
    L_Q    = Σ_n Σ_j mean (Q_{n,j}(s, a) − y_n)²
    L_π    = E[ α log π(ã|s) − mean_n min_j Q_{n,j}(s, ã) ]        (each member pessimistic, then averaged)
    L_α    = α (H − H̄) with one temperature, initialised from the members' (geometric) mean

The other half of the method — replaying near-on-policy samples more often by a learned density ratio —
is the `density-ratio` data-mixing strategy (replay/mixing.py), which any recipe may use.
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
    critic_steps_then_actor,
    polyak,
    prefixed,
    td_target,
    temperature_step,
)
from hybridrl.agents.cql import CQLAgent, CQLConfig
from hybridrl.errors import ConfigError
from hybridrl.nn import TanhNormal, ensemble_apply


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


def merge_gaussians(loc: jnp.ndarray, scale: jnp.ndarray) -> TanhNormal:
    """One Gaussian with the mixture's first two moments; inputs have the member axis first."""
    mean = loc.mean(axis=0)
    var = (scale**2 + loc**2).mean(axis=0) - mean**2
    return TanhNormal(mean, jnp.sqrt(jnp.maximum(var, 1e-12)))


def _apply_stacked(state: TrainState, grads: Any) -> TrainState:
    """Each member's optimiser steps on its own slice (Adam's step count is per member)."""
    return jax.vmap(lambda s, g: s.apply_gradients(grads=g))(state, grads)


class BalancedReplayAgent(AgentAPI, flax.struct.PyTreeNode):
    config_class = BalancedConfig  # (not a field) the registry's config for this agent
    members: CQLAgent  # N CQL agents: every leaf stacked on a leading axis of size N
    temp: TrainState  # the online learner's one temperature
    online: bool = flax.struct.field(pytree_node=False, default=False)
    config: BalancedConfig = flax.struct.field(pytree_node=False, default=None)

    @property
    def batch_multiplier(self) -> int:
        return 1 if self.online else self.config.ensemble_size

    def to_online(self) -> BalancedReplayAgent:
        # The shared temperature starts fresh at init_temperature (the authors' code), or at the members' mean
        # (online_temperature="members-mean"), and only before its first online step, so a resumed run keeps
        # what it learned.
        agent = self.replace(online=True, members=self._online_actor_optimiser())
        if self.config.online_temperature == "fresh":
            return agent
        log_temps = self.members.temp.params["params"]["log_temp"]
        fresh = self.temp.step == 0
        params = jax.tree_util.tree_map(lambda p: jnp.where(fresh, log_temps.mean(), p), self.temp.params)
        return agent.replace(temp=self.temp.replace(params=params))

    def _online_actor_optimiser(self) -> CQLAgent:
        """The members' actors online: a new Adam at `online_actor_lr` (the authors' fine-tuning builds new
        optimisers at 3e-4), its state fresh only before the first online step, so a resumed run keeps it."""
        lr = self.config.online_actor_lr
        if lr is None:
            return self.members
        tx = optax.adam(lr)
        actor = self.members.actor
        fresh = self.temp.step == 0
        state = jax.tree_util.tree_map(lambda new, old: jnp.where(fresh, new, old),
                                       jax.vmap(tx.init)(actor.params), actor.opt_state)
        return self.members.replace(actor=actor.replace(tx=tx, opt_state=state))

    # ---- the merged policy --------------------------------------------------------------------
    def policy(self, actor_params: Any, observations: jnp.ndarray) -> TanhNormal:
        dists = jax.vmap(lambda p: self.members.actor.apply_fn(p, observations))(actor_params)
        return merge_gaussians(dists.loc, dists.scale)

    @property
    def actor_params(self) -> Any:
        return self.members.actor.params

    def member_qs(self, critic_params: Any, observations: jnp.ndarray, actions: jnp.ndarray) -> jnp.ndarray:
        """Q_{n,j}(s, a) for every member n and its critics j: (N, E, B)."""
        apply = self.members.critic.apply_fn
        return jax.vmap(lambda p: ensemble_apply(apply, p, observations, actions))(critic_params)

    # ---- online losses ------------------------------------------------------------------------
    def critic_loss(self, critic_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        cfg = self.config
        next_actions, next_log_probs = self.policy(self.members.actor.params, batch["next_observations"]) \
            .sample_and_log_prob(key)
        next_q = self.member_qs(self.members.target_critic_params, batch["next_observations"], next_actions)
        target = td_target(batch["rewards"][None], batch["masks"][None], next_q.min(axis=1), next_log_probs[None],
                           self.temp.apply_fn(self.temp.params), cfg.discount, cfg.online_backup_entropy)  # (N, B)
        qs = self.member_qs(critic_params, batch["observations"], batch["actions"])  # (N, E, B)
        loss = ((qs - jax.lax.stop_gradient(target)[:, None]) ** 2).mean(axis=-1).sum()
        return loss, {"critic_loss": loss / qs.shape[0] / qs.shape[1], "q_mean": qs.mean(), "q_max": qs.max(),
                      "q_min": qs.min(), "target_mean": target.mean()}

    def actor_loss(self, actor_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        actions, log_probs = self.policy(actor_params, batch["observations"]).sample_and_log_prob(key)
        q = self.member_qs(self.members.critic.params, batch["observations"], actions).min(axis=1).mean(axis=0)
        loss = (self.temp.apply_fn(self.temp.params) * log_probs - q).mean()
        return loss, {"actor_loss": loss, "entropy": -log_probs.mean()}

    def update_critic(self, batch: Batch, key: jax.Array) -> tuple[BalancedReplayAgent, dict]:
        grads, info = jax.grad(self.critic_loss, has_aux=True)(self.members.critic.params, batch, key)
        critic = _apply_stacked(self.members.critic, grads)
        target = polyak(critic.params, self.members.target_critic_params, self.config.tau)
        return self.replace(members=self.members.replace(critic=critic, target_critic_params=target)), \
            prefixed("critic", info)

    def update_actor(self, batch: Batch, key: jax.Array) -> tuple[BalancedReplayAgent, dict]:
        grads, info = jax.grad(self.actor_loss, has_aux=True)(self.members.actor.params, batch, key)
        temp, temp_info = temperature_step(self.temp, info["entropy"], self.members.target_entropy)
        members = self.members.replace(actor=_apply_stacked(self.members.actor, grads))
        return self.replace(members=members, temp=temp), {**prefixed("actor", info),
                                                          **prefixed("temperature", temp_info)}

    def update(self, batches: Batch, key: jax.Array) -> tuple[BalancedReplayAgent, dict]:
        if self.online:
            return critic_steps_then_actor(self, batches, key, joined=self.config.actor_full_batch)
        # Offline: the loop drew N minibatches side by side; member n trains CQL on the n-th.
        n = self.config.ensemble_size
        per_member = jax.tree_util.tree_map(
            lambda x: jnp.moveaxis(x.reshape(x.shape[0], n, -1, *x.shape[2:]), 1, 0), batches)
        members, info = jax.vmap(lambda m, b, k: m.update(b, k))(self.members, per_member, jax.random.split(key, n))
        return self.replace(members=members), jax.tree_util.tree_map(jnp.mean, info)

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def create(cls, key: jax.Array, obs_dim: int, action_dim: int, config: BalancedConfig) -> BalancedReplayAgent:
        key_members, key_temp = jax.random.split(key)
        members = jax.vmap(lambda k: CQLAgent.create(k, obs_dim, action_dim, config))(
            jax.random.split(key_members, config.ensemble_size))
        temp_def = Temperature(config.init_temperature)
        temp = TrainState.create(apply_fn=temp_def.apply, params=temp_def.init(key_temp), tx=optax.adam(config.temp_lr))
        return cls(members=members, temp=temp, config=config)


__all__ = ["BalancedReplayAgent", "merge_gaussians"]
