"""Flow-matching pieces shared by the flow-policy agents (FQL, IFQL, QC): the velocity-field network, the linear-path
flow-matching loss, Euler integration of the field from noise to an action (as seohongpark/fql), and acting by the
best of N samples under a critic."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from hybridrl.nn.mlp import MLP


class VectorField(nn.Module):
    """An MLP on [s, x(, t)] -> an action-sized output, no squashing: a velocity v(s, x, t) (with `t`, the time as
    one raw input) or a one-step policy μ(s, z) (without). GELU, LayerNorm after each activation when enabled."""

    hidden_dims: tuple[int, ...]
    action_dim: int
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs: jnp.ndarray, x: jnp.ndarray, t: jnp.ndarray | None = None) -> jnp.ndarray:
        inputs = [obs, x] if t is None else [obs, x, t]
        h = MLP(self.hidden_dims, layer_norm=self.layer_norm, activate_final=True, activation="gelu",
                norm_after_activation=True)(jnp.concatenate(inputs, axis=-1))
        return nn.Dense(self.action_dim, kernel_init=nn.initializers.xavier_uniform())(h)


def flow_matching_loss(apply_fn: Callable[..., jnp.ndarray], params: Any, observations: jnp.ndarray,
                       actions: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
    """mean ‖v(s, x_t, t) − (a − x_0)‖² / |A| with x_0 ~ N(0, I), t ~ U[0, 1), x_t = (1 − t) x_0 + t a."""
    key_x, key_t = jax.random.split(key)
    x0 = jax.random.normal(key_x, actions.shape)
    t = jax.random.uniform(key_t, (*actions.shape[:-1], 1))
    xt = (1.0 - t) * x0 + t * actions
    return ((apply_fn(params, observations, xt, t) - (actions - x0)) ** 2).mean()


def euler_actions(apply_fn: Callable[..., jnp.ndarray], params: Any, observations: jnp.ndarray, noise: jnp.ndarray,
                  steps: int) -> jnp.ndarray:
    """The flow's action from `noise`: `steps` Euler steps of v at t = i / steps, clipped to [-1, 1] at the end."""

    def step(x: jnp.ndarray, i: jnp.ndarray) -> tuple[jnp.ndarray, None]:
        t = jnp.full((*x.shape[:-1], 1), i / steps, x.dtype)
        return x + apply_fn(params, observations, x, t) / steps, None

    x, _ = jax.lax.scan(step, noise, jnp.arange(steps))
    return jnp.clip(x, -1.0, 1.0)


def best_of_n(sample: Callable[[jnp.ndarray, jnp.ndarray], jnp.ndarray],
              score: Callable[[jnp.ndarray, jnp.ndarray], jnp.ndarray], observations: jnp.ndarray, key: jax.Array,
              n: int, dim: int) -> jnp.ndarray:
    """For each observation, the best of `n` actions `sample(obs, noise)` (noise ~ N(0, I) of size `dim`) by
    `score(obs, actions)`: both see the samples on a leading axis of size n."""
    noise = jax.random.normal(key, (n, *observations.shape[:-1], dim))
    obs = jnp.broadcast_to(observations, (n, *observations.shape))
    actions = sample(obs, noise)
    best = jnp.argmax(score(obs, actions), axis=0)
    return jnp.take_along_axis(actions, best[None, ..., None], axis=0)[0]
