"""The contract between an agent and the training loop: acting, phase hooks, and what the agent declares.

A plain mixin (no fields), so each agent stays a flax PyTreeNode whose own file holds its maths. The loop reads
only what is here; nothing in `training/` names an algorithm, so a new agent is one file and a registry entry.

- Acting: `sample_actions` (exploration) and `eval_actions` (evaluation). Nothing outside the agent's file assumes
  its policy is a distribution.
- Columns: per-transition fields beyond (s, a, r, s', m) that the losses read. `offline_columns` computes them for
  the dataset; columns named in `episode_columns` are unknown until an episode ends (returns-to-go): online rows
  hold `column_defaults` and stay out of sampling until `fill_episode_columns` gives their values.
- Windows: `replay_window` (h > 1: minibatches of h-step windows, and acting in chunks of h actions).
- Extras: `state_report` (a summary over the states an evaluation visited) and `export_policy` (a standalone
  actor for `policies/step_N.npz`), both optional.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class RewardTransform:
    """How the run maps env rewards before storing them: r · scale + bias. `sparse`: an episode that never rose
    above `bias` failed forever (its returns-to-go are the infinite-horizon value of `bias`)."""

    scale: float = 1.0
    bias: float = 0.0
    sparse: bool = False

    @property
    def failure_value(self) -> float | None:
        return self.bias if self.sparse else None


class AgentAPI:
    actor: Any  # the agent's policy state; only the agent's own file knows its form

    # ---- what the loop asks for ---------------------------------------------------------------------
    @property
    def batch_multiplier(self) -> int:
        """Minibatch rows per update as a multiple of `batch_size` (an ensemble of independent learners
        takes one minibatch per member)."""
        return 1

    @property
    def batch_fields(self) -> tuple[str, ...]:
        """Per-transition fields beyond (s, a, r, s', m) that the losses read."""
        return ()

    def column_defaults(self) -> dict[str, np.ndarray]:
        """Initial value of each extra column in an online row (name: value)."""
        return {}

    def offline_columns(self, dataset: Any, reward: RewardTransform) -> dict[str, np.ndarray]:
        """The extra columns for every row of the dataset (rewards transformed as `reward` says)."""
        return {}

    @property
    def episode_columns(self) -> tuple[str, ...]:
        """Columns known only when an episode ends; their rows wait, unsampled, until then."""
        return ()

    def fill_episode_columns(self, episode: dict[str, np.ndarray], reward: RewardTransform) -> dict[str, np.ndarray]:
        """Values of `episode_columns` for every step of a finished episode, from its stored "rewards" and
        "actions" (in the order they were stored)."""
        return {}

    @property
    def replay_window(self) -> tuple[int, float]:
        """(h, γ): the agent learns over windows of h consecutive steps of one episode, and acts h actions at a time
        (concatenated, time-major; the loop executes them open-loop); γ discounts the window's rewards. (1, 1.0):
        single transitions."""
        return 1, 1.0

    def to_online(self) -> Any:
        """The agent as used after the offline→online switch (default: no phase-specific behaviour)."""
        return self

    # ---- acting ---------------------------------------------------------------------------------------
    @property
    def actor_params(self) -> Any:
        return self.actor.params

    def policy(self, actor_params: Any, observations: jnp.ndarray) -> Any:
        """π(·|s) as the losses and acting of a distribution-policy agent read it (an agent whose policy takes
        more than the state — FamO2O's β, Balanced Replay's merged ensemble — overrides this one method)."""
        return self.actor.apply_fn(actor_params, observations)

    def sample_actions(self, observations: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
        return self.policy(self.actor_params, observations).sample(key)

    def eval_actions(self, observations: jnp.ndarray) -> jnp.ndarray:
        return self.policy(self.actor_params, observations).mode()

    @property
    def evaluates_by_sampling(self) -> bool:
        """Whether evaluation acts with `sample_actions` (the authors' protocol for a policy without a mode, such as
        FQL's one-step policy) rather than `eval_actions`."""
        return False

    # ---- optional extras ------------------------------------------------------------------------------
    @property
    def reports_on_states(self) -> bool:
        """Whether `state_report` wants the states an evaluation visits."""
        return False

    def state_report(self, states: np.ndarray) -> dict[str, Any]:
        """A summary over visited states, e.g. the distribution of a per-state coefficient."""
        return {}

    def state_scalar(self) -> tuple[str, Callable[[jnp.ndarray], jnp.ndarray], tuple[float, float]] | None:
        """A per-state coefficient the agent acts with (its label, a batched function of states, its range), for
        `hybridrl plot --beta`; None when the agent has none."""
        return None

    def subgoal_fn(self) -> Callable[[jnp.ndarray], jnp.ndarray] | None:
        """The subgoal a hierarchical agent proposes for a batch of states (as when evaluating), for
        `hybridrl plot --subgoals`; None when the agent plans none."""
        return None

    def export_policy(self) -> dict[str, Any] | None:
        """A standalone actor for `nn.policy_file.save_policy` (params, hidden_dims and shape options), or None
        when the agent's policy cannot act alone from the state."""
        return None
