"""OGBench's manipulation and point-maze datasets, generated here with OGBench's own oracles, and read in OGBench's
layout.

OGBench (Park et al. 2025, seohongpark/ogbench) publishes its datasets as a download; its manipulation data was made
by oracles that ship in the pip package, so the same recipe runs here with no download (`generate`). What follows
OGBench's `data_gen_scripts/generate_manipspace.py` and `commands.sh` (read at v1.2.1):

- env `<base>` in `mode='data_collection'` with `terminate_at_goal=False` and 1001 steps per episode; one episode
  chains sub-tasks: whenever the oracle says it is done, the env draws a new target (`set_new_target`, with the
  family's per-episode stacking probability) and the oracle for that target takes over;
- "play": the open-loop plan oracles with plan noise 0.1 smoothed by a Gaussian of σ 0.5 steps; "noisy": the
  closed-loop Markov oracles (min_norm 0.4) with per-episode action noise ξ ~ U(0, 0.1) scaled [1, 1, 1, 3, 10],
  and a uniformly random action with probability 0.1 (cube, scene) or 0.2 (puzzle);
- scene: an episode whose block leaves the visible table is discarded and collected again;
- the first N episodes are the training file, the next N // 10 the `-val` file; each row stores the state before
  the step, its action, `terminals` (the episode's last row), and `qpos`, `qvel`, `button_states` of that state.

Point-maze navigation data follows `generate_locomaze.py --dataset_type=navigate` (noise 0.5, 1000 + 100 episodes of
1001 steps): the oracle's action is the unit direction to the maze's next waypoint toward the goal, plus Gaussian
noise, clipped; starts anywhere, goals at junction cells, a new goal whenever one is reached.

One deliberate difference: OGBench's script never seeds NumPy's global generator, which its oracles draw from, so
its files cannot be made twice. Here every episode has its own seeds (env reset, oracle, action sampling) derived
from the dataset's seed and the episode's index: the same seed gives the same bytes, whatever `jobs` is.

Reading (`read_ogbench`) follows `ogbench.load_dataset`'s regular layout: the last row of each episode (an action
without a successor) is dropped and the next observation is the following row; each trajectory's end is a
time-limit cut (OGBench's trajectories never stop at a success). Rewards belong to a task: `for_task` labels
them for a singletask env (`cube-single-singletask-task1-v0`, ...) with OGBench's own `relabel_dataset`, from the
`qpos` / `button_states` of each row's state: reward = solved sub-goals − all sub-goals, and a success state is a
terminal (OGBench's mask 0).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybridrl.data.dataset import DataError, Dataset

INSTALL_HINT = "OGBench datasets and envs need the optional extra: pip install 'hybridrl[ogbench]' (ogbench 1.2.2)"

PLAN_NOISE, PLAN_SMOOTHING, MARKOV_MIN_NORM = 0.1, 0.5, 0.4
EPISODE_ROWS = 1001  # env steps per collected episode (1000 transitions once read)
SMALL_EPISODES = 100  # the -small variants: a tenth of the published episode count (and of its -val file)

# OGBench's manipulation datasets: (base env, full-size training episodes); play and noisy for each.
FAMILIES = {"cube-single": ("cube-single-v0", 1000), "cube-double": ("cube-double-v0", 1000),
            "scene": ("scene-v0", 1000), "puzzle-3x3": ("puzzle-3x3-v0", 1000)}
# OGBench's navigation datasets made without an expert policy: the point mazes, whose oracle is the direction to the
# maze's next waypoint (`navigate`: goals redrawn among the maze's junction cells whenever one is reached).
NAVIGATION = {"pointmaze-medium": ("pointmaze-medium-v0", 1000), "pointmaze-large": ("pointmaze-large-v0", 1000)}
NAVIGATION_NOISE = 0.5  # Gaussian action noise (commands.sh: --noise=0.5 for the point mazes)
# Published sizes (OGBench paper, Table of datasets; README): transitions in the training file, after reading.
PUBLISHED_TRANSITIONS = {**{f"{f}-{k}-v0": 1_000_000 for f in FAMILIES for k in ("play", "noisy")},
                         **{f"{f}-navigate-v0": 1_000_000 for f in NAVIGATION}}


@dataclass(frozen=True)
class OGBenchSpec:
    name: str  # the suite's name, e.g. ogbench-cube-single-play-small
    ogbench_name: str  # OGBench's dataset name, e.g. cube-single-play-v0 (the files are <ogbench_name>.npz, -val.npz)
    env: str  # the data-collection env, e.g. cube-single-v0
    kind: str  # "play" (plan oracles), "noisy" (Markov oracles) or "navigate" (the point mazes' waypoint oracle)
    episodes: int  # training episodes; the -val file holds episodes // 10 more
    seed: int

    @property
    def p_random_action(self) -> float:
        return 0.0 if self.kind == "play" else (0.2 if self.env.startswith("puzzle") else 0.1)


def _specs() -> dict[str, OGBenchSpec]:
    specs = {}
    for i, (family, (env, episodes)) in enumerate(FAMILIES.items()):
        for j, kind in enumerate(("play", "noisy")):
            for small in ("", "-small"):
                name = f"ogbench-{family}-{kind}{small}"
                specs[name] = OGBenchSpec(name, f"{family}-{kind}{small}-v0", env, kind,
                                          SMALL_EPISODES if small else episodes, seed=100 + 10 * i + j)
    for i, (family, (env, episodes)) in enumerate(NAVIGATION.items()):
        for small in ("", "-small"):
            name = f"ogbench-{family}-navigate{small}"
            specs[name] = OGBenchSpec(name, f"{family}-navigate{small}-v0", env, "navigate",
                                      SMALL_EPISODES if small else episodes, seed=200 + 10 * i)
    return specs


OGBENCH_SUITE: dict[str, OGBenchSpec] = _specs()


def require_ogbench() -> Any:
    try:
        import ogbench
    except ImportError:
        raise DataError(INSTALL_HINT) from None
    return ogbench


# ---- generation -------------------------------------------------------------------------------------------------
def _oracles(env: Any, family: str, kind: str) -> dict[str, Any]:
    """OGBench's oracle set for a family and data kind, with its script's settings."""
    from ogbench.manipspace.oracles.markov.button_markov import ButtonMarkovOracle
    from ogbench.manipspace.oracles.markov.cube_markov import CubeMarkovOracle
    from ogbench.manipspace.oracles.markov.drawer_markov import DrawerMarkovOracle
    from ogbench.manipspace.oracles.markov.window_markov import WindowMarkovOracle
    from ogbench.manipspace.oracles.plan.button_plan import ButtonPlanOracle
    from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle
    from ogbench.manipspace.oracles.plan.drawer_plan import DrawerPlanOracle
    from ogbench.manipspace.oracles.plan.window_plan import WindowPlanOracle

    plan = {"noise": PLAN_NOISE, "noise_smoothing": PLAN_SMOOTHING}
    markov = {"min_norm": MARKOV_MIN_NORM}
    if family.startswith("cube"):
        return {"cube": CubeMarkovOracle(env=env, **markov) if kind == "noisy" else CubePlanOracle(env=env, **plan)}
    if family == "scene":
        if kind == "noisy":
            return {"cube": CubeMarkovOracle(env=env, max_step=100, **markov),
                    "button": ButtonMarkovOracle(env=env, **markov), "drawer": DrawerMarkovOracle(env=env, **markov),
                    "window": WindowMarkovOracle(env=env, **markov)}
        return {"cube": CubePlanOracle(env=env, **plan), "button": ButtonPlanOracle(env=env, **plan),
                "drawer": DrawerPlanOracle(env=env, **plan), "window": WindowPlanOracle(env=env, **plan)}
    if kind == "noisy":
        return {"button": ButtonMarkovOracle(env=env, gripper_always_closed=True, **markov)}
    return {"button": ButtonPlanOracle(env=env, gripper_always_closed=True, **plan)}


def _stack_probability(env_id: str) -> float:
    """The per-episode chance that a cube target is on another cube (OGBench's script, drawn from NumPy's global
    generator as there)."""
    for word, (low, high) in (("single", (0.0, 0.0)), ("double", (0.0, 0.25)), ("triple", (0.05, 0.35)),
                              ("quadruple", (0.1, 0.5)), ("octuple", (0.0, 0.35))):
        if word in env_id:
            return float(np.random.uniform(low, high)) if high > 0 else 0.0
    return 0.5


def _healthy(env_id: str, qpos: np.ndarray) -> bool:
    """Scene's check: the block stays visible (not past the right edge, and left only inside the drawer)."""
    if "scene" not in env_id:
        return True
    block = qpos[:, 14:17]
    too_right = (block[:, 1] >= 0.29).any()
    too_left = ((block[:, 1] <= -0.3) & ((block[:, 2] < 0.06) | (block[:, 2] > 0.08))).any()
    return not (too_right or too_left)


