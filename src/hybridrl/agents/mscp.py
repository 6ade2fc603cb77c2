"""MSCP (Wu et al., ICML 2024): online RL helped by action-free data through slow and fast state planners.

Every minibatch arrives relabelled (`replay.mixing.GoalRelabel`): value goal g with reward r ∈ {0, −1}
and mask m, high-level goal g_h with the slow target s_{t+k} and fast target s_{t+1} (both capped at
g_h), and the low-level goal w = s_{min(t+k, T_end)}. Goals are the first `goal_dim` state entries.
V̄ below is the mean of the two target value heads.

Pre-training (offline batches only; no action or reward of the data is read):
    y_i = r + γ m V̄_i(s', g),  A = r + γ m min_i V̄_i(s', g) − V̄(s, g)
    L_V = Σ_i E[ |τ_e − 1(A < 0)| (y_i − V_i(s, g))² ],                     τ_e = 0.7
    L_h = −E[ min(exp(β (V̄(s_{t+k}, g_h) − V̄(s_t, g_h))), 100) log π_h(s_{t+k} − s_t | s_t, g_h) ]
    L_f = the same with the fast target (k = 1)
Online (one online and one offline batch per update):
    r_g = −‖s' − (s + μ_f(s, g_h))‖                     guidance toward the data's support (both batches);
          readings: μ_f(s, w) (`fast_planner_goal`), goal entries only or per-entry / σ_f (`guidance_dims`)
    L_ℓ = −E_online[ min(exp(A_ℓ), 100) log π_ℓ(a | s, w) ],
          A_ℓ = V̄(s', w) − V̄(s, w) + λ (r_g − V_g(s, w))  (online only: the offline data has no actions)
    L_g = E[(V_g(s, w) − r_g)²] over both batches (`guide_value_data`);
    L_V = ½ [L_V(online, τ_e = 0.5) + L_V(offline, 0.7)]
The low-level step runs first, on the values as they stood, so π_ℓ's update depends on online samples
only. Planners stay frozen unless `finetune_planners`. Acting: w = s + Δ, Δ ~ π_h(s, g*) (its mean at
evaluation), a ~ π_ℓ(s, w) (its mean at evaluation).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from hybridrl.agents.base import AgentAPI
from hybridrl.agents.common import Batch, check_learner, polyak, prefixed
from hybridrl.agents.iql import awr_weights
from hybridrl.errors import ConfigError
from hybridrl.nn import GaussianActor, ValueNet, ensemble_apply, ensemble_init


@dataclass(frozen=True)
class MSCPConfig:
    """MSCP (Wu et al. 2024): goal-conditioned value and slow/fast state planners pre-trained on
    action-free data, a low-level policy learned online toward the slow planner's subgoals.
    `guidance_weight=0, online_expectile=0.7` is the HIQL ablation."""

    goal_conditioned = True  # (not a field) its batches are goal-relabelled: see GoalRelabel.check_config

    hidden_dims: tuple[int, ...] = (256, 256)  # paper: 512x3 (scaled down for CPU)
    layer_norm: bool = True  # value and planner MLPs: LayerNorm + GELU, as the paper
    activation: str = "gelu"
    goal_dim: int = 0  # a goal fixes the state's first goal_dim entries; 0: the env's desired_goal size
    subgoal_steps: int = 25  # k: the slow planner's horizon (about one maze cell of travel)
    discount: float = 0.99
    tau: float = 0.005
    expectile: float = 0.7  # τ_e on offline batches
    online_expectile: float = 0.5  # τ_e on online batches (HIQL ablation: 0.7)
    planner_temperature: float = 1.0  # β of the planners' AWR
    low_temperature: float = 1.0  # of the low-level policy's AWR: weights min(exp(this · A), awr_max_weight)
    awr_max_weight: float = 100.0
    guidance_weight: float = 7.0  # λ (mazes); 0 = HIQL
    # Readings of the paper's guidance (no public code; measured in benchmarks/sweeps/claim-mscp.yaml):
    guidance_dims: str = "state"  # r_g over the whole state, its "goal" entries only, or "normalized" (each entry
    # divided by the fast planner's std, so PointMaze's velocities do not outweigh its positions)
    fast_planner_goal: str = "high"  # μ_f conditioned on the high goal g_h, or on the "subgoal" w π_ℓ and V_g see
    guide_value_data: str = "both"  # V_g fitted on "both" batches, or "online" only (the offline rows' r_g is near
    # 0 by construction, which biases λ (r_g − V_g) negative on online rows)
    finetune_planners: bool = False  # online: keep training the planners (AWR on both batches)
    p_cur: float = 0.2  # relabelling: value goal = s_t
    p_traj: float = 0.5  # value goal = a future state of the trajectory (else a random state)
    p_rand_high: float = 0.3  # high-level goal = a random state (else a future one)
    lr: float = 3e-4
    batch_size: int = 256  # each of the online and offline batches (paper 1024)
    utd: int = 1  # updates per training env step (see train.update_every for fewer than one)

    def validate(self) -> None:
        for name in ("expectile", "online_expectile"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"agent.{name} must be in (0, 1), got {getattr(self, name)}")
        for name in ("utd", "batch_size", "subgoal_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"agent.{name} must be >= 1, got {getattr(self, name)}")
        if not (self.p_cur >= 0 and self.p_traj >= 0 and self.p_cur + self.p_traj <= 1 and 0 <= self.p_rand_high <= 1):
            raise ConfigError("agent.p_cur, agent.p_traj must be >= 0 with sum <= 1 and agent.p_rand_high in [0, 1]; "
                              f"got {self.p_cur}, {self.p_traj}, {self.p_rand_high}")
        if self.guidance_weight < 0 or self.goal_dim < 0:
            raise ConfigError("agent.guidance_weight and agent.goal_dim must be >= 0")
        if self.activation not in ("relu", "gelu"):
            raise ConfigError(f"agent.activation must be 'relu' or 'gelu', got {self.activation!r}")
        for name, valid in (("guidance_dims", ("state", "goal", "normalized")),
                            ("fast_planner_goal", ("high", "subgoal")), ("guide_value_data", ("both", "online"))):
            if getattr(self, name) not in valid:
                raise ConfigError(f"agent.{name} must be one of {', '.join(valid)}; got {getattr(self, name)!r}")
        check_learner(self, positive=("lr", "planner_temperature", "low_temperature", "awr_max_weight"),
                      counts=("utd", "batch_size"))

    def run_fields(self, train: Any) -> dict[str, Any]:
        """goal_dim 0: the env's desired_goal size (a goal env's flat observation ends with it)."""
        if self.goal_dim:
            return {}
        from hybridrl.envs.make import goal_dim

        dim = goal_dim(train.env)
        if dim == 0:
            raise ConfigError(f"this agent needs a goal env (observation + desired_goal); {train.env!r} is not one "
                              "(or set agent.goal_dim to the number of leading state entries a goal fixes)")
        return {"goal_dim": dim}

    def validate_run(self, train: Any) -> None:
        """What this agent needs of the run: goal-relabelled batches, planners learned from a dataset, and every
        online step kept (goals are relabelled within online episodes)."""
        if train.mixing != "goal-relabel":
            raise ConfigError(f"this agent learns from goal-relabelled batches: it needs train.mixing=goal-relabel, "
                              f"got {train.mixing!r}")
        if train.dataset is None:
            raise ConfigError("this agent learns its planners from a dataset: pass --dataset")
        if train.buffer_capacity < train.online_steps:
            raise ConfigError(f"this agent relabels goals within online episodes, so the online buffer must keep "
                              f"every step: train.buffer_capacity ({train.buffer_capacity}) must be >= "
                              f"train.online_steps ({train.online_steps})")


def guidance_reward(states: jnp.ndarray, next_states: jnp.ndarray, predicted_step: jnp.ndarray) -> jnp.ndarray:
    """r_g = −‖s' − (s + μ_f)‖: how far a transition lands from where the fast planner, trained on the
    offline data, expects the next state to be."""
    return -jnp.linalg.norm(next_states - (states + predicted_step), axis=-1)


class MSCPAgent(AgentAPI, flax.struct.PyTreeNode):
    config_class = MSCPConfig  # (not a field) the registry's config for this agent
    value: TrainState  # twin V_i(s, g): stacked parameters, vmapped
    target_value_params: Any
    slow: TrainState  # π_h(Δ | s, g_h): k-step displacement
    fast: TrainState  # π_f(Δ | s, g_h): one-step displacement
    low: TrainState  # π_ℓ(a | s, w)
    guide: TrainState  # V_g(s, w)
    state_dim: int = flax.struct.field(pytree_node=False)
    config: MSCPConfig = flax.struct.field(pytree_node=False)

    @property
    def relabelling(self) -> dict[str, Any]:
        """What the goal-relabelling mixer needs to build this agent's goal-conditioned batches."""
        c = self.config
        return {"state_dim": self.state_dim, "goal_dim": c.goal_dim, "discount": c.discount, "p_cur": c.p_cur,
                "p_traj": c.p_traj, "p_rand_high": c.p_rand_high, "subgoal_steps": c.subgoal_steps}

    # ---- pieces ---------------------------------------------------------------------------------
    def goal(self, states: jnp.ndarray) -> jnp.ndarray:
        return states[..., :self.config.goal_dim]

    def values(self, params: Any, states: jnp.ndarray, goals: jnp.ndarray) -> jnp.ndarray:
        return ensemble_apply(self.value.apply_fn, params, jnp.concatenate([states, goals], -1))  # (2, B)

    def target_mean(self, states: jnp.ndarray, goals: jnp.ndarray) -> jnp.ndarray:
        return self.values(self.target_value_params, states, goals).mean(0)

    def planner(self, state: TrainState, params: Any, states: jnp.ndarray, goals: jnp.ndarray) -> Any:
        return state.apply_fn(params, jnp.concatenate([states, goals], -1))

    def fast_miss(self, batch: Batch) -> tuple[jnp.ndarray, jnp.ndarray]:
        """s' − (s + μ_f) per entry, and the fast planner's std: μ_f conditioned on the high goal g_h or on the
        subgoal w (`fast_planner_goal`)."""
        goal = batch["high_goals"] if self.config.fast_planner_goal == "high" else batch["low_goals"]
        dist = self.planner(self.fast, self.fast.params, batch["observations"], goal)
        return batch["next_observations"] - (batch["observations"] + dist.mode()), dist.scale

    def guidance(self, batch: Batch) -> jnp.ndarray:
        """r_g under the configured reading of the paper: the distance over the whole state, the goal entries only,
        or each entry divided by the fast planner's own std (`guidance_dims`)."""
        miss, scale = self.fast_miss(batch)
        if self.config.guidance_dims == "goal":
            miss = self.goal(miss)
        elif self.config.guidance_dims == "normalized":
            miss = miss / scale
        return -jnp.linalg.norm(miss, axis=-1)

    def goal_share(self, batch: Batch) -> jnp.ndarray:
        """The share of the squared miss ‖s' − (s + μ_f)‖² that lies in the goal (position) entries, over the batch:
        near 0 means the whole-state guidance mostly scores velocity errors."""
        miss = self.fast_miss(batch)[0] ** 2
        return self.goal(miss).sum() / jnp.maximum(miss.sum(), 1e-12)

    # ---- losses -----------------------------------------------------------------------------------
    def value_loss(self, params: Any, batch: Batch, expectile: float) -> tuple[jnp.ndarray, dict]:
        cfg = self.config
        s, s2, g = batch["observations"], batch["next_observations"], batch["value_goals"]
        r, m = batch["rewards"], batch["masks"]
        next_v = self.values(self.target_value_params, s2, g)
        adv = r + cfg.discount * m * next_v.min(0) - self.target_mean(s, g)
        y = r + cfg.discount * m * next_v
        v = self.values(params, s, g)
        weight = jnp.where(adv < 0, 1.0 - expectile, expectile)
        loss = (weight * (jax.lax.stop_gradient(y) - v) ** 2).mean(axis=1).sum()
        return loss, {"value_loss": loss, "v_mean": v.mean(), "v_min": v.min()}

    def planner_loss(self, params: Any, state: TrainState, batch: Batch, target: str,
                     v_here: jnp.ndarray) -> tuple[jnp.ndarray, dict]:
        """AWR toward the observed displacement to `target` (the slow or the fast planner's);
        `v_here` = V̄(s, g_h), shared by both planners."""
        s, g_h, s_target = batch["observations"], batch["high_goals"], batch[target]
        adv = self.target_mean(s_target, g_h) - v_here
        weights = awr_weights(adv, self.config.planner_temperature, self.config.awr_max_weight)
        log_prob = self.planner(state, params, s, g_h).log_prob(s_target - s)
        loss = -(jax.lax.stop_gradient(weights) * log_prob).mean()
        return loss, {"loss": loss, "adv": adv.mean(), "weight": weights.mean()}

    def low_loss(self, params: Any, batch: Batch, r_guide: jnp.ndarray) -> tuple[jnp.ndarray, dict]:
        cfg = self.config
        s, s2, w = batch["observations"], batch["next_observations"], batch["low_goals"]
        v_guide = self.guide.apply_fn(self.guide.params, jnp.concatenate([s, w], -1))
        progress = self.target_mean(s2, w) - self.target_mean(s, w)
        guide_term = cfg.guidance_weight * (r_guide - v_guide)
        adv = progress + guide_term
        weights = awr_weights(adv, cfg.low_temperature, cfg.awr_max_weight)
        log_prob = self.low.apply_fn(params, jnp.concatenate([s, w], -1)).log_prob(batch["actions"])
        loss = -(jax.lax.stop_gradient(weights) * log_prob).mean()
        # How much the guidance steers the AWR weights: its spread beside the progress term's, and the share of
        # rows where it outweighs progress (what decides which actions get cloned); zero for the HIQL ablation.
        return loss, {"low_loss": loss, "low_adv": adv.mean(), "low_progress": progress.mean(),
                      "low_weight": weights.mean(), "progress_std": progress.std(), "guide_term_std": guide_term.std(),
                      "guide_share": (jnp.abs(guide_term) > jnp.abs(progress)).mean()}

    def guide_loss(self, params: Any, batches: tuple[Batch, ...], rewards: tuple[jnp.ndarray, ...]
                   ) -> tuple[jnp.ndarray, dict]:
        losses = [((self.guide.apply_fn(params, jnp.concatenate([b["observations"], b["low_goals"]], -1)) - r) ** 2)
                  .mean() for b, r in zip(batches, rewards, strict=True)]
        loss = sum(losses) / len(losses)
        return loss, {"guide_loss": loss}

    # ---- steps ------------------------------------------------------------------------------------
    def value_step(self, parts: tuple[tuple[Batch, float], ...]) -> tuple[MSCPAgent, dict]:
        """One step on the mean of the value losses of (batch, expectile) parts."""

        def loss_fn(params: Any) -> tuple[jnp.ndarray, dict]:
            outs = [self.value_loss(params, b, e) for b, e in parts]
            infos = [o[1] for o in outs]
            return sum(o[0] for o in outs) / len(outs), {k: sum(i[k] for i in infos) / len(infos) for k in infos[0]}

        grads, info = jax.grad(loss_fn, has_aux=True)(self.value.params)
        return self.replace(value=self.value.apply_gradients(grads=grads)), prefixed("value", info)

    def planner_step(self, batch: Batch) -> tuple[MSCPAgent, dict]:
        out, states = {}, {}
        v_here = self.target_mean(batch["observations"], batch["high_goals"])
        for name, target in (("slow", "slow_targets"), ("fast", "fast_targets")):
            state = getattr(self, name)
            grads, info = jax.grad(lambda p, st=state, t=target: self.planner_loss(p, st, batch, t, v_here),
                                   has_aux=True)(state.params)
            states[name] = state.apply_gradients(grads=grads)
            out.update({f"planner/{name}_planner_{k}": v for k, v in info.items()})
        return self.replace(**states), out

    def targets_step(self) -> MSCPAgent:
        return self.replace(target_value_params=polyak(self.value.params, self.target_value_params, self.config.tau))

    def pretrain_update(self, batch: Batch) -> tuple[MSCPAgent, dict]:
        agent, v_info = self.value_step(((batch, self.config.expectile),))
        agent, p_info = agent.planner_step(batch)
        return agent.targets_step(), {**v_info, **p_info}

    def online_update(self, online: Batch, offline: Batch) -> tuple[MSCPAgent, dict]:
        cfg = self.config
        r_on, r_off = self.guidance(online), self.guidance(offline)
        grads, low_info = jax.grad(self.low_loss, has_aux=True)(self.low.params, online, r_on)
        agent = self.replace(low=self.low.apply_gradients(grads=grads))
        fit = ((online, offline), (r_on, r_off)) if cfg.guide_value_data == "both" else ((online,), (r_on,))
        grads, g_info = jax.grad(agent.guide_loss, has_aux=True)(agent.guide.params, *fit)
        agent = agent.replace(guide=agent.guide.apply_gradients(grads=grads))
        agent, v_info = agent.value_step(((online, cfg.online_expectile), (offline, cfg.expectile)))
        info = {**prefixed("low", low_info), **prefixed("guide", {**g_info, "guidance_reward": r_on.mean(),
                                                                  "guidance_reward_offline": r_off.mean(),
                                                                  "goal_entries_share": self.goal_share(online)}),
                **v_info}
        if cfg.finetune_planners:
            joined = {k: jnp.concatenate([online[k], offline[k]]) for k in offline}
            agent, p_info = agent.planner_step(joined)
            info.update(p_info)
        return agent.targets_step(), info

    def update(self, batches: dict[str, Batch], key: jax.Array) -> tuple[MSCPAgent, dict]:
        """`batches["offline"]` (and online, `batches["online"]`) hold `utd` relabelled minibatches
        stacked on a leading axis; one update per minibatch inside `lax.scan`."""
        del key  # every random choice of an update was made when its minibatches were relabelled

        if "online" in batches:
            def body(a: MSCPAgent, xs: tuple[Batch, Batch]) -> tuple[MSCPAgent, dict]:
                return a.online_update(*xs)
            agent, infos = jax.lax.scan(body, self, (batches["online"], batches["offline"]))
        else:
            agent, infos = jax.lax.scan(lambda a, b: a.pretrain_update(b), self, batches["offline"])
        return agent, jax.tree_util.tree_map(jnp.mean, infos)

    # ---- acting -----------------------------------------------------------------------------------
    def split(self, observations: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        """An env observation is [state, desired_goal] (make_env's goal envs)."""
        return observations[..., :self.state_dim], observations[..., self.state_dim:]

    def subgoal_fn(self) -> Any:
        return self.subgoal

    def subgoal(self, observations: jnp.ndarray, key: jax.Array | None = None) -> jnp.ndarray:
        """w = s + Δ from the slow planner toward the env's goal: a sample, or the mean without `key`."""
        s, g = self.split(observations)
        dist = self.planner(self.slow, self.slow.params, s, g)
        step = dist.loc if key is None else dist.loc + dist.scale * jax.random.normal(key, dist.loc.shape)
        return s + step

    @property
    def actor_params(self) -> Any:
        return self.low.params

    def policy(self, actor_params: Any, observations: jnp.ndarray) -> Any:
        """π_ℓ(·|s, w) toward the slow planner's mean subgoal."""
        s, _ = self.split(observations)
        w = self.goal(self.subgoal(observations))
        return self.low.apply_fn(actor_params, jnp.concatenate([s, w], -1))

    def sample_actions(self, observations: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
        key_goal, key_act = jax.random.split(key)
        s, _ = self.split(observations)
        w = self.goal(self.subgoal(observations, key_goal))
        return self.low.apply_fn(self.low.params, jnp.concatenate([s, w], -1)).sample(key_act)

    # ---- construction -----------------------------------------------------------------------------
    @classmethod
    def create(cls, key: jax.Array, obs_dim: int, action_dim: int, config: MSCPConfig) -> MSCPAgent:
        """`obs_dim` is the env's flat [state, goal] size; the state is its first obs_dim − goal_dim entries."""
        gd = config.goal_dim
        if not 0 < gd < obs_dim:
            raise ValueError(f"mscp needs agent.goal_dim in [1, {obs_dim - 1}] for an env observation of size "
                             f"{obs_dim} (a goal env's [observation, desired_goal]); got {gd}")
        state_dim = obs_dim - gd
        k_v, k_s, k_f, k_l, k_g = jax.random.split(key, 5)
        net = {"layer_norm": config.layer_norm, "activation": config.activation}
        value_def = ValueNet(config.hidden_dims, **net)
        planner_def = GaussianActor(config.hidden_dims, state_dim, tanh_mean=False, **net)
        low_def = GaussianActor(config.hidden_dims, action_dim)
        guide_def = ValueNet(config.hidden_dims)
        sg = jnp.zeros((1, state_dim + gd), jnp.float32)
        tx = optax.adam(config.lr)

        def state(module: Any, k: jax.Array) -> TrainState:
            return TrainState.create(apply_fn=module.apply, params=module.init(k, sg), tx=tx)

        value_params = ensemble_init(value_def, k_v, 2, sg)
        return cls(value=TrainState.create(apply_fn=value_def.apply, params=value_params, tx=tx),
                   target_value_params=jax.tree_util.tree_map(jnp.copy, value_params),
                   slow=state(planner_def, k_s), fast=state(planner_def, k_f), low=state(low_def, k_l),
                   guide=state(guide_def, k_g), state_dim=state_dim, config=config)
