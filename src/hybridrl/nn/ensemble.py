"""Ensembles as stacked parameters: one module definition, a leading member axis, `jax.vmap` to apply.

Stacking (rather than a list of modules) lets a target subset be taken by indexing the parameters,
and keeps the cost of E members one fused computation instead of E Python calls.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


def ensemble_init(module: nn.Module, key: jax.Array, num: int, *inputs: Any) -> Any:
    """Independently initialised parameters for `num` members, stacked on axis 0."""
    keys = jax.random.split(key, num)
    return jax.vmap(lambda k: module.init(k, *inputs))(keys)


def ensemble_apply(apply_fn: Callable[..., jnp.ndarray], params: Any, *inputs: Any) -> jnp.ndarray:
    """Apply every member (however many the leading axis holds) to the same inputs: (members, ...)."""
    return jax.vmap(lambda p: apply_fn(p, *inputs))(params)


def subset(params: Any, indices: jnp.ndarray) -> Any:
    """The members named by `indices` (e.g. RLPD's random target subset of size Z)."""
    return jax.tree_util.tree_map(lambda p: p[indices], params)


def draw_members(key: jax.Array, num: int, size: int, replace: bool = False) -> jnp.ndarray:
    """`size` member indices out of `num`: distinct (RLPD's subset), or drawn independently so a member can come
    twice (WSRL's code, `jax.random.randint`)."""
    if replace:
        return jax.random.randint(key, (size,), 0, num)
    return jax.random.choice(key, num, (size,), replace=False)
