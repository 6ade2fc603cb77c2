import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import csv  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

TOY = "hybridrl/PointReach-v0"
TINY = {
    "agent.hidden_dims": [32, 32],
    "agent.batch_size": 32,
    "train.start_steps": 100,
    "train.eval_interval": 200,
    "train.log_interval": 100,
    "train.eval_episodes": 4,
    "train.checkpoint_interval": 200,
    "train.progress": False,
    "train.tensorboard": False,
}
VOLATILE = {"wall_time", "steps_per_sec"}


def read_rows(run_dir: Path) -> list[dict]:
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in VOLATILE} for row in csv.DictReader(f)]


def toy_dataset(path: Path, n: int = 2000, seed: int = 0) -> Path:
    """A PointReach dataset from a noisy 'move toward the origin' controller, saved as .npz."""
    from hybridrl.envs import make_env

    env = make_env(TOY)
    rng = np.random.default_rng(seed)
    obs_l, act_l, rew_l, next_l, term_l, trunc_l = [], [], [], [], [], []
    obs, _ = env.reset(seed=seed)
    for _ in range(n):
        action = np.clip(-obs / 0.2 + rng.normal(0, 0.5, obs.shape), -1, 1).astype(np.float32)
        nxt, r, term, trunc, _ = env.step(action)
        obs_l.append(obs), act_l.append(action), rew_l.append(r), next_l.append(nxt)
        term_l.append(term), trunc_l.append(trunc)
        obs = env.reset()[0] if term or trunc else nxt
    trunc_l[-1] = not term_l[-1]
    np.savez(path, observations=np.array(obs_l), actions=np.array(act_l), rewards=np.array(rew_l, np.float32),
             next_observations=np.array(next_l), terminals=np.array(term_l), truncations=np.array(trunc_l))
    return path


@pytest.fixture(scope="session")
def toy_npz(tmp_path_factory) -> Path:
    return toy_dataset(tmp_path_factory.mktemp("data") / "toy.npz")