def _episode_seeds(seed: int, episode: int, attempt: int) -> tuple[int, int, int]:
    """(global NumPy, env reset, action space) seeds of one collection attempt of one episode."""
    a, b, c = np.random.SeedSequence([seed, episode, attempt]).generate_state(3)
    return int(a), int(b), int(c)


def _maze_cells(maze_map: np.ndarray) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(every free cell, the free cells that are not the middle of a straight corridor): OGBench's start and goal
    cells for navigation data."""
    free, goals = [], []
    for i in range(maze_map.shape[0]):
        for j in range(maze_map.shape[1]):
            if maze_map[i, j] != 0:
                continue
            free.append((i, j))
            up_down = maze_map[i - 1, j] == 0 and maze_map[i + 1, j] == 0
            left_right = maze_map[i, j - 1] == 0 and maze_map[i, j + 1] == 0
            walls_lr = maze_map[i, j - 1] == 1 and maze_map[i, j + 1] == 1
            walls_ud = maze_map[i - 1, j] == 1 and maze_map[i + 1, j] == 1
            if not ((up_down and walls_lr) or (left_right and walls_ud)):
                goals.append((i, j))
    return free, goals


def _collect_navigation(spec: OGBenchSpec, env: Any, episode: int, episode_rows: int) -> tuple[dict, dict]:
    """One point-maze episode as OGBench's `generate_locomaze.py --dataset_type=navigate`: start anywhere, a goal at
    a junction cell, the action is the unit direction to the oracle's next waypoint plus N(0, 0.5²) noise, clipped;
    a new goal whenever one is reached."""
    np_seed, env_seed, _ = _episode_seeds(spec.seed, episode, 0)
    np.random.seed(np_seed % (1 << 32))
    maze = env.unwrapped
    free, goals = _maze_cells(maze.maze_map)
    task = {"init_ij": free[np.random.randint(len(free))], "goal_ij": goals[np.random.randint(len(goals))]}
    ob, _ = env.reset(seed=env_seed, options={"task_info": task})
    rows: dict[str, list] = {k: [] for k in ("observations", "actions", "terminals", "qpos", "qvel")}
    done, reached = False, 0
    while not done:
        waypoint, _ = maze.get_oracle_subgoal(maze.get_xy(), maze.cur_goal_xy)
        direction = waypoint - maze.get_xy()
        action = direction / (np.linalg.norm(direction) + 1e-6)
        action = np.clip(action + np.random.normal(0, NAVIGATION_NOISE, action.shape), -1, 1)
        next_ob, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        if info["success"]:
            reached += 1
            maze.set_goal(goals[np.random.randint(len(goals))])
        rows["observations"].append(ob)
        rows["actions"].append(action)
        rows["terminals"].append(done)
        rows["qpos"].append(info["prev_qpos"])
        rows["qvel"].append(info["prev_qvel"])
        ob = next_ob
    return rows, {"subtasks": reached, "subtasks_succeeded": reached, "discarded_episodes": 0}


def collect_episodes(spec_name: str, first: int, count: int, episode_rows: int = EPISODE_ROWS
                     ) -> dict[str, Any]:
    """Episodes first .. first + count − 1 of a dataset, each from its own seeds (so any split over processes gives
    the same rows). NumPy's global generator, which OGBench's oracles use, is restored afterwards."""
    import gymnasium as gym

    require_ogbench()
    spec = OGBENCH_SUITE[spec_name]
    if spec.kind == "navigate":
        return _collect_many_navigation(spec, first, count, episode_rows)
    import ogbench.manipspace  # noqa: F401 - registers the envs

    family = spec.ogbench_name.split(f"-{spec.kind}")[0]
    saved = np.random.get_state()
    env = gym.make(spec.env, terminate_at_goal=False, mode="data_collection", max_episode_steps=episode_rows)
    try:
        oracles = _oracles(env, family, spec.kind)
        has_buttons = hasattr(env.unwrapped, "_cur_button_states")
        out: dict[str, list] = {k: [] for k in ("observations", "actions", "terminals", "qpos", "qvel")}
        if has_buttons:
            out["button_states"] = []
        stats = {"subtasks": 0, "subtasks_succeeded": 0, "discarded_episodes": 0}
        for episode in range(first, first + count):
            for attempt in range(1000):
                np_seed, env_seed, space_seed = _episode_seeds(spec.seed, episode, attempt)
                np.random.seed(np_seed % (1 << 32))
                # OGBench's manipulation envs build a new, unseeded Box on every `action_space` access, so seeding it
                # is a no-op and its `sample()` differs run to run: draw the script's uniform random actions here.
                random_actions = np.random.default_rng(space_seed)
                ob, info = env.reset(seed=env_seed)
                p_stack = _stack_probability(spec.env)
                xi = np.random.uniform(0, PLAN_NOISE) if spec.kind == "noisy" else 0.0
                agent = oracles[info["privileged/target_task"]]
                agent.reset(ob, info)
                rows: dict[str, list] = {k: [] for k in out}
                done, subtasks, succeeded = False, 0, 0
                while not done:
                    if np.random.rand() < spec.p_random_action:
                        action = random_actions.uniform(-1.0, 1.0, size=env.action_space.shape).astype(np.float32)
                    else:
                        action = np.array(agent.select_action(ob, info))
                        if spec.kind == "noisy":
                            action = action + np.random.normal(0, [xi, xi, xi, xi * 3, xi * 10], action.shape)
                    action = np.clip(action, -1, 1)
                    next_ob, _, terminated, truncated, info = env.step(action)
                    done = terminated or truncated
                    if agent.done:
                        subtasks += 1
                        succeeded += int(bool(info.get("success", False)))
                        agent_ob, agent_info = env.unwrapped.set_new_target(p_stack=p_stack)
                        agent = oracles[agent_info["privileged/target_task"]]
                        agent.reset(agent_ob, agent_info)
                    rows["observations"].append(ob)
                    rows["actions"].append(action)
                    rows["terminals"].append(done)
                    rows["qpos"].append(info["prev_qpos"])
                    rows["qvel"].append(info["prev_qvel"])
                    if has_buttons:
                        rows["button_states"].append(info["prev_button_states"])
                    ob = next_ob
                if _healthy(spec.env, np.asarray(rows["qpos"])):
                    break
                stats["discarded_episodes"] += 1
            for k, v in rows.items():
                out[k].extend(v)
            stats["subtasks"] += subtasks
            stats["subtasks_succeeded"] += succeeded
    finally:
        env.close()
        np.random.set_state(saved)
    dtypes = {"terminals": bool, "button_states": np.int64}
    arrays = {k: np.asarray(v, dtype=dtypes.get(k, np.float32)) for k, v in out.items()}
    return {"arrays": arrays, "stats": stats}


def _collect_many_navigation(spec: OGBenchSpec, first: int, count: int, episode_rows: int) -> dict[str, Any]:
    import gymnasium as gym
    import ogbench.locomaze  # noqa: F401 - registers the envs

    saved = np.random.get_state()
    env = gym.make(spec.env, terminate_at_goal=False, max_episode_steps=episode_rows)
    out: dict[str, list] = {k: [] for k in ("observations", "actions", "terminals", "qpos", "qvel")}
    stats = {"subtasks": 0, "subtasks_succeeded": 0, "discarded_episodes": 0}
    try:
        for episode in range(first, first + count):
            rows, st = _collect_navigation(spec, env, episode, episode_rows)
            for k, v in rows.items():
                out[k].extend(v)
            for k, v in st.items():
                stats[k] += v
    finally:
        env.close()
        np.random.set_state(saved)
    arrays = {k: np.asarray(v, dtype=bool if k == "terminals" else np.float32) for k, v in out.items()}
    return {"arrays": arrays, "stats": stats}


def generate(spec_name: str, jobs: int = 1, episodes: int | None = None, episode_rows: int = EPISODE_ROWS
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    """(train arrays, val arrays, statistics) in OGBench's raw layout. `episodes` overrides the spec's count (tests);
    `jobs` processes collect blocks of episodes (spawned: JAX does not survive a fork)."""
    spec = OGBENCH_SUITE[spec_name]
    n_train = spec.episodes if episodes is None else episodes
    total = n_train + n_train // 10
    start = time.time()
    size = max(1, -(-total // (4 * max(jobs, 1))))  # a few blocks per process, for an even load
    blocks = [(b, min(b + size, total)) for b in range(0, total, size)]
    if jobs > 1 and len(blocks) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            parts = list(pool.map(collect_episodes, [spec_name] * len(blocks), [a for a, _ in blocks],
                                  [b - a for a, b in blocks], [episode_rows] * len(blocks)))
    else:
        parts = [collect_episodes(spec_name, a, b - a, episode_rows) for a, b in blocks]
    arrays = {k: np.concatenate([p["arrays"][k] for p in parts]) for k in parts[0]["arrays"]}
    split = n_train * episode_rows
    train = {k: v[:split] for k, v in arrays.items()}
    val = {k: v[split:] for k, v in arrays.items()}
    stats = {k: int(sum(p["stats"][k] for p in parts)) for k in parts[0]["stats"]}
    stats.update(train_episodes=n_train, val_episodes=total - n_train, rows=int(len(arrays["terminals"])),
                 seconds=round(time.time() - start, 1), jobs=jobs)
    return train, val, stats


def save_ogbench(path: str | Path, train: dict[str, np.ndarray], val: dict[str, np.ndarray]) -> tuple[Path, Path]:
    """Write `path` and its `-val.npz` sibling as OGBench does (np.savez_compressed), atomically."""
    from hybridrl.data.dataset import _atomic

    path = Path(path)
    val_path = val_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for p, arrays in ((path, train), (val_path, val)):
        with _atomic(p) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return path, val_path


def val_file(path: str | Path) -> Path:
    return Path(str(path).replace(".npz", "-val.npz"))


# ---- reading ----------------------------------------------------------------------------------------------------
def is_ogbench_layout(arrays: Any) -> bool:
    """OGBench's files: the raw layout (per-row `qpos`), or the compact one read back (`valids`)."""
    keys = set(arrays)
    return {"observations", "actions", "terminals"} <= keys and bool({"qpos", "valids"} & keys)


