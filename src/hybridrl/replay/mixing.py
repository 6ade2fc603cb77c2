"""Data-mixing strategies: how offline and online transitions form each minibatch.

One concept, several implementations, shared by every recipe. Each runs inside jit and returns `num`
minibatches stacked on a leading axis (one per critic step). The loop calls `step`, which also threads
a strategy's own state (the density-ratio strategy's network and priorities) through the carry;
stateless strategies only implement `sample`.
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

from hybridrl.errors import ConfigError
from hybridrl.nn import Critic
from hybridrl.replay.buffer import WINDOW_CANDIDATES, Batch, ReplayBuffer


class Mixer:
    """A strategy builds itself from the run's config (`from_config`) and says what it needs and keeps, so the
    loop never branches on its name."""

    name: str = ""
    keeps_offline_online: bool = True  # False: the offline data is dropped at the switch (WSRL)
    samples_windows: bool = False  # whether it can serve an agent that learns over windows of steps (chunks)

    @classmethod
    def from_config(cls, train: Any, agent: Any) -> Mixer:
        return cls()

    @classmethod
    def needs_offline(cls, train: Any) -> bool:
        """Whether the online phase reads offline data (a dataset is then loaded even without pre-training)."""
        return True

    @classmethod
    def requires_offline(cls, train: Any) -> bool:
        """Whether the online phase cannot run without offline data."""
        return False

    @classmethod
    def check_config(cls, train: Any, agent_config: Any) -> None:
        """Refuse an agent config this strategy cannot serve (a ConfigError naming what is needed)."""

    def sample(self, key: jax.Array, online: ReplayBuffer, offline: ReplayBuffer | None,
               batch_size: int, num: int) -> Batch:
        raise NotImplementedError

    # ---- stateful strategies override these; the defaults are for stateless ones -----------------
    def fields(self) -> dict[str, Any]:
        """Extra per-row columns the online buffer must hold for this strategy (name: initial value)."""
        return {}

    def init_state(self, key: jax.Array, obs_dim: int, action_dim: int, offline_size: int) -> Any:
        return None

    def on_insert(self, transition: dict[str, jax.Array], state: Any) -> dict[str, jax.Array]:
        """Fill this strategy's columns of a transition about to enter the online buffer."""
        return transition

    def step(self, key: jax.Array, online: ReplayBuffer, offline: ReplayBuffer | None, batch_size: int,
             num: int, state: Any) -> tuple[Batch, ReplayBuffer, Any, dict[str, jax.Array]]:
        """Minibatches for one env step's updates, and the strategy's (and buffer's) new state."""
        return self.sample(key, online, offline, batch_size, num), online, state, {}

    def offline_batches(self, key: jax.Array, offline: ReplayBuffer, batch_size: int, num: int) -> Batch:
        """Minibatches for the offline phase: uniform over the dataset (every action-based recipe)."""
        return offline.gather(offline.sample_indices(key, (num, batch_size)))

    def can_train(self, finished_episodes: int) -> bool:
        """Whether the online data is ready to sample (goal relabelling needs a finished episode)."""
        return True

    def host_columns(self, done: bool) -> dict[str, np.ndarray]:
        """Columns of this strategy that the host fills for each stored step (episode ends, for relabelling)."""
        return {}

    def offline_rows(self, dataset: Any, transitions: Any) -> dict[str, np.ndarray]:
        """The offline side's rows: `transitions()` (the dataset's transitions with the agent's columns) unless
        the strategy reads the dataset its own way."""
        return transitions()

    def offline_dims(self, obs_dim: int, action_dim: int) -> dict[str, tuple[int, str]]:
        """Each offline field's expected width and what it is, for the check that the data fits the env."""
        return {"observations": (obs_dim, "observation size"), "actions": (action_dim, "action size")}


