"""`make_env`: a gymnasium env whose actions live in [-1, 1], plus normalised-score references."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

# (random return, expert return) per env family, for 100·(R − R_random)/(R_expert − R_random).
# Locomotion: D4RL's published references (measured on the v2 envs; v5 dynamics are close but not
# identical, so treat these scores as indicative). The built-in suite replaces them with its own.
# The built-in suite's references (random policy, shipped expert policy), measured by
# `python benchmarks/reference_scores.py` (benchmarks/results/reference-scores.md); they apply to the exact
# env ids the suite uses. Other versions of the same family fall back to D4RL's references below.
SUITE_REFERENCE_SCORES: dict[str, tuple[float, float]] = {
    "Hopper-v5": (19.3, 2821.3),
    "HalfCheetah-v5": (-278.8, 9843.0),
    "Walker2d-v5": (1.5, 3308.0),
}
REFERENCE_SCORES: dict[str, tuple[float, float]] = {  # D4RL's random and expert returns
    "Hopper": (-20.272305, 3234.3),
    "HalfCheetah": (-280.178953, 12135.0),
    "Walker2d": (1.629008, 4592.3),
    "Ant": (-325.6, 3879.7),
}

_TOY_ID = "hybridrl/PointReach-v0"


class EnvError(ValueError):
    """An environment id that cannot be made; the message says what is available."""


def _register_toy() -> None:
    if _TOY_ID not in gym.registry:
        gym.register(_TOY_ID, entry_point="hybridrl.envs.toy:PointReach", max_episode_steps=25)


class GoalObservation(gym.ObservationWrapper):
    """[observation, desired_goal] as one flat Box: what goal-conditioned agents and goal datasets use."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        spaces = env.observation_space.spaces
        self.goal_dim = spaces["desired_goal"].shape[0]
        dim = spaces["observation"].shape[0] + self.goal_dim
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)

    def observation(self, obs: dict) -> np.ndarray:
        return np.concatenate([obs["observation"], obs["desired_goal"]]).astype(np.float32)


# The evaluation task of each PointMaze: (start cell, goal cell) at opposite corners, D4RL's maze2d layout.
EVAL_TASKS = {"PointMaze_Medium-v3": ((1, 1), (6, 6)), "PointMaze_Large-v3": ((1, 1), (7, 10))}
GOAL_RADIUS = 0.45  # gymnasium-robotics' maze: success (sparse reward 1, and the end of a non-continuing task)

# PointMaze with one fixed task: EVAL_TASKS' start and goal cells, sparse reward, the episode ends on reaching
# the goal (within GOAL_RADIUS) or at the time limit.
FIXED_GOAL_MAZES = {"hybridrl/PointMaze_Medium_FixedGoal-v3": ("PointMaze_Medium-v3", 600),
                    "hybridrl/PointMaze_Large_FixedGoal-v3": ("PointMaze_Large-v3", 800)}


def fixed_goal_maze(base: str, **kwargs: object) -> gym.Env:
    """`base`'s maze with its reset cell and goal cell fixed (plus gymnasium-robotics' ±0.25 noise)."""
    (r0, c0), (r1, c1) = EVAL_TASKS[base]
    maze_map = [list(row) for row in gym.spec(base).kwargs["maze_map"]]
    maze_map[r0][c0], maze_map[r1][c1] = "r", "g"
    return gym.make(base, maze_map=maze_map, continuing_task=False, **kwargs).unwrapped


def _register_robotics(env_id: str) -> None:
    if env_id not in gym.registry and any(k in env_id for k in ("Maze", "Adroit", "Fetch", "Kitchen")):
        try:
            import gymnasium_robotics
        except ImportError:
            return
        gym.register_envs(gymnasium_robotics)
        for name, (base, steps) in FIXED_GOAL_MAZES.items():
            if name not in gym.registry:
                gym.register(name, entry_point="hybridrl.envs.make:fixed_goal_maze", max_episode_steps=steps,
                             kwargs={"base": base})


def register_envs(env_id: str) -> None:
    """Register what `env_id` needs beyond gymnasium's own envs (the toy, gymnasium-robotics, the fixed-goal
    mazes) so that `gym.make(env_id)` works; a no-op for everything else."""
    _register_toy()
    _register_robotics(env_id)
    _register_ogbench(env_id)


def make_env(env_id: str, **kwargs: object) -> gym.Env:
    """The env with actions rescaled to [-1, 1] (every agent acts there); goal envs get flat observations."""
    register_envs(env_id)
    try:
        env = gym.make(env_id, **kwargs)
    except gym.error.Error as exc:
        known = sorted(k for k in gym.registry if not k.startswith(("ALE/", "phys2d", "tabular")))
        hint = ", ".join(k for k in known if "-v" in k)[:2000]
        raise EnvError(f"cannot make env {env_id!r} ({exc}); registered envs include: {hint}") from None
    from hybridrl.envs import ogbench_env

    env = ogbench_env.wrap(env_id, env)  # OGBench's mazes: seeded resets; goal-conditioned ids in goal-env form
    if not isinstance(env.action_space, gym.spaces.Box):
        raise EnvError(f"env {env_id!r} has action space {env.action_space}; hybridrl needs a continuous Box")
    space = env.observation_space
    if isinstance(space, gym.spaces.Dict) and {"observation", "desired_goal"} <= set(space.spaces):
        env = GoalObservation(env)
    elif not isinstance(space, gym.spaces.Box):
        raise EnvError(f"env {env_id!r} has observation space {space}; expected a flat Box or a goal dict "
                       "with 'observation' and 'desired_goal'")
    low, high = env.action_space.low, env.action_space.high
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        env.close()
        raise EnvError(f"env {env_id!r} has an unbounded action space {env.action_space}; hybridrl maps actions "
                       "from [-1, 1] onto the env's bounds, so they must be finite")
    if not (np.allclose(low, -1.0) and np.allclose(high, 1.0)):
        env = gym.wrappers.RescaleAction(env, -1.0, 1.0)
    return env


