"""Sweeps (grid expansion, skip finished, resume killed, record failures; local pool and Ray) and the
rliable report (statistics equal rliable's, figures written)."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import TINY, TOY, read_rows

from hybridrl.analysis.sweep import expand, load_spec, run_status, run_sweep
from hybridrl.config import ConfigError
from hybridrl.data import DataError


def test_grid_expands_tasks_recipes_overrides_and_seeds(tmp_path):
    small = {"label": "rlpd-small", "recipe": "rlpd", "set": {"agent.utd": 2}, "offline_steps": 0}
    spec = {"out": str(tmp_path), "recipes": ["iql", small],
            "tasks": [{"dataset": "hopper-medium-small"}, {"env": TOY, "dataset": "x.npz", "name": "toy"}],
            "seeds": [0, 3], "grid": {"agent.batch_size": [32, 64]}, "set": {"agent.utd": 1},
            "offline_steps": 10, "online_steps": 20}
    tasks = expand(spec)
    assert len(tasks) == 2 * 2 * 2 * 2
    first = tasks[0]
    assert first.env == "Hopper-v5" and first.recipe == "iql" and first.seed == 0
    assert first.run_dir == str(tmp_path / "hopper-medium-small" / "iql-batch_size32" / "seed0")
    small = [t for t in tasks if "rlpd-small" in t.run_dir]
    assert all(t.overrides["agent.utd"] == 2 for t in small)  # a recipe entry's own settings win over `set`
    assert {(t.offline_steps, t.online_steps) for t in small} == {(0, 20)}  # ... and its own step counts
    assert {t.offline_steps for t in tasks if "iql" in t.run_dir} == {10}
    assert {t.overrides["agent.batch_size"] for t in small} == {32, 64} and {t.seed for t in small} == {0, 3}
    with pytest.raises(ConfigError, match="unknown keys"):
        expand({**spec, "seed": 1})
    with pytest.raises(DataError, match="file.npz: no such file"):  # said as that, not as a missing env
        expand({**spec, "tasks": [{"dataset": str(tmp_path / "file.npz")}]})
    (tmp_path / "file.npz").write_bytes(b"")
    with pytest.raises(ConfigError, match="needs an 'env'"):
        expand({**spec, "tasks": [{"dataset": str(tmp_path / "file.npz")}]})
    bad = tmp_path / "bad.yaml"
    bad.write_text("!!python/object/apply:os.system ['echo pwned']\n")  # safe_load refuses to build objects
    with pytest.raises(ConfigError, match="cannot read"):
        load_spec(bad)


def _spec(tmp_path, seeds=2, steps=600):
    tiny = {**TINY, "train.checkpoint_interval": 100, "train.eval_interval": 300}
    return {"out": str(tmp_path / "sweep"), "tasks": [{"env": TOY, "name": "toy"}], "seeds": seeds,
            "recipes": ["sac", {"label": "broken", "recipe": "rlpd", "set": {"train.dataset": "/no/data.npz"}}],
            "online_steps": steps, "set": tiny}


def _steps(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def test_local_sweep_records_failures_resumes_a_killed_worker_and_skips_finished_runs(tmp_path):
    spec = _spec(tmp_path)
    spec["recipes"] = spec["recipes"][:1] + [{**spec["recipes"][1]}]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    target = tmp_path / "sweep" / "toy" / "sac" / "seed1"
    proc = subprocess.Popen([sys.executable, "-m", "hybridrl.cli", "sweep", str(path), "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while not (target / "checkpoints" / "latest.npz").exists() and time.time() < deadline:
        time.sleep(0.2)
    os.kill(int((target / "worker.pid").read_text()), signal.SIGKILL)  # killed mid-run, after its first checkpoint
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, out  # failures are reported, the other runs went on
    summary = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    status = {row["run_dir"].split("sweep/")[1]: row["status"] for row in summary["rows"]}
    assert status == {"toy/sac/seed0": "done", "toy/sac/seed1": "failed", "toy/broken/seed0": "failed",
                      "toy/broken/seed1": "failed"}
    assert "killed" in json.loads((target / "failed.json").read_text())["error"]
    assert "/no/data.npz" in json.loads((tmp_path / "sweep/toy/broken/seed0/failed.json").read_text())["error"]
    assert run_status(target) == "failed" and (target / "checkpoints" / "latest.npz").exists()
    done_before = (tmp_path / "sweep/toy/sac/seed0/done.json").read_text()

    summary = run_sweep(load_spec(path), workers=2)  # again: resume the killed run, skip the finished one
    rows = {row["run_dir"].split("sweep/")[1]: row for row in summary["rows"]}
    assert rows["toy/sac/seed0"]["status"] == "skipped" and rows["toy/sac/seed1"]["how"] == "resumed"
    assert (tmp_path / "sweep/toy/sac/seed0/done.json").read_text() == done_before
    assert not (target / "failed.json").exists() and run_status(target) == "done"
    steps = _steps(target)
    assert steps == sorted(set(steps)) and steps[-1] == 600  # no torn or duplicated rows after the resume
    assert rows["toy/broken/seed0"]["status"] == "failed"


def test_a_from_entry_fine_tunes_every_seed_from_its_sources_pre_training_and_says_when_it_is_missing(
        tmp_path, toy_npz, capsys):
    from hybridrl.analysis.sweep import _PRETRAINED
    from hybridrl.cli import main
    from hybridrl.training.rundir import OFFLINE_CKPT_NAME

    assert _PRETRAINED == OFFLINE_CKPT_NAME
    tiny = {**TINY, "train.eval_interval": 100}
    ft = {"label": "iql-ft", "recipe": "iql", "from": "iql", "set": {"agent.expectile": 0.8}}
    spec = {"out": str(tmp_path / "sweep"), "tasks": [{"env": TOY, "dataset": str(toy_npz), "name": "toy"}],
            "recipes": [ft, "iql"], "seeds": [0], "offline_steps": 200, "online_steps": 200, "set": tiny}
    tasks = expand(spec)
    dep = next(t for t in tasks if t.from_run)
    assert dep.from_run == str(tmp_path / "sweep/toy/iql/seed0") and dep.offline_steps is None
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["sweep", str(path), "--dry-run"]) == 0
    assert f"iql-ft/seed0  (fine-tunes from {tmp_path / 'sweep/toy/iql/seed0'})" in capsys.readouterr().out
    # listed first, the fine-tuning run still waits for its source's switch; one worker, so no deadlock either
    summary = run_sweep(spec, workers=1)
    assert summary["failed"] == 0
    src, run = tmp_path / "sweep/toy/iql/seed0", tmp_path / "sweep/toy/iql-ft/seed0"
    info = json.loads((run / "config.json").read_text())
    assert info["initialised_from"]["path"] == str(src / OFFLINE_CKPT_NAME)
    assert info["config"]["agent"]["expectile"] == 0.8 and info["config"]["train"]["seed"] == 0
    assert {r["phase"] for r in read_rows(run)} == {"online"}  # no pre-training of its own
    assert {r["phase"] for r in read_rows(src)} == {"offline", "online"}
    assert json.loads((run / "done.json").read_text())["how"] == "fine-tuned"
    # seed 1's source was never run and is not selected: refused before anything runs, and --dry-run says it too
    with pytest.raises(ConfigError, match=r"cannot start(.|\n)*iql-ft/seed1: its source .*iql/seed1 is not selected"):
        run_sweep({**spec, "seeds": [0, 1]}, workers=1, only=["toy/iql-ft/seed1"])
    path.write_text(yaml.safe_dump({**spec, "seeds": [0, 1]}))
    assert main(["sweep", str(path), "--dry-run", "--only", "toy/iql-ft/*"]) == 2
    assert "is not selected" in capsys.readouterr().out
    # a source kept without its checkpoint (keep_done.sh without --pretrained) is named as that
    (src / OFFLINE_CKPT_NAME).rename(tmp_path / "kept.npz")
    shutil.rmtree(run)  # (a fine-tuning run with a checkpoint of its own would resume without its source)
    with pytest.raises(ConfigError, match="finished without checkpoints/offline.npz"):
        run_sweep(spec, workers=1)
    # a spec that cannot work is refused before anything runs
    for entry, match in [({**ft, "from": "nope"}, "not another entry's label"),
                         ({**ft, "offline_steps": 10}, "no offline phase of its own"),
                         ({**ft, "set": {"train.offline_steps": 10}}, "no offline phase of its own"),
                         ({**ft, "recipe": "cql"}, "agents must match"),
                         ({**ft, "form": "iql"}, "unknown keys"),
                         ({**ft, "label": "iql"}, "two recipe entries are labelled 'iql'")]:
        with pytest.raises(ConfigError, match=match):
            expand({**spec, "recipes": [entry, "iql"]})
    with pytest.raises(ConfigError, match="itself fine-tunes from"):
        expand({**spec, "recipes": [ft, {**ft, "label": "again", "from": "iql-ft"}, "iql"]})
    with pytest.raises(ConfigError, match="has no offline steps"):
        run_sweep({**spec, "offline_steps": 0, "out": str(tmp_path / "other")}, workers=1)


def test_fine_tuning_runs_start_at_their_sources_switch_in_their_grid_cell_with_its_run_settings(tmp_path,
                                                                                                  monkeypatch):
    """The scheduler alone (runs faked): a fine-tuning run starts once its source's pre-training is written, while
    the source is still running, on free cores, and results come back in the spec's order."""
    import threading

    from hybridrl.analysis import sweep

    spec = {"out": str(tmp_path / "sweep"), "tasks": [{"env": TOY, "name": "toy"}], "seeds": [0],
            "recipes": [{"label": "ft", "recipe": "hiql", "from": "mscp", "set": {"agent.online_expectile": 0.8}},
                        {"recipe": "mscp", "set": {"train.data_rewards": "recorded"}}, "sac"],
            "offline_steps": 100, "online_steps": 100, "grid": {"agent.utd": [1, 2]}}
    tasks = expand(spec)
    ft = [t for t in tasks if t.from_run]
    assert [Path(t.from_run).relative_to(tmp_path / "sweep").as_posix() for t in ft] == \
        ["toy/mscp-utd1/seed0", "toy/mscp-utd2/seed0"]  # the same grid cell
    assert ft[0].overrides["train.data_rewards"] == "recorded"  # the source's run settings, not its agent's
    events, switched = [], threading.Event()

    def fake(task, threads=1, cores=None):
        events.append(("start", Path(task.run_dir).parent.name))
        if task.from_run is None and "mscp" in task.run_dir:
            (Path(task.run_dir) / "checkpoints").mkdir(parents=True, exist_ok=True)
            (Path(task.run_dir) / sweep._PRETRAINED).write_bytes(b"")
            if "utd1" in task.run_dir:
                assert switched.wait(30)  # still running when its fine-tuning run starts
        if task.from_run and "utd1" in task.run_dir:
            switched.set()
        events.append(("end", Path(task.run_dir).parent.name))
        return {"run_dir": task.run_dir, "status": "done"}

    monkeypatch.setattr(sweep, "run_in_subprocess", fake)
    results = sweep._local(tasks, workers=2, threads=1, poll=0.05)
    assert [r["run_dir"] for r in results] == [t.run_dir for t in tasks]
    starts = [name for kind, name in events if kind == "start"]
    assert starts[:2] == ["mscp-utd1", "mscp-utd2"]  # the ready runs go first, in spec order
    assert events.index(("start", "ft-utd1")) < events.index(("end", "mscp-utd1"))
    plain = [t for t in tasks if not t.from_run]
    events.clear()
    sweep._local(plain, workers=2, threads=1, poll=0.05)  # without `from`: spec order, as before
    assert [n for k, n in events if k == "start"] == [Path(t.run_dir).parent.name for t in plain]


