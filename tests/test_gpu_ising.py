"""Ising sweeps on the CUDA backend against the CPU kernel and the exact law (simulator, or a real GPU)."""

import numpy as np
import pytest

import bmsample
from bmsample.ising import _cpu
from bmsample.ising.sample import SAMPLERS, IsingWorkspace

pytest.importorskip("numba_cuda")
pytestmark = pytest.mark.gpu

from numba import cuda  # noqa: E402

from bmsample.ising import _gpu  # noqa: E402


def _model(num_units, dtype, seed=0):
    rng = np.random.default_rng(seed)
    coupling = rng.standard_normal((num_units, num_units)) * 0.6
    coupling = (coupling + coupling.T) / 2
    np.fill_diagonal(coupling, 0)
    return bmsample.IsingModel(coupling, rng.standard_normal(num_units) * 0.3, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_sweep_kernel_matches_the_cpu_kernel(sampler, dtype):
    """Same Philox words, same field updates in the same order: equal spins and fields."""
    model = _model(7, dtype)
    rng = np.random.default_rng(1)
    state = np.where(rng.random((6, 7)) < 0.5, 1.0, -1.0).astype(dtype)
    fields = (state @ model.coupling_matrix + model.field).astype(dtype)
    key0, key1, first_draw, offset = np.uint32(11), np.uint32(22), 2**32 - 1, 3
    cpu_state, workspace = state.copy(), IsingWorkspace(model, 6)
    workspace.local_field[...] = fields
    _cpu.sweeps(model.coupling_matrix, SAMPLERS[sampler], 3, key0, key1, first_draw, offset, cpu_state,
                *workspace.scratch())
    d_state, d_fields = cuda.to_device(state), cuda.to_device(fields)
    _gpu.sweeps(cuda.to_device(model.coupling_matrix), SAMPLERS[sampler], 3, key0, key1, first_draw, offset,
                d_state, d_fields)
    np.testing.assert_array_equal(d_state.copy_to_host(), cpu_state)
    tolerance = 64 * np.finfo(dtype).eps * (np.abs(model.coupling_matrix).sum() + np.abs(model.field).sum())
    np.testing.assert_allclose(d_fields.copy_to_host(), workspace.local_field, rtol=0, atol=tolerance)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_device_sampling_equals_the_cpu(sampler):
    """Equal chains, so the CPU sampler's exact-law tests (test_ising.py) hold on the GPU too.

    Few chains: the simulator runs a thread block per chain with a barrier per site update.
    """
    model = _model(5, "float64", seed=2)
    options = dict(init="uniform", sampler=sampler, rng=5, record=[0, 1, 2])
    cpu = bmsample.sample(model, 12, 2, **options)
    gpu = bmsample.sample(model, 12, 2, backend="cuda", **options)
    np.testing.assert_array_equal(gpu.visible, cpu.visible)
    np.testing.assert_array_equal(gpu.recorded, cpu.recorded)