@dataclass(frozen=True)
class Symmetric(Mixer):
    """A fixed fraction of every minibatch from the offline data, exactly (RLPD: 0.5; 0 = online only)."""

    offline_ratio: float = 0.5
    name: str = "symmetric"
    samples_windows: bool = True

    @classmethod
    def from_config(cls, train: Any, agent: Any) -> Symmetric:
        return cls(offline_ratio=train.offline_ratio)

    @classmethod
    def needs_offline(cls, train: Any) -> bool:
        return train.offline_ratio > 0

    @classmethod
    def requires_offline(cls, train: Any) -> bool:
        return train.offline_ratio > 0

    def split(self, batch_size: int, has_offline: bool) -> tuple[int, int]:
        n_off = int(round(self.offline_ratio * batch_size)) if has_offline else 0
        return n_off, batch_size - n_off

    def sample(self, key: jax.Array, online: ReplayBuffer, offline: ReplayBuffer | None,
               batch_size: int, num: int) -> Batch:
        n_off, n_on = self.split(batch_size, offline is not None)
        key_on, key_off = jax.random.split(key)
        parts = []
        if n_off:
            parts.append(offline.gather(offline.sample_indices(key_off, (num, n_off))))
        if n_on:
            parts.append(online.gather(online.sample_indices(key_on, (num, n_on))))
        if len(parts) == 1:
            return parts[0]
        return {k: jnp.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}


@dataclass(frozen=True)
class Append(Mixer):
    """One buffer holding the offline data followed by the online data, sampled uniformly (IQL, FamO2O).

    The union is never materialised: an index is drawn over both sizes and read from whichever side it
    falls in, so the offline share of a minibatch drifts from ~100% toward n_off / (n_off + n_on)."""

    name: str = "append"
    samples_windows: bool = True

    def sample(self, key: jax.Array, online: ReplayBuffer, offline: ReplayBuffer | None,
               batch_size: int, num: int) -> Batch:
        if offline is None:
            return online.gather(online.sample_indices(key, (num, batch_size)))
        if offline.window > 1:  # window starts, uniform over both sides' rows that start one
            cand = jax.random.randint(key, (num, batch_size, WINDOW_CANDIDATES), 0,
                                      offline.size + online.size - online.pending)
            from_off = cand < offline.size
            ok = jnp.where(from_off, offline.data["window_start"][jnp.where(from_off, cand, 0)],
                           online.data["window_start"][jnp.where(from_off, 0, cand - offline.size)])
            idx = ReplayBuffer.first_window(cand, ok, offline.last_start)
            return gather_union(offline, online, idx)
        idx = jax.random.randint(key, (num, batch_size), 0, offline.size + online.size - online.pending)
        return gather_union(offline, online, idx)


def gather_union(offline: ReplayBuffer, online: ReplayBuffer, idx: jnp.ndarray) -> Batch:
    """Rows of offline ∪ online by index into their concatenation (offline first), without building it."""
    from_off = idx < offline.size
    off = offline.gather(jnp.where(from_off, idx, 0))
    on = online.gather(jnp.where(from_off, 0, idx - offline.size))
    return {k: jnp.where(from_off.reshape(from_off.shape + (1,) * (off[k].ndim - 2)), off[k], on[k]) for k in off}


@dataclass(frozen=True)
class OnlineOnly(Mixer):
    """Online transitions only (WSRL: the offline data is not kept after pre-training)."""

    name: str = "online-only"
    keeps_offline_online: bool = False
    samples_windows: bool = True

    @classmethod
    def needs_offline(cls, train: Any) -> bool:
        return False

    def sample(self, key: jax.Array, online: ReplayBuffer, offline: ReplayBuffer | None,
               batch_size: int, num: int) -> Batch:
        return online.gather(online.sample_indices(key, (num, batch_size)))


