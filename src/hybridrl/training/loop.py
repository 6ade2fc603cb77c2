"""The offline→online training loop. It knows phases, data, evaluation, logging and checkpoints;
it knows nothing of any algorithm's losses (those live in the agent's `update`).

Its parts: the jitted programs each step calls (`steps.py`), the training env behind checks and retries
(`env_runner.py`), the run directory with save, restore, resume and start-from-checkpoint (`rundir.py`, a
mixin holding the trainer's side of it). This file is the phases, read top to bottom.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import jax
import numpy as np

from hybridrl import checkpoint
from hybridrl.agents import make_agent
from hybridrl.agents.base import RewardTransform
from hybridrl.config import ConfigError, RunConfig
from hybridrl.data import DataError, for_task, load_dataset
from hybridrl.data.dataset import ACTION_CLIP, sparsify
from hybridrl.data.preparation import make_preparation
from hybridrl.envs import EnvError, env_spaces, make_env
from hybridrl.nn.policy_file import save_policy
from hybridrl.recipes import RECIPES
from hybridrl.replay import MIXERS, ReplayBuffer, build_mixer
from hybridrl.training.env_runner import TrainingEnv, episode_seed
from hybridrl.training.evaluate import evaluate, make_eval_envs
from hybridrl.training.logger import MetricsLogger, Progress
from hybridrl.training.rundir import (  # noqa: F401 - re-exported
    CKPT_NAME,
    OFFLINE_CKPT_NAME,
    HostState,
    RunDirectory,
    crossed,
    load_run_agent,
    read_run_config,
)
from hybridrl.training.steps import Carry, Steps, _commit, _insert, _offline_chunk, _online_step  # noqa: F401


class DivergenceError(RuntimeError):
    """The learner produced NaN/Inf or a metric past `train.divergence_bound`; the run stopped."""


class Trainer(RunDirectory):
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
        self.window, self.window_discount = agent.replay_window  # h > 1: windows of h steps, acting in chunks
        if self.window > 1 and not self.mixer.samples_windows:
            raise ConfigError(f"recipe {cfg.recipe} learns over windows of {self.window} steps; train.mixing="
                              f"{t.mixing} cannot sample them (use one of "
                              f"{', '.join(n for n, m in MIXERS.items() if m.samples_windows)})")
        self.action_queue: list[np.ndarray] = []  # the rest of the chunk being executed (window > 1)
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
        capacity = max(self.window, min(t.buffer_capacity, t.online_steps))
        buffer = ReplayBuffer.create(self._example_transition(), capacity, self.window, self.window_discount)
        self.carry = _commit(Carry(agent=agent, buffer=buffer, rng=key_run, mix=mix))
        self.host = HostState()
        self.pending_action: np.ndarray | None = None
        self.train_env = TrainingEnv(t.env, self.obs_dim, t.seed, t.env_retries, lambda: self.host,
                                     lambda: make_env(t.env), self._kept_checkpoint)
        self.episode_rewards: list[float] = []  # transformed, for the agent's episode columns
        self.init_from: dict[str, Any] | None = None
        steps = Steps(self.mixer, cfg.agent.batch_size, cfg.agent.utd, t.divergence_bound, t.on_divergence == "skip")
        self._insert_fn, self._step_fn, self._chunk_fn = steps.insert, steps.online, steps.offline
        self._set_rows_fn, self._policy, self._sample_fn = steps.set_rows, steps.policy, steps.sample
        self._eval_envs = None

    def _return_range_scale(self) -> float:
        """1000 / (max − min episode return) of the dataset with train.reward_normalization=return-range, else 1."""
        t = self.cfg.train
        if t.reward_normalization == "none":
            return 1.0
        ds = self.dataset if self.dataset is not None else (load_dataset(t.dataset) if t.dataset else None)
        if ds is not None and ds.rewards is None:  # the data cannot serve this recipe at all: say that first
            labelled = t.label_actions != "none"  # actions come from the labelling step; rewards cannot
            missing = " and ".join(n for n in ("actions", "rewards") if getattr(ds, n) is None
                                   and not (n == "actions" and labelled))
            raise DataError(f"{ds.source}: recipe {self.cfg.recipe!r} trains on {missing}, which the dataset lacks "
                            "(pick a recipe that learns from observations only, or data with rewards)")
        if ds is None:
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

        ends: list[np.ndarray] = []

        def transitions() -> dict[str, np.ndarray]:
            task = for_task(dataset, t.env) if t.data_rewards == "task" else dataset  # e.g. a fixed-goal maze's
            if t.reward_sparsify and task.rewards is not None:
                task = dataclasses.replace(task, rewards=sparsify(task.rewards))
            ends.append(task.episode_ends)
            return {**task.transitions(self.reward_scale, t.reward_bias), **agent.offline_columns(task, self.reward)}

        arrays = self.mixer.offline_rows(dataset, transitions)
        for name, (width, what) in self.mixer.offline_dims(self.obs_dim, self.action_dim).items():
            if name in arrays and arrays[name].shape[1] != width:
                raise ConfigError(f"dataset {t.dataset} has {name} of size {arrays[name].shape[1]}; env {t.env}'s "
                                  f"{what} is {width}")
        if self.window == 1:
            return ReplayBuffer.from_arrays(arrays)
        return ReplayBuffer.from_arrays(arrays, self.window, self.window_discount, ends[-1])

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

    # ---- the run ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        t = self.cfg.train
        self.run_dir.mkdir(parents=True, exist_ok=True)
        checkpoint.remove_stale_temporaries(self.ckpt_path.parent)  # a write killed before its rename
        self._write_config()
        keep = None
        if self.ckpt_path.exists():
            keep = self._keep_row({"offline": self.host.offline_step, "online": self.host.online_step})
        else:
            for line in self.cfg.notices():
                print(f"hybridrl: note: {line}", file=sys.stderr)
        self.logger = MetricsLogger(self.run_dir, self._metric_names(), keep=keep, tensorboard=t.tensorboard,
                                    wandb=t.wandb, wandb_project=t.wandb_project, config=self.cfg.to_dict())
        total = t.offline_steps + t.online_steps
        self.progress = Progress(t.progress, total, self.host.offline_step + self.host.online_step, self.cfg.recipe,
                                 interval=t.progress_interval, offline_steps=t.offline_steps,
                                 warmup_steps=min(t.start_steps, t.online_steps))
        try:
            if self.host.offline_step < t.offline_steps:
                self._offline_phase()
            elif t.offline_steps and not self.host.online_step and self.init_from is None and \
                    not (self.run_dir / OFFLINE_CKPT_NAME).exists():
                # killed between the switch's last checkpoint and the pre-training's own: the restored state is the
                # agent at the switch, which runs fine-tuned from this one (`--from-checkpoint`, sweeps) wait for
                self.save_checkpoint(self.run_dir / OFFLINE_CKPT_NAME)
            if self.host.online_step < t.online_steps:
                self._online_phase()
        finally:
            self.progress.close()
            self.logger.close()
            if self._eval_envs is not None:
                self._eval_envs.close()
        return self.host.last_eval

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
                              envs=self._eval_envs, chunk=self.window)
        except Exception as exc:  # noqa: BLE001 - an evaluation env failure stops the run with where it happened
            self._eval_envs = None
            raise EnvError(f"evaluation env {t.env} failed at offline step {self.host.offline_step}, online step "
                           f"{self.host.online_step}: {type(exc).__name__}: {exc}. {self._kept_checkpoint()}.") \
                from exc
        if t.eval_stochastic:  # the same episodes acted by sampling π, beside its mode (a diagnostic)
            extra = evaluate(sampling(), None, t.env, t.eval_episodes, seed=10_000 + t.seed * 1000,
                             envs=self._eval_envs, chunk=self.window)
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
            self.progress.update(self.host.offline_step, phase="offline")
        self.save_checkpoint(self.run_dir / OFFLINE_CKPT_NAME)

    def _after_steps(self, phase: str, before: int, step: int, target: int, info: dict[str, Any]) -> None:
        """Evaluate, log and checkpoint when the steps (before, step] cross an interval, or at the end."""
        t = self.cfg.train
        final = step == target
        evaluated = crossed(before, step, t.eval_interval) or final
        if crossed(before, step, t.log_interval) or evaluated:
            # steps_per_sec is training throughput: timed before the evaluation, whose time the clock then skips
            now = time.time()
            sps = (step - self._last_step) / max(now - self._last_t, 1e-9)
            if evaluated:
                self._evaluate()
            self._last_t, self._last_step = time.time(), step
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

    def _online_phase(self) -> None:
        t, run_env = self.cfg.train, self.train_env
        run_env.open()
        self.carry = self.carry.replace(agent=self.carry.agent.to_online())
        if not self.mixer.keeps_offline_online:  # e.g. WSRL keeps no offline data after pre-training: free it
            self.offline = None
        offline = self.offline
        if run_env.obs is None:
            run_env.obs = run_env.reset()
            rng, key = jax.random.split(self.carry.rng)
            self.carry = self.carry.replace(rng=rng)
            if t.warmup_policy == "agent" or t.start_steps == 0:  # a pre-trained policy acts from the start
                action = self._sample_fn(self.carry.agent, run_env.obs[None], key)[0]
            else:
                action = jax.random.uniform(key, (self.action_dim,), minval=-1.0, maxval=1.0)
            self._queue_chunk(action)
        else:
            run_env.restore(str(self.ckpt_path))
        self._t0 = self._last_t = time.time()
        self._last_step = self.host.online_step
        info: dict[str, Any] = {}
        h = self.host
        while h.online_step < t.online_steps:
            action = self.pending_action
            next_obs, reward, terminated, truncated = run_env.step(action)
            transition = {"observations": run_env.obs, "actions": np.clip(action, -ACTION_CLIP, ACTION_CLIP),
                          "rewards": np.float32((sparsify(reward) if t.reward_sparsify else reward) * self.reward_scale
                                                + t.reward_bias),
                          "next_observations": next_obs, "masks": np.float32(0.0 if terminated else 1.0)}
            h.episode_return += float(reward)
            h.episode_length += 1
            run_env.episode_actions.append(np.asarray(action, np.float32))
            self.episode_rewards.append(float(transition["rewards"]))
            done = terminated or truncated
            step_in_episode = h.episode_length - 1
            episode_length = h.episode_length
            if done:
                h.last_episode_return = h.episode_return
                h.episode += 1
                h.episode_return, h.episode_length = 0.0, 0
                finished_actions, run_env.episode_actions = run_env.episode_actions, []
                self.action_queue = []  # a new episode starts with a new chunk
                policy_obs = run_env.reset()
            else:
                policy_obs = next_obs
            if self.episode_columns:  # rows wait, unsampled, for their episode's end and its columns
                transition.update(self._finish_episode_columns(finished_actions) if done else self.column_defaults)
            transition.update(self.mixer.host_columns(done))
            warm = h.online_step < t.start_steps
            if not warm and self.preparation is not None and self.offline is None:
                self._prepare_offline()  # once, at the end of the warm-up (again on resume: same rows, same result)
                offline = self.offline
            train, count = self._updates_due(warm, done, episode_length)
            act = "random" if warm and t.warmup_policy == "random" else "agent"
            first_epoch = not warm and h.online_step - t.start_steps < t.first_epoch_steps
            repeats = t.first_epoch_multiplier if train and first_epoch else 1
            if count:  # a block of updates, its size traced: one program whatever the size
                count, repeats = np.int32(count * repeats), 0
            self.carry = self._insert_fn(self.carry, transition, np.bool_(bool(self.episode_columns) and not done),
                                         np.int32(step_in_episode))
            self.carry, action_dev, step_info = self._step_fn(
                self.carry, offline, policy_obs, train=train, act=act if not self.action_queue else "none",
                repeats=repeats, **({"count": count} if repeats == 0 else {}))
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
            run_env.obs = policy_obs
            if self.action_queue:  # the chunk goes on, open-loop
                self.pending_action = self.action_queue.pop(0)
            else:
                self._queue_chunk(action_dev)
            h.online_step += 1
            self._after_steps("online", h.online_step - 1, h.online_step, t.online_steps, info)
            if h.online_step % 100 == 0:
                self.progress.update(t.offline_steps + h.online_step, phase="online")
        run_env.close()

    def _updates_due(self, warm: bool, done: bool, episode_length: int) -> tuple[bool, int]:
        """Whether this env step trains, and the block's size when updates come in blocks (0: not in blocks)."""
        t, h = self.cfg.train, self.host
        if warm or not self.mixer.can_train(h.episode):
            return False, 0
        if t.update_schedule == "episodes":
            return done, episode_length
        if h.episode < 1 and t.first_update_after_episode:
            return False, 0
        if t.update_schedule == "blocks":
            return (h.online_step - t.start_steps + 1) % t.update_every == 0, t.update_every
        return (h.online_step - t.start_steps) % t.update_every == 0, 0

    def _queue_chunk(self, action: Any) -> None:
        """The policy's output as the next action and, for a chunk of several, the rest queued behind it."""
        chunk = np.asarray(action).reshape(-1, self.action_dim)
        self.pending_action, self.action_queue = chunk[0], list(chunk[1:])

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
                      observer=visited.append if agent.reports_on_states else None, chunk=agent.replay_window[0])
    host = meta["host"]
    out = {"env": cfg.train.env, "recipe": cfg.recipe, "online_step": host["online_step"],
           "offline_step": host["offline_step"], "episodes": episodes, **result}
    if agent.reports_on_states:
        out.update(agent.state_report(np.concatenate(visited)))
    return out
