"""Exact resume from every checkpoint, for every scheme and family; refusals; divergence reports."""

import json
import shutil

import numpy as np
import pytest

import bmsample
from bmsample.training import TrainingConfig, checkpoints

# 90 rows in batches of 30: 3 updates per epoch, so the 12 updates cross epochs and the
# log-spaced checkpoints 1, 2, 5, 10 fall inside an epoch and 12 at its end.
UPDATES = 12
COMMON = {"updates": UPDATES, "batch_size": 30, "k": 2, "seed": 3, "dtype": "float64"}
CASES = {
    "rbm-rdm": {"model": "rbm", "num_hiddens": 5, "scheme": "rdm", "init": "bias"},
    "rbm-cd": {"model": "rbm", "num_hiddens": 5, "scheme": "cd"},
    "rbm-pcd-centred": {"model": "rbm", "num_hiddens": 5, "scheme": "pcd", "centered": True, "num_chains": 7},
    # A threshold of 0.97 resamples every few updates: resume must restore the weights and the streams.
    "rbm-jarzynski": {"model": "rbm", "num_hiddens": 5, "scheme": "jarzynski", "num_chains": 7, "ess_threshold": 0.97,
                      "learning_rate": 0.3},
    "gaussian-pcd-data": {"model": "gaussian", "scheme": "pcd", "init": "data", "learning_rate": 0.05},
    "gaussian-rbm-rdm-data": {"model": "gaussian-rbm", "num_hiddens": 4, "scheme": "rdm", "init": "data"},
    "ising-pcd": {"model": "ising", "scheme": "pcd", "sampler": "random-site"},
    "ising-jarzynski": {"model": "ising", "scheme": "jarzynski", "num_chains": 7, "ess_threshold": 0.97,
                        "learning_rate": 0.3},
}


def case_data(model):
    rng = np.random.default_rng(0)
    if model in ("rbm", "ising"):
        return (rng.random((90, 6)) < np.linspace(0.2, 0.8, 6)).astype(np.float64)
    return rng.standard_normal((90, 4)) @ np.diag([1.0, 0.7, 1.3, 0.5])


def parameters(model):
    return model.to_arrays()


def assert_bit_identical(result, reference):
    for name, array in parameters(reference.model).items():
        assert np.array_equal(parameters(result.model)[name], array), name
    if reference.chains is None:
        assert result.chains is None
    else:
        assert np.array_equal(result.chains, reference.chains)


def interrupted_copy(full_dir, target, keep_update):
    """A copy of a finished run directory as a run killed just after the checkpoint at ``keep_update``."""
    shutil.copytree(full_dir, target)
    (target / "model.npz").unlink()
    for path in (target / "checkpoints").glob("*.npz"):
        if checkpoints.io.read_model_file(path).metadata["checkpoint"]["update"] > keep_update:
            path.unlink()
    return target


@pytest.fixture(scope="module", params=sorted(CASES))
def full_run(request, tmp_path_factory):
    """(settings, data, run directory, result) of an uninterrupted run that also wrote latest.npz every update."""
    settings = {**COMMON, **CASES[request.param]}
    data = case_data(settings["model"])
    out = tmp_path_factory.mktemp(request.param) / "full"
    result = bmsample.fit(data, out=out, checkpoint_interval=0, **settings)
    return settings, data, out, result


def test_resume_from_every_checkpoint_is_bit_identical(full_run, tmp_path):
    settings, data, out, reference = full_run
    latest = checkpoints.io.read_model_file(out / "checkpoints" / "latest.npz").metadata["checkpoint"]["update"]
    assert latest == UPDATES - 1  # every update but the log-spaced ones rewrote it
    for keep in (1, 2, 5, 10, latest):
        run = interrupted_copy(out, tmp_path / f"at{keep}", keep)
        resumed = bmsample.fit(data, TrainingConfig(**settings), out=run, resume=True)
        assert resumed.resumed_from == keep
        assert_bit_identical(resumed, reference)
        assert [r["update"] for r in resumed.history] == [r["update"] for r in reference.history]
        logged = [json.loads(line)["update"] for line in (run / "log.jsonl").read_text().splitlines()]
        assert logged == [r["update"] for r in reference.history]


def test_resume_with_the_saved_settings_only(full_run, tmp_path):
    _, data, out, reference = full_run
    run = interrupted_copy(out, tmp_path / "run", 5)
    assert_bit_identical(bmsample.fit(data, out=run, resume=True), reference)


def test_checkpoints_hold_the_whole_run_state(full_run):
    settings, _, out, _ = full_run
    loaded = checkpoints.io.read_model_file(out / "checkpoints" / "update_00000005.npz")
    block = loaded.metadata["checkpoint"]
    assert block["update"] == 5 and block["epoch"] == 2
    assert set(block) >= {"streams", "order", "rows", "seconds", "data_sha256"}
    assert (loaded.chains is not None) == (settings["scheme"] in ("pcd", "jarzynski"))
    assert ("trainer_hidden_offset" in loaded.arrays) == settings.get("centered", False)
    assert ("trainer_log_weights" in loaded.arrays) == (settings["scheme"] == "jarzynski")


def test_resume_of_a_finished_run_returns_it_untouched(full_run, tmp_path):
    settings, data, out, reference = full_run
    run = tmp_path / "done"
    shutil.copytree(out, run)
    before = (run / "model.npz").read_bytes()
    result = bmsample.fit(data, out=run, resume=True)
    assert result.resumed_from == UPDATES
    assert_bit_identical(result, reference)
    assert (run / "model.npz").read_bytes() == before


def rbm_run(tmp_path):
    data = case_data("rbm")
    settings = {**COMMON, **CASES["rbm-cd"]}
    out = tmp_path / "run"
    bmsample.fit(data, out=out, **settings)
    return data, settings, out


@pytest.mark.parametrize("change, names", [({"k": 3}, r"k \(run 2, now 3\)"),
                                           ({"seed": 4, "learning_rate": 0.5}, "learning_rate .*; seed")])
def test_resume_refuses_other_settings(tmp_path, change, names):
    data, settings, out = rbm_run(tmp_path)
    with pytest.raises(ValueError, match=f"resume: the settings differ .*{names}"):
        bmsample.fit(data, out=out, resume=True, **{**settings, **change})


def test_resume_refuses_other_data(tmp_path):
    data, settings, out = rbm_run(tmp_path)
    (out / "model.npz").unlink()
    with pytest.raises(ValueError, match="data: not the data of the run"):
        bmsample.fit(1 - data, out=out, resume=True, **settings)


def test_resume_refuses_a_directory_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a bmsample run directory"):
        bmsample.fit(case_data("rbm"), out=tmp_path, resume=True, **COMMON)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_resume_without_a_checkpoint_starts_the_run(tmp_path):
    data, settings = case_data("rbm"), {**COMMON, **CASES["rbm-cd"]}
    reference = bmsample.fit(data, **settings)
    result = bmsample.fit(data, out=tmp_path / "new", resume=True, **settings)
    assert result.resumed_from is None
    assert_bit_identical(result, reference)


def test_resume_skips_temporaries_of_a_killed_write(tmp_path):
    data, settings, out = rbm_run(tmp_path)
    (out / "model.npz").unlink()
    (out / "checkpoints" / "update_00000012.npz").unlink()
    stray = out / "checkpoints" / ".update_00000012.npz.abc123.tmp"
    stray.write_bytes(b"PK\x03\x04 torn")
    bmsample.fit(data, out=out, resume=True)
    assert not stray.exists()
