"""The training loop end to end on the toy task: learning signal, determinism, exact resume, no retracing."""

import csv

import jax
import numpy as np
import pytest
from conftest import TINY, TOY, read_rows

from hybridrl.recipes import resolve
from hybridrl.training.loop import Trainer, compile_counts, evaluate_run


def _run(tmp_path, name, steps, seed=0, recipe="sac", dataset=None, offline_steps=None, **extra):
    cfg = resolve(recipe, TOY, {**TINY, **extra}, dataset=dataset, online_steps=steps, seed=seed,
                  offline_steps=offline_steps)
    trainer = Trainer(cfg, tmp_path / name)
    result = trainer.run()
    return trainer, result


def test_sac_learns_the_toy_task(tmp_path):
    trainer, result = _run(tmp_path, "learn", 1500, **{"agent.hidden_dims": [64, 64], "agent.batch_size": 128,
                                                       "train.eval_interval": 500, "train.eval_episodes": 10})
    rows = read_rows(tmp_path / "learn")
    evals = [float(r["eval_return"]) for r in rows if r["eval_return"]]
    losses = [float(r["critic/critic_loss"]) for r in rows if r["critic/critic_loss"]]
    # A uniform-random policy scores about -17 on this task; the greedy controller about -2.
    assert result["eval_return"] > -7.0, evals
    assert evals[-1] > evals[0] or evals[0] > -7.0
    assert np.isfinite(losses).all()
    # warm-up + train, no retracing; the insert is one program
    assert compile_counts(trainer) == {"online_step": 2, "offline_chunk": 0, "insert": 1}


def test_same_seed_same_numbers_different_seed_different(tmp_path):
    _run(tmp_path, "a", 250, seed=3)
    _run(tmp_path, "b", 250, seed=3)
    _run(tmp_path, "c", 250, seed=4)
    a, b, c = (read_rows(tmp_path / n) for n in "abc")
    assert a == b
    assert [r["critic/critic_loss"] for r in a] != [r["critic/critic_loss"] for r in c]


def test_resume_to_more_steps_matches_straight_run(tmp_path, toy_npz):
    kw = dict(recipe="rlpd", dataset=str(toy_npz), **{"agent.num_critics": 3, "agent.utd": 2,
                                                        "train.checkpoint_interval": 100})
    _run(tmp_path, "straight", 320, **kw)
    _run(tmp_path, "split", 170, **kw)  # ends mid-episode, off the eval schedule
    Trainer.resume(tmp_path / "split", online_steps=320).run()
    assert read_rows(tmp_path / "split") == read_rows(tmp_path / "straight")


def test_density_ratio_mixing_composes_with_rlpd_and_resumes_exactly(tmp_path, toy_npz):
    """The mixing strategy's state (ratio network, offline priorities, priority column) is in the checkpoint;
    a run split inside a first epoch of 3x updates resumes into it."""
    kw = dict(recipe="rlpd", dataset=str(toy_npz), **{"agent.num_critics": 2, "agent.utd": 2,
                                                        "train.mixing": "density-ratio",
                                                        "train.ratio_hidden_dims": [16],
                                                        "train.first_epoch_steps": 150,
                                                        "train.first_epoch_multiplier": 3,
                                                        "train.checkpoint_interval": 120})
    trainer, _ = _run(tmp_path, "straight", 300, **kw)
    rows = read_rows(tmp_path / "straight")
    assert all(r["mix/ratio_loss"] for r in rows if int(r["step"]) > 100)  # trained once updates start
    _run(tmp_path, "split", 200, **kw)
    Trainer.resume(tmp_path / "split", online_steps=300).run()
    assert read_rows(tmp_path / "split") == rows
    assert compile_counts(trainer)["online_step"] == 3  # warm-up, first epoch, the rest


def test_offline_then_online_with_resume_inside_offline_phase(tmp_path, toy_npz):
    kw = dict(recipe="rlpd", dataset=str(toy_npz), **{"agent.num_critics": 2, "train.offline_chunk": 50,
                                                        "train.checkpoint_interval": 100})
    trainer, _ = _run(tmp_path, "straight", 200, offline_steps=300, **kw)
    rows = read_rows(tmp_path / "straight")
    assert [r["step"] for r in rows if r["phase"] == "offline"] == ["100", "200", "300"]
    assert compile_counts(trainer)["offline_chunk"] == 1
    _run(tmp_path, "split", 0, offline_steps=150, **kw)  # pre-train only, stopping off the log schedule
    Trainer.resume(tmp_path / "split", offline_steps=300, online_steps=200).run()
    assert read_rows(tmp_path / "split") == rows


