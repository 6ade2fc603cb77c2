"""The demo path end to end, shrunk: built-in dataset from the shipped policy, both arms, table and PNG."""
from hybridrl import demo
from hybridrl.data import suite


def test_demo_runs_both_arms_and_writes_curves(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HYBRIDRL_DATA", str(tmp_path / "cache"))
    spec = suite.SUITE[demo.DEMO_DATASET]
    monkeypatch.setitem(suite.SUITE, demo.DEMO_DATASET, suite.SuiteSpec(**{**spec.__dict__, "transitions": 1500}))
    monkeypatch.setattr(demo, "LIGHT_PRESET", {**demo.LIGHT_PRESET, "agent.hidden_dims": [32, 32],
                                               "agent.batch_size": 32, "agent.utd": 1, "agent.num_critics": 2,
                                               "train.start_steps": 100,
                                               "train.eval_interval": 150, "train.log_interval": 50,
                                               "train.eval_episodes": 2, "train.progress": False,
                                               "train.tensorboard": False})
    demo.run_demo(tmp_path / "out", online_steps=300)
    out = capsys.readouterr().out
    assert "Light preset" in out and "rlpd (with prior data)" in out and "sac (no prior data)" in out
    png = tmp_path / "out" / "learning_curves.png"
    assert png.exists() and png.stat().st_size > 10_000
    assert suite.is_built(demo.DEMO_DATASET)


def test_builtin_dataset_build_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDRL_DATA", str(tmp_path))
    spec = suite.SUITE[demo.DEMO_DATASET]
    monkeypatch.setitem(suite.SUITE, demo.DEMO_DATASET, suite.SuiteSpec(**{**spec.__dict__, "transitions": 400}))
    first = suite.build(demo.DEMO_DATASET).fingerprint()
    second = suite.build(demo.DEMO_DATASET, force=True).fingerprint()
    assert first == second
    info = suite.built_info(demo.DEMO_DATASET)
    assert info["transitions"] == 400 and info["behaviour_return"] > 0 and info["build_seconds"] >= 0


def test_replay_schedule_switches_behaviour_at_the_shares(tmp_path, monkeypatch):
    """A replay-style dataset: behaviours in order, each for its share of every env stream's steps (here two
    seeded uniform-random behaviours over 2 lock-step envs, so the expected actions are known exactly)."""
    import numpy as np

    monkeypatch.setattr(suite, "ROLLOUT_ENVS", 2)
    spec = suite.SuiteSpec("toy-replay", "hybridrl/PointReach-v0", 10_000, seed=5, kind="replay",
                           schedule=(("random", 1.0), ("random", 3.0)))
    ds = suite.rollout(spec)  # 10k transitions: two streams (one per 5k), 5k steps each
    first = np.random.default_rng(5).uniform(-1.0, 1.0, (1250, 2, 2)).astype(np.float32)  # (step, env, action)
    second = np.random.default_rng(6).uniform(-1.0, 1.0, (3750, 2, 2)).astype(np.float32)
    streams = [np.concatenate([first[:, i], second[:, i]]) for i in range(2)]
    np.testing.assert_array_equal(ds.actions, np.concatenate(streams))
    assert ds.metadata["schedule"] == [["random", 1.0], ["random", 3.0]]


def test_cached_dataset_of_other_behaviour_policies_is_rebuilt(tmp_path, monkeypatch, capsys):
    """Upgrading hybridrl to new shipped policies must not leave a user training on the old cached rollouts."""
    import json

    monkeypatch.setenv("HYBRIDRL_DATA", str(tmp_path))
    name = demo.DEMO_DATASET
    spec = suite.SUITE[name]
    monkeypatch.setitem(suite.SUITE, name, suite.SuiteSpec(**{**spec.__dict__, "transitions": 300}))
    first = suite.build(name).fingerprint()
    assert suite.is_built(name) and not suite.is_stale(name)
    assert suite.build(name).fingerprint() == first and "rebuilding" not in capsys.readouterr().err
    real = suite.policy_path  # the shipped expert's bytes change (here: the medium policy's file is read)
    monkeypatch.setattr(suite, "policy_path", lambda f: real(f.replace("expert", "medium")))
    assert suite.is_stale(name) and not suite.is_built(name)
    assert suite.build(name).fingerprint() != first and "rebuilding" in capsys.readouterr().err
    assert suite.is_built(name)
    info_path = suite.dataset_path(name).with_suffix(".json")  # a cache written before the key existed
    info = json.loads(info_path.read_text())
    info.pop("recipe_key")
    info_path.write_text(json.dumps(info))
    assert suite.is_stale(name)
