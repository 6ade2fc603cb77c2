"""The agent contract (issue 21): the training loop knows no algorithm, and what agents and mixers declare is
what the loop does."""
import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

import hybridrl
from hybridrl.agents import AGENTS
from hybridrl.agents.base import RewardTransform
from hybridrl.data.preparation import PREPARATIONS
from hybridrl.errors import ConfigError
from hybridrl.recipes import RECIPES, resolve
from hybridrl.replay import MIXERS

TRAINING = Path(hybridrl.__file__).parent / "training"


def _code_words(path: Path) -> tuple[set[str], set[str]]:
    """A module's identifiers and attribute names, and its string constants (docstrings and comments left
    out; words inside messages are prose, not switches)."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body and \
                isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            docstrings.add(id(node.body[0].value))
    names, strings = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.ImportFrom) and node.module:  # `from hybridrl.data.<method> import ...`
            names.update(node.module.split("."))
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            strings.add(node.value)
    return names, strings


def _specific_fields() -> set[str]:
    """The agent-config fields that not every agent config has (an algorithm's own settings)."""
    fields = [{f.name for f in dataclasses.fields(cls.config_class)} for cls in AGENTS.values()]
    generic = {"init", "layer_norm"}  # also a logger's and a network's words
    return set.union(*fields) - set.intersection(*fields) - generic


@pytest.mark.parametrize("module", sorted(p.name for p in TRAINING.glob("*.py")))
def test_training_code_names_no_algorithm(module):
    names, strings = _code_words(TRAINING / module)
    methods = set(AGENTS) | set(RECIPES) | set(MIXERS) | set(PREPARATIONS)
    found = (names | strings) & _specific_fields() | strings & methods | names & set(PREPARATIONS)
    assert not found, f"training/{module} names algorithm-specific things: {sorted(found)}"


def test_one_registry_each_agent_declares_its_config():
    for name, cls in AGENTS.items():
        assert dataclasses.is_dataclass(cls.config_class), name
        assert cls.config_class.__module__ == cls.__module__, f"{name}: the config lives beside its agent"
    for recipe in RECIPES:
        cfg = resolve(recipe, "hybridrl/PointMaze_Medium_FixedGoal-v3" if recipe in ("mscp", "hiql", "idm-label")
                      else "hybridrl/PointReach-v0", dataset="x.npz")
        assert type(cfg.agent) is AGENTS[RECIPES[recipe].agent].config_class


def test_mixers_declare_what_they_need():
    from hybridrl.config import TrainConfig

    t = TrainConfig()
    assert not MIXERS["online-only"].needs_offline(t) and not MIXERS["online-only"].keeps_offline_online
    assert MIXERS["symmetric"].needs_offline(t) and not MIXERS["symmetric"].needs_offline(
        dataclasses.replace(t, offline_ratio=0.0))
    assert MIXERS["density-ratio"].requires_offline(t) and not MIXERS["append"].requires_offline(t)
    with pytest.raises(ConfigError, match="goal-conditioned agent"):
        resolve("rlpd", "hybridrl/PointReach-v0", {"train.mixing": "goal-relabel"}, dataset="x.npz")


def test_cal_ql_declares_its_returns_column_and_fills_it_at_episode_end():
    import jax

    cfg = resolve("cal-ql", "hybridrl/PointReach-v0", {"agent.hidden_dims": [8]}, dataset="x.npz")
    agent = AGENTS["cql"].create(jax.random.PRNGKey(0), 2, 2, cfg.agent)
    assert agent.episode_columns == ("mc_returns",) and np.isneginf(agent.column_defaults()["mc_returns"])
    filled = agent.fill_episode_columns({"rewards": np.array([0.0, 0.0, 1.0], np.float32),
                                         "actions": np.zeros((3, 2), np.float32)}, RewardTransform())
    g = cfg.agent.discount
    np.testing.assert_allclose(filled["mc_returns"], [g * g, g, 1.0], rtol=1e-6)
    plain = AGENTS["cql"].create(jax.random.PRNGKey(0), 2, 2, resolve("cql", "hybridrl/PointReach-v0",
                                                                     {"agent.hidden_dims": [8]},
                                                                     dataset="x.npz").agent)
    assert plain.episode_columns == () and plain.column_defaults() == {}


def test_resuming_a_run_logged_under_the_old_metric_names_keeps_its_rows(tmp_path):
    """A run started before metrics were namespaced, resumed now: its rows stay, under the new names, and the
    file as it was is kept beside it (nothing lost)."""
    import csv

    from hybridrl.training.logger import MetricsLogger

    old = "step,phase,wall_time,q_mean,eval_return\r\n100,online,1.0,-3.5,\r\n200,online,2.0,-4.0,7.5\r\n300,onl"
    (tmp_path / "metrics.csv").write_text(old, newline="")
    logger = MetricsLogger(tmp_path, ["critic/q_mean"], keep=lambda phase, step: step <= 200, tensorboard=False)
    logger.log({"step": 300, "phase": "online", "wall_time": 3.0, "critic/q_mean": -4.5})
    logger.close()
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["100", "200", "300"]
    assert [r["critic/q_mean"] for r in rows] == ["-3.5", "-4.0", "-4.5"] and rows[1]["eval_return"] == "7.5"
    assert (tmp_path / "metrics.csv.before-resume").read_bytes() == old.encode()


def _imports(path: Path) -> set[str]:
    """The hybridrl modules a file imports, at any depth (lazy imports inside functions included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hybridrl"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("hybridrl"))
    return out


# Each layer imports only the ones below it: nn, agents, replay, data and envs never reach up into training (or the
# analysis and CLI above it), envs never into data (data/maze builds on envs' tasks, not the other way round).
LAYERS = {"nn": ("hybridrl.training", "hybridrl.data", "hybridrl.analysis", "hybridrl.cli", "hybridrl.replay"),
          "agents": ("hybridrl.training", "hybridrl.analysis", "hybridrl.cli", "hybridrl.replay"),
          "replay": ("hybridrl.training", "hybridrl.analysis", "hybridrl.cli"),
          "data": ("hybridrl.training", "hybridrl.analysis", "hybridrl.cli", "hybridrl.replay", "hybridrl.agents"),
          "envs": ("hybridrl.training", "hybridrl.analysis", "hybridrl.cli", "hybridrl.replay", "hybridrl.agents",
                   "hybridrl.data")}


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_import_only_downwards(layer):
    root = Path(hybridrl.__file__).parent / layer
    bad = {f"{path.relative_to(root.parent)} imports {name}" for path in sorted(root.glob("*.py"))
           for name in _imports(path) if name.startswith(LAYERS[layer])}
    assert not bad, sorted(bad)


def test_trainer_is_split_along_its_seams():
    """The loop file holds the phases; jitted programs, the env runner and the run directory are their own."""
    for part in ("steps.py", "env_runner.py", "rundir.py"):
        assert (TRAINING / part).exists()
    assert len((TRAINING / "loop.py").read_text().splitlines()) < 500
