"""Edited or damaged checkpoints are checked like model files before a run resumes from them."""

import json

import numpy as np
import pytest
from conftest import PCD_RUN, cut_after, invoke_cli

import bmsample


def edit(path, change):
    """Rewrite a checkpoint with ``change(arrays, metadata)`` applied (as a user or a bad disk might)."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(str(arrays.pop("metadata")))
    change(arrays, metadata)
    np.savez(path, metadata=np.array(json.dumps(metadata)), **arrays)


def drop_streams(arrays, meta):
    del meta["checkpoint"]["streams"]


def huge_update(arrays, meta):
    meta["checkpoint"]["update"] = 10**12


def negative_update(arrays, meta):
    meta["checkpoint"]["update"] = -3


def half_chains(arrays, meta):
    arrays["chains"] = arrays["chains"] * 0.5


def garbage_order(arrays, meta):
    meta["checkpoint"]["order"] = {"bit_generator": "PCG64", "state": "scrambled"}


def wide_key(arrays, meta):
    meta["checkpoint"]["streams"]["key"] = [2**40, 1]


def wrong_epoch(arrays, meta):
    meta["checkpoint"]["epoch"] = 7


def short_weights(arrays, meta):  # a consistent model of 4 hidden units, not the run's 8
    arrays["weight_matrix"] = arrays["weight_matrix"][:, :4].copy()
    arrays["hbias"] = arrays["hbias"][:4].copy()
    meta["num_hiddens"] = 4


def no_chains(arrays, meta):
    del arrays["chains"]


EDITS = {  # edit -> the entry the error names
    "missing streams": (drop_streams, "entry metadata.checkpoint.streams: missing"),
    "update 10^12": (huge_update, "entry metadata.checkpoint.update: expected an integer in [0, 20], got "
                                  "1000000000000"),
    "negative update": (negative_update, "entry metadata.checkpoint.update: expected an integer in [0, 20], got -3"),
    "non-binary chains": (half_chains, "entry chains: expected states in {0, 1}, got np.float32(0.5)"),
    "order not a generator state": (garbage_order, "entry metadata.checkpoint.order: not a PCG64 generator state"),
    "key past 32 bits": (wide_key, "entry metadata.checkpoint.streams.key: expected an integer in [0, 4294967295]"),
    "epoch of another update": (wrong_epoch, "entry metadata.checkpoint.epoch: expected an integer in [1, 1]"),
    "weights of another shape": (short_weights, "entry weight_matrix: expected float32 of shape (64, 8), got "
                                                "float32 of shape (64, 4)"),
    "chains missing": (no_chains, "entry chains: missing"),
}


@pytest.mark.parametrize("case", EDITS, ids=list(EDITS))
def test_a_bad_only_checkpoint_is_a_one_line_error_naming_the_entry(finished_pcd_run, tmp_path, case):
    change, entry = EDITS[case]
    run = cut_after(finished_pcd_run, tmp_path / "run", 5)
    for name in ("update_00000001.npz", "update_00000002.npz"):
        (run / "checkpoints" / name).unlink()
    bad = run / "checkpoints" / "update_00000005.npz"
    edit(bad, change)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = invoke_cli(*PCD_RUN, "--resume", run)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"error: resume: {bad}: {entry}"), result.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("case", ["missing streams", "negative update", "non-binary chains"])
def test_a_bad_newest_checkpoint_falls_back_to_an_older_one_with_a_warning(finished_pcd_run, tmp_path, case):
    change, entry = EDITS[case]
    run = cut_after(finished_pcd_run, tmp_path / "run", 5)
    bad, used = run / "checkpoints" / "update_00000005.npz", run / "checkpoints" / "update_00000002.npz"
    edit(bad, change)
    result = invoke_cli(*PCD_RUN, "--resume", run)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [f"warning: resume: {bad}: {entry}; resuming from {used} instead"]
    assert "resumed at update 2" in result.stdout
    expected = bmsample.read_model_file(finished_pcd_run / "model.npz")
    resumed = bmsample.read_model_file(run / "model.npz")
    np.testing.assert_array_equal(resumed.model.weight_matrix, expected.model.weight_matrix)
    np.testing.assert_array_equal(resumed.chains, expected.chains)


def test_a_damaged_latest_checkpoint_is_passed_over_with_a_warning(finished_pcd_run, tmp_path):
    run = cut_after(finished_pcd_run, tmp_path / "run", 10)
    latest = run / "checkpoints" / "latest.npz"
    latest.write_bytes(b"PK\x03\x04 not a zip any more")
    result = invoke_cli(*PCD_RUN, "--resume", run)
    assert result.exit_code == 0, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"warning: resume: {latest}: not a readable bmsample model file")
    assert line.endswith(f"; resuming from {run / 'checkpoints' / 'update_00000010.npz'} instead")


def test_resuming_as_another_family_says_which_family_the_run_is(finished_pcd_run, tmp_path):
    run = cut_after(finished_pcd_run, tmp_path / "run", 5)
    result = invoke_cli("fit", "digits", "--model", "gaussian-rbm", "--resume", run, "--quiet")
    assert result.exit_code == 2
    assert result.stderr == (f"error: resume: the run in {run} was trained as --model rbm, not gaussian-rbm; resume "
                             "it without --model, or train the new model in another out\n")