def test_an_invalid_config_stops_the_sweep_before_any_run_and_dry_run_names_it(tmp_path, capsys):
    from hybridrl.cli import main

    spec = _spec(tmp_path, seeds=1, steps=200)
    spec["recipes"] = ["sac", {"label": "typo", "recipe": "sac", "set": {"agent.nope": 1}}]
    with pytest.raises(ConfigError, match=r"1 of the sweep's runs have an invalid config(.|\n)*typo/seed0: unknown "
                                          r"config key 'agent.nope'"):
        run_sweep(spec, workers=1)
    assert not (tmp_path / "sweep").exists()  # nothing ran, nothing was written
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["sweep", str(path), "--dry-run"]) == 2
    out = capsys.readouterr().out
    assert "new" in out.splitlines()[0] and out.splitlines()[1].startswith("invalid") and "agent.nope" in out


def test_only_runs_the_selected_slice_of_the_grid_and_names_a_pattern_that_matches_nothing(tmp_path, capsys):
    from hybridrl.analysis.sweep import select
    from hybridrl.cli import main

    spec = _spec(tmp_path, seeds=2, steps=200)
    spec["recipes"] = ["sac", {"label": "sac-b", "recipe": "sac"}]
    tasks = expand(spec)
    picked = select(tasks, spec["out"], ["toy/sac-b/*", "*/sac/seed1"])
    assert [t.run_dir.split("sweep/")[1] for t in picked] == ["toy/sac/seed1", "toy/sac-b/seed0", "toy/sac-b/seed1"]
    assert select(tasks, spec["out"], None) == tasks
    with pytest.raises(ConfigError, match=r"'toy/rlpd/\*' matches none of the sweep's runs; names are task/label"):
        select(tasks, spec["out"], ["toy/sac/*", "toy/rlpd/*"])
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["sweep", str(path), "--dry-run", "--only", "*/sac-b/seed0"]) == 0
    assert capsys.readouterr().out.split() == ["new", str(tmp_path / "sweep/toy/sac-b/seed0")]

    summary = run_sweep(spec, workers=1, only=["toy/sac/seed1"])
    status = {row["run_dir"].split("sweep/")[1]: row["status"] for row in summary["rows"]}
    assert status == {"toy/sac/seed0": "not selected", "toy/sac/seed1": "done", "toy/sac-b/seed0": "not selected",
                      "toy/sac-b/seed1": "not selected"}  # the whole grid is recorded, only the slice ran
    assert summary["ran"] == 1 and not (tmp_path / "sweep/toy/sac/seed0").exists()
    summary = run_sweep(spec, workers=1, only=["toy/sac/*"])  # the finished run is skipped, the other one runs
    status = {row["run_dir"].split("sweep/")[1]: row["status"] for row in summary["rows"]}
    assert status["toy/sac/seed1"] == "skipped" and status["toy/sac/seed0"] == "done" and summary["ran"] == 1


