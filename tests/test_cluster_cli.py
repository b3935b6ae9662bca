"""Cluster conventions of ``bmsample fit``: --resume, --log-json, thread counts from the scheduler."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import PCD_RUN, cut_after, invoke_cli, run_cli

import bmsample
from bmsample._threads import available_cpus


def assert_same_model(run_a, run_b):
    a, b = bmsample.read_model_file(run_a / "model.npz"), bmsample.read_model_file(run_b / "model.npz")
    for name, array in a.model.to_arrays().items():
        assert np.array_equal(array, b.model.to_arrays()[name]), name
    assert np.array_equal(a.chains, b.chains)


@pytest.mark.parametrize("flags", [PCD_RUN, ["fit", "digits", "--quiet", "--threads", "1"]],
                         ids=["same-command", "settings-from-the-run"])
def test_resume_continues_to_the_same_model(finished_pcd_run, tmp_path, flags):
    run = cut_after(finished_pcd_run, tmp_path / "run", 5)
    result = invoke_cli(*flags, "--resume", run)
    assert result.exit_code == 0, result.output
    assert "resumed at update 5" in result.stdout
    assert_same_model(run, finished_pcd_run)


def test_resume_refuses_other_settings_naming_them(finished_pcd_run, tmp_path):
    run = cut_after(finished_pcd_run, tmp_path / "run", 5)
    before = sorted(p.name for p in run.rglob("*"))
    result = invoke_cli(*PCD_RUN, "-k", "3", "--resume", run)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"error: resume: the settings differ from the run in {run}: k (run 2, now 3)")
    assert sorted(p.name for p in run.rglob("*")) == before


def test_resume_of_a_finished_run_says_so_and_keeps_it(finished_pcd_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_pcd_run, run)
    before = (run / "model.npz").read_bytes()
    result = invoke_cli(*PCD_RUN, "--resume", run)
    assert result.exit_code == 0
    assert "20 updates" in result.stdout and "resumed at update 20" in result.stdout
    assert (run / "model.npz").read_bytes() == before


def test_resume_and_another_out_are_refused(tmp_path):
    result = invoke_cli(*PCD_RUN, "--resume", tmp_path / "a", "--out", tmp_path / "b")
    assert result.exit_code == 2 and result.stderr.startswith("error: out: --resume ")


def test_log_json_writes_one_object_per_logged_update_and_a_final_one(tmp_path):
    log = tmp_path / "progress.jsonl"
    result = invoke_cli(*PCD_RUN, "--out", tmp_path / "run", "--log-json", log)
    assert result.exit_code == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["update"] for r in records[:-1]] == [r["update"] for r in logged]
    assert all(r["total_updates"] == 20 for r in records[:-1])
    assert records[-1] == {"done": True, "model": str(tmp_path / "run" / "model.npz"), "update": 20,
                           "seconds": logged[-1]["seconds"]}


def test_log_json_to_stdout_keeps_stdout_machine_readable(tmp_path):
    result = invoke_cli(*PCD_RUN, "--out", tmp_path / "run", "--log-json", "-")
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[-1]["done"] is True and records[-2]["update"] == 20
    assert result.stderr.startswith("wrote ")


def test_progress_off_a_terminal_is_plain_lines(tmp_path):
    args = [a for a in PCD_RUN if a != "--quiet"]
    result = invoke_cli(*args, "--out", tmp_path / "run")
    assert result.exit_code == 0
    assert "\r" not in result.stderr and "\033" not in result.stderr
    assert all(line.startswith("epoch ") for line in result.stderr.splitlines())


def test_available_cpus_is_capped_by_the_scheduler_allocation(monkeypatch):
    for name in ("SLURM_CPUS_PER_TASK", "PBS_NUM_PPN", "NSLOTS"):
        monkeypatch.delenv(name, raising=False)
    mask = available_cpus()
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert available_cpus() == 1
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", str(mask + 7))  # never more than the affinity mask
    assert available_cpus() == mask
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "two")  # unparsable: ignored
    assert available_cpus() == mask


def test_default_threads_follow_numba_num_threads(tmp_path):
    """Job scripts often export NUMBA_NUM_THREADS=1: the defaults use 1 thread, an explicit 2 is refused."""
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    fit = ["fit", "digits", "--hidden", "8", "--updates", "3", "-k", "1", "--seed", "0", "--quiet"]
    done = run_cli(*fit, "--out", tmp_path / "run", env=env)
    assert done.returncode == 0, done.stderr
    refused = run_cli(*fit, "--out", tmp_path / "other", "--threads", "2", env=env)
    assert refused.returncode == 2
    assert refused.stderr == "error: threads: at most 1 in this process (NUMBA_NUM_THREADS), got 2\n"
    assert not (tmp_path / "other").exists()
    info = run_cli("info", env=env)
    assert info.returncode == 0 and "default threads 1," in info.stdout


def test_sweep_threads_per_run_follow_numba_num_threads():
    code = "from bmsample.tools.sweep import _resources; print(*_resources(None, 1, None, 4))"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "1"]  # one worker of one thread, not CPUs // workers threads
