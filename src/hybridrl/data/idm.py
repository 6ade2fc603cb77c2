"""Inverse-dynamics labelling of action-free data (SS-ORL style, Zheng et al. 2023).

Fit a(s, s') on transitions that have actions (here: the online warm-up's), predict the actions of the
action-free dataset, and give it the task's rewards from the goal env's own `compute_reward`, so an
action-based recipe (RLPD) can use it. The model is an MLP with a tanh output trained by squared error,
i.e. the mean of a fixed-variance Gaussian p(a | s, s').
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from hybridrl.data.dataset import ACTION_CLIP, Dataset
from hybridrl.envs.make import goal_rewards
from hybridrl.nn import MLP


class InverseDynamics(nn.Module):
    hidden_dims: Sequence[int]
    action_dim: int

    @nn.compact
    def __call__(self, states: jnp.ndarray, next_states: jnp.ndarray) -> jnp.ndarray:
        x = MLP(tuple(self.hidden_dims), activate_final=True)(jnp.concatenate([states, next_states - states], -1))
        return jnp.tanh(nn.Dense(self.action_dim)(x))


def fit_inverse_dynamics(key: jax.Array, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray,
                         hidden_dims: Sequence[int] = (256, 256), steps: int = 5_000, batch_size: int = 256,
                         lr: float = 3e-4) -> tuple[InverseDynamics, Any, dict[str, float]]:
    """The model, its parameters, and its loss on the first and last 100 steps (one jitted scan)."""
    model = InverseDynamics(tuple(hidden_dims), actions.shape[1])
    s, a, s2 = (jnp.asarray(x, jnp.float32) for x in (states, actions, next_states))
    key_init, key_fit = jax.random.split(key)
    params = model.init(key_init, s[:1], s2[:1])
    tx = optax.adam(lr)

    def step(carry: tuple[Any, Any], k: jax.Array) -> tuple[tuple[Any, Any], jnp.ndarray]:
        p, opt = carry
        idx = jax.random.randint(k, (batch_size,), 0, s.shape[0])
        loss, grads = jax.value_and_grad(lambda q: ((model.apply(q, s[idx], s2[idx]) - a[idx]) ** 2).mean())(p)
        updates, opt = tx.update(grads, opt, p)
        return (optax.apply_updates(p, updates), opt), loss

    (params, _), losses = jax.jit(lambda p, ks: jax.lax.scan(step, (p, tx.init(p)), ks))(
        params, jax.random.split(key_fit, steps))
    losses = np.asarray(losses)
    return model, params, {"idm_loss_first": float(losses[:100].mean()), "idm_loss_last": float(losses[-100:].mean())}


def predict_actions(model: InverseDynamics, params: Any, states: np.ndarray, next_states: np.ndarray,
                    chunk: int = 65_536) -> np.ndarray:
    apply = jax.jit(model.apply)
    out = [np.asarray(apply(params, states[i:i + chunk], next_states[i:i + chunk]))
           for i in range(0, len(states), chunk)]
    return np.clip(np.concatenate(out), -ACTION_CLIP, ACTION_CLIP).astype(np.float32)


def label_dataset(dataset: Dataset, actions: np.ndarray, rewards: np.ndarray, terminals: np.ndarray,
                  goal: np.ndarray) -> Dataset:
    """The dataset with predicted actions, task rewards and terminals, and the task goal at every step
    (what the goal env's flat observations carry)."""
    labelled = Dataset(observations=dataset.observations, next_observations=dataset.next_observations,
                       terminals=dataset.terminals, truncations=dataset.truncations, actions=actions,
                       goals=dataset.goals, metadata={**dataset.metadata, "labelled": "inverse dynamics"},
                       source=f"{dataset.source} (labelled)")
    return labelled.with_task(rewards, terminals, goal, {"goal": np.asarray(goal).tolist(), "by": "the first "
                                                         "training episode's goal"})


@dataclass(frozen=True)
class IDMLabelling:
    """The preparation step `train.label_actions=idm`: at the end of the online warm-up, fit inverse dynamics on
    the warm-up's rows (the buffer's first `start_steps`, so a resumed run refits the same model), label the
    action-free dataset with actions and the task's rewards, and hand it back as the run's offline data."""

    hidden_dims: tuple[int, ...] = (256, 256)
    steps: int = 5_000
    warmup_rows: int = 5_000
    seed: int = 0
    report_file: str = "labels.json"  # what `run` reports, written into the run directory

    @classmethod
    def from_config(cls, train: Any) -> IDMLabelling:
        return cls(hidden_dims=tuple(train.idm_hidden_dims), steps=train.idm_steps, warmup_rows=train.start_steps,
                   seed=train.seed)

    def run(self, rows: dict[str, np.ndarray], dataset: Dataset, env: Any, reset_seed: int
            ) -> tuple[Dataset, dict[str, Any]]:
        """`rows`: the online buffer's rows; `env`: a fresh training env, reset with `reset_seed` to read the task's
        goal (the first training episode's)."""
        sd = dataset.observations.shape[1]
        rows = {k: v[:self.warmup_rows] for k, v in rows.items()}
        model, params, info = fit_inverse_dynamics(
            jax.random.fold_in(jax.random.PRNGKey(self.seed), 11), rows["observations"][:, :sd], rows["actions"],
            rows["next_observations"][:, :sd], self.hidden_dims, self.steps)
        actions = predict_actions(model, params, dataset.observations, dataset.next_observations)
        goal = np.asarray(env.reset(seed=reset_seed)[0], np.float32)[sd:]
        rewards, terminals = goal_rewards(env, dataset.next_observations, goal)
        labelled = label_dataset(dataset, actions, rewards, terminals, goal)
        info.update({"labelled_rows": len(dataset), "labelled_reward_rate": float((rewards > 0).mean())})
        if dataset.actions is not None:  # a dataset that kept its actions: how good the labels are
            info["label_mse"] = float(((actions - np.clip(dataset.actions, -1, 1)) ** 2).mean())
        return labelled, info
