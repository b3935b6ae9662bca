"""The golden runs of ``golden_runs.py`` are unchanged: every family, scheme and sampler, bit for bit."""

import json

import numpy as np
import pytest
from golden_runs import PATH, RUNS, environment, run

pytest.importorskip("threadpoolctl")


@pytest.fixture(scope="module")
def golden():
    with np.load(PATH) as stored:
        arrays = {name: stored[name] for name in stored.files}
    return arrays, json.loads(str(arrays.pop("environment")))


@pytest.mark.parametrize("name", list(RUNS))
def test_golden_run_is_unchanged(golden, name):
    arrays, recorded = golden
    found = run(name)
    stored = {key.split("/", 1)[1]: value for key, value in arrays.items() if key.startswith(f"{name}/")}
    assert set(found) == set(stored)
    same_blas = environment() == recorded
    for key, value in found.items():
        assert value.dtype == stored[key].dtype and value.shape == stored[key].shape, key
        if same_blas:
            np.testing.assert_array_equal(value, stored[key], err_msg=key)
        else:  # another BLAS kernel rounds products differently; a changed draw moves far more than this
            np.testing.assert_allclose(value, stored[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_golden_runs_are_finite_trained_models(golden):
    """A golden file written from a broken run (NaN, or parameters that never moved) would guard nothing."""
    arrays, _ = golden
    assert len(RUNS) >= 12 and len(arrays) >= 3 * len(RUNS)
    for name in RUNS:
        params = [value for key, value in arrays.items() if key.startswith(f"{name}/")]
        assert all(np.isfinite(p).all() for p in params), name
        assert any(p.size > 1 and np.ptp(p) > 0 for p in params), name
