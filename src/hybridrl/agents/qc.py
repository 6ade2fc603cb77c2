"""QC (Q-chunking; Li, Zhou, Levine, NeurIPS 2025): TD learning over chunks of h actions, executed open-loop.
Read against ColinQiyangLi/qc `agents/acfql.py` (built on FQL's code); differences are in the fidelity sheet.

The agent is FQL (agents/fql.py) over an action space of chunks: the critic reads Q(s_t, [a_t, ..., a_{t+h−1}]), the
BC flow and the one-step policy output a whole chunk (h·|A| numbers, time-major). On a window of h steps of one
episode (replay/buffer.py: R = Σ_k γ^k r_{t+k}, the mask m and next state s_{t+h} of its last step):

    y      = R + γ^h m agg_k Q̄_k(s_{t+h}, A'),   A' = the acting rule at s_{t+h}
    L_Q    = mean over k and batch of (Q_k(s_t, A_t) − y)²
    L_flow = FQL's flow-matching loss on the chunk A_t

Two acting rules (`actor_type`):
- "best-of-n" (QC): the best of N = 32 chunks of the BC flow (10 Euler steps, clipped) under the mean of the current
  critics; the actor is the flow alone (no Q term, no one-step policy to train).
- "distill" (QC-FQL): FQL's one-step policy over chunks, L_π = L_flow + α L_distil − mean Q(s, clip(μ(s, z))), α 100.

The same rule gives the TD target's A', online actions and evaluation actions (the authors evaluate the sampling
policy). Everything else, the update order and the target (from the critic before the step, τ 0.005), is FQL's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from hybridrl.agents.common import Batch
from hybridrl.agents.fql import FQLAgent, FQLConfig
from hybridrl.errors import ConfigError
from hybridrl.nn import ensemble_apply
from hybridrl.nn.flow import best_of_n


@dataclass(frozen=True)
class QCConfig(FQLConfig):
    """QC's defaults (ColinQiyangLi/qc `agents/acfql.py` get_config and main.py flags)."""

    horizon: int = 5  # h: actions per chunk (1 = FQL)
    actor_type: str = "best-of-n"  # "best-of-n" (QC) or "distill" (QC-FQL)
    num_samples: int = 32  # N of best-of-n
    alpha: float = 100.0  # distillation weight (distill only)

    def validate(self) -> None:
        super().validate()
        if self.actor_type not in ("best-of-n", "distill"):
            raise ConfigError(f"agent.actor_type must be 'best-of-n' or 'distill', got {self.actor_type!r}")
        if self.horizon < 1 or self.num_samples < 1:
            raise ConfigError(f"agent.horizon and agent.num_samples must be >= 1; got {self.horizon}, "
                              f"{self.num_samples}")


class QCAgent(FQLAgent):
    config_class = QCConfig  # (not a field) the registry's config for this agent

    @property
    def replay_window(self) -> tuple[int, float]:
        return self.config.horizon, self.config.discount

    @property
    def bootstrap_discount(self) -> float:
        return self.config.discount ** self.config.horizon

    def actor_loss(self, actor_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        if self.config.actor_type == "distill":
            return super().actor_loss(actor_params, batch, key)
        zero = jnp.zeros(())  # best-of-n: the BC flow is the whole actor
        return zero, {"distill_loss": zero, "q_loss": zero, "q": zero}

    def sample_actions(self, observations: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
        """A chunk per observation: the best of N flow chunks under the mean critic (QC), or the one-step policy's
        (QC-FQL)."""
        if self.config.actor_type == "distill":
            return super().sample_actions(observations, key)
        agg = jnp.min if self.config.q_agg == "min" else jnp.mean
        return best_of_n(
            self.flow_actions,
            lambda obs, chunks: agg(ensemble_apply(self.critic.apply_fn, self.critic.params, obs, chunks), axis=0),
            observations, key, self.config.num_samples, self.action_dim)

    def eval_actions(self, observations: jnp.ndarray) -> jnp.ndarray:
        """The acting rule with a fixed key (used only when evaluation is set to be deterministic)."""
        return self.sample_actions(observations, jax.random.PRNGKey(0))

    @classmethod
    def create(cls, key: jax.Array, obs_dim: int, action_dim: int, config: QCConfig) -> QCAgent:
        """FQL's networks over chunks: every "action" is h actions, concatenated."""
        return super().create(key, obs_dim, action_dim * config.horizon, config)


__all__ = ["QCAgent", "QCConfig"]
