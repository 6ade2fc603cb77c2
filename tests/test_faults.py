"""Fault injection (the fast subset; `python benchmarks/faults.py` runs the full version with counts):
failing envs, full disks, killed and poisoned runs, hostile and malformed files."""
import errno
import json
import os
import re
import resource
import sys

import fault_harness as faults
import h5py
import numpy as np
import pytest
from conftest import TINY, TOY, read_rows

from hybridrl import checkpoint
from hybridrl.checkpoint import CheckpointError, StorageError
from hybridrl.data import DataError, load_dataset
from hybridrl.envs import EnvError
from hybridrl.recipes import resolve
from hybridrl.training.loop import Trainer

SMALL = {**TINY, "train.checkpoint_interval": 100, "train.eval_interval": 100}


def _cfg(steps, **extra):
    return resolve("sac", TOY, {**SMALL, **extra}, online_steps=steps, seed=2)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 300-step run: what every broken-and-resumed run must reproduce row for row."""
    run = tmp_path_factory.mktemp("ref") / "run"
    Trainer(_cfg(300), run).run()
    return read_rows(run)


# ---- failing envs ---------------------------------------------------------------------------------
def test_transient_env_failure_is_retried_on_a_fresh_env_with_the_same_numbers(tmp_path, reference, capsys):
    out = faults.env_failure_trial(tmp_path / "run", _cfg(300, **{"train.env_retries": 1}), at_step=150,
                                   kind="raise", persistent=False, reference=reference)
    assert out["error"] is None and out["restarts"] == 1
    assert out["rows_match"] and out["buffer_finite"]  # the fresh env was replayed to the same state
    assert re.search(r"failed at online step 150 \(episode \d+, its step \d+\): RuntimeError: simulated simulator "
                     r"crash.*retrying on a fresh env \(1/1\)", capsys.readouterr().err)


@pytest.mark.parametrize("kind, says", [("raise", "simulated simulator crash"),
                                        ("nan-obs", "observation with NaN/inf"),
                                        ("shape", r"observation of shape \(4,\); expected \(2,\)"),
                                        ("nan-reward", "reward nan")])
def test_persistent_env_failure_stops_with_step_and_episode_and_stores_nothing_corrupt(tmp_path, kind, says):
    out = faults.env_failure_trial(tmp_path / "run", _cfg(300), at_step=120, kind=kind, persistent=True,
                                   reference=None)
    assert out["error"] is not None and out["buffer_finite"], out
    assert re.search(rf"failed in step at online step 120 \(episode \d+, its step \d+\) \(set train.env_retries.*"
                     f"{says}", out["error"]), out
    assert "last good checkpoint" in out["error"] and "online step 100" in out["error"]


def test_env_that_keeps_failing_on_fresh_envs_stops_after_the_retries(tmp_path):
    out = faults.env_failure_trial(tmp_path / "run", _cfg(300, **{"train.env_retries": 2}), at_step=120,
                                   kind="raise", persistent=True, reference=None)
    assert out["restarts"] == 2 and out["buffer_finite"]
    assert re.search(r"online step 120 .* after 2 retries on fresh envs: RuntimeError: simulated", out["error"])


def test_evaluation_env_failure_names_where_it_happened(tmp_path, monkeypatch):
    from hybridrl.training import loop

    def broken(*args, **kwargs):
        raise RuntimeError("MuJoCo simulation unstable")

    monkeypatch.setattr(loop, "evaluate", broken)
    with pytest.raises(EnvError, match=r"evaluation env .* failed at offline step 0, online step 100: RuntimeError: "
                                       r"MuJoCo simulation unstable\. no checkpoint had been written yet"):
        Trainer(_cfg(300), tmp_path / "run").run()


# ---- full disks --------------------------------------------------------------------------------------
def test_disk_full_during_a_checkpoint_keeps_the_previous_one_and_resumes_exactly(tmp_path, reference, monkeypatch):
    run = tmp_path / "run"
    real_savez, calls = np.savez, [0]

    def savez(f, **arrays):  # the second checkpoint runs out of space half-way through
        calls[0] += 1
        if calls[0] == 2:
            f.write(b"PK\x03\x04" + b"\0" * 512)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_savez(f, **arrays)

    monkeypatch.setattr(checkpoint.np, "savez", savez)
    with pytest.raises(StorageError, match=r"cannot write checkpoint .*latest.npz: No space left on device; the "
                                           "previous checkpoint is unchanged and no partial file was left"):
        Trainer(_cfg(300), run).run()
    monkeypatch.setattr(checkpoint.np, "savez", real_savez)
    assert checkpoint.read_meta(run / "checkpoints" / "latest.npz")["host"]["online_step"] == 100
    assert not list(run.rglob("*.tmp"))
    Trainer.resume(run, online_steps=300).run()
    assert read_rows(run) == reference


def test_file_size_limit_from_the_kernel_stops_the_run_cleanly_and_resume_finishes_it(tmp_path, reference):
    """A real refused write (RLIMIT_FSIZE -> EFBIG, as ENOSPC), in a child process with the CLI."""
    probe = tmp_path / "probe"
    Trainer(_cfg(200), probe).run()
    limit = (probe / "checkpoints" / "latest.npz").stat().st_size + 1500  # fits step 200's, not step 300's
    out = faults.disk_full_trial(tmp_path / "run", {k: v for k, v in SMALL.items()} | {"train.seed": 2}, 300,
                                 reference, fsize=limit)
    assert out["hit"] and out["clear_error"], out
    assert out["kept_step"] == 200 and not out["partial_files"] and out["resume_rc"] == 0
    assert out["rows_match"], out
    assert "cannot write checkpoint" in out["stderr_tail"] and "File too large" in out["stderr_tail"]
    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] == resource.RLIM_INFINITY  # only the child was limited


# ---- killed runs ---------------------------------------------------------------------------------------
def test_killed_inside_a_checkpoint_write_resumes_to_identical_rows(tmp_path, reference):
    """SIGKILL after the second checkpoint's temporary file is written, before its rename (the full script
    also kills inside evaluations and at random moments, and counts)."""
    overrides = {k: v for k, v in SMALL.items()} | {"train.seed": 2}
    out = faults.kill_trial(tmp_path / "run", overrides, 300, reference, "checkpoint:2")
    assert not out["finished_before_kill"] and out["killed_at_checkpoint_step"] == 100
    assert out["ok"] and out["duplicate_rows"] == 0 and not out["partial_files"], out


# ---- diverging learners ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [float("nan"), 1e12])
def test_poisoned_parameters_are_caught_at_that_very_update(tmp_path, value):
    out = faults.poison_trial(tmp_path / "run", _cfg(300, **{"train.divergence_bound": 1e8}), at_step=137,
                              value=value)
    assert out["detected"] and out["detected_step"] == 137, out


# ---- hostile files -----------------------------------------------------------------------------------------
class _Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_no_reader_runs_code_planted_in_a_file(tmp_path, monkeypatch):
    import pickle

    from hybridrl.analysis.sweep import load_spec
    from hybridrl.config import ConfigError
    from hybridrl.nn.policy_file import load_policy

    monkeypatch.chdir(tmp_path)
    payload = pickle.dumps(_Payload())
    # a policy file and a dataset whose arrays are pickled objects
    np.savez(tmp_path / "policy.npz", __header__=np.array([_Payload()], dtype=object))
    with pytest.raises(CheckpointError):
        load_policy(tmp_path / "policy.npz")
    np.savez(tmp_path / "data.npz", observations=np.array([_Payload()], dtype=object))
    with pytest.raises(DataError, match="without pickle"):
        load_dataset(str(tmp_path / "data.npz"))
    # an HDF5 dataset holding the pickle as opaque bytes
    with h5py.File(tmp_path / "data.hdf5", "w") as f:
        f["observations"] = np.void(payload)
        f["terminals"] = np.zeros(1, bool)
        f["next_observations"] = np.zeros((1, 1))
    with pytest.raises(DataError, match="field 'observations' has dtype"):
        load_dataset(str(tmp_path / "data.hdf5"))
    # a sweep spec asking YAML to construct an object
    (tmp_path / "sweep.yaml").write_text("recipes: !!python/object/apply:os.system ['touch PWNED']\n")
    with pytest.raises(ConfigError, match="cannot read the sweep spec"):
        load_spec(tmp_path / "sweep.yaml")
    # a Minari dataset whose env spec names a module that would run code if imported
    (tmp_path / "evil_env.py").write_text("import pathlib\npathlib.Path('PWNED').touch()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    template = faults.minari_template(tmp_path)
    meta_path = template / "data" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["env_spec"] = meta["env_spec"].replace("hybridrl.envs.toy:PointReach", "evil_env:Env")
    meta_path.write_text(json.dumps(meta))
    assert len(load_dataset(str(template))) == 6  # read without making (importing) the env
    # a run directory whose config.json carries a pickle instead of JSON
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_bytes(payload)
    (run / "checkpoints" / "latest.npz").write_bytes(payload)
    with pytest.raises(ConfigError, match="config.json is unreadable as a hybridrl run config"):
        Trainer.resume(run)
    assert not (tmp_path / "PWNED").exists()
    assert "evil_env" not in sys.modules


# ---- malformed datasets ----------------------------------------------------------------------------------------
def test_fuzzed_dataset_files_load_or_raise_data_error(tmp_path):
    """Hypothesis over npz / HDF5 / Minari files: missing, extra, retyped, reshaped, poisoned fields,
    damaged Minari metadata, truncated and bit-flipped files. Anything but DataError fails the test."""
    counts = faults.fuzz_datasets(120, tmp_path)
    assert counts["total"] == 120
    for per in counts["by_container"].values():
        assert per["loaded"] > 0 and per["refused"] > 0  # the cases reach both outcomes
    assert counts["slowest_load_s"] < 5


def test_zip_of_an_unsupported_version_is_refused_by_every_npz_reader(tmp_path):
    """atheris's first finding: zipfile raises NotImplementedError for an unknown 'version needed to extract'."""
    np.savez(tmp_path / "ok.npz", observations=np.zeros((2, 2)))
    raw = bytearray((tmp_path / "ok.npz").read_bytes())
    central = raw.find(b"PK\x01\x02")
    raw[central + 6: central + 8] = (212).to_bytes(2, "little")  # version 21.2
    (tmp_path / "bad.npz").write_bytes(bytes(raw))
    with pytest.raises(DataError, match="NotImplementedError: zip file version 21.2"):
        load_dataset(str(tmp_path / "bad.npz"))
    with pytest.raises(CheckpointError, match="NotImplementedError: zip file version 21.2"):
        checkpoint.load(tmp_path / "bad.npz", {"w": np.zeros(2)})
