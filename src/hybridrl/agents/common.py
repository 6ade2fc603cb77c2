"""The maths several agents share: Polyak averaging, the soft TD target, the temperature and its step, and
SAC's update schedule (critic steps, then one actor step). One place, so every agent file reads only its own
losses on top of these."""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from hybridrl.errors import ConfigError
from hybridrl.nn import ensemble_init
from hybridrl.nn.mlp import INITS as INIT_SCHEMES

Batch = dict[str, jnp.ndarray]


class Temperature(nn.Module):
    init_value: float = 1.0

    @nn.compact
    def __call__(self) -> jnp.ndarray:
        log_temp = self.param("log_temp", lambda _: jnp.full((), jnp.log(self.init_value), jnp.float32))
        return jnp.exp(log_temp)


def td_target(rewards: jnp.ndarray, masks: jnp.ndarray, next_q: jnp.ndarray, next_log_probs: jnp.ndarray,
              temperature: jnp.ndarray, discount: float, backup_entropy: bool) -> jnp.ndarray:
    """Soft TD target; `masks` is 0 only at true terminals (a time-limit truncation still bootstraps)."""
    if backup_entropy:
        next_q = next_q - temperature * next_log_probs
    return rewards + discount * masks * next_q


def prefixed(prefix: str, info: dict[str, jnp.ndarray]) -> dict[str, jnp.ndarray]:
    """Metric names namespaced by the loss that reports them (`critic/q_mean`, `actor/entropy`), as OGBench's and
    FQL's agents log them."""
    return {f"{prefix}/{k}": v for k, v in info.items()}


def scan_updates(agent: Any, batches: Batch, key: jax.Array) -> tuple[Any, dict]:
    """`agent.update_step(batch, key)` once per minibatch stacked on the leading axis (`utd` of them), fused with
    `lax.scan`; the metrics averaged over the steps. The update of every agent that takes whole steps in turn."""
    num = jax.tree_util.tree_leaves(batches)[0].shape[0]
    agent, info = jax.lax.scan(lambda a, xs: a.update_step(*xs), agent, (batches, jax.random.split(key, num)))
    return agent, jax.tree_util.tree_map(jnp.mean, info)


def critic_ensemble(critic_def: nn.Module, key: jax.Array, num: int, obs: jnp.ndarray, actions: jnp.ndarray,
                    tx: Any) -> tuple[TrainState, Any]:
    """`num` critics as one train state (stacked parameters, vmapped) and their target, a copy of them."""
    params = ensemble_init(critic_def, key, num, obs, actions)
    return TrainState.create(apply_fn=critic_def.apply, params=params, tx=tx), jax.tree_util.tree_map(jnp.copy, params)


def polyak(params: Any, target_params: Any, tau: float) -> Any:
    return jax.tree_util.tree_map(lambda p, t: tau * p + (1.0 - tau) * t, params, target_params)


def temperature_step(temp: TrainState, entropy: jnp.ndarray, target_entropy: float) -> tuple[TrainState, dict]:
    """One step of L_α = α (H − H̄): α falls while the policy is more random than the target."""

    def loss_fn(params: Any) -> tuple[jnp.ndarray, dict]:
        temperature = temp.apply_fn(params)
        loss = temperature * (jax.lax.stop_gradient(entropy) - target_entropy)
        return loss, {"temperature": temperature, "temperature_loss": loss}

    grads, info = jax.grad(loss_fn, has_aux=True)(temp.params)
    return temp.apply_gradients(grads=grads), info


def critic_steps_then_actor(agent: Any, batches: Batch, key: jax.Array, joined: bool = False) -> tuple[Any, dict]:
    """SAC's update schedule: one critic step (and target update) per stacked minibatch inside
    `lax.scan`, then one actor/temperature step on the last minibatch (or on all of them joined,
    `joined`: WSRL). `agent` provides update_critic(batch, key) and update_actor(batch, key)."""
    num = jax.tree_util.tree_leaves(batches)[0].shape[0]
    key_critic, key_actor = jax.random.split(key)

    def critic_step(a: Any, xs: tuple[Batch, jax.Array]) -> tuple[Any, dict]:
        return a.update_critic(*xs)

    agent, critic_info = jax.lax.scan(critic_step, agent, (batches, jax.random.split(key_critic, num)))
    if joined:  # the critic's minibatches joined into one actor batch
        actor_batch = jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), batches)
    else:
        actor_batch = jax.tree_util.tree_map(lambda x: x[-1], batches)
    agent, actor_info = agent.update_actor(actor_batch, key_actor)
    return agent, {**jax.tree_util.tree_map(jnp.mean, critic_info), **actor_info}


# ---- checks every agent config shares -----------------------------------------------------------
INITS = tuple(INIT_SCHEMES)


def check_init(name: str) -> None:
    if name not in INITS:
        raise ConfigError(f"agent.init must be one of {', '.join(INITS)}; got {name!r}")


def check_learner(cfg: Any, positive: tuple[str, ...], counts: tuple[str, ...] = ("utd", "batch_size", "num_critics")
                  ) -> None:
    """The checks every agent config shares: counts >= 1, τ in (0, 1], γ in [0, 1], rates > 0."""
    for name in counts:
        if getattr(cfg, name) < 1:
            raise ConfigError(f"agent.{name} must be >= 1, got {getattr(cfg, name)}")
    if not 0.0 < cfg.tau <= 1.0:
        raise ConfigError(f"agent.tau must be in (0, 1], got {cfg.tau}")
    if not 0.0 <= cfg.discount <= 1.0:
        raise ConfigError(f"agent.discount must be in [0, 1], got {cfg.discount}")
    for name in positive:
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"agent.{name} must be > 0, got {getattr(cfg, name)}")