def density_ratio_loss(w_offline: jnp.ndarray, w_online: jnp.ndarray) -> jnp.ndarray:
    """Jensen-Shannon variational loss; its minimiser is w(s, a) = d_online(s, a) / d_offline(s, a).

        L = E_off[−log(2 / (w + 1))] − E_on[log(2w / (w + 1))]
    """
    eps = 1e-10
    return -jnp.log(2.0 / (w_offline + 1.0) + eps).mean() - jnp.log(2.0 * w_online / (w_online + 1.0) + eps).mean()


def ratio_priorities(w: jnp.ndarray, w_offline: jnp.ndarray, temperature: float,
                     bounds: tuple[float, float] = (1e-3, 1e3)) -> jnp.ndarray:
    """Sampling priorities w^{1/T} normalised by the offline mean of w^{1/T}, clipped: an offline-like
    sample keeps priority ~1, a near-on-policy one is drawn more often (Lee et al. 2022)."""
    tempered = w ** (1.0 / temperature)
    return jnp.clip(tempered / (jnp.mean(w_offline ** (1.0 / temperature)) + 1e-10), *bounds)


def sample_proportional(key: jax.Array, priorities: jnp.ndarray, shape: tuple[int, ...],
                        block: int = 1024) -> jnp.ndarray:
    """Row indices drawn with probability ∝ `priorities` (≥ 0, not all 0), inside jit.

    Inverse-CDF sampling in two levels — a cumulative sum over block totals picks a block, one over that
    block's rows picks the row — so float32 keeps its precision over millions of rows (one cumulative sum
    over 2M rows would round every partial sum to ~0.1 and lose the small priorities)."""
    n = priorities.shape[0]
    blocks = jnp.pad(priorities, (0, (-n) % block)).reshape(-1, block)
    key_block, key_row = jax.random.split(key)

    def pick(cdf: jnp.ndarray, u: jnp.ndarray, mass: jnp.ndarray) -> jnp.ndarray:
        # First entry whose cumulative sum exceeds u, never past the last entry with positive mass
        # (u can round up to the total).
        last = cdf.shape[-1] - 1 - jnp.argmax(jnp.flip(mass > 0, -1), axis=-1)
        first_above = (jnp.searchsorted(cdf, u, side="right") if cdf.ndim == 1  # shared CDF: binary search
                       else (cdf <= u[..., None]).sum(-1))  # one CDF per draw (the drawn block's rows)
        return jnp.minimum(first_above, last)

    totals = blocks.sum(axis=1)
    block_cdf = jnp.cumsum(totals)
    b = pick(block_cdf, jax.random.uniform(key_block, shape) * block_cdf[-1], totals)
    rows = blocks[b]  # shape + (block,)
    row_cdf = jnp.cumsum(rows, axis=-1)
    r = pick(row_cdf, jax.random.uniform(key_row, shape) * row_cdf[..., -1], rows)
    return b * block + r


class DensityRatioState(flax.struct.PyTreeNode):
    ratio: TrainState  # the network whose ReLU output is w(s, a)
    offline_priority: jnp.ndarray  # (n_offline,); the online rows keep theirs in the buffer column "priority"
    max_priority: jnp.ndarray  # new online rows enter at the highest priority seen (see initial_priority)