def read_ogbench(arrays: dict[str, np.ndarray], source: str, env: str | None = None) -> Dataset:
    """An OGBench file as a task-free dataset (no rewards: they belong to a task, see `for_task`)."""
    from hybridrl.data.dataset import _field

    obs = _field(arrays, "observations", source, np.float32, (2,))
    n = len(obs)
    ends = _field(arrays, "terminals", source, bool, (1,))
    actions = _field(arrays, "actions", source, np.float32, (2,))
    if ends.shape != (n,) or len(actions) != n or n < 2:
        raise DataError(f"{source}: OGBench layout needs 'observations', 'actions' and 'terminals' with one entry per "
                        f"row (at least 2); found {obs.shape}, {actions.shape}, {ends.shape}")
    valid = (_field(arrays, "valids", source, bool, (1,)) if "valids" in arrays and "qpos" not in arrays
             else ~ends)
    if valid.shape != (n,):
        raise DataError(f"{source}: field 'valids' has shape {valid.shape}; expected ({n},)")
    valid[-1] = False  # the file's last row has no successor
    rows = np.flatnonzero(valid)
    if len(rows) == 0:
        raise DataError(f"{source}: no transitions (every row is an episode's last)")
    cut = ~valid[rows + 1]  # the next row is an episode's final row: this transition ends the trajectory
    meta = {"layout": "ogbench", "rows_in_file": n, "env": env}
    return Dataset(observations=obs[rows], next_observations=obs[rows + 1], terminals=np.zeros(len(rows), bool),
                   truncations=cut, actions=np.clip(actions[rows], -1.0, 1.0), metadata=meta, source=source)