def raw_action_bounds(env_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The env's own action bounds (make_env's agents act in [-1, 1]; these are what the env receives)."""
    env = make_env(env_id)
    try:
        inner = env.env if isinstance(env, gym.wrappers.RescaleAction) else env
        return (np.asarray(inner.action_space.low, np.float64).ravel(),
                np.asarray(inner.action_space.high, np.float64).ravel())
    finally:
        env.close()


def fixed_goal(env_id: str) -> tuple[str, np.ndarray] | None:
    """For a fixed-goal maze: the maze its data is recorded on and the goal's centre (x, y); None otherwise."""
    if env_id not in FIXED_GOAL_MAZES:
        return None
    base = FIXED_GOAL_MAZES[env_id][0]
    register_envs(env_id)
    env = gym.make(base)
    try:
        return base, np.asarray(env.unwrapped.maze.cell_rowcol_to_xy(np.array(EVAL_TASKS[base][1])), np.float64)
    finally:
        env.close()


def goal_rewards(env: gym.Env, next_states: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rewards and terminals of reaching `goal`, by the goal env's `compute_reward` / `compute_terminated`
    on the achieved goal (the leading state entries)."""
    from hybridrl.envs.ogbench_env import GoalMaze

    layer: gym.Env = env
    while isinstance(layer, gym.Wrapper) and not isinstance(layer, GoalMaze):
        layer = layer.env
    base = layer if isinstance(layer, GoalMaze) else env.unwrapped  # OGBench's goal test lives on its wrapper
    if not hasattr(base, "compute_reward"):
        raise EnvError(f"{env.spec.id if env.spec else env}: labelling an action-free dataset needs rewards; this env "
                        "is not a goal env with compute_reward, and the dataset has none")
    achieved = next_states[:, :len(goal)].astype(np.float64)
    desired = np.broadcast_to(np.asarray(goal, np.float64), achieved.shape)
    rewards = np.asarray(base.compute_reward(achieved, desired, {}), np.float32).reshape(-1)
    if hasattr(base, "compute_terminated"):
        terminals = np.array([bool(base.compute_terminated(x, goal, {})) for x in achieved])
    else:
        terminals = np.zeros(len(achieved), bool)
    return rewards, terminals


def same_task(data_env: str, env_id: str) -> bool:
    """Whether a dataset recorded on `data_env` fits `env_id`: the same id, a fixed-task variant of the
    same maze (hybridrl/PointMaze_Medium_FixedGoal-v3 on PointMaze_Medium-v3 data), or another task of the same
    OGBench env (cube-single-singletask-task1-v0 on cube-single-v0 or cube-single-singletask-v0 data)."""
    if data_env == env_id or FIXED_GOAL_MAZES.get(env_id, (None,))[0] == data_env:
        return True
    base = ogbench_base(env_id)
    return base is not None and base in (data_env, ogbench_base(data_env))


OGBENCH_PREFIXES = ("cube-", "scene-", "puzzle-", "visual-cube-", "visual-scene-", "visual-puzzle-", "pointmaze-",
                    "antmaze-", "humanoidmaze-", "antsoccer-")  # (D4RL's antmaze ids have no -v0 base: left alone)


def ogbench_base(env_id: str) -> str | None:
    """The OGBench env an OGBench id is a task of (cube-single-singletask-task1-v0 -> cube-single-v0), else None."""
    if not env_id.startswith(OGBENCH_PREFIXES):
        return None
    import re

    m = re.match(r"^(.+?)(?:-singletask(?:-task\d+)?)?-v0$", env_id)
    return f"{m.group(1)}-v0" if m else None


def _register_ogbench(env_id: str) -> None:
    if env_id in gym.registry or ogbench_base(env_id) is None:
        return
    try:
        import ogbench  # noqa: F401 - registers its envs
    except ImportError:
        raise EnvError(f"env {env_id!r} is OGBench's; install the optional extra: pip install 'hybridrl[ogbench]' "
                       "(ogbench 1.2.2)") from None


def env_spaces(env_id: str) -> tuple[int, int]:
    env = make_env(env_id)
    try:
        return int(np.prod(env.observation_space.shape)), int(np.prod(env.action_space.shape))
    finally:
        env.close()


def goal_dim(env_id: str) -> int:
    """Size of a goal env's desired_goal (the tail of make_env's flat observation); 0 for other envs."""
    env = make_env(env_id)
    try:
        return int(env.goal_dim) if isinstance(env, GoalObservation) else 0
    finally:
        env.close()


def reference_scores(env_id: str) -> tuple[float, float] | None:
    """(random, expert) returns for normalised scores: the suite's own for its envs, else D4RL's."""
    if env_id in SUITE_REFERENCE_SCORES:
        return SUITE_REFERENCE_SCORES[env_id]
    family = env_id.split("/")[-1].split("-")[0]
    return REFERENCE_SCORES.get(family)


def normalized_score(env_id: str, returns: float) -> float | None:
    ref = reference_scores(env_id)
    if ref is None:
        return None
    lo, hi = ref
    return 100.0 * (returns - lo) / (hi - lo)