def test_python_api_train_then_eval_reads_latest_checkpoint(tmp_path):
    import hybridrl

    result = hybridrl.train("sac", TOY, str(tmp_path / "run"), online_steps=200, seed=0, overrides=TINY)
    assert set(result) >= {"eval_return", "eval_return_std", "normalized_score", "success_rate"}
    out = evaluate_run(tmp_path / "run", episodes=3)
    assert out["online_step"] == 200 and out["episodes"] == 3 and out["eval_return"] < 0
    assert (tmp_path / "run" / "config.json").exists()


def test_rlpd_without_dataset_is_a_clear_error(tmp_path):
    from hybridrl.config import ConfigError

    with pytest.raises(ConfigError, match="no dataset"):
        resolve("rlpd", TOY, TINY, online_steps=10)


def test_resume_refuses_different_data(tmp_path, toy_npz):
    import json

    from conftest import toy_dataset

    from hybridrl.checkpoint import CheckpointError

    _run(tmp_path, "run", 120, recipe="rlpd", dataset=str(toy_npz))
    other = toy_dataset(tmp_path / "other.npz", n=500, seed=9)
    cfg_path = tmp_path / "run" / "config.json"
    info = json.loads(cfg_path.read_text())
    info["config"]["train"]["dataset"] = str(other)
    cfg_path.write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match="different data"):
        Trainer.resume(tmp_path / "run", online_steps=200)


def test_diverging_learner_stops_with_a_diagnostic_and_keeps_the_last_good_checkpoint(tmp_path):
    from hybridrl import checkpoint
    from hybridrl.training.loop import DivergenceError, load_run_agent

    wild = {"agent.critic_lr": 10.0, "agent.actor_lr": 10.0, "train.divergence_bound": 1e4,
            "train.checkpoint_interval": 100}
    with pytest.raises(DivergenceError, match=r"online update at step 101 diverged: [\w/]+ = .*last good checkpoint"):
        _run(tmp_path, "stop", 400, **wild)
    meta = checkpoint.read_meta(tmp_path / "stop" / "checkpoints" / "latest.npz")
    assert meta["host"]["online_step"] == 100  # written before the first (diverging) update
    _, agent, _ = load_run_agent(tmp_path / "stop")
    assert all(np.isfinite(x).all() for x in jax.tree_util.tree_leaves(agent.critic.params))


def test_diverging_updates_can_be_skipped_and_counted(tmp_path, toy_npz):
    wild = {"agent.critic_lr": 10.0, "agent.actor_lr": 10.0, "train.divergence_bound": 1e4,
            "train.on_divergence": "skip"}
    trainer, result = _run(tmp_path, "skip", 300, **wild)
    rows = read_rows(tmp_path / "skip")
    skipped = int(rows[-1]["skipped_updates"])
    assert 0 < skipped <= 200 and trainer.host.skipped_updates == skipped
    assert all(np.isfinite(x).all() for x in jax.tree_util.tree_leaves(trainer.carry.agent))
    assert np.isfinite(result["eval_return"])
    # Offline: the chunk names the first diverged update within it.
    from hybridrl.training.loop import DivergenceError

    with pytest.raises(DivergenceError, match=r"offline update at step 1 diverged"):
        _run(tmp_path, "offline", 0, recipe="iql", dataset=str(toy_npz), offline_steps=200,
             **{"agent.critic_lr": 1e3, "agent.value_lr": 1e3, "train.divergence_bound": 1.0,
                "train.offline_chunk": 100})


def test_throughput_online_step_runs_the_loops_two_calls():
    """`hybridrl bench throughput`'s online-step row drives the loop's own jitted insert and step."""
    from hybridrl.agents.sac import SACConfig
    from hybridrl.bench.throughput import measure_online_step

    out = measure_online_step(SACConfig(hidden_dims=(16, 16), batch_size=16, utd=2), 0.3, env_id=TOY)
    assert out["timed_calls"] >= 1 and out["env_steps_per_sec"] > 0


def test_steps_per_sec_counts_training_time_not_evaluations(tmp_path, toy_npz, monkeypatch):
    """A slow evaluation must not show as slow training, neither in its own row nor in the next one."""
    import time

    slow = Trainer._evaluate

    def evaluate_slowly(self):
        time.sleep(1.0)
        return slow(self)

    monkeypatch.setattr(Trainer, "_evaluate", evaluate_slowly)
    _run(tmp_path, "run", 0, recipe="iql", dataset=str(toy_npz), offline_steps=300,
         **{"train.offline_chunk": 50, "train.eval_interval": 100, "train.log_interval": 100})
    with open(tmp_path / "run" / "metrics.csv", newline="") as f:
        rows = {int(r["step"]): float(r["steps_per_sec"]) for r in csv.DictReader(f)}
    assert set(rows) == {100, 200, 300}
    assert rows[200] > 200 and rows[300] > 200  # 100 updates in well under the 1 s each evaluation sleeps
