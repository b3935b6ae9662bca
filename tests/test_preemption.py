"""Real ``bmsample fit`` processes signalled or killed at random moments, then resumed to the same model."""

import json
import signal
import subprocess
import time

import numpy as np
import pytest
from conftest import NEUTRAL_CWD, cli_command

import bmsample

# 150 PCD updates of 36 per epoch, latest.npz rewritten after every update: a kill
# often lands inside a write.
FIT = ["fit", "digits", "--hidden", "16", "--batch-size", "50", "-k", "2", "--updates", "150", "--scheme", "pcd",
       "--seed", "1", "--threads", "1", "--checkpoint-interval", "0", "--quiet"]
EXIT_PREEMPTED, EXIT_INTERRUPTED = 75, 130




def finished_arrays(run_dir):
    loaded = bmsample.read_model_file(run_dir / "model.npz")
    return {**loaded.model.to_arrays(), "chains": loaded.chains}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    subprocess.run(cli_command(*FIT, "--out", out), check=True, capture_output=True, timeout=300, cwd=NEUTRAL_CWD)
    return finished_arrays(out)


def every_file_loads(run_dir):
    """Every model file left in the run is whole; returns how many there are."""
    paths = sorted(run_dir.rglob("*.npz"))
    for path in paths:
        bmsample.read_model_file(path)
    return len(paths)


def resume_to_the_end(run_dir):
    proc = subprocess.run(cli_command(*FIT, "--resume", run_dir), capture_output=True, text=True, timeout=300,
                          cwd=NEUTRAL_CWD)
    assert proc.returncode == 0, proc.stderr
    assert not list(run_dir.rglob(".*.tmp"))


def assert_same_model(run_dir, reference):
    for name, array in finished_arrays(run_dir).items():
        assert np.array_equal(array, reference[name]), name


def stop_after(run_dir, delay, signals):
    """Start a run, send ``signals`` (0.05 s apart) after ``delay`` seconds; (return code, stderr)."""
    proc = subprocess.Popen(cli_command(*FIT, "--out", run_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=NEUTRAL_CWD)
    time.sleep(delay)
    for signum in signals:
        proc.send_signal(signum)
        time.sleep(0.05)
    _, stderr = proc.communicate(timeout=300)
    return proc.returncode, stderr


# Start-up (imports, cached kernels) takes about 2 s here and training 2-3 s: the moments
# fall before, during and after the handlers are installed.
MOMENTS = np.random.default_rng(7).uniform(1.0, 5.0, size=4)


@pytest.mark.parametrize("trial", range(2))
def test_sigterm_checkpoints_exits_75_and_resumes_bit_identically(tmp_path, reference, trial):
    run_dir = tmp_path / "run"
    code, stderr = stop_after(run_dir, MOMENTS[trial], [signal.SIGTERM])
    assert code in (EXIT_PREEMPTED, 0, -signal.SIGTERM), stderr
    if code == EXIT_PREEMPTED:
        lines = stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("stopped: SIGTERM at update ")
        assert lines[0].endswith(f"continue with --resume {run_dir}")
        update = int(lines[0].split()[4].rstrip(":"))
        latest = bmsample.read_model_file(run_dir / "checkpoints" / "latest.npz")
        logged = [json.loads(line)["update"] for line in (run_dir / "log.jsonl").read_text().splitlines()]
        assert update in (latest.metadata["checkpoint"]["update"], logged[-1])
    if run_dir.exists():
        every_file_loads(run_dir)
    resume_to_the_end(run_dir)
    assert_same_model(run_dir, reference)


@pytest.mark.parametrize("trial", range(2))
def test_sigkill_at_any_moment_leaves_whole_files(tmp_path, reference, trial):
    run_dir = tmp_path / "run"
    code, _ = stop_after(run_dir, MOMENTS[2 + trial], [signal.SIGKILL])
    assert code in (0, -signal.SIGKILL)
    if run_dir.exists():
        every_file_loads(run_dir)
    resume_to_the_end(run_dir)
    assert_same_model(run_dir, reference)


def test_a_second_sigint_stops_at_once_and_leaves_whole_files(tmp_path, reference):
    """The first SIGINT asks for a checkpoint; the second (while training, writing or exiting) stops the process."""
    run_dir = tmp_path / "run"
    code, stderr = stop_after(run_dir, 3.5, [signal.SIGINT, signal.SIGINT])
    assert code in (EXIT_PREEMPTED, EXIT_INTERRUPTED, -signal.SIGINT, 0), stderr
    assert "Traceback" not in stderr
    every_file_loads(run_dir)
    resume_to_the_end(run_dir)
    assert_same_model(run_dir, reference)


def test_sigterm_during_training_exits_75_with_the_update_checkpointed(tmp_path, reference):
    """Signalled once its first JSON progress line is out, the run must be inside the training loop."""
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(cli_command(*FIT, "--out", run_dir, "--log-json", "-"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=NEUTRAL_CWD)
    first = json.loads(proc.stdout.readline())
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == EXIT_PREEMPTED, stderr
    update = int(stderr.split()[4].rstrip(":"))
    assert update >= first["update"]
    records = [json.loads(line) for line in stdout.splitlines()]
    assert all("update" in record and "done" not in record for record in records)
    checkpoints = {bmsample.read_model_file(path).metadata["checkpoint"]["update"]
                   for path in (run_dir / "checkpoints").glob("*.npz")}
    assert max(checkpoints) == update
    resume_to_the_end(run_dir)
    assert_same_model(run_dir, reference)