@dataclass(frozen=True)
class DensityRatio(Mixer):
    """Balanced replay (Lee et al. 2022): prioritised sampling over offline ∪ online by the estimated
    density ratio d_online/d_offline, so near-on-policy samples, offline or online, are replayed more.

    Each env step: one step of the ratio network on a uniform offline and a uniform online batch; then
    the minibatches are drawn in proportion to the priorities (exact inverse-CDF sampling on the device,
    `sample_proportional`), and the drawn rows get new priorities from the updated network."""

    temperature: float = 5.0
    hidden_dims: tuple[int, ...] = (256, 256)
    lr: float = 3e-4
    ratio_batch_size: int = 256
    online_fraction: float = 0.5  # f: the share of draws the first `online_rows` online rows get, as new rows
    online_rows: int = 1_000  # (the paper's first epoch) enter at the priority M f / ((1 - f) N), M offline rows
    name: str = "density-ratio"

    @classmethod
    def requires_offline(cls, train: Any) -> bool:
        return True

    @classmethod
    def from_config(cls, train: Any, agent: Any) -> DensityRatio:
        return cls(temperature=train.ratio_temperature, hidden_dims=tuple(train.ratio_hidden_dims), lr=train.ratio_lr,
                   online_fraction=train.ratio_online_fraction)

    def fields(self) -> dict[str, Any]:
        return {"priority": np.float32(1.0)}

    def network(self) -> Critic:
        # as the authors' ratio net (rlkit's ConcatMlp in shlee94/Off2OnRL): fan-in hidden layers, last layer U(±3e-3)
        # with bias 1, so w(s, a) ≈ 1 for every input at the start (a zero bias behind the ReLU put about half the
        # rows at w = 0: no gradient, priority 1e-3)
        return Critic(self.hidden_dims, final_bias=1.0, final_init_scale=3e-3, init_scheme="rlkit-zero-bias")

    def init_state(self, key: jax.Array, obs_dim: int, action_dim: int, offline_size: int) -> DensityRatioState:
        net = self.network()
        params = net.init(key, jnp.zeros((1, obs_dim)), jnp.zeros((1, action_dim)))
        return DensityRatioState(ratio=TrainState.create(apply_fn=net.apply, params=params, tx=optax.adam(self.lr)),
                                 offline_priority=jnp.ones((offline_size,), jnp.float32),
                                 max_priority=jnp.asarray(self.initial_priority(offline_size), jnp.float32))

    def initial_priority(self, offline_size: int) -> float:
        """Offline rows start at priority 1, so N new rows at p are a share N p / (M + N p) = f."""
        f = self.online_fraction
        return offline_size * f / ((1.0 - f) * self.online_rows)

    def on_insert(self, transition: dict[str, jax.Array], state: DensityRatioState) -> dict[str, jax.Array]:
        return {**transition, "priority": state.max_priority}

    def weights(self, params: Any, state: DensityRatioState, batch: Batch) -> jnp.ndarray:
        return jax.nn.relu(state.ratio.apply_fn(params, batch["observations"], batch["actions"]))

    def step(self, key: jax.Array, online: ReplayBuffer, offline: ReplayBuffer | None, batch_size: int,
             num: int, state: DensityRatioState) -> tuple[Batch, ReplayBuffer, DensityRatioState, dict]:
        if offline is None:
            raise ValueError("density-ratio mixing needs the offline data (pass a dataset)")
        key_off, key_on, key_draw = jax.random.split(key, 3)
        off = offline.gather(offline.sample_indices(key_off, (self.ratio_batch_size,)))
        on = online.gather(online.sample_indices(key_on, (self.ratio_batch_size,)))

        def loss_fn(params: Any) -> jnp.ndarray:
            return density_ratio_loss(self.weights(params, state, off), self.weights(params, state, on))

        loss, grads = jax.value_and_grad(loss_fn)(state.ratio.params)
        ratio = state.ratio.apply_gradients(grads=grads)

        n_off = state.offline_priority.shape[0]
        online_priority = jnp.where(jnp.arange(online.capacity) < online.size, online.data["priority"], 0.0)
        idx = sample_proportional(key_draw, jnp.concatenate([state.offline_priority, online_priority]),
                                  (num, batch_size))
        batch = gather_union(offline, online, idx)
        batch.pop("priority", None)

        w_off = self.weights(ratio.params, state, off)
        new = ratio_priorities(self.weights(ratio.params, state, batch), w_off, self.temperature)
        from_off = idx < n_off
        offline_priority = state.offline_priority.at[jnp.where(from_off, idx, n_off)].set(new, mode="drop")
        column = online.data["priority"].at[jnp.where(from_off, online.capacity, idx - n_off)].set(new, mode="drop")
        online = online.replace(data={**online.data, "priority": column})
        state = state.replace(ratio=ratio, offline_priority=offline_priority,
                              max_priority=jnp.maximum(state.max_priority, new.max()))
        info = {"mix/ratio_loss": loss, "mix/ratio_online_share": 1.0 - from_off.mean(),
                "mix/ratio_w_online": self.weights(ratio.params, state, on).mean(),
                "mix/ratio_w_offline": w_off.mean()}
        return batch, online, state, info

    def sample(self, key: jax.Array, online: ReplayBuffer, offline: ReplayBuffer | None,
               batch_size: int, num: int) -> Batch:
        raise TypeError("density-ratio mixing is stateful: call step(..., state)")


