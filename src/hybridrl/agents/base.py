"""What every agent offers the training loop beyond `update` and `create`: acting, and the phase hooks.

A plain mixin (no fields), so each agent stays a flax PyTreeNode whose own file holds its maths.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


class AgentAPI:
    actor: Any  # a TrainState whose apply_fn returns a distribution with sample() and mode()

    @property
    def batch_multiplier(self) -> int:
        """Minibatch rows per update as a multiple of `batch_size` (an ensemble of independent learners
        takes one minibatch per member)."""
        return 1

    @property
    def batch_fields(self) -> tuple[str, ...]:
        """Per-transition fields beyond (s, a, r, s', m) that the losses read (Cal-QL: "mc_returns")."""
        return ()

    def to_online(self) -> Any:
        """The agent as used after the offline→online switch (default: no phase-specific behaviour)."""
        return self

    @property
    def actor_params(self) -> Any:
        return self.actor.params

    def policy(self, actor_params: Any, observations: jnp.ndarray) -> Any:
        """π(·|s) as every loss and the acting code read it (an agent whose policy takes more than the
        state — FamO2O's β, Balanced Replay's merged ensemble — overrides this one method)."""
        return self.actor.apply_fn(actor_params, observations)

    def sample_actions(self, observations: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
        return self.policy(self.actor_params, observations).sample(key)

    def eval_actions(self, observations: jnp.ndarray) -> jnp.ndarray:
        return self.policy(self.actor_params, observations).mode()
