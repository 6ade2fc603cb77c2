"""Inverse-dynamics labelling of action-free data (SS-ORL style, Zheng et al. 2023).

Fit a(s, s') on transitions that have actions (here: the online warm-up's), predict the actions of the
action-free dataset, and give it the task's rewards from the goal env's own `compute_reward`, so an
action-based recipe (RLPD) can use it. The model is an MLP with a tanh output trained by squared error,
i.e. the mean of a fixed-variance Gaussian p(a | s, s').
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from hybridrl.data.dataset import ACTION_CLIP, DataError, Dataset
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


def task_rewards(env: Any, next_states: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rewards and terminals of reaching `goal`, by the goal env's `compute_reward` / `compute_terminated`
    on the achieved goal (the leading state entries)."""
    base = env.unwrapped
    if not hasattr(base, "compute_reward"):
        raise DataError(f"{env.spec.id if env.spec else env}: labelling an action-free dataset needs rewards; this env "
                        "is not a goal env with compute_reward, and the dataset has none")
    achieved = next_states[:, :len(goal)].astype(np.float64)
    desired = np.broadcast_to(np.asarray(goal, np.float64), achieved.shape)
    rewards = np.asarray(base.compute_reward(achieved, desired, {}), np.float32).reshape(-1)
    if hasattr(base, "compute_terminated"):
        terminals = np.array([bool(base.compute_terminated(x, goal, {})) for x in achieved])
    else:
        terminals = np.zeros(len(achieved), bool)
    return rewards, terminals


def label_dataset(dataset: Dataset, actions: np.ndarray, rewards: np.ndarray, terminals: np.ndarray,
                  goal: np.ndarray) -> Dataset:
    """The dataset with predicted actions, task rewards and terminals, and the task goal at every step
    (what the goal env's flat observations carry)."""
    return Dataset(observations=dataset.observations, next_observations=dataset.next_observations,
                   terminals=dataset.terminals | terminals, truncations=dataset.truncations, actions=actions,
                   rewards=rewards, goals=np.broadcast_to(np.asarray(goal, np.float32),
                                                          (len(dataset), len(goal))).copy(),
                   metadata={**dataset.metadata, "labelled": "inverse dynamics"}, source=f"{dataset.source} (labelled)")
