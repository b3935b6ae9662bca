"""Sampler steps in timed runs: the split changes no number, and a stop interrupts them."""

import numpy as np
import pytest
from conftest import random_rbm

import bmsample
from bmsample import _steps


def test_runs_cover_the_steps_starting_with_one_and_growing_to_the_time_budget(monkeypatch):
    runs = _steps.StepRuns()
    clock = iter(np.arange(0, 100, 0.01))  # every run "takes" 0.01 s
    monkeypatch.setattr(_steps.time, "perf_counter", lambda: next(clock))
    lengths = list(runs(1000))
    assert sum(lengths) == 1000 and lengths[0] == 1
    assert lengths[1] == int(_steps.RUN_SECONDS / 0.01)  # 0.01 s for one step: 20 steps a run
    assert list(runs(5, each=True)) == [1] * 5


def test_single_run_calls_wait_for_the_device_only_every_few_calls():
    """A training update's k steps (one run): the device is synchronised on the first call and then once in
    RETIME_CALLS calls; a call of several runs (long sampling) waits after every run."""
    runs, waits = _steps.StepRuns(), []
    for _ in range(2 * _steps.RETIME_CALLS + 1):
        list(runs(1, sync=lambda: waits.append(1)))
    assert len(waits) == 3  # calls 1, 17 and 33
    runs.seconds_per_step = _steps.RUN_SECONDS / 4  # four steps a run
    waits.clear()
    lengths = list(runs(12, sync=lambda: waits.append(1)))
    assert lengths[0] == 4 and sum(lengths) == 12 and len(waits) == len(lengths)


@pytest.mark.parametrize("model_kind", ["rbm", "ising"])
def test_the_same_chains_whatever_the_runs(monkeypatch, model_kind):
    if model_kind == "rbm":
        model, init = random_rbm(30, 20, seed=4, dtype="float32"), "uniform"
    else:
        rng = np.random.default_rng(2)
        coupling = rng.standard_normal((12, 12)) * 0.2
        coupling = (coupling + coupling.T) / 2
        np.fill_diagonal(coupling, 0)
        model, init = bmsample.IsingModel(coupling, rng.standard_normal(12) * 0.3), "uniform"
    whole = bmsample.sample(model, 300, 40, init=init, rng=3).visible
    monkeypatch.setattr(_steps, "RUN_SECONDS", 1e-12)  # one step per kernel call
    split = bmsample.sample(model, 300, 40, init=init, rng=3).visible
    np.testing.assert_array_equal(split, whole)


def test_a_stop_interrupts_running_steps_at_once_and_others_at_their_next_run():
    with pytest.raises(_steps.StepsInterrupted) as raised, _steps.abandonable():
        _steps.request_stop("SIGTERM")
    assert raised.value.signal_name == "SIGTERM"
    try:
        _steps.request_stop("SIGINT")  # outside: only noted
        with pytest.raises(_steps.StepsInterrupted, match="SIGINT"):
            bmsample.sample(random_rbm(), 10, 5, rng=0)
    finally:
        _steps.clear_stop()
    assert bmsample.sample(random_rbm(), 10, 5, rng=0).visible.shape == (10, 4)


def test_progress_counts_every_step_once():
    seen = []
    with _steps.progress(60, lambda done, total, seconds: seen.append(done), interval=0) as monitor:
        bmsample.sample(random_rbm(), 10, 60, rng=0, record=[0, 30, 60])
    assert monitor.done == 60 and seen[-1] == 60
    assert _steps.format_step_progress(30, 60, 2.0) == "step 30/60 (50%)  15 steps/s, 2 s left"
