"""Learning-curve figures from run directories."""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from hybridrl.config import ConfigError


def offline_steps_of(run_dir: Path) -> int:
    try:
        return int(json.loads((run_dir / "config.json").read_text())["config"]["train"]["offline_steps"])
    except (OSError, KeyError, ValueError, TypeError):
        return 0


def read_curve(run_dir: Path, metric: str, phase: str | None = "online") -> tuple[np.ndarray, np.ndarray]:
    """`metric` against online env steps. With `phase=None` the offline phase comes too, drawn before 0:
    offline update u of U sits at u − U, so every method's online curve starts at 0 whatever its pre-training."""
    steps, values = [], []
    offset = offline_steps_of(run_dir) if phase is None else 0
    with open(run_dir / "metrics.csv", newline="") as f:
        for row in csv.DictReader(f):
            if (phase is None or row["phase"] == phase) and row.get(metric) not in (None, "", "nan"):
                steps.append(int(row["step"]) - (offset if row["phase"] == "offline" else 0))
                values.append(float(row[metric]))
    return np.asarray(steps), np.asarray(values)


def run_label(run_dir: Path) -> str:
    try:
        cfg = json.loads((run_dir / "config.json").read_text())["config"]
        return cfg["recipe"]
    except (OSError, KeyError, json.JSONDecodeError):
        return run_dir.name


