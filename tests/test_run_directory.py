"""One writer per run directory, and ``--overwrite`` that loses nothing: real processes, locks and kills."""

import json
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import NEUTRAL_CWD, cli_command, run_cli

import bmsample
from bmsample.training.rundir import LOCK_NAME, RunDirectory, RunDirectoryBusy, RunLock

# Minutes of training (digits, 64 x 16, k = 2): the tests stop it with a signal once they are done with it.
FIT = ["fit", "digits", "--hidden", "16", "--batch-size", "20", "-k", "2", "--updates", "1000000", "--seed", "3",
       "--threads", "1", "--quiet"]
EXIT_PREEMPTED = 75


def start(*args):
    """A running ``bmsample`` process whose JSON progress comes on stdout."""
    return subprocess.Popen(cli_command(*args, "--log-json", "-"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=NEUTRAL_CWD)


def wait_until_training(proc):
    """Read the first progress line: from then on the process holds its run directory."""
    line = proc.stdout.readline()
    assert line, proc.communicate()[1]
    return json.loads(line)


def assert_busy(proc, run_dir, holder):
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (f"error: out: {run_dir} is in use: process {holder.pid} on {socket.gethostname()} "
                           "is training in it; wait for it to end or choose another out\n")


def logged_updates(run_dir):
    return [json.loads(line)["update"] for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_a_second_fit_into_the_same_directory_is_refused_naming_the_holder(tmp_path):
    run_dir = tmp_path / "run"
    first = start(*FIT, "--out", run_dir)
    wait_until_training(first)
    second = run_cli(*FIT, "--out", run_dir)
    requeued = run_cli(*FIT, "--resume", run_dir)  # a requeue while the old job still runs
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=300)
    assert first.returncode == EXIT_PREEMPTED
    assert_busy(second, run_dir, first)
    assert_busy(requeued, run_dir, first)
    updates = logged_updates(run_dir)
    assert updates == sorted(set(updates))  # one run's log, not two interleaved
    assert not (run_dir / LOCK_NAME).exists()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    run_dir = tmp_path / "run"
    first = start(*FIT, "--out", run_dir, "--checkpoint-interval", "0")
    wait_until_training(first)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    resumed = start(*FIT, "--resume", run_dir)  # not refused: the kill dropped the lock
    assert wait_until_training(resumed)["update"] >= 1
    resumed.send_signal(signal.SIGTERM)
    assert resumed.communicate(timeout=300)[1].startswith("stopped: SIGTERM at update ")
    assert resumed.returncode == EXIT_PREEMPTED


@pytest.fixture(scope="module")
def old_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("old") / "run"
    done = run_cli(*FIT[:FIT.index("--updates")], "--updates", "20", *FIT[FIT.index("--seed"):], "--out", out)
    assert done.returncode == 0, done.stderr
    return out


def copy_of(old_run, target):
    import shutil

    shutil.copytree(old_run, target)
    return target


@pytest.mark.parametrize("delay", [0.3, 1.0, 1.6])
def test_overwrite_killed_before_its_first_checkpoint_keeps_the_old_run(tmp_path, old_run, delay):
    """Killed at start-up (imports, data, compile) the old run is whole; a new run that got far enough is in place."""
    run_dir = copy_of(old_run, tmp_path / "run")
    before = (run_dir / "model.npz").read_bytes()
    proc = subprocess.Popen(cli_command(*FIT, "--seed", "4", "--out", run_dir, "--overwrite"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=NEUTRAL_CWD)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    config = json.loads((run_dir / "config.json").read_text())
    if config["seed"] == 3:  # not yet replaced: the old run, every file as it was
        assert (run_dir / "model.npz").read_bytes() == before
    else:  # replaced: the new run, resumable
        assert config["seed"] == 4 and list((run_dir / "checkpoints").glob("*.npz"))
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["run"]


def test_overwrite_killed_after_its_first_checkpoint_is_the_new_run_and_resumes(tmp_path, old_run):
    run_dir = copy_of(old_run, tmp_path / "run")
    proc = start(*FIT, "--seed", "4", "--out", run_dir, "--overwrite")
    wait_until_training(proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert json.loads((run_dir / "config.json").read_text())["seed"] == 4
    assert not (run_dir / "model.npz").exists()  # the old model is gone only now that the new run checkpointed
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left
    resumed = start(*FIT, "--seed", "4", "--resume", run_dir)
    wait_until_training(resumed)
    resumed.send_signal(signal.SIGTERM)
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == EXIT_PREEMPTED
    # The checkpoint it names: latest.npz, or update_N.npz when the signal came at a log-spaced update.
    written = Path(re.search(r"wrote checkpoint (\S+\.npz)", stderr).group(1))
    assert written.parent == run_dir / "checkpoints"
    assert bmsample.read_model_file(written).metadata["seed"] == 4


def test_an_overwrite_that_fails_before_checkpointing_leaves_the_old_run(tmp_path, old_run):
    run_dir = copy_of(old_run, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    # Runaway fields at update 1 stop the run before its first checkpoint.
    failed = run_cli("fit", "digits", "--model", "independent", "--sampler", "random-site", "-k", "1",
                     "--learning-rate", "1e6", "--updates", "5", "--quiet", "--out", run_dir, "--overwrite")
    assert failed.returncode == 3, failed.stderr
    assert {p.name: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_overwrite_refuses_a_folder_with_files_no_run_writes(tmp_path, old_run):
    run_dir = copy_of(old_run, tmp_path / "run")
    (run_dir / "notes.txt").write_text("mine")
    refused = run_cli(*FIT, "--out", run_dir, "--overwrite")
    assert refused.returncode == 2
    assert refused.stderr == (f"error: out: {run_dir} holds files that are not a run (notes.txt); move them away "
                              "or choose another out\n")
    assert (run_dir / "notes.txt").read_text() == "mine" and (run_dir / "model.npz").is_file()


def test_lock_is_exclusive_between_open_files_and_released_with_its_file(tmp_path):
    lock = RunLock(tmp_path)
    with pytest.raises(RunDirectoryBusy, match=f"process {__import__('os').getpid()} on"):
        RunLock(tmp_path)
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()
    RunLock(tmp_path).release()


def test_a_fresh_directory_that_fails_before_writing_is_removed(tmp_path):
    run_dir = RunDirectory(tmp_path / "new")
    assert (tmp_path / "new" / LOCK_NAME).exists()
    run_dir.close(succeeded=False)
    assert not (tmp_path / "new").exists()


def test_fit_from_python_locks_too(tmp_path):
    data = bmsample.load_dataset("digits").data
    holder = RunLock(tmp_path)
    with pytest.raises(RunDirectoryBusy):
        bmsample.fit(data, out=tmp_path, num_hiddens=4, updates=2, k=1, seed=0)
    holder.release()
    result = bmsample.fit(data, out=tmp_path, num_hiddens=4, updates=2, k=1, seed=0)
    assert np.isfinite(result.model.weight_matrix).all() and not (tmp_path / LOCK_NAME).exists()