def test_local_workers_run_on_disjoint_cores(monkeypatch):
    import threading

    import hybridrl.analysis.sweep as sweep

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert sweep.core_sets(2, 2) == [{0, 1}, {2, 3}] and sweep.core_sets(4, 1) == [{0}, {1}, {2}, {3}]
    assert sweep.core_sets(3, 2) is None  # not enough cores to pin: workers share them as before
    running, seen, lock = [], [], threading.Lock()

    def fake_run(task, threads, cores):
        with lock:
            assert all(not (cores & other) for other in running)  # no core is another live worker's
            running.append(cores)
            seen.append(frozenset(cores))
        time.sleep(0.05)
        with lock:
            running.remove(cores)
        return {"run_dir": task.run_dir, "status": "done"}

    monkeypatch.setattr(sweep, "run_in_subprocess", fake_run)
    tasks = [sweep.RunTask(run_dir=f"run{i}", recipe="sac", env=TOY, dataset=None, seed=i) for i in range(8)]
    assert [r["run_dir"] for r in sweep._local(tasks, workers=2, threads=2, poll=0.01)] == [t.run_dir for t in tasks]
    assert set(seen) == {frozenset({0, 1}), frozenset({2, 3})}
    assert sweep.worker_env(2, {2, 0})["HYBRIDRL_WORKER_CORES"] == "0,2"  # the worker pins itself before JAX
    monkeypatch.setenv("HYBRIDRL_WORKER_CORES", "3")
    assert "HYBRIDRL_WORKER_CORES" not in sweep.worker_env(1)  # an unpinned worker does not inherit a pin


