"""The command line: help, and clear errors that list the valid choices."""
import pytest
from conftest import TOY

from hybridrl.cli import COMMANDS, main


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name, purpose in COMMANDS.items():
        assert name in out
        assert purpose.split()[0] in out


@pytest.mark.parametrize("argv,expect", [
    (["--recipe", "nope", "--env", TOY],
     "valid recipes: balanced-replay, cal-ql, cql, famo2o-cql, famo2o-iql, fql, hiql, idm-label, ifql, iql, mscp, "
     "qc, qc-fql, rebrac, rlpd, sac, wsrl"),
    (["--recipe", "sac", "--env", "NoSuchEnv-v9"], "registered envs include"),
    (["--recipe", "sac", "--env", TOY, "--set", "agent.nope=1"], "valid keys: agent.hidden_dims"),
    (["--recipe", "sac", "--env", TOY, "--set", "agent.utd=many"], "agent.utd expects int"),
    (["--recipe", "iql", "--env", TOY, "--set", "agent.num_target_critics=2"], "configured by IQLConfig"),
    (["--from-checkpoint", "no/such/run"], "expected a run directory with checkpoints/offline.npz"),
    (["--recipe", "sac", "--env", TOY, "--online-steps", "-5"], "--online-steps must be >= 0"),
    (["--recipe", "rlpd", "--env", TOY, "--online-steps", "5"], "no dataset"),
    (["--recipe", "rlpd", "--env", TOY, "--dataset", "nope-v0"], "is neither a file, a Minari dataset"),
])
def test_bad_train_input_gives_clear_error(tmp_path, capsys, argv, expect):
    assert main(["train", *argv, "--out", str(tmp_path / "r")]) == 2
    assert expect in capsys.readouterr().err


def test_resume_of_a_non_run_directory_is_clear(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path), "--resume"]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_dry_run_prints_the_resolved_config_and_writes_nothing(tmp_path, capsys, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    argv = ["train", "--recipe", "rebrac", "--dataset", "walker2d-medium", "--set", "agent.batch_size=64", "--dry-run"]
    assert main(argv) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["train"]["env"] == "Walker2d-v5"  # taken from the data
    assert (cfg["agent"]["actor_bc_coef"], cfg["agent"]["critic_bc_coef"]) == (0.05, 0.1)  # the dataset's preset
    assert cfg["agent"]["batch_size"] == 64 and not list(tmp_path.iterdir())
    assert main(["train", "--recipe", "sac", "--env", TOY]) == 2
    assert "--out is required" in capsys.readouterr().err


def test_recipes_command(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert "rlpd" in out and "sac" in out


def test_domain_presets():
    from hybridrl.recipes import domain_of, resolve

    assert domain_of("PointMaze_Large-v3") == "maze"
    assert domain_of("PointMaze_LargeDense-v3") == "locomotion"  # dense reward: no sparse-maze preset
    assert domain_of("AdroitHandPen-binary-v1") == "sparse"
    assert domain_of("Hopper-v5") == "locomotion"
    cfg = resolve("rlpd", "PointMaze_Large-v3", {"train.dataset": "x"})
    assert (cfg.agent.num_target_critics, cfg.agent.backup_entropy, cfg.train.reward_bias) == (1, False, -1.0)
    assert cfg.agent.hidden_dims == (256, 256, 256)


@pytest.mark.parametrize("override,match", [("agent.tau=0", "tau"), ("agent.discount=1.5", "discount"),
                                            ("agent.critic_lr=-1", "critic_lr")])
def test_bad_agent_values_are_refused(override, match):
    from hybridrl.config import ConfigError
    from hybridrl.recipes import resolve

    with pytest.raises(ConfigError, match=match):
        resolve("sac", TOY, [override])
