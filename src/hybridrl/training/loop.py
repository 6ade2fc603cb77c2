"""The offline→online training loop. It knows phases, data, evaluation, logging and checkpoints;
it knows nothing of any algorithm's losses (those live in the agent's `update`).

Performance shape:
- online: two jitted calls per env step: one inserts the transition into the device buffer (in place), the
  other samples the mixed minibatches, runs every update of that step and returns the next action (one fused
  call made XLA copy buffer columns every step, so its cost grew with the capacity);
- offline: one jitted call per `offline_chunk` updates (`lax.scan`).
The carry (agent, buffer, RNG key) is donated to each call, so the buffer is updated in place.

Exact resume: every random draw comes from the carry's key or from seeds derived from (seed, episode
index); a checkpoint holds the carry, the buffer rows, the pending action and the current episode's
actions, and the env is restored by replaying those actions from the episode's reset seed.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import platform
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

import hybridrl
from hybridrl.agents import make_agent
from hybridrl.agents.base import RewardTransform
from hybridrl.config import ConfigError, RunConfig
from hybridrl.data import load_dataset
from hybridrl.data.dataset import ACTION_CLIP
from hybridrl.data.idm import make_preparation
from hybridrl.envs import EnvError, env_spaces, make_env
from hybridrl.recipes import RECIPES, run_config_from_dict
from hybridrl.replay import MIXERS, ReplayBuffer, build_mixer
from hybridrl.training import checkpoint
from hybridrl.training.evaluate import evaluate, make_eval_envs
from hybridrl.training.logger import MetricsLogger, Progress
from hybridrl.training.policy import save_policy

CKPT_NAME = "checkpoints/latest.npz"
OFFLINE_CKPT_NAME = "checkpoints/offline.npz"  # the agent at the offline→online switch (--from-checkpoint)


class DivergenceError(RuntimeError):
    """The learner produced NaN/Inf or a metric past `train.divergence_bound`; the run stopped."""


def _guard(new: Any, old: Any, info: dict[str, jax.Array], bound: float, skip: bool
           ) -> tuple[Any, jax.Array, jax.Array]:
    """Inside jit: whether this update diverged (any metric non-finite or past ±bound) and the index
    (in sorted metric order) of the first such metric, -1 if none. With `skip`, a diverged update is
    undone (the state before it is kept). A handful of scalar tests: no measurable cost."""
    names = sorted(info)
    if not names:
        return new, jnp.zeros((), bool), jnp.full((), -1, jnp.int32)
    vals = jnp.stack([jnp.asarray(info[n], jnp.float32) for n in names])
    bad_each = ~jnp.isfinite(vals) | (jnp.abs(vals) > bound)
    bad = bad_each.any()
    which = jnp.where(bad, jnp.argmax(bad_each), -1).astype(jnp.int32)
    if skip:
        new = jax.tree_util.tree_map(lambda n, o: jnp.where(bad, o, n), new, old)
    return new, bad, which


class Carry(flax.struct.PyTreeNode):
    agent: Any
    buffer: ReplayBuffer
    rng: jax.Array
    mix: Any = None  # the data-mixing strategy's own state (density-ratio: network and priorities)


def _insert(carry: Carry, transition: dict[str, jax.Array], hold: jax.Array, *, mixer: Any) -> Carry:
    """Store one transition (its own jitted call, the buffer donated and written in place). With `hold` the row is
    withheld from sampling until its episode ends (returns-to-go need the end). Kept apart from `_online_step`:
    in one program XLA fused the write into the minibatch gathers and then copied whole buffer columns every
    step to keep the old values readable (1M rows ran 4x slower than 4k rows)."""
    return carry.replace(buffer=carry.buffer.insert(mixer.on_insert(transition, carry.mix), hold))


def _online_step(carry: Carry, offline: ReplayBuffer | None, policy_obs: jax.Array, *, mixer: Any, batch_size: int,
                 utd: int, train: bool, act: str = "random", repeats: int = 1, bound: float = 1e8,
                 skip_diverged: bool = False) -> tuple[Carry, jax.Array, dict[str, jax.Array]]:
    """After the step's transition is stored (`_insert`): if training, run all of this env step's updates; pick
    the next action (without updates, `act`: uniform during warm-up, or the agent's policy — WSRL's warm-up with
    the pre-trained policy, or a step between updates when training every few steps). `repeats` whole updates
    (each with its `utd` critic steps) run when training, e.g. in Balanced Replay's first epoch. When training,
    info carries `diverged` / `diverged_metric` (see `_guard`)."""
    buffer = carry.buffer
    rng, key_batch, key_update, key_act = jax.random.split(carry.rng, 4)
    mix = carry.mix
    if train:
        def one_update(c: tuple, keys: jax.Array) -> tuple[tuple, dict]:
            agent, buffer, mix = c
            batches, buffer, new_mix, mix_info = mixer.step(keys[0], buffer, offline, batch_size, utd, mix)
            new_agent, info = agent.update(batches, keys[1])
            info = {**info, **mix_info}
            (new_agent, new_mix), bad, which = _guard((new_agent, new_mix), (agent, mix), info, bound, skip_diverged)
            return (new_agent, buffer, new_mix), {**info, "diverged": bad, "diverged_metric": which}

        if repeats == 1:
            (agent, buffer, mix), info = one_update((carry.agent, buffer, mix), jnp.stack([key_batch, key_update]))
        else:  # Balanced Replay's first online epoch: several whole updates per env step, fused
            keys = jnp.stack([jax.random.split(key_batch, repeats), jax.random.split(key_update, repeats)], axis=1)
            (agent, buffer, mix), infos = jax.lax.scan(one_update, (carry.agent, buffer, mix), keys)
            bad, which = infos.pop("diverged"), infos.pop("diverged_metric")
            info = {**jax.tree_util.tree_map(jnp.mean, infos), "diverged": bad.any(),
                    "diverged_metric": which[jnp.argmax(bad)]}
        action = agent.sample_actions(policy_obs, key_act)
    else:
        agent, info = carry.agent, {}
        if act == "agent":
            action = agent.sample_actions(policy_obs, key_act)
        else:
            action = jax.random.uniform(key_act, buffer.data["actions"].shape[1:], minval=-1.0, maxval=1.0)
    return Carry(agent=agent, buffer=buffer, rng=rng, mix=mix), action, info


def _set_rows(carry: Carry, rows: jax.Array, values: dict[str, jax.Array]) -> Carry:
    """Write each column of `values` at `rows` (rows past the capacity are padding, dropped) and release the
    withheld rows: their episode has ended."""
    data = dict(carry.buffer.data)
    for name, column in values.items():
        data[name] = data[name].at[rows].set(column, mode="drop")
    return carry.replace(buffer=carry.buffer.replace(data=data).release())


def _offline_chunk(carry: Carry, offline: ReplayBuffer, *, mixer: Any, batch_size: int, utd: int, num_updates: int,
                   bound: float = 1e8, skip_diverged: bool = False) -> tuple[Carry, dict[str, jax.Array]]:
    """`num_updates` updates on minibatches drawn from the offline data (uniformly, or relabelled for a
    goal-conditioned agent: the mixer's `offline_batches`), fused with `lax.scan`; returns mean metrics.
    An agent that trains several members on separate minibatches (Balanced Replay's ensemble) asks for
    `batch_multiplier` times the rows."""

    def body(c: Carry, _: None) -> tuple[Carry, dict]:
        rng, key_batch, key_update = jax.random.split(c.rng, 3)
        batches = mixer.offline_batches(key_batch, offline, batch_size * c.agent.batch_multiplier, utd)
        agent, info = c.agent.update(batches, key_update)
        agent, bad, which = _guard(agent, c.agent, info, bound, skip_diverged)
        return c.replace(agent=agent, rng=rng), {**info, "diverged": bad, "diverged_metric": which}

    carry, infos = jax.lax.scan(body, carry, None, length=num_updates)
    bad = infos.pop("diverged")
    which = infos.pop("diverged_metric")
    first = jnp.argmax(bad)  # the chunk's first diverged update (0 if none)
    summary = jax.tree_util.tree_map(jnp.mean, infos)
    return carry, {**summary, "diverged": bad.sum(), "diverged_metric": which[first],
                   "diverged_at": first, "diverged_value": jnp.stack([infos[n][first] for n in sorted(infos)])
                   if infos else jnp.zeros(0)}


def _commit(tree: Any) -> Any:
    """Place every leaf on the default device, committed, so the first jitted call sees the same
    argument placement as every later one (otherwise jit keeps a second cache entry)."""
    return jax.device_put(tree, jax.devices()[0])


def crossed(before: int, step: int, interval: int) -> bool:
    """Whether a multiple of `interval` lies in (before, step]."""
    return step // interval > before // interval


def episode_seed(seed: int, episode: int) -> int:
    """Reset seed of training episode `episode`: a function of the run seed only, so envs can be replayed."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


@dataclasses.dataclass
class HostState:
    """Counters and bookkeeping that live on the host; saved as JSON in every checkpoint."""

    offline_step: int = 0
    online_step: int = 0
    episode: int = 0
    episode_return: float = 0.0
    episode_length: int = 0
    last_episode_return: float | None = None
    last_eval: dict[str, Any] = dataclasses.field(default_factory=dict)
    skipped_updates: int = 0  # updates dropped by the divergence guard (train.on_divergence=skip)
    env_restarts: int = 0  # training envs replaced after a failure (train.env_retries)


class Trainer:
    def __init__(self, cfg: RunConfig, run_dir: str | Path, *, _resuming: bool = False) -> None:
        self.cfg = cfg.validate()
        self.run_dir = Path(run_dir)
        self.ckpt_path = self.run_dir / CKPT_NAME
        if not _resuming and self.ckpt_path.exists():
            raise ConfigError(f"{self.run_dir} already holds a run; pass --resume to continue it or choose "
                              "another --out")
        t = cfg.train
        self.obs_dim, self.action_dim = env_spaces(t.env)
        self.dataset = None
        self.dataset_fingerprint: str | None = None  # checked on resume: same data, same run
        self.offline: ReplayBuffer | None = None
        needs_data = t.offline_steps > 0 or MIXERS[t.mixing].needs_offline(t)
        if t.dataset is not None and needs_data:  # first: bad data fails before any network is built
            self.dataset = self._load_dataset()
            if self.dataset.metadata.get("repairs"):
                print(f"hybridrl: repaired {t.dataset}: {self.dataset.metadata['repairs']}", file=sys.stderr)
            self.dataset_fingerprint = self.dataset.fingerprint()
        self.reward_scale = t.reward_scale * self._return_range_scale()
        self.reward = RewardTransform(self.reward_scale, t.reward_bias, t.sparse_reward)
        agent_name = RECIPES[cfg.recipe].agent
        key_agent, key_run = jax.random.split(jax.random.PRNGKey(t.seed))
        agent = make_agent(agent_name, key_agent, self.obs_dim, self.action_dim, cfg.agent)
        self.episode_columns = agent.episode_columns  # filled when an episode ends; its rows wait until then
        self.column_defaults = agent.column_defaults()
        self.mixer = build_mixer(t, agent)
        self.preparation = make_preparation(t)  # a recipe's step that makes the offline data online (or None)
        self.label_info: dict[str, Any] | None = None
        if self.dataset is not None and self.preparation is None:
            self.offline = self._offline_buffer(self.dataset, agent)
        elif t.offline_steps > 0 and self.dataset is None:
            raise ConfigError(f"train.offline_steps={t.offline_steps} needs a dataset: pass --dataset")
        mix = None
        if self.offline is not None:  # a stateful strategy's state (its own key: other streams unchanged)
            mix = self.mixer.init_state(jax.random.fold_in(key_run, 7), self.obs_dim, self.action_dim,
                                        int(self.offline.size))
        capacity = max(1, min(t.buffer_capacity, t.online_steps))
        buffer = ReplayBuffer.create(self._example_transition(), capacity)
        self.carry = _commit(Carry(agent=agent, buffer=buffer, rng=key_run, mix=mix))
        self.host = HostState()
        self.pending_action: np.ndarray | None = None
        self.obs: np.ndarray | None = None
        self.episode_actions: list[np.ndarray] = []
        self.episode_rewards: list[float] = []  # transformed, for the agent's episode columns
        self.init_from: dict[str, Any] | None = None
        a = cfg.agent
        guard = {"bound": t.divergence_bound, "skip_diverged": t.on_divergence == "skip"}
        self._insert_fn = jax.jit(partial(_insert, mixer=self.mixer), donate_argnums=0)
        self._step_fn = jax.jit(partial(_online_step, mixer=self.mixer, batch_size=a.batch_size, utd=a.utd, **guard),
                                static_argnames=("train", "act", "repeats"), donate_argnums=0)
        # The offline phase takes one critic step per update (UTD 1), as every offline method does.
        self._chunk_fn = jax.jit(partial(_offline_chunk, mixer=self.mixer, batch_size=a.batch_size, utd=1, **guard),
                                 static_argnames=("num_updates",), donate_argnums=0)
        self._set_rows_fn = jax.jit(_set_rows, donate_argnums=0)
        self._policy = jax.jit(lambda agent, obs: agent.eval_actions(obs))
        self._sample_fn = jax.jit(lambda agent, obs, key: agent.sample_actions(obs, key))
        self._eval_envs = None

    def _return_range_scale(self) -> float:
        """1000 / (max − min episode return) of the dataset with train.reward_normalization=return-range, else 1."""
        t = self.cfg.train
        if t.reward_normalization == "none":
            return 1.0
        ds = self.dataset if self.dataset is not None else (load_dataset(t.dataset) if t.dataset else None)
        if ds is None or ds.rewards is None:
            raise ConfigError("train.reward_normalization=return-range scales rewards by the dataset's episode "
                              "returns: pass a --dataset with rewards (or set train.reward_normalization=none)")
        returns = ds.episode_returns()
        spread = float(returns.max() - returns.min())
        if not spread > 0:
            raise ConfigError(f"train.reward_normalization=return-range: every episode of {t.dataset} returns "
                              f"{returns.max():.4g}, so there is no range to scale by")
        return 1000.0 / spread

    def _load_dataset(self) -> Any:
        """The dataset with its actions in [-1, 1]: mapped from train.action_bounds, or the bounds the data
        declares, or (a bare file declaring none) the env's own action space, as make_env maps the env's.
        Data declared in other bounds than the env's cannot be acted out there: an error naming both."""
        from hybridrl.envs.make import raw_action_bounds

        t = self.cfg.train
        low, high = raw_action_bounds(t.env)
        ds = load_dataset(t.dataset, drop_invalid=t.drop_invalid, action_bounds=t.action_bounds,
                          default_action_bounds=(low, high))
        bounds = ds.metadata.get("action_bounds")
        if bounds and not (np.allclose(bounds["low"], low) and np.allclose(bounds["high"], high)):
            raise ConfigError(f"dataset {t.dataset} has actions in low {bounds['low']}, high {bounds['high']} "
                              f"(declared by {bounds['declared_by']}); env {t.env} acts in low {low.tolist()}, "
                              f"high {high.tolist()}")
        return ds

    def _offline_buffer(self, dataset: Any, agent: Any) -> ReplayBuffer:
        """The dataset as the offline side of mixing, as the mixer reads it (transitions with the agent's extra
        columns, or the mixer's own view), checked against the env's sizes."""
        t = self.cfg.train

        def transitions() -> dict[str, np.ndarray]:
            return {**dataset.transitions(self.reward_scale, t.reward_bias), **agent.offline_columns(dataset,
                                                                                                  self.reward)}

        arrays = self.mixer.offline_rows(dataset, transitions)
        for name, (width, what) in self.mixer.offline_dims(self.obs_dim, self.action_dim).items():
            if name in arrays and arrays[name].shape[1] != width:
                raise ConfigError(f"dataset {t.dataset} has {name} of size {arrays[name].shape[1]}; env {t.env}'s "
                                  f"{what} is {width}")
        return ReplayBuffer.from_arrays(arrays)

    def _prepare_offline(self) -> None:
        """The recipe's preparation step (inverse-dynamics labelling) at the end of the warm-up: it turns the
        dataset into offline data from the warm-up's rows; its report goes into the run directory."""
        t = self.cfg.train
        env = make_env(t.env)
        try:
            prepared, info = self.preparation.run(self.carry.buffer.filled(), self.dataset, env,
                                                  episode_seed(t.seed, 0))
        finally:
            env.close()
        self.offline = _commit(self._offline_buffer(prepared, self.carry.agent))
        self.label_info = info
        path = self.run_dir / self.preparation.report_file
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(info, indent=2))
        tmp.replace(path)

    # ---- construction -------------------------------------------------------------------------
    def _example_transition(self) -> dict[str, np.ndarray]:
        example = {"observations": np.zeros(self.obs_dim, np.float32),
                   "actions": np.zeros(self.action_dim, np.float32), "rewards": np.float32(0),
                   "next_observations": np.zeros(self.obs_dim, np.float32), "masks": np.float32(0)}
        return {**example, **self.column_defaults, **self.mixer.fields()}

    def init_from_checkpoint(self, path: str | Path) -> None:
        """Start this run's online phase from another run's pre-trained agent (its offline phase is
        skipped): pre-train once, fine-tune many times. Only the agent is taken, not the RNG or buffer."""
        path = Path(path)
        if path.is_dir():
            path = path / OFFLINE_CKPT_NAME
        meta = checkpoint.read_meta(path)
        if RECIPES.get(meta.get("recipe"), RECIPES[self.cfg.recipe]).agent != RECIPES[self.cfg.recipe].agent or \
                meta.get("recipe") not in RECIPES:
            raise checkpoint.CheckpointError(f"{path} was written by recipe {meta.get('recipe')!r}; this run is "
                                             f"{self.cfg.recipe!r} (the agents must match)")
        state, meta, _ = checkpoint.load(path, {"state": self._state_tree()})
        self.carry = _commit(self.carry.replace(agent=state["state"]["agent"]))
        self.host.offline_step = self.cfg.train.offline_steps
        self.init_from = {"path": str(path), "offline_step": meta["host"]["offline_step"],
                          "dataset_fingerprint": meta.get("dataset_fingerprint")}

    @classmethod
    def resume(cls, run_dir: str | Path, *, online_steps: int | None = None,
               offline_steps: int | None = None) -> Trainer:
        """Continue `run_dir` from its latest checkpoint, optionally to larger step counts."""
        run_dir = Path(run_dir)
        cfg_path = run_dir / "config.json"
        if not cfg_path.exists():
            raise ConfigError(f"cannot resume {run_dir}: no config.json there (is it a hybridrl run directory?)")
        cfg = read_run_config(cfg_path)
        changes = {k: v for k, v in (("online_steps", online_steps), ("offline_steps", offline_steps)) if v is not None}
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **changes))
        trainer = cls(cfg, run_dir, _resuming=True)
        if trainer.ckpt_path.exists():
            trainer._restore()
        return trainer

    @classmethod
    def from_pretrained(cls, checkpoint_path: str | Path, run_dir: str | Path,
                        overrides: list[str] | dict[str, Any] | None = None, recipe: str | None = None,
                        **train_fields: Any) -> Trainer:
        """A new run whose online phase starts from another run's agent at its offline→online switch.

        The recipe, env, dataset and agent config come from the pre-training run's config.json (so the
        parameters fit); `overrides` and `train_fields` (online_steps, seed, ...) may change the rest.
        `recipe` may name another recipe of the same agent (hiql fine-tuned from an mscp pre-training):
        its own presets then win over the pre-training run's agent values."""
        from hybridrl.recipes import domain_of, resolve

        path = Path(checkpoint_path)
        if path.is_dir():
            path = path / OFFLINE_CKPT_NAME
        source_cfg = path.parent.parent / "config.json"
        if not path.exists() or not source_cfg.exists():
            raise ConfigError(f"--from-checkpoint {checkpoint_path}: expected a run directory with "
                              f"{OFFLINE_CKPT_NAME} and config.json (found checkpoint: {path.exists()}, "
                              f"config: {source_cfg.exists()})")
        src = read_run_config(source_cfg)
        recipe = recipe or src.recipe
        if recipe not in RECIPES or RECIPES[recipe].agent != RECIPES[src.recipe].agent:
            raise ConfigError(f"--from-checkpoint {checkpoint_path} holds a {src.recipe!r} agent; recipe {recipe!r} "
                              "uses another agent (or is unknown)")
        r = RECIPES[recipe]
        presets = {**r.base, **r.domains.get(domain_of(src.train.env), {})} if recipe != src.recipe else {}
        # the fitted shapes come from the source run; fields the agent config derives per run (an lr schedule over
        # the run's own steps) are the fine-tuning run's own
        per_run = getattr(type(src.agent), "per_run_fields", ())
        agent = {f"agent.{k}": v for k, v in dataclasses.asdict(src.agent).items()
                 if f"agent.{k}" not in presets and k not in per_run}
        fields = {"dataset": src.train.dataset, "offline_steps": src.train.offline_steps, **train_fields}
        user = overrides if isinstance(overrides, dict) else dict(o.split("=", 1) for o in overrides or [])
        cfg = resolve(recipe, src.train.env, {**agent, **user}, **fields)
        trainer = cls(cfg, run_dir)
        trainer.init_from_checkpoint(path)
        return trainer

    def _state_tree(self) -> dict[str, Any]:
        return {"agent": self.carry.agent, "rng": self.carry.rng, "mix": self.carry.mix}

    def save_checkpoint(self, path: Path | None = None) -> None:
        tree = {"state": self._state_tree(), "buffer": self.carry.buffer.filled(),
                "pending_action": np.zeros(self.action_dim, np.float32) if self.pending_action is None
                else self.pending_action, "obs": np.zeros(self.obs_dim, np.float32) if self.obs is None else self.obs,
                "episode_actions": np.asarray(self.episode_actions, np.float32).reshape(-1, self.action_dim)}
        meta = {"host": dataclasses.asdict(self.host), "has_env_state": self.obs is not None,
                "buffer_ptr": int(self.carry.buffer.ptr), "buffer_size": int(self.carry.buffer.size),
                "dataset_fingerprint": self.dataset_fingerprint,
                "recipe": self.cfg.recipe, "version": hybridrl.__version__,
                "episode_rewards": self.episode_rewards}
        checkpoint.save(self.ckpt_path if path is None else path, tree, meta)

    def _restore(self) -> None:
        state, meta, extras = checkpoint.load(self.ckpt_path, {"state": self._state_tree()})
        if meta.get("recipe") != self.cfg.recipe:
            raise checkpoint.CheckpointError(f"{self.ckpt_path} belongs to recipe {meta.get('recipe')!r}, "
                                             f"not {self.cfg.recipe!r}")
        if meta.get("dataset_fingerprint") != self.dataset_fingerprint:
            raise checkpoint.CheckpointError(f"{self.ckpt_path} was trained on different data (fingerprint "
                                             f"{meta.get('dataset_fingerprint')}, now {self.dataset_fingerprint})")
        rows = {k.split("'")[3]: v for k, v in extras.items() if k.startswith("['buffer']")}
        size, ptr = meta["buffer_size"], meta["buffer_ptr"]
        buffer = self.carry.buffer
        if size > buffer.capacity:
            raise checkpoint.CheckpointError(f"{self.ckpt_path} holds {size} transitions but the buffer now fits "
                                             f"{buffer.capacity}; resume with at least as many online steps")
        exact_ptr = ptr if size == buffer.capacity == len(next(iter(rows.values()), [])) else None
        if exact_ptr is not None:  # full ring of the same size: restore rotation exactly
            rows = {k: np.roll(v, ptr, axis=0) for k, v in rows.items()}
        self.carry = _commit(Carry(agent=state["state"]["agent"], buffer=buffer.with_rows(rows, exact_ptr),
                                   rng=state["state"]["rng"], mix=state["state"]["mix"]))
        self.host = HostState(**meta["host"])
        self.episode_rewards = list(meta.get("episode_rewards", []))
        if self.episode_columns:  # the current episode's rows wait for its end, as before the checkpoint
            held = jnp.asarray(len(self.episode_rewards), jnp.int32)
            self.carry = _commit(self.carry.replace(buffer=self.carry.buffer.replace(pending=held)))
        if meta["has_env_state"]:
            self.pending_action = np.asarray(extras["['pending_action']"], np.float32)
            self.obs = np.asarray(extras["['obs']"], np.float32)
            self.episode_actions = list(np.asarray(extras["['episode_actions']"], np.float32))

    # ---- the run ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        t = self.cfg.train
        self.run_dir.mkdir(parents=True, exist_ok=True)
        checkpoint.remove_stale_temporaries(self.ckpt_path.parent)  # a write killed before its rename
        self._write_config()
        keep = None
        if self.ckpt_path.exists():
            keep = self._keep_row({"offline": self.host.offline_step, "online": self.host.online_step})
        self.logger = MetricsLogger(self.run_dir, self._metric_names(), keep=keep, tensorboard=t.tensorboard,
                                    wandb=t.wandb, wandb_project=t.wandb_project, config=self.cfg.to_dict())
        total = t.offline_steps + t.online_steps
        self.progress = Progress(t.progress, total, self.host.offline_step + self.host.online_step, self.cfg.recipe,
                                 interval=t.progress_interval)
        try:
            if self.host.offline_step < t.offline_steps:
                self._offline_phase()
            if self.host.online_step < t.online_steps:
                self._online_phase()
        finally:
            self.progress.close()
            self.logger.close()
            if self._eval_envs is not None:
                self._eval_envs.close()
        return self.host.last_eval

    def _keep_row(self, resume: dict[str, int]) -> Any:
        """On resume keep rows up to the checkpoint, but not an end-of-run row of a phase being extended."""
        t = self.cfg.train
        target = {"offline": t.offline_steps, "online": t.online_steps}

        stride = {"offline": t.offline_chunk, "online": 1}  # steps per loop iteration

        def keep(phase: str, step: int) -> bool:
            if phase not in resume or step > resume[phase]:
                return False
            before = step - stride[phase]
            on_schedule = crossed(before, step, t.log_interval) or crossed(before, step, t.eval_interval)
            return on_schedule or step >= target[phase]

        return keep

    def _write_config(self) -> None:
        dev = jax.devices()[0]
        info = {"config": self.cfg.to_dict(), "hybridrl_version": hybridrl.__version__, "jax_version": jax.__version__,
                "device": f"{dev.platform}:{getattr(dev, 'device_kind', '')}", "python": platform.python_version(),
                "dataset": {"source": self.dataset.source, "transitions": len(self.dataset),
                            "fingerprint": self.dataset_fingerprint} if self.dataset is not None else None,
                "reward_scale_applied": self.reward_scale,
                "initialised_from": self.init_from}
        if (self.run_dir / "config.json").exists():  # a resumed run keeps where it came from
            info["initialised_from"] = json.loads((self.run_dir / "config.json").read_text()).get("initialised_from")
        tmp = self.run_dir / "config.json.tmp"
        tmp.write_text(json.dumps(info, indent=2))
        tmp.replace(self.run_dir / "config.json")

    def _metric_names(self) -> list[str]:
        """Every metric either phase's update reports (an agent may report others online), traced
        (never run) through the same mixer calls the phases make."""
        a, key = self.cfg.agent, jax.random.PRNGKey(0)
        names: list[str] = []
        if self.offline is not None:
            def offline_info(ag: Any, k: jax.Array) -> dict:
                batches = self.mixer.offline_batches(k, self.offline, a.batch_size * ag.batch_multiplier, 1)
                return ag.update(batches, k)[1]
            names += list(jax.eval_shape(offline_info, self.carry.agent, key))
        offline = self.offline
        if offline is None and self.preparation is not None:  # the prepared data's rows look like these
            offline = self.carry.buffer.replace(data={k: v for k, v in self.carry.buffer.data.items()
                                                      if k not in self.mixer.fields()})

        def online_info(c: Carry, k: jax.Array) -> dict:
            batches, _, _, mix_info = self.mixer.step(k, c.buffer, offline, a.batch_size, a.utd, c.mix)
            return {**c.agent.to_online().update(batches, k)[1], **mix_info}
        names += [n for n in jax.eval_shape(online_info, self.carry, key) if n not in names]
        return names + ["skipped_updates"]

    def _evaluate(self) -> dict[str, Any]:
        t = self.cfg.train
        if self._eval_envs is None:
            self._eval_envs = make_eval_envs(t.env, min(t.eval_episodes, 10))
        agent = self.carry.agent
        base = jax.random.PRNGKey(20_000 + t.seed)

        def sampling() -> Any:  # the sampling policy, a key per call (each evaluation draws the same keys)
            calls = iter(range(1 << 30))
            sample = partial(self._sample_fn, agent)
            return lambda _, obs: sample(obs, jax.random.fold_in(base, next(calls)))

        mode = partial(self._policy, agent)
        policy = sampling() if agent.evaluates_by_sampling else (lambda _, obs: mode(obs))
        try:
            result = evaluate(policy, None, t.env, t.eval_episodes, seed=10_000 + t.seed * 1000,
                              envs=self._eval_envs)
        except Exception as exc:  # noqa: BLE001 - an evaluation env failure stops the run with where it happened
            self._eval_envs = None
            raise EnvError(f"evaluation env {t.env} failed at offline step {self.host.offline_step}, online step "
                           f"{self.host.online_step}: {type(exc).__name__}: {exc}. {self._kept_checkpoint()}.") \
                from exc
        if t.eval_stochastic:  # the same episodes acted by sampling π, beside its mode (a diagnostic)
            extra = evaluate(sampling(), None, t.env, t.eval_episodes, seed=10_000 + t.seed * 1000,
                             envs=self._eval_envs)
            result = {**result, "eval_return_stochastic": extra["eval_return"],
                      "normalized_score_stochastic": extra["normalized_score"]}
        self.host.last_eval = result
        exported = self.carry.agent.export_policy() if t.policy_snapshots else None
        if exported is not None:  # agents whose actor acts alone from the state
            step = self.host.offline_step + self.host.online_step
            exported = dict(exported)
            params, hidden = exported.pop("params"), exported.pop("hidden_dims")
            save_policy(self.run_dir / "policies" / f"step_{step}.npz", params, self.obs_dim, self.action_dim, hidden,
                        env=t.env, step=step, eval_return=result["eval_return"], **exported)
        return result

    def _log(self, phase: str, step: int, info: dict[str, Any], evaluated: bool, sps: float) -> None:
        row: dict[str, Any] = {"step": step, "phase": phase, "wall_time": time.time() - self._t0,
                               "steps_per_sec": sps, "episode_return": self.host.last_episode_return,
                               "skipped_updates": self.host.skipped_updates}
        row.update({k: float(v) for k, v in jax.device_get(info).items()})
        if evaluated:
            row.update(self.host.last_eval)
        self.logger.log(row)
        ev = self.host.last_eval
        text = None
        if ev:
            score = ev.get("normalized_score")
            text = f"eval {ev['eval_return']:.1f}" + (f" ({score:.1f} norm)" if score is not None else "")
        self.progress.update(self.host.offline_step + self.host.online_step, sps, text, phase)

    def _offline_phase(self) -> None:
        t = self.cfg.train
        self._t0 = self._last_t = time.time()
        self._last_step = self.host.offline_step
        while self.host.offline_step < t.offline_steps:
            n = min(t.offline_chunk, t.offline_steps - self.host.offline_step)
            self.carry, info = self._chunk_fn(self.carry, self.offline, num_updates=n)
            info = dict(info)
            diverged, which, at, values = (info.pop(k) for k in ("diverged", "diverged_metric", "diverged_at",
                                                                 "diverged_value"))
            if int(diverged):
                self._diverged("offline", self.host.offline_step + int(at) + 1, sorted(info)[int(which)],
                               float(values[int(which)]), int(diverged))
            self.host.offline_step += n
            self._after_steps("offline", self.host.offline_step - n, self.host.offline_step, t.offline_steps, info)
            self.progress.update(self.host.offline_step)
        self.save_checkpoint(self.run_dir / OFFLINE_CKPT_NAME)

    def _after_steps(self, phase: str, before: int, step: int, target: int, info: dict[str, Any]) -> None:
        """Evaluate, log and checkpoint when the steps (before, step] cross an interval, or at the end."""
        t = self.cfg.train
        final = step == target
        evaluated = crossed(before, step, t.eval_interval) or final
        if crossed(before, step, t.log_interval) or evaluated:
            if evaluated:
                self._evaluate()
            now = time.time()
            sps = (step - self._last_step) / max(now - self._last_t, 1e-9)
            self._last_t, self._last_step = now, step
            self._log(phase, step, info, evaluated, sps)
        if crossed(before, step, t.checkpoint_interval) or final:
            self.save_checkpoint()

    def _diverged(self, phase: str, step: int, metric: str, value: float, count: int) -> None:
        """Count dropped updates (skip mode), or stop the run before anything diverged is saved."""
        t = self.cfg.train
        if t.on_divergence == "skip":
            self.host.skipped_updates += count
            return
        raise DivergenceError(f"{phase} update at step {step} diverged: {metric} = {value:.6g} (non-finite or beyond "
                              f"±{t.divergence_bound:g}, train.divergence_bound). The run stopped; "
                              f"{self._kept_checkpoint()} after changing what diverged (e.g. a lower learning rate); "
                              "or set train.on_divergence=skip to drop such updates and count them.")

    def _kept_checkpoint(self) -> str:
        if not self.ckpt_path.exists():
            return "no checkpoint had been written yet"
        kept = checkpoint.read_meta(self.ckpt_path)["host"]
        return (f"the last good checkpoint {self.ckpt_path} (offline step {kept['offline_step']}, online step "
                f"{kept['online_step']}) is kept: resume it with --resume")

    # ---- the training env: every observation and reward is checked before it can reach the buffer ----
    def _checked(self, obs: Any, reward: Any, call: str) -> tuple[np.ndarray, float]:
        try:
            arr = np.asarray(obs, np.float32)
        except (TypeError, ValueError) as exc:
            raise EnvError(f"{call} returned an observation that is not numeric ({exc})") from None
        if arr.shape != (self.obs_dim,):
            raise EnvError(f"{call} returned an observation of shape {arr.shape}; expected ({self.obs_dim},)")
        if not np.isfinite(arr).all():
            raise EnvError(f"{call} returned an observation with NaN/inf at indices "
                           f"{np.flatnonzero(~np.isfinite(arr))[:8].tolist()}")
        try:
            rew = float(reward)
        except (TypeError, ValueError) as exc:
            raise EnvError(f"{call} returned a reward that is not a number ({exc})") from None
        if not np.isfinite(rew):
            raise EnvError(f"{call} returned reward {rew}")
        return arr, rew

    def _reset_env(self, env: Any) -> np.ndarray:
        obs, _ = env.reset(seed=episode_seed(self.cfg.train.seed, self.host.episode))
        return self._checked(obs, 0.0, "reset")[0]

    def _replay_episode(self, env: Any) -> np.ndarray:
        """Bring a fresh env to the current mid-episode state by replaying this episode's actions."""
        obs = self._reset_env(env)
        for action in self.episode_actions:
            obs, *_ = env.step(action)
        return np.asarray(obs, np.float32)

    def _restore_env(self, env: Any) -> None:
        if not np.array_equal(self._replay_episode(env), self.obs):
            raise checkpoint.CheckpointError(
                f"{self.ckpt_path}: replaying episode {self.host.episode} did not reproduce the saved "
                f"observation; env {self.cfg.train.env} is not deterministic under a fixed seed, so exact resume "
                "is impossible")

    def _env_call(self, env: Any, call: str, fn: Any) -> tuple[Any, Any]:
        """`fn(env)` with its output checked; on failure retry on a fresh env replayed to the same state
        (`train.env_retries` times), else stop with the step and episode. Returns (env, output)."""
        t, h = self.cfg.train, self.host
        where = f"online step {h.online_step + 1} (episode {h.episode}, its step {h.episode_length + 1})"
        ready = True
        for attempt in range(t.env_retries + 1):
            if ready:
                try:
                    return env, fn(env)
                except Exception as exc:  # noqa: BLE001 - any env failure is reported or retried, never stored
                    failure = exc
            if attempt == t.env_retries:
                break
            print(f"hybridrl: env {t.env} failed at {where}: {type(failure).__name__}: {failure}; retrying on a "
                  f"fresh env ({attempt + 1}/{t.env_retries})", file=sys.stderr)
            with contextlib.suppress(Exception):  # the broken env is discarded either way
                env.close()
            try:
                env = make_env(t.env)
                h.env_restarts += 1
                if call == "step" and not np.array_equal(self._replay_episode(env), self.obs):
                    raise EnvError("a fresh env replaying this episode's actions did not reach the same state "
                                   "(the env is not deterministic under a fixed seed)")
                ready = True
            except Exception as exc:  # noqa: BLE001 - a fresh env failing to catch up is one more failed attempt
                failure, ready = exc, False
        retried = f" after {t.env_retries} retries on fresh envs" if t.env_retries else \
            " (set train.env_retries=N to retry on a fresh env)"
        raise EnvError(f"training env {t.env} failed in {call} at {where}{retried}: {type(failure).__name__}: "
                       f"{failure}. Nothing from this step was stored; {self._kept_checkpoint()}.") from failure

    def _step_env(self, env: Any, action: np.ndarray) -> tuple[Any, np.ndarray, float, bool, bool]:
        def step(e: Any) -> tuple[np.ndarray, float, bool, bool]:
            obs, reward, terminated, truncated, _ = e.step(action)
            obs, reward = self._checked(obs, reward, "step")
            return obs, reward, bool(terminated), bool(truncated)

        env, out = self._env_call(env, "step", step)
        return (env, *out)

    def _online_phase(self) -> None:
        t = self.cfg.train
        env = make_env(t.env)
        self.carry = self.carry.replace(agent=self.carry.agent.to_online())
        if not self.mixer.keeps_offline_online:  # e.g. WSRL keeps no offline data after pre-training: free it
            self.offline = None
        offline = self.offline
        if self.obs is None:
            env, self.obs = self._env_call(env, "reset", self._reset_env)
            rng, key = jax.random.split(self.carry.rng)
            self.carry = self.carry.replace(rng=rng)
            if t.warmup_policy == "agent" or t.start_steps == 0:  # a pre-trained policy acts from the start
                action = self._sample_fn(self.carry.agent, self.obs[None], key)[0]
            else:
                action = jax.random.uniform(key, (self.action_dim,), minval=-1.0, maxval=1.0)
            self.pending_action = np.asarray(action)
        else:
            self._restore_env(env)
        self._t0 = self._last_t = time.time()
        self._last_step = self.host.online_step
        info: dict[str, Any] = {}
        h = self.host
        while h.online_step < t.online_steps:
            action = self.pending_action
            env, next_obs, reward, terminated, truncated = self._step_env(env, action)
            transition = {"observations": self.obs, "actions": np.clip(action, -ACTION_CLIP, ACTION_CLIP),
                          "rewards": np.float32(reward * self.reward_scale + t.reward_bias),
                          "next_observations": next_obs, "masks": np.float32(0.0 if terminated else 1.0)}
            h.episode_return += float(reward)
            h.episode_length += 1
            self.episode_actions.append(np.asarray(action, np.float32))
            self.episode_rewards.append(float(transition["rewards"]))
            done = terminated or truncated
            if done:
                h.last_episode_return = h.episode_return
                h.episode += 1
                h.episode_return, h.episode_length = 0.0, 0
                finished_actions, self.episode_actions = self.episode_actions, []
                env, policy_obs = self._env_call(env, "reset", self._reset_env)
            else:
                policy_obs = next_obs
            if self.episode_columns:  # rows wait, unsampled, for their episode's end and its columns
                transition.update(self._finish_episode_columns(finished_actions) if done else self.column_defaults)
            transition.update(self.mixer.host_columns(done))
            warm = h.online_step < t.start_steps
            if not warm and self.preparation is not None and self.offline is None:
                self._prepare_offline()  # once, at the end of the warm-up (again on resume: same rows, same result)
                offline = self.offline
            train = (not warm and (h.online_step - t.start_steps) % t.update_every == 0
                     and self.mixer.can_train(h.episode) and (h.episode >= 1 or not t.first_update_after_episode))
            act = "random" if warm and t.warmup_policy == "random" else "agent"
            first_epoch = not warm and h.online_step - t.start_steps < t.first_epoch_steps
            self.carry = self._insert_fn(self.carry, transition, np.bool_(bool(self.episode_columns) and not done))
            self.carry, action_dev, step_info = self._step_fn(
                self.carry, offline, policy_obs, train=train, act=act,
                repeats=t.first_epoch_multiplier if train and first_epoch else 1)
            if step_info:
                step_info = dict(step_info)
                diverged, which = step_info.pop("diverged"), step_info.pop("diverged_metric")
                if bool(diverged):
                    name = sorted(step_info)[int(which)]
                    self._diverged("online", h.online_step + 1, name, float(step_info[name]), 1)
            if done:
                self.episode_rewards = []
            if step_info:
                info = step_info
            self.obs = policy_obs
            self.pending_action = np.asarray(action_dev)
            h.online_step += 1
            self._after_steps("online", h.online_step - 1, h.online_step, t.online_steps, info)
            if h.online_step % 100 == 0:
                self.progress.update(t.offline_steps + h.online_step)
        env.close()

    def _finish_episode_columns(self, actions: list[np.ndarray]) -> dict[str, np.ndarray]:
        """At an episode's last step, before it is stored: the agent computes its episode columns (Cal-QL's
        returns-to-go) from the episode's rewards; they are written into the episode's rows already in the buffer,
        which are released for sampling. Returns the last step's own values, stored with it."""
        rewards = np.asarray(self.episode_rewards, np.float32)
        episode = {"rewards": rewards, "actions": np.clip(np.asarray(actions, np.float32).reshape(len(rewards), -1),
                                                          -ACTION_CLIP, ACTION_CLIP)}
        columns = self.carry.agent.fill_episode_columns(episode, self.reward)
        capacity = self.carry.buffer.capacity
        n = min(len(rewards) - 1, capacity)  # the rows stored before this step
        rows = (int(self.carry.buffer.ptr) - n + np.arange(n)) % capacity
        padded = 1 << max(n - 1, 0).bit_length()  # a few padded sizes, so only a few compilations
        rows = np.concatenate([rows, np.full(padded - n, capacity)]).astype(np.int32)
        values = {name: np.concatenate([np.asarray(v)[:-1][len(v) - 1 - n:],
                                        np.zeros((padded - n, *np.shape(v)[1:]), np.float32)]).astype(np.float32)
                  for name, v in columns.items()}
        self.carry = self._set_rows_fn(self.carry, rows, values)
        return {name: np.float32(v[-1]) for name, v in columns.items()}


