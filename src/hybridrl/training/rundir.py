"""A run directory: its config.json, its checkpoints (latest, and the agent at the offline→online switch), and
what a checkpoint holds. `RunDirectory` is the trainer's side of it: save, restore, resume, start from another
run's pre-trained agent, and which logged rows a resumed run keeps.

Exact resume: every random draw comes from the carry's key or from seeds derived from (seed, episode index); a
checkpoint holds the carry, the buffer rows, the pending action and the current episode's actions, and the env is
restored by replaying those actions from the episode's reset seed (`env_runner.TrainingEnv.restore`).
"""
from __future__ import annotations

import dataclasses
import json
import platform
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import hybridrl
from hybridrl import checkpoint
from hybridrl.agents import make_agent
from hybridrl.config import ConfigError, RunConfig, parse_overrides
from hybridrl.envs import env_spaces
from hybridrl.envs.make import same_task
from hybridrl.recipes import RECIPES, env_for_dataset, run_config_from_dict
from hybridrl.training.steps import Carry, _commit

CKPT_NAME = "checkpoints/latest.npz"
OFFLINE_CKPT_NAME = "checkpoints/offline.npz"  # the agent at the offline→online switch (--from-checkpoint)



def crossed(before: int, step: int, interval: int) -> bool:
    """Whether a multiple of `interval` lies in (before, step]."""
    return step // interval > before // interval


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


class RunDirectory:
    """The trainer's run-directory half (a mixin of `Trainer`, which holds the state it saves)."""

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
               offline_steps: int | None = None) -> Any:  # a Trainer
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
                        **train_fields: Any) -> Any:  # a Trainer
        """A new run whose online phase starts from another run's agent at its offline→online switch.

        The recipe, env, dataset and agent config come from the pre-training run's config.json (so the
        parameters fit); `overrides` and `train_fields` (online_steps, seed, ...) may change the rest.
        `recipe` may name another recipe of the same agent (hiql fine-tuned from an mscp pre-training):
        its own presets then win over the pre-training run's agent values."""
        from hybridrl.recipes import resolve

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
        presets = r.presets(src.train.env, src.train.dataset) if recipe != src.recipe else {}
        # the fitted shapes come from the source run; fields the agent config derives per run (an lr schedule over
        # the run's own steps) are the fine-tuning run's own
        per_run = getattr(type(src.agent), "per_run_fields", ())
        agent = {f"agent.{k}": v for k, v in dataclasses.asdict(src.agent).items()
                 if f"agent.{k}" not in presets and k not in per_run}
        # the env: --env if given, else the pre-training run's; other data must be of that task unless --env says
        # where to go (two envs of the same sizes would otherwise load the checkpoint without complaint)
        env = train_fields.pop("env", None)
        data = train_fields.get("dataset")
        data_env = env_for_dataset(data) if data else None
        if env is None and data_env is not None and not same_task(data_env, src.train.env):
            raise ConfigError(f"--dataset {data} was recorded on {data_env}, but {checkpoint_path} was pre-trained on "
                              f"{src.train.env}; pass --env {data_env} to fine-tune there (the env's sizes must match)")
        env = env or src.train.env
        fields = {"dataset": src.train.dataset, "offline_steps": src.train.offline_steps, **train_fields}
        user = overrides if isinstance(overrides, dict) else dict(parse_overrides(overrides or []))
        cfg = resolve(recipe, env, {**agent, **user}, **fields)
        trainer = cls(cfg, run_dir)
        trainer.init_from_checkpoint(path)
        return trainer

    def _state_tree(self) -> dict[str, Any]:
        return {"agent": self.carry.agent, "rng": self.carry.rng, "mix": self.carry.mix}

    def save_checkpoint(self, path: Path | None = None) -> None:
        run_env = self.train_env
        tree = {"state": self._state_tree(), "buffer": self.carry.buffer.filled(),
                "pending_action": np.zeros(self.action_dim, np.float32) if self.pending_action is None
                else self.pending_action,
                "obs": np.zeros(self.obs_dim, np.float32) if run_env.obs is None else run_env.obs,
                "episode_actions": np.asarray(run_env.episode_actions, np.float32).reshape(-1, self.action_dim),
                "action_queue": np.asarray(self.action_queue, np.float32).reshape(-1, self.action_dim)}
        meta = {"host": dataclasses.asdict(self.host), "has_env_state": run_env.obs is not None,
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
            self.action_queue = list(np.asarray(extras.get("['action_queue']", np.zeros((0, self.action_dim))),
                                                np.float32))  # the rest of a chunk the run was killed inside
            self.train_env.obs = np.asarray(extras["['obs']"], np.float32)
            self.train_env.episode_actions = list(np.asarray(extras["['episode_actions']"], np.float32))

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

    def _kept_checkpoint(self) -> str:
        if not self.ckpt_path.exists():
            return "no checkpoint had been written yet"
        kept = checkpoint.read_meta(self.ckpt_path)["host"]
        return (f"the last good checkpoint {self.ckpt_path} (offline step {kept['offline_step']}, online step "
                f"{kept['online_step']}) is kept: resume it with --resume")


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


