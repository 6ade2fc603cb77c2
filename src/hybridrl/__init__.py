"""hybridrl: offline data + online interaction, in JAX."""
from __future__ import annotations

__version__ = "0.1.0"

from hybridrl.config import ConfigError, RunConfig  # noqa: E402
from hybridrl.recipes import RECIPES, resolve  # noqa: E402


def train(recipe: str, env: str, out: str, *, dataset: str | None = None, online_steps: int | None = None,
          offline_steps: int | None = None, seed: int | None = None, overrides: list[str] | dict | None = None,
          resume: bool = False, from_checkpoint: str | None = None) -> dict:
    """Run (or resume) one training run into `out`; returns the last evaluation. `from_checkpoint` (a
    pre-training run directory) starts the online phase from that run's agent, skipping pre-training."""
    from hybridrl.training.loop import Trainer

    if from_checkpoint is not None:
        return Trainer.from_pretrained(from_checkpoint, out, overrides, online_steps=online_steps, seed=seed).run()
    if resume:
        return Trainer.resume(out, online_steps=online_steps, offline_steps=offline_steps).run()
    cfg = resolve(recipe, env, overrides, dataset=dataset, online_steps=online_steps,
                  offline_steps=offline_steps, seed=seed)
    return Trainer(cfg, out).run()


def load_dataset(path_or_name: str):  # noqa: ANN201 - re-export
    from hybridrl.data import load_dataset as _load

    return _load(path_or_name)


def make_agent(name: str, key, obs_dim: int, action_dim: int, config):  # noqa: ANN001, ANN201 - re-export
    from hybridrl.agents import make_agent as _make

    return _make(name, key, obs_dim, action_dim, config)


def make_env(env_id: str):  # noqa: ANN201 - re-export
    from hybridrl.envs import make_env as _make

    return _make(env_id)


__all__ = ["RECIPES", "ConfigError", "RunConfig", "__version__", "load_dataset", "make_agent", "make_env", "resolve",
           "train"]