def load_file(path: str | Path, env: str | None = None, arrays: dict[str, np.ndarray] | None = None) -> Dataset:
    """An OGBench file (already read: `arrays`) as a dataset that remembers its file, for `for_task`."""
    from hybridrl.data.dataset import _read_npz

    path = Path(path)
    ds = read_ogbench(_read_npz(path) if arrays is None else arrays, str(path), env or env_from_name(path.name))
    ds.metadata["ogbench_file"] = str(path)
    return ds


def env_from_name(filename: str) -> str | None:
    """OGBench's data-collection env of a dataset file name (cube-single-play-v0.npz -> cube-single-v0)."""
    m = re.match(r"^(?:visual-)?([a-z0-9]+(?:-[a-z0-9]+)*?)-(play|noisy|navigate|stitch|explore)(?:-small)?-v0"
                 r"(?:-val)?\.npz$", filename)
    return f"{m.group(1)}-v0" if m else None


OGBENCH_DATA_DIR = Path("~/.ogbench/data")  # where ogbench.make_env_and_datasets keeps (and downloads) its files
_TASK_NAME = re.compile(r"^(?P<env>(?:visual-)?[a-z0-9]+(?:-[a-z0-9]+)*?)-(?P<kind>play|noisy|navigate|stitch|explore)"
                        r"(?P<small>-small)?(?P<task>-singletask(?:-task\d+)?)?-v0$")