def online_episode_ends(ends: jnp.ndarray, size: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """For an online buffer filled in order (never wrapped) with an `episode_end` column: each row's
    episode's last row, and how many leading rows belong to finished episodes (the unfinished episode's
    rows are not sampled: an episode enters the relabelling pool when it ends)."""
    rows = jnp.arange(ends.shape[0])
    marked = jnp.where((ends > 0) & (rows < size), rows, ends.shape[0])
    last = jax.lax.cummin(marked, reverse=True)
    finished = jnp.max(jnp.where(marked < ends.shape[0], marked + 1, 0))
    return jnp.minimum(last, ends.shape[0] - 1), finished


@dataclass(frozen=True)
class GoalRelabel(Mixer):
    """Goal-conditioned minibatches (MSCP, HIQL): one online and one offline minibatch of equal size per
    update, each relabelled within its own trajectories by `data.relabel.relabel_indices`.

    The offline side holds states and episode ends only (no actions or rewards are read); the online
    buffer holds env observations [state, desired_goal] and an `episode_end` column, and only finished
    episodes are sampled. Goals are the first `goal_dim` state entries."""

    state_dim: int = 0
    goal_dim: int = 0
    discount: float = 0.99
    p_cur: float = 0.2
    p_traj: float = 0.5
    p_rand_high: float = 0.3
    subgoal_steps: int = 25
    name: str = "goal-relabel"

    @classmethod
    def from_config(cls, train: Any, agent: Any) -> GoalRelabel:
        """The relabelling the agent declares (`agent.relabelling`: state_dim, goal_dim, discount, p_cur, p_traj,
        p_rand_high, subgoal_steps)."""
        options = getattr(agent, "relabelling", None)
        if options is None:
            raise ConfigError(f"train.mixing=goal-relabel needs a goal-conditioned agent; {type(agent).__name__} "
                              "declares no relabelling")
        return cls(**options)

    @classmethod
    def check_config(cls, train: Any, agent_config: Any) -> None:
        if not getattr(agent_config, "goal_conditioned", False):
            raise ConfigError("train.mixing=goal-relabel needs a goal-conditioned agent (recipes mscp, hiql); "
                              f"this one is configured by {type(agent_config).__name__}")

    def fields(self) -> dict[str, Any]:
        return {"episode_end": np.float32(0.0)}

    def can_train(self, finished_episodes: int) -> bool:
        return finished_episodes > 0

    def host_columns(self, done: bool) -> dict[str, np.ndarray]:
        return {"episode_end": np.float32(done)}  # only finished episodes are sampled

    def offline_rows(self, dataset: Any, transitions: Any) -> dict[str, np.ndarray]:
        return self.offline_arrays(dataset.observations, dataset.next_observations, dataset.episode_ends)

    def offline_dims(self, obs_dim: int, action_dim: int) -> dict[str, tuple[int, str]]:
        return {"observations": (self.state_dim, f"state size (its observation without the {self.goal_dim}-entry "
                                                 "goal)")}

    def offline_arrays(self, observations: np.ndarray, next_observations: np.ndarray,
                       episode_ends: np.ndarray) -> dict[str, np.ndarray]:
        from hybridrl.data.relabel import episode_last_index

        return {"observations": np.asarray(observations, np.float32),
                "next_observations": np.asarray(next_observations, np.float32),
                "last_index": episode_last_index(np.asarray(episode_ends, bool)).astype(np.int32)}

    def relabelled(self, key: jax.Array, states: jnp.ndarray, next_states: jnp.ndarray, last_index: jnp.ndarray,
                   num_rows: jnp.ndarray, shape: tuple[int, ...]) -> Batch:
        """Rows drawn uniformly from [0, num_rows) and relabelled: the agent's goal-conditioned batch."""
        from hybridrl.data.relabel import relabel_indices

        key_idx, key_goals = jax.random.split(key)
        idx = jax.random.randint(key_idx, shape, 0, jnp.maximum(num_rows, 1))
        r = relabel_indices(key_goals, idx, last_index[idx], jnp.maximum(num_rows, 1), discount=self.discount,
                            p_cur=self.p_cur, p_traj=self.p_traj, p_rand_high=self.p_rand_high,
                            subgoal_steps=self.subgoal_steps)
        sd, gd = self.state_dim, self.goal_dim  # rows are gathered first, then cut (online rows hold the goal too)
        return {"observations": states[idx][..., :sd], "next_observations": next_states[idx][..., :sd],
                "rewards": r["rewards"], "masks": r["masks"], "value_goals": states[r["value_goal"]][..., :gd],
                "high_goals": states[r["high_goal"]][..., :gd], "slow_targets": states[r["slow_target"]][..., :sd],
                "fast_targets": states[r["fast_target"]][..., :sd], "low_goals": states[r["low_goal"]][..., :gd],
                "rows": idx}

    def offline_batches(self, key: jax.Array, offline: ReplayBuffer, batch_size: int, num: int) -> Batch:
        d = offline.data
        batch = self.relabelled(key, d["observations"], d["next_observations"], d["last_index"], offline.size,
                                (num, batch_size))
        batch.pop("rows")
        return {"offline": batch}

    def step(self, key: jax.Array, online: ReplayBuffer, offline: ReplayBuffer | None, batch_size: int,
             num: int, state: Any) -> tuple[Batch, ReplayBuffer, Any, dict[str, jax.Array]]:
        if offline is None:
            raise ValueError("goal-relabel mixing needs the offline data (pass a dataset)")
        key_on, key_off = jax.random.split(key)
        d = online.data
        last, finished = online_episode_ends(d["episode_end"], online.size)
        on = self.relabelled(key_on, d["observations"], d["next_observations"], last, finished, (num, batch_size))
        on["actions"] = d["actions"][on.pop("rows")]
        batches = {"online": on, **self.offline_batches(key_off, offline, batch_size, num)}
        return batches, online, state, {"mix/online_finished_rows": finished.astype(jnp.float32)}


MIXERS = {"symmetric": Symmetric, "append": Append, "online-only": OnlineOnly, "density-ratio": DensityRatio,
          "goal-relabel": GoalRelabel}


def build_mixer(train: Any, agent: Any) -> Mixer:
    """The strategy `train.mixing` names, built from the run's config and the agent's declarations."""
    return MIXERS[train.mixing].from_config(train, agent)


def make_mixer(name: str, offline_ratio: float = 0.5, **options: Any) -> Mixer:
    """The named strategy; `symmetric` reads `offline_ratio`, `density-ratio` its `options`
    (temperature, hidden_dims, lr, online_fraction)."""
    if name not in MIXERS:
        raise ValueError(f"unknown mixing strategy {name!r}; valid: {', '.join(sorted(MIXERS))}")
    if name == "symmetric":
        return Symmetric(offline_ratio=offline_ratio)
    if name in ("density-ratio", "goal-relabel"):
        return MIXERS[name](**options)
    return MIXERS[name]()