def test_ray_backend_runs_a_sweep_on_a_local_ray_instance(tmp_path):
    ray = pytest.importorskip("ray")
    spec = _spec(tmp_path, seeds=1, steps=200)
    spec["recipes"] = ["sac"]
    spec["resources"] = {"cpus": 1}
    try:
        summary = run_sweep(spec, backend="ray", workers=2)
    finally:
        ray.shutdown()
    assert summary["failed"] == 0 and summary["rows"][0]["status"] == "done"
    done = json.loads((tmp_path / "sweep/toy/sac/seed0/done.json").read_text())
    assert done["result"]["eval_return"] is not None  # gathered back from the Ray task's run


def _fake_run(root, task, method, seed, scores, offline=0):
    d = root / task / method / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"config": {"recipe": method, "train": {"env": task,
                                                                                      "offline_steps": offline}}}))
    with open(d / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "phase", "normalized_score"])
        for i, s in enumerate(scores):
            w.writerow([(i + 1) * 100, "online", s])


def test_report_statistics_equal_rliables_and_figures_are_written(tmp_path):
    from rliable import library as rly
    from rliable import metrics

    from hybridrl.analysis.report import find_runs, score_matrix, write_report

    rng = np.random.default_rng(0)
    final = {"a": rng.uniform(20, 60, (5, 2)), "b": rng.uniform(40, 90, (5, 2))}
    for m, arr in final.items():
        for seed in range(5):
            for j, task in enumerate(("t1", "t2")):
                _fake_run(tmp_path, task, m, seed, [arr[seed, j] / 2, arr[seed, j]])
    scores, tasks = score_matrix(find_runs(tmp_path, "normalized_score"))
    assert tasks == ["t1", "t2"] and np.allclose(scores["a"], final["a"]) and np.allclose(scores["b"], final["b"])
    info = write_report(tmp_path, reps=500)
    def fn(x):
        return np.array([metrics.aggregate_mean(x), metrics.aggregate_iqm(x), metrics.aggregate_optimality_gap(x, 100)])

    np.random.seed(0)  # the report seeds rliable's bootstrap (which draws from NumPy's global generator) with 0
    point, ci = rly.get_interval_estimates({k: final[k] for k in sorted(final)}, fn, reps=500)
    for m in ("a", "b"):
        assert np.allclose(info["point"][m], point[m]) and np.allclose(info["ci"][m], ci[m])
        assert np.allclose(point[m], [final[m].mean(), metrics.aggregate_iqm(final[m]),
                                      np.mean(np.maximum(100 - final[m], 0))])
    # IQM by hand: the middle half of 8 scores
    x = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 100.0]])
    assert metrics.aggregate_iqm(x) == pytest.approx(np.mean([2.0, 3.0, 4.0, 5.0]))
    text = (tmp_path / "report" / "REPORT.md").read_text()
    p = metrics.probability_of_improvement(final["b"], final["a"])
    assert f"| b | a | {p:.2f} |" in text
    for png in ("aggregates.png", "profiles.png", "improvement.png", "curves.png"):
        assert (tmp_path / "report" / png).stat().st_size > 5_000, png


