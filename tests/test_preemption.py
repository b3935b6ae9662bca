"""Real ``bmsample fit`` processes signalled or killed at random moments, then resumed to the same model."""

import json
import signal
import subprocess
import time
from pathlib import Path

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
        # The checkpoint it names: latest.npz, or update_N.npz when the signal came at a log-spaced update.
        written = Path(lines[0].split("wrote checkpoint ")[1].split(";")[0])
        assert written.parent == run_dir / "checkpoints"
        assert bmsample.read_model_file(written).metadata["checkpoint"]["update"] == update
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


# Updates of 100 000 Gibbs steps (about 0.6 s each here): a signal lands inside one.
LONG_UPDATES = ["fit", "digits", "--hidden", "16", "--batch-size", "50", "-k", "100000", "--updates", "4",
                "--scheme", "pcd", "--seed", "5", "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("long") / "run"
    subprocess.run(cli_command(*LONG_UPDATES, "--out", out), check=True, capture_output=True, timeout=300,
                   cwd=NEUTRAL_CWD)
    return finished_arrays(out)


def test_sigterm_inside_a_long_update_abandons_it_within_a_second_and_resumes_bit_identically(tmp_path,
                                                                                              long_reference):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(cli_command(*LONG_UPDATES, "--out", run_dir, "--log-json", "-"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=NEUTRAL_CWD)
    assert json.loads(proc.stdout.readline())["update"] == 1
    time.sleep(0.25)  # inside update 2
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 1.0
    assert proc.returncode == EXIT_PREEMPTED, stderr
    update = int(stderr.split()[4].rstrip(":"))
    assert update in (1, 2)  # the update in progress was dropped, the last completed one checkpointed
    latest = bmsample.read_model_file(run_dir / "checkpoints" / "latest.npz")
    assert latest.metadata["checkpoint"]["update"] == update
    proc = subprocess.run(cli_command(*LONG_UPDATES, "--resume", run_dir), capture_output=True, text=True,
                          timeout=300, cwd=NEUTRAL_CWD)
    assert proc.returncode == 0, proc.stderr
    assert_same_model(run_dir, long_reference)


def test_sigterm_during_an_endless_update_stops_within_a_second(tmp_path):
    """k = 10^9 steps never end an update: the signal still stops the run, with update 0 checkpointed."""
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(cli_command("fit", "digits", "--hidden", "16", "-k", "1000000000", "--updates", "2",
                                        "--seed", "0", "--threads", "1", "--quiet", "--out", run_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=NEUTRAL_CWD)
    time.sleep(4.0)  # start-up done, steps running
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 1.0
    assert proc.returncode == EXIT_PREEMPTED, stderr
    assert stderr.startswith("stopped: SIGTERM at update 0: wrote checkpoint ")
    assert bmsample.read_model_file(run_dir / "checkpoints" / "latest.npz").metadata["checkpoint"]["update"] == 0


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("small") / "run"
    subprocess.run(cli_command("fit", "digits", "--hidden", "16", "--updates", "5", "-k", "1", "--seed", "0",
                               "--threads", "1", "--quiet", "--out", out), check=True, capture_output=True,
                   timeout=300, cwd=NEUTRAL_CWD)
    return out / "model.npz"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_long_sampling_shows_progress_on_a_terminal_and_stops_cleanly_on_a_signal(tmp_path, small_model, signum):
    import os
    import pty

    out = tmp_path / "samples.npz"
    leader, follower = pty.openpty()  # stderr on a terminal, as for a user watching it
    proc = subprocess.Popen(cli_command("sample", small_model, "--steps", "1000000000", "--chains", "10",
                                        "--threads", "1", "--out", out), stdout=subprocess.PIPE, stderr=follower,
                            cwd=NEUTRAL_CWD)
    os.close(follower)
    time.sleep(4.0)
    sent = time.monotonic()
    proc.send_signal(signum)
    proc.wait(timeout=60)
    elapsed = time.monotonic() - sent
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    text = shown.decode()
    assert proc.returncode == EXIT_INTERRUPTED, text
    assert elapsed < 1.0
    progress = [part for part in text.split("\r\x1b[K") if part.startswith("step ")]
    assert progress and " steps/s, " in progress[-1] and progress[-1].endswith(" left")
    done = int(progress[-1].split()[1].split("/")[0])
    assert 0 < done < 1_000_000_000
    name = signal.Signals(signum).name
    assert f"error: stopped by {name} at step " in text and text.rstrip().endswith("of 1000000000; nothing written")
    assert "Traceback" not in text and not out.exists() and not list(tmp_path.glob(".*.tmp"))
