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