def test_report_leaves_out_runs_that_have_not_reached_their_configured_steps(tmp_path):
    """A sweep in progress: a run's last evaluation so far is not its final score, so it is left out and
    named, unless asked for."""
    from hybridrl.analysis.report import find_runs, write_report

    for seed, rows in ((0, 2), (1, 2), (2, 1)):  # seed 2 has evaluated at 100 of its 200 online steps
        d = tmp_path / "task" / "m" / f"seed{seed}"
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"config": {"recipe": "m", "train": {
            "env": "task", "offline_steps": 0, "online_steps": 200}}}))
        (d / "metrics.csv").write_text("step,phase,normalized_score\n"
                                       + "".join(f"{100 * (i + 1)},online,{10 * (i + 1) + seed}\n"
                                                 for i in range(rows)))
    unfinished = []
    assert [r.run_dir.name for r in find_runs(tmp_path, "normalized_score", unfinished=unfinished)] == \
        ["seed0", "seed1"]
    assert unfinished == [tmp_path / "task" / "m" / "seed2"]
    info = write_report(tmp_path, reps=100)
    assert info["unfinished"] == [str(tmp_path / "task" / "m" / "seed2")]
    text = (tmp_path / "report" / "REPORT.md").read_text()
    assert "Left out, unfinished" in text and "task/m/seed2" in text and "| m | 2 |" in text
    every = find_runs(tmp_path, "normalized_score", include_unfinished=True)
    assert [float(r.values[-1]) for r in every] == [20.0, 21.0, 12.0]


def test_report_keeps_every_method_s_own_run_count_and_names_what_it_leaves_out(tmp_path):
    """A grid in progress: one arm has three seeds, another one. Each method's aggregate uses all of its
    runs; only runs that would make a method's tasks unequal (or a method missing a task) are left out, by name."""
    from hybridrl.analysis.report import write_report

    for seed, s in enumerate((30.0, 60.0, 90.0)):
        _fake_run(tmp_path, "t1", "a", seed, [s])
        _fake_run(tmp_path, "t2", "a", seed, [s + 1])
    _fake_run(tmp_path, "t1", "b", 0, [50.0])
    _fake_run(tmp_path, "t1", "b", 1, [70.0])
    _fake_run(tmp_path, "t2", "b", 0, [40.0])  # b has two runs on t1, one on t2
    _fake_run(tmp_path, "t1", "c", 0, [99.0])  # c never ran t2
    info = write_report(tmp_path, reps=100)
    assert info["methods"] == ["a", "b"]
    assert info["point"]["a"][0] == pytest.approx(np.mean([30, 60, 90, 31, 61, 91]))  # all three seeds
    assert info["point"]["b"][0] == pytest.approx(np.mean([50, 40]))
    assert info["dropped"] == ["c (no run on t2)", "b/t1: 1 run(s)"]
    text = (tmp_path / "report" / "REPORT.md").read_text()
    assert "| a | 3 |" in text and "| b | 1 |" in text and "b/t1: 1 run(s)" in text and "c (no run on t2)" in text
    # every run's own score is listed, those left out of the aggregates included
    assert "| t1 | b | 2 | 50 [seed0], 70 [seed1] |" in text and "| t1 | c | 1 | 99 [seed0] |" in text


