"""CQL and Cal-QL: SAC whose critics are pushed down on out-of-distribution actions.

Per critic i (E members, vmapped), on a minibatch of (s, a, r, s', m[, G]):

    y    = r + γ m min_{j∈Z} Q̄_j(s', a'),  a' ~ π(·|s')      (or, with max_backup, the max over
                                                              N sampled a' of that min)
    Q̃_i(s, ·) over 3N actions: N uniform (log-density −|A| log 2), N from π(·|s), N from π(·|s'),
           each minus its log-density (importance correction); Cal-QL floors the policy-sampled
           ones at the Monte-Carlo return: Q̃ = max(Q_i, G)
    R_i  = T · logsumexp(Q̃_i / T) − Q_i(s, a)
    L_Q  = Σ_i [ mean (Q_i(s, a) − y)² + α R_i ]          (Lagrange: α·α′ (R_i − gap), α′ learned ≥ 0)
           (penalty_on_subset: α R_i only on Z members drawn each step, times E/Z — WSRL's ensemble code)

The actor and temperature are SAC's. Online, the conservative term stays (CQL / Cal-QL fine-tuning)
or is dropped (`online_conservative=False`: WSRL and Balanced Replay continue as plain SAC).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

from hybridrl.agents.base import RewardTransform
from hybridrl.agents.common import Batch, polyak, prefixed, td_target
from hybridrl.agents.sac import SACAgent, SACConfig
from hybridrl.data.dataset import discounted_returns
from hybridrl.errors import ConfigError
from hybridrl.nn import draw_members, ensemble_apply, subset


@dataclass(frozen=True)
class CQLConfig(SACConfig):
    """SAC plus the conservative term of CQL; `calibrated` turns it into Cal-QL."""

    actor_aggregation: str = "min"
    backup_entropy: bool = False
    target_entropy_scale: float = 1.0
    actor_lr: float = 1e-4
    temp_lr: float = 1e-4  # the authors' code steps the temperature at the policy's rate
    init: str = "orthogonal-small-output"  # Cal-QL's JaxCQL (orthogonal_init=True)
    cql_alpha: float = 5.0  # weight of the conservative term (Cal-QL's and WSRL's locomotion default)
    cql_n_actions: int = 10  # actions sampled from each of uniform, π(·|s), π(·|s')
    cql_temperature: float = 1.0
    calibrated: bool = False  # Cal-QL: policy-action Q-values in the logsumexp floored at the MC return
    lagrange: bool = False  # learn the weight so the conservative gap stays near target_action_gap
    target_action_gap: float = 0.8
    lagrange_init_log_alpha: float = 1.0  # log α′ before training (Cal-QL's code: 1.0, i.e. α′ = e)
    max_backup: bool = True  # target: max over cql_n_actions next actions of the min over the target subset (the
    # authors' default everywhere)
    online_max_backup: bool | None = None  # online phase; None: as max_backup (WSRL's online SAC: off on locomotion)
    online_conservative: bool = True  # keep the conservative term online (False: plain SAC online, as WSRL)
    penalty_on_subset: bool = False  # the conservative term on num_target_critics members drawn anew each step (as the
    # target's draw), weighted E/Z per draw so its expected weight per member is unchanged (WSRL's ensemble code);
    # False: on every member

    def validate(self) -> None:
        super().validate()
        if self.cql_n_actions < 1 or self.cql_temperature <= 0 or self.cql_alpha < 0:
            raise ConfigError("agent.cql_n_actions must be >= 1, agent.cql_temperature > 0 and agent.cql_alpha >= 0; "
                              f"got {self.cql_n_actions}, {self.cql_temperature}, {self.cql_alpha}")


def conservative_penalty(q_data: jnp.ndarray, q_uniform: jnp.ndarray, q_pi: jnp.ndarray, q_pi_next: jnp.ndarray,
                         log_pi: jnp.ndarray, log_pi_next: jnp.ndarray, action_dim: int, temperature: float,
                         mc_returns: jnp.ndarray | None) -> jnp.ndarray:
    """R_i per member, averaged over the batch. Shapes: q_data (E, B); q_* (E, N, B); log_pi* (N, B);
    mc_returns (B,) or None. Log-densities are constants here (no gradient flows into the actor)."""
    if mc_returns is not None:  # Cal-QL: only the policy-sampled actions are calibrated
        q_pi = jnp.maximum(q_pi, mc_returns[None, None])
        q_pi_next = jnp.maximum(q_pi_next, mc_returns[None, None])
    uniform_log_density = -action_dim * jnp.log(2.0)
    cat = jnp.concatenate([q_uniform - uniform_log_density,
                           q_pi - jax.lax.stop_gradient(log_pi)[None],
                           q_pi_next - jax.lax.stop_gradient(log_pi_next)[None]], axis=1)
    lse = temperature * jax.scipy.special.logsumexp(cat / temperature, axis=1)  # (E, B)
    return (lse - q_data).mean(axis=1)


class CQLAgent(SACAgent):
    config_class = CQLConfig  # (not a field) the registry's config for this agent
    lagrange: TrainState | None = None  # log α′ (only with config.lagrange)
    online: bool = flax.struct.field(pytree_node=False, default=False)

    @property
    def conservative(self) -> bool:
        return not self.online or self.config.online_conservative

    # ---- Cal-QL's column: Monte-Carlo returns-to-go, known when an episode ends -----------------
    @property
    def batch_fields(self) -> tuple[str, ...]:
        return ("mc_returns",) if self.config.calibrated else ()

    @property
    def episode_columns(self) -> tuple[str, ...]:
        return self.batch_fields

    def column_defaults(self) -> dict[str, np.ndarray]:
        # unknown until the episode ends; -inf leaves Q uncalibrated (the rows are not sampled before then)
        return {"mc_returns": np.float32(-np.inf)} if self.config.calibrated else {}

    def offline_columns(self, dataset: Any, reward: RewardTransform) -> dict[str, np.ndarray]:
        if not self.config.calibrated:
            return {}
        return {"mc_returns": dataset.returns_to_go(self.config.discount, reward.failure_value, reward.scale,
                                                    reward.bias)}

    def fill_episode_columns(self, episode: dict[str, np.ndarray], reward: RewardTransform) -> dict[str, np.ndarray]:
        """The finished episode's returns-to-go (the authors' buffers hold finished trajectories only)."""
        if not self.config.calibrated:
            return {}
        rewards = episode["rewards"]
        ends = np.zeros(len(rewards), bool)
        ends[-1] = True
        return {"mc_returns": discounted_returns(rewards, ends, self.config.discount, reward.failure_value)}

    def to_online(self) -> CQLAgent:
        return self.replace(online=True)

    def critic_policy(self, observations: jnp.ndarray, batch: Batch, key: jax.Array, role: str) -> Any:
        """π(·|observations) as the critic's backup ("backup") and conservative term ("current", "next") read it;
        `key` is for agents whose policy takes a sampled input (FamO2O's β); plain CQL ignores it."""
        return self.policy(self.actor.params, observations)

    # ---- losses -------------------------------------------------------------------------------
    def backup(self, batch: Batch, key: jax.Array) -> jnp.ndarray:
        cfg = self.config
        key_act, key_sub = jax.random.split(key)
        members = draw_members(key_sub, cfg.num_critics, cfg.num_target_critics, cfg.subset_with_replacement)
        target_params = subset(self.target_critic_params, members)
        dist = self.critic_policy(batch["next_observations"], batch, jax.random.fold_in(key, 1), "backup")
        max_backup = cfg.max_backup if not self.online or cfg.online_max_backup is None else cfg.online_max_backup
        n = cfg.cql_n_actions if max_backup else 1
        next_actions, next_log_probs = dist.sample_and_log_prob(key_act, (n,))  # (n, B, A), (n, B)
        next_obs = jnp.broadcast_to(batch["next_observations"], (n, *batch["next_observations"].shape))
        next_q = ensemble_apply(self.critic.apply_fn, target_params, next_obs, next_actions).min(axis=0)  # (n, B)
        best = next_q.argmax(axis=0)  # n = 1: the single sample
        next_q = jnp.take_along_axis(next_q, best[None], 0)[0]
        next_log_probs = jnp.take_along_axis(next_log_probs, best[None], 0)[0]
        return td_target(batch["rewards"], batch["masks"], next_q, next_log_probs,
                         self.temp.apply_fn(self.temp.params), cfg.discount, cfg.backup_entropy)

    def critic_loss(self, critic_params: Any, batch: Batch, key: jax.Array) -> tuple[jnp.ndarray, dict]:
        cfg = self.config
        key_target, key_u, key_pi, key_next = jax.random.split(key, 4)
        target = jax.lax.stop_gradient(self.backup(batch, key_target))
        obs, actions = batch["observations"], batch["actions"]
        qs = ensemble_apply(self.critic.apply_fn, critic_params, obs, actions)  # (E, B)
        td = ((qs - target[None]) ** 2).mean(axis=1)
        info = {"critic_loss": td.mean(), "q_mean": qs.mean(), "q_max": qs.max(), "q_min": qs.min(),
                "target_mean": target.mean()}
        if not self.conservative:
            return td.sum(), info
        n, (b, a_dim) = cfg.cql_n_actions, actions.shape
        obs_n = jnp.broadcast_to(obs, (n, *obs.shape))
        uniform = jax.random.uniform(key_u, (n, b, a_dim), minval=-1.0, maxval=1.0)
        pi, log_pi = self.critic_policy(obs, batch, jax.random.fold_in(key_pi, 1), "current") \
            .sample_and_log_prob(key_pi, (n,))
        pi_next, log_pi_next = self.critic_policy(batch["next_observations"], batch, jax.random.fold_in(key_next, 1),
                                                  "next") \
            .sample_and_log_prob(key_next, (n,))
        q_all = ensemble_apply(self.critic.apply_fn, critic_params, jnp.concatenate([obs_n] * 3),
                               jax.lax.stop_gradient(jnp.concatenate([uniform, pi, pi_next])))  # (E, 3N, B)
        penalty = conservative_penalty(qs, q_all[:, :n], q_all[:, n:2 * n], q_all[:, 2 * n:], log_pi, log_pi_next,
                                       a_dim, cfg.cql_temperature,
                                       batch["mc_returns"] if cfg.calibrated else None)  # (E,)
        weight = cfg.cql_alpha
        if cfg.lagrange:
            weight = weight * self.lagrange_weight()
            penalty_term = weight * (penalty - cfg.target_action_gap)
        else:
            penalty_term = weight * penalty
        mean_penalty = penalty.mean()
        if cfg.penalty_on_subset:  # each member by how often this step's draw named it, times E/Z
            drawn = draw_members(jax.random.fold_in(key_u, 2), cfg.num_critics, cfg.num_target_critics,
                                 cfg.subset_with_replacement)
            counts = jnp.zeros(cfg.num_critics).at[drawn].add(1.0)
            penalty_term = penalty_term * counts * (cfg.num_critics / cfg.num_target_critics)
            mean_penalty = (counts * penalty).sum() / cfg.num_target_critics
        info.update(cql_penalty=mean_penalty, cql_weight=jnp.asarray(weight, jnp.float32))
        return (td + penalty_term).sum(), info

    def lagrange_weight(self, params: Any = None) -> jnp.ndarray:
        log_alpha = (self.lagrange.params if params is None else params)["log_alpha"]
        return jnp.clip(jnp.exp(log_alpha), 0.0, 1e6)

    # ---- updates ------------------------------------------------------------------------------
    def update_critic(self, batch: Batch, key: jax.Array) -> tuple[CQLAgent, dict]:
        grads, info = jax.grad(self.critic_loss, has_aux=True)(self.critic.params, batch, key)
        critic = self.critic.apply_gradients(grads=grads)
        agent = self.replace(critic=critic, target_critic_params=polyak(critic.params, self.target_critic_params,
                                                                        self.config.tau))
        if self.config.lagrange and self.conservative:  # α′ rises while the gap exceeds its target
            gap = jax.lax.stop_gradient(info["cql_penalty"]) - self.config.target_action_gap
            lag_grads = jax.grad(lambda p: -(self.lagrange_weight(p) * gap))(self.lagrange.params)
            agent = agent.replace(lagrange=self.lagrange.apply_gradients(grads=lag_grads))
        return agent, prefixed("critic", info)

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def create(cls, key: jax.Array, obs_dim: int, action_dim: int, config: CQLConfig,
               actor_extra_inputs: int = 0) -> CQLAgent:
        agent = super().create(key, obs_dim, action_dim, config, actor_extra_inputs)
        lagrange = None
        if config.lagrange:
            init = jnp.full((), config.lagrange_init_log_alpha, jnp.float32)
            lagrange = TrainState.create(apply_fn=None, params={"log_alpha": init},
                                         tx=optax.adam(config.critic_lr))
        return agent.replace(lagrange=lagrange)


__all__ = ["CQLAgent", "conservative_penalty"]