def split_task_name(name: str) -> tuple[str, str] | None:
    """OGBench's own spelling of a task, the one its README and FQL's `--env_name` use, which names the dataset too:
    cube-single-play-singletask-task2-v0 -> (the registered env cube-single-singletask-task2-v0, the dataset
    cube-single-play-v0); antmaze-large-navigate-v0 -> (antmaze-large-v0, antmaze-large-navigate-v0). None for a
    name without a dataset type (a registered id such as cube-single-singletask-v0)."""
    m = _TASK_NAME.match(name)
    if m is None:
        return None
    return f"{m['env']}{m['task'] or ''}-v0", f"{m['env']}-{m['kind']}{m['small'] or ''}-v0"


def dataset_for_task_name(dataset_name: str) -> str:
    """The data an OGBench task name stands for when no --dataset is given: OGBench's own file where
    `make_env_and_datasets` keeps it (~/.ogbench/data/<name>.npz, e.g. downloaded there), else the suite's entry
    generated here with OGBench's oracles (built on first use)."""
    own = (OGBENCH_DATA_DIR / f"{dataset_name}.npz").expanduser()
    if own.exists():
        return str(own)
    generated = [s.name for s in OGBENCH_SUITE.values() if s.ogbench_name == dataset_name]
    if generated:
        return generated[0]
    made = ", ".join(sorted({s.ogbench_name.replace("-small", "") for s in OGBENCH_SUITE.values()}))
    raise DataError(f"{own}: no such file, and hybridrl cannot generate OGBench's {dataset_name!r} (it generates "
                    f"{made}); download it with "
                    f"ogbench.download_datasets([{dataset_name.replace('-small', '')!r}]) where the host is "
                    "reachable (OGBench publishes no -small cuts), or pass --dataset FILE")