def test_report_lists_every_evaluation_of_every_run_split_at_the_switch(tmp_path):
    """Where a run's final score hides a swing (100 then 10) the per-run row shows it, offline and online apart."""
    from hybridrl.analysis.report import write_report

    d = tmp_path / "t1" / "m" / "seed0"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"config": {"recipe": "m", "train": {
        "env": "t1", "offline_steps": 200, "online_steps": 200}}}))
    (d / "metrics.csv").write_text("step,phase,normalized_score\n100,offline,12.5\n200,offline,101\n"
                                   "300,offline,\n100,online,9.25\n200,online,55\n")
    _fake_run(tmp_path, "t1", "rl", 0, [3.0, 4.0])  # online only
    write_report(tmp_path, reps=100)
    text = (tmp_path / "report" / "REPORT.md").read_text()
    assert "| t1 | m | seed0 | 12.5 101 | 9.25 55 | 101 |" in text
    assert "| t1 | rl | seed0 | — | 3 4 | 4 |" in text


def test_report_keeps_datasets_apart_and_flags_pooled_runs_whose_settings_differ(tmp_path):
    from hybridrl.analysis.report import find_runs, write_report

    def run(name, dataset, seed, batch):
        d = tmp_path / name
        d.mkdir()
        cfg = {"recipe": "iql", "agent": {"batch_size": batch},
               "train": {"env": "Hopper-v5", "dataset": dataset, "seed": seed, "offline_steps": 0}}
        (d / "config.json").write_text(json.dumps({"config": cfg}))
        (d / "metrics.csv").write_text(f"step,phase,normalized_score\n100,online,{10 + seed}\n")

    run("a", "hopper-medium", 0, 256)
    run("b", "hopper-medium", 1, 64)  # another batch size: not a second seed of the same setting
    run("c", "/data/hopper-expert.npz", 0, 256)
    assert sorted({r.task for r in find_runs(tmp_path, "normalized_score")}) == ["hopper-expert", "hopper-medium"]
    info = write_report(tmp_path, reps=50)
    assert info["mixed"] == ["hopper-medium/iql (agent.batch_size)"]
    assert "configs differ" in (tmp_path / "report" / "REPORT.md").read_text()
    with pytest.raises(ConfigError, match="no such folder"):
        write_report(tmp_path / "absent")
    from hybridrl.analysis.plots import plot_runs

    with pytest.raises(ConfigError, match="no run has values of 'eval_retrun'.*normalized_score"):
        plot_runs([tmp_path / "a"], "eval_retrun", tmp_path / "curve.png")
    assert not (tmp_path / "curve.png").exists()


def test_report_names_a_minari_run_by_its_whole_id_and_ignores_fields_an_older_version_did_not_write(tmp_path):
    from hybridrl.analysis.report import find_runs, mixed_settings

    for name, dataset, extra in (("a", "mujoco/hopper/medium-v0", {}), ("b", "mujoco/walker2d/medium-v0", {}),
                                 ("c", "mujoco/hopper/medium-v0", {"reward_sparsify": False})):
        d = tmp_path / name
        d.mkdir()
        cfg = {"recipe": "iql", "agent": {}, "train": {"env": "X-v0", "dataset": dataset, "offline_steps": 0, **extra}}
        (d / "config.json").write_text(json.dumps({"config": cfg}))
        (d / "metrics.csv").write_text("step,phase,normalized_score\n100,online,1\n")
    runs = find_runs(tmp_path, "normalized_score")
    assert sorted({r.task for r in runs}) == ["mujoco-hopper-medium-v0", "mujoco-walker2d-medium-v0"]
    assert mixed_settings(runs) == []