def plot_runs(runs: list[Path], metric: str, out: Path, labels: list[str] | None = None,
              title: str | None = None) -> None:
    """Curves of `metric` against online env steps, the offline phase (if any) drawn before 0 in offline updates;
    runs with the same label are averaged (band = min..max)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for i, run in enumerate(runs):
        label = labels[i] if labels else run_label(run)
        groups[label].append(read_curve(run, metric, phase=None))
    if not any(len(s) for curves in groups.values() for s, _ in curves):  # an empty figure helps nobody
        with open(runs[0] / "metrics.csv", newline="") as f:
            columns = next(csv.reader(f), [])
        raise ConfigError(f"no run has values of {metric!r} in its metrics.csv; columns of {runs[0]}: "
                          f"{', '.join(c for c in columns if c not in ('step', 'phase'))}")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if any((s < 0).any() for curves in groups.values() for s, _ in curves):
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.text(0, 1.0, " offline → online", transform=ax.get_xaxis_transform(), fontsize=8, va="top", color="grey")
    for label, curves in groups.items():
        n = min(len(s) for s, _ in curves)
        if n == 0:
            continue
        steps = curves[0][0][:n]
        vals = np.stack([v[:n] for _, v in curves])
        ax.plot(steps, vals.mean(0), label=f"{label} (n={len(curves)})")
        if len(curves) > 1:
            ax.fill_between(steps, vals.min(0), vals.max(0), alpha=0.2)
    ax.set_xlabel("online environment steps (offline updates before 0)" if any(
        (s < 0).any() for curves in groups.values() for s, _ in curves) else "online environment steps")
    ax.set_ylabel(metric.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_beta(run_dir: Path, out: Path, seed: int = 777) -> dict:
    """FamO2O's β(s) along one evaluation episode of a run's latest agent; on a maze also over a 2-D slice of
    the state space (the position dims, the rest held at the episode's first state) with the path drawn on it."""
    import jax
    import jax.numpy as jnp
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hybridrl.training.evaluate import evaluate
    from hybridrl.training.loop import load_run_agent

    cfg, agent, _ = load_run_agent(run_dir)
    scalar = agent.state_scalar()
    if scalar is None:
        raise ConfigError(f"{run_dir} is a {cfg.recipe} run; its agent acts with no per-state coefficient such as "
                         "FamO2O's β(s)")
    label, fn, (lo, hi) = scalar
    beta = jax.jit(fn)
    policy = jax.jit(agent.eval_actions)
    states: list[np.ndarray] = []
    result = evaluate(lambda _, obs: policy(obs), None, cfg.train.env, 1, seed, observer=states.append)
    path = np.concatenate(states)
    along = np.asarray(beta(jnp.asarray(path)))
    maze = "maze" in cfg.train.env.lower() and path.shape[1] >= 2
    fig, axes = plt.subplots(1, 2 if maze else 1, figsize=(11 if maze else 6.5, 4), squeeze=False)
    ax = axes[0][0]
    ax.plot(np.arange(len(along)), along)
    ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax.axhline(lo, color="grey", lw=0.5)
    ax.axhline(hi, color="grey", lw=0.5)
    ax.set_xlabel("step of the episode")
    ax.set_ylabel(label)
    ax.set_title(f"{cfg.recipe} on {cfg.train.env}: β along an episode (return {result['eval_return']:.1f})")
    ax.grid(alpha=0.3)
    if maze:
        ax = axes[0][1]
        (x0, y0), (x1, y1) = path[:, :2].min(0) - 1.0, path[:, :2].max(0) + 1.0
        xs, ys = np.meshgrid(np.linspace(x0, x1, 60), np.linspace(y0, y1, 60))
        grid = np.repeat(path[:1], xs.size, axis=0)
        grid[:, 0], grid[:, 1] = xs.ravel(), ys.ravel()
        img = ax.imshow(np.asarray(beta(jnp.asarray(grid))).reshape(xs.shape), origin="lower", extent=(x0, x1, y0, y1),
                        vmin=lo, vmax=hi, cmap="viridis", aspect="auto")
        ax.plot(path[:, 0], path[:, 1], color="white", lw=1.2)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title("β(x, y), other state dims as at the start")
        fig.colorbar(img, ax=ax, label="β")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return {"states": len(along), "beta_mean": float(along.mean()), "beta_std": float(along.std())}


def plot_subgoals(run_dir: Path, out: Path, seed: int = 777, every: int = 10) -> dict:
    """MSCP/HIQL: one evaluation episode of a run's latest agent drawn over the maze layout, with the slow
    planner's subgoal (its mean, as when evaluating) every `every` steps joined to the state proposing it."""
    import jax
    import jax.numpy as jnp
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hybridrl.envs import make_env
    from hybridrl.training.loop import load_run_agent

    cfg, agent, _ = load_run_agent(run_dir)
    propose = agent.subgoal_fn()
    if propose is None:
        raise ConfigError(f"{run_dir} is a {cfg.recipe} run; its agent plans no subgoals (the mscp and hiql recipes "
                         "do)")
    env = make_env(cfg.train.env)
    policy, subgoal = jax.jit(agent.eval_actions), jax.jit(propose)
    obs, _ = env.reset(seed=seed)
    states, goals, success = [obs], [], False
    done = False
    while not done:
        goals.append(np.asarray(subgoal(jnp.asarray(obs[None])))[0])
        obs, _, terminated, truncated, info = env.step(np.asarray(policy(jnp.asarray(obs[None])))[0])
        success = success or bool(info.get("success", False))
        states.append(obs)
        done = terminated or truncated
    states, goals = np.asarray(states), np.asarray(goals)
    fig, ax = plt.subplots(figsize=(7, 5.5))
    maze = getattr(env.unwrapped, "maze", None)
    if maze is not None:  # walls: the maze map's blocked cells
        size = maze.maze_size_scaling
        for r, row in enumerate(maze.maze_map):
            for c, cell in enumerate(row):
                if cell == 1:
                    x, y = maze.cell_rowcol_to_xy(np.array([r, c]))
                    ax.add_patch(plt.Rectangle((x - size / 2, y - size / 2), size, size, color="0.35"))
    ax.plot(states[:, 0], states[:, 1], color="tab:blue", lw=1.2, label="path")
    for i in range(0, len(goals), every):
        ax.plot([states[i, 0], goals[i, 0]], [states[i, 1], goals[i, 1]], color="tab:orange", lw=0.6, alpha=0.7)
    ax.scatter(goals[::every, 0], goals[::every, 1], s=12, color="tab:orange", label=f"subgoal (every {every} steps)",
               zorder=3)
    goal = states[0, agent.state_dim:agent.state_dim + 2]
    ax.scatter(*states[0, :2], marker="s", s=60, color="tab:green", label="start", zorder=4)
    ax.scatter(*goal, marker="*", s=160, color="tab:red", label="goal", zorder=4)
    ax.set_aspect("equal")
    ax.autoscale()
    ax.legend(fontsize=8, loc="best")
    ax.set_title(f"{cfg.recipe} on {cfg.train.env}: {len(goals)} steps, {'success' if success else 'no success'}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    env.close()
    return {"steps": len(goals), "success": success,
            "mean_subgoal_distance": float(np.linalg.norm(goals[:, :2] - states[:-1, :2], axis=1).mean())}
