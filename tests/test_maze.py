"""PointMaze data: the waypoint controller plans through the maze, reaches goals, and the built-in
maze datasets come in with-actions and action-free variants of the same trajectories."""
import numpy as np
import pytest

from hybridrl.data import suite
from hybridrl.data.maze import WaypointController, rollout_maze
from hybridrl.envs import make_env

MAP = [[1, 1, 1, 1, 1],
       [1, 0, 0, 0, 1],
       [1, 1, 1, 0, 1],
       [1, 0, 0, 0, 1],
       [1, 1, 1, 1, 1]]


def test_bfs_path_goes_around_walls():
    ctrl = WaypointController(MAP, maze=None)
    table = ctrl.next_cell_table((3, 1))
    path, cell = [(1, 1)], (1, 1)
    while cell != (3, 1):
        cell = table[cell]
        path.append(cell)
    assert path == [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3), (3, 2), (3, 1)]
    assert (2, 1) not in table  # walls are never on a path


def test_controller_reaches_many_goals_and_data_is_consistent():
    ds = rollout_maze("PointMaze_Medium-v3", 3000, seed=0)
    assert ds.goals.shape == (3000, 2) and ds.observations.shape == (3000, 4)
    assert ds.rewards.sum() >= 10  # sparse reward 1 per goal reached; goals are redrawn on arrival
    assert not ds.terminals.any() and ds.truncations.sum() == 3  # 1000-step episodes, time limits only
    tr = ds.transitions()
    assert tr["observations"].shape == (3000, 6)  # [observation, goal] like make_env's flat goal obs
    assert make_env("PointMaze_Medium-v3").observation_space.shape == (6,)


@pytest.mark.parametrize("name", ["pointmaze-medium-diverse-small", "pointmaze-medium-diverse-actionfree-small"])
def test_builtin_maze_variants_share_trajectories(tmp_path, monkeypatch, name):
    monkeypatch.setenv("HYBRIDRL_DATA", str(tmp_path))
    for n in (name, "pointmaze-medium-diverse-small"):
        spec = suite.SUITE[n]
        monkeypatch.setitem(suite.SUITE, n, suite.SuiteSpec(**{**spec.__dict__, "transitions": 1200}))
    ds = suite.build(name)
    ref = suite.build("pointmaze-medium-diverse-small")
    np.testing.assert_array_equal(ds.observations, ref.observations)
    if "actionfree" in name:
        assert ds.actions is None and ds.rewards is None and ds.goals is not None
        assert suite.built_info(name)["fields"] == ["observations", "next_observations", "terminals", "truncations",
                                                    "goals"]


def test_limited_coverage_leaves_no_stretch_from_start_region_to_goal_region():
    import gymnasium as gym

    from hybridrl.data.maze import EVAL_TASKS, limit_coverage

    ds = rollout_maze("PointMaze_Medium-v3", 20_000, seed=0)
    lim = limit_coverage(ds, "PointMaze_Medium-v3")
    removed = lim.metadata["limited_coverage"]["removed_rows"]
    assert 0 < removed < len(ds) // 2 and len(lim) == len(ds) - removed
    # walk every remaining contiguous stretch: a start-region visit is never followed by a goal-region visit
    maze = gym.make("PointMaze_Medium-v3").unwrapped.maze
    start, goal = (maze.cell_rowcol_to_xy(np.array(c)) for c in EVAL_TASKS["PointMaze_Medium-v3"])
    seen_start = False
    for xy, end in zip(lim.observations[:, :2], lim.episode_ends, strict=True):
        seen_start |= np.linalg.norm(xy - start) <= 1.0
        assert not (seen_start and np.linalg.norm(xy - goal) <= 1.0)
        seen_start &= not end
    again = limit_coverage(lim, "PointMaze_Medium-v3")
    assert again.metadata["limited_coverage"]["removed_rows"] == 0


def test_mixed_quality_noise_depends_on_state():
    from hybridrl.data.maze import mixed_quality_noise

    noise = mixed_quality_noise(0.1, 2.0)
    assert noise(np.array([-1.0, 0.5])) == 0.1 and noise(np.array([1.0, 0.5])) == 2.0


def test_fixed_goal_task_relabels_rewards_and_ends_as_the_env_defines_them():
    """On the fixed-goal maze, diverse data (goals redrawn on arrival) is read as D4RL reads its maze data for the
    evaluation target: the env's own reward and termination for that goal, and that goal in every row."""
    import gymnasium as gym

    from hybridrl.data.maze import for_task
    from hybridrl.envs.make import fixed_goal

    env_id = "hybridrl/PointMaze_Medium_FixedGoal-v3"
    ds = rollout_maze("PointMaze_Medium-v3", 3000, seed=0)
    base, goal = fixed_goal(env_id)
    # put a stretch of the data through the fixed goal: rows 100..104 end next to it, then move away
    obs, nxt = ds.observations.copy(), ds.next_observations.copy()
    path = np.linspace(goal - 1.0, goal + 1.0, 11)
    nxt[95:106, :2] = path
    obs[96:106, :2] = path[:-1]
    nxt[105, :2] = obs[106, :2] = ds.observations[106, :2]
    ds = type(ds)(observations=obs, next_observations=nxt, terminals=ds.terminals, truncations=ds.truncations,
                  actions=ds.actions, rewards=ds.rewards, goals=ds.goals, metadata=ds.metadata)
    task = for_task(ds, env_id)
    maze_env = gym.make(base).unwrapped  # the goal env that defines the task
    desired = np.broadcast_to(goal, (len(ds), 2))
    expected = maze_env.compute_reward(nxt[:, :2], desired, {})
    np.testing.assert_array_equal(task.rewards, expected.astype(np.float32))
    assert task.rewards[[99, 100, 101]].all() and not task.rewards[[97, 103]].any()
    np.testing.assert_array_equal(task.terminals, expected > 0)  # the fixed-goal env ends its episode there
    np.testing.assert_array_equal(task.goals, np.broadcast_to(goal.astype(np.float32), ds.goals.shape))
    assert task.metadata["task"]["successes"] == int(expected.sum())
    np.testing.assert_array_equal(task.observations, ds.observations)  # states and actions untouched
    # Cal-QL's returns-to-go read the task: the success row returns its own reward, no later goal's
    g = task.returns_to_go(0.99, -5.0, 10.0, -5.0)
    assert g[101] == 5.0 and g[100] == 5.0 and g[98] == np.float32(-5 + 0.99 * 5.0)
    assert for_task(ds, "PointMaze_Medium-v3") is ds  # the multi-goal env keeps the recorded goals
    assert for_task(ds, "hybridrl/PointMaze_Large_FixedGoal-v3") is ds  # another maze's data is not relabelled