def compile_counts(trainer: Trainer) -> dict[str, int]:
    """How many programs each jitted entry point has compiled (a test asserts no retracing)."""
    return {"online_step": trainer._step_fn._cache_size(), "offline_chunk": trainer._chunk_fn._cache_size(),
            "insert": trainer._insert_fn._cache_size()}


def read_run_config(path: Path) -> RunConfig:
    """A run's config.json (JSON only: nothing in it is executed), or a ConfigError naming the file."""
    try:
        return run_config_from_dict(json.loads(path.read_text())["config"])
    except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ConfigError(f"{path} is unreadable as a hybridrl run config ({type(exc).__name__}: {exc})") from None


def load_run_agent(run_dir: str | Path, checkpoint_name: str = CKPT_NAME) -> tuple[RunConfig, Any, dict[str, Any]]:
    """The config and the agent of a run's latest checkpoint, or of another one such as OFFLINE_CKPT_NAME
    (no dataset or buffer needed)."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise ConfigError(f"{run_dir} is not a hybridrl run directory (no config.json)")
    cfg = read_run_config(cfg_path)
    obs_dim, action_dim = env_spaces(cfg.train.env)
    key = jax.random.PRNGKey(0)
    template = make_agent(RECIPES[cfg.recipe].agent, key, obs_dim, action_dim, cfg.agent)
    tree, meta, _ = checkpoint.load(run_dir / checkpoint_name, {"state": {"agent": template, "rng": key}})
    return cfg, jax.device_put(tree["state"]["agent"]), meta


def evaluate_run(run_dir: str | Path, episodes: int = 10, seed: int = 12345) -> dict[str, Any]:
    """Evaluate a run's latest agent, with the agent's own summary over the states the evaluation visited where
    it has one (FamO2O: the distribution of β(s))."""
    cfg, agent, meta = load_run_agent(run_dir)
    if agent.evaluates_by_sampling:
        sample, calls = jax.jit(agent.sample_actions), iter(range(1 << 30))
        base = jax.random.PRNGKey(seed)

        def act(_: Any, obs: np.ndarray) -> Any:
            return sample(obs, jax.random.fold_in(base, next(calls)))
    else:
        policy = jax.jit(lambda obs: agent.eval_actions(obs))

        def act(_: Any, obs: np.ndarray) -> Any:
            return policy(obs)
    visited: list[np.ndarray] = []
    result = evaluate(act, None, cfg.train.env, episodes, seed,
                      observer=visited.append if agent.reports_on_states else None)
    host = meta["host"]
    out = {"env": cfg.train.env, "recipe": cfg.recipe, "online_step": host["online_step"],
           "offline_step": host["offline_step"], "episodes": episodes, **result}
    if agent.reports_on_states:
        out.update(agent.state_report(np.concatenate(visited)))
    return out