SINGLETASK = re.compile(r"^(?P<base>[a-z0-9-]+?)-singletask(?:-task(?P<task>\d))?-v0$")


def singletask_base(env_id: str) -> str | None:
    """The OGBench env a singletask id is a task of (cube-single-singletask-task1-v0 -> cube-single-v0)."""
    m = SINGLETASK.match(env_id)
    return f"{m.group('base')}-v0" if m else None


def for_task(ds: Dataset, env_id: str) -> Dataset:
    """The OGBench data as `env_id`'s task sees it (rewards and success terminals from OGBench's own relabelling of
    each row's state); data that is not OGBench's, or another family's, comes back unchanged."""
    base = singletask_base(env_id)
    file = ds.metadata.get("ogbench_file")
    if base is None or file is None or "task" in ds.metadata or ds.metadata.get("env") not in (None, base):
        return ds
    import gymnasium as gym

    from hybridrl.data.dataset import _read_npz

    ogbench = require_ogbench()
    raw = _read_npz(Path(file))
    info = {k: raw[k] for k in ("qpos", "qvel", "button_states") if k in raw}
    if "qpos" not in info:
        raise DataError(f"{file}: singletask rewards are computed from each row's 'qpos' (and 'button_states'), "
                        "which this file lacks (OGBench's raw layout has them)")
    ends = np.asarray(raw["terminals"], bool)
    valid = ~ends
    valid[-1] = False
    rows = np.flatnonzero(valid)
    labelled = {k: v[rows] for k, v in info.items()}
    env = gym.make(env_id)
    try:
        ogbench.relabel_utils.relabel_dataset(env_id, env, labelled)
    finally:
        env.close()
    success = labelled["masks"] == 0.0
    arrays = {k: v for k, v in ds.arrays().items() if k not in ("rewards", "terminals")}
    return Dataset(**{**arrays, "truncations": ds.truncations & ~success}, rewards=labelled["rewards"],
                   terminals=success, metadata={**ds.metadata, "task": {"env": env_id,
                                                                         "successes": int(success.sum())}},
                   source=f"{ds.source} ({env_id})")


# ---- the suite --------------------------------------------------------------------------------------------------
def build(spec_name: str, directory: Path, jobs: int = 1, force: bool = False) -> tuple[Dataset, dict[str, Any]]:
    """Generate (once) and read a suite entry; its files are `<directory>/<ogbench_name>.npz` and `-val.npz`."""
    spec = OGBENCH_SUITE[spec_name]
    path = directory / f"{spec.ogbench_name}.npz"
    stats: dict[str, Any] = {}
    if force or not (path.exists() and val_file(path).exists()):
        train, val, stats = generate(spec_name, jobs=jobs)
        save_ogbench(path, train, val)
    ds = load_file(path, spec.env)
    ds.metadata.update(name=spec_name, behaviour=f"ogbench-{spec.kind}", ogbench_name=spec.ogbench_name)
    return ds, stats


__all__ = ["OGBENCH_SUITE", "OGBenchSpec", "for_task", "generate", "is_ogbench_layout", "load_file", "read_ogbench",
           "save_ogbench", "singletask_base"]
