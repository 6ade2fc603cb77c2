"""Stand-alone policy files: an actor's parameters plus what is needed to rebuild it (no pickle).

Used for policy snapshots during training and for the behaviour policies that ship with hybridrl.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hybridrl import checkpoint
from hybridrl.nn import TanhGaussianActor


def save_policy(path: str | os.PathLike, actor_params: Any, obs_dim: int, action_dim: int,
                hidden_dims: tuple[int, ...], **info: Any) -> None:
    meta = {"kind": "tanh_gaussian_actor", "obs_dim": obs_dim, "action_dim": action_dim,
            "hidden_dims": list(hidden_dims), **info}
    checkpoint.save(path, {"actor": actor_params}, meta)


def load_policy(path: str | os.PathLike) -> tuple[TanhGaussianActor, Any, dict[str, Any]]:
    meta = checkpoint.read_meta(path)
    if meta.get("kind") != "tanh_gaussian_actor":
        raise checkpoint.CheckpointError(f"{path} is not a hybridrl policy file (kind={meta.get('kind')!r})")
    actor = TanhGaussianActor(tuple(meta["hidden_dims"]), meta["action_dim"], layer_norm=meta.get("layer_norm", False),
                              log_std_offset=meta.get("log_std_offset"),
                              state_dependent_std=meta.get("state_dependent_std", True))
    template = actor.init(jax.random.PRNGKey(0), jnp.zeros((1, meta["obs_dim"]), jnp.float32))
    tree, meta, _ = checkpoint.load(path, {"actor": template})
    return actor, jax.device_put(tree["actor"]), meta


def policy_fn(actor: TanhGaussianActor) -> Callable[[Any, np.ndarray, jax.Array, float], jax.Array]:
    """Jitted `(params, obs, key, noise_scale) -> action`: noise_scale 0 is the deterministic mode."""

    @jax.jit
    def act(params: Any, obs: jax.Array, key: jax.Array, noise_scale: float) -> jax.Array:
        dist = actor.apply(params, obs)
        eps = jax.random.normal(key, dist.loc.shape)
        return jnp.tanh(dist.loc + noise_scale * dist.scale * eps)

    return act
