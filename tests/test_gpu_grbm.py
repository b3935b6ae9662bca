"""The Gaussian-Bernoulli RBM on the CUDA backend against the CPU: kernels, sampling, training files."""

import numpy as np
import pytest
from conftest import assert_same_run_files

import bmsample
from bmsample._rng import normals_reference
from bmsample.grbm import _cpu

pytest.importorskip("numba_cuda")
pytestmark = pytest.mark.gpu

from numba import cuda  # noqa: E402

from bmsample.grbm import _gpu  # noqa: E402

#: float32: Box-Muller through logf / sinf / cosf against float64 maths; float64: a few ulps.
RTOL = {"float32": 2e-5, "float64": 1e-12}


def _model(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return bmsample.GaussianBernoulliRBM(rng.standard_normal((5, 3)) * 0.5, rng.standard_normal(5) * 0.2,
                                         rng.standard_normal(3) * 0.2, sigma=0.5 + rng.random(5), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gaussian_visible_kernel_matches_the_cpu_twin_and_the_reference(dtype):
    rng = np.random.default_rng(1)
    field = rng.standard_normal((6, 7)).astype(dtype)
    bias, sigma = rng.standard_normal(7).astype(dtype), (0.5 + rng.random(7)).astype(dtype)
    key, draw, offset = (3, 4), 2**32 + 1, 2
    cpu_states, cpu_means = np.empty_like(field), np.empty_like(field)
    _cpu.sample_gaussian_visible(field, bias, sigma, np.uint32(key[0]), np.uint32(key[1]), draw, offset,
                                 cpu_states, cpu_means)
    states, means = cuda.device_array_like(field), cuda.device_array_like(field)
    _gpu.sample_gaussian_visible(cuda.to_device(field), cuda.to_device(bias), cuda.to_device(sigma),
                                 np.uint32(key[0]), np.uint32(key[1]), draw, offset, states, means)
    exact = bias + sigma * field + sigma * normals_reference(key, draw, offset + np.arange(6), 7, dtype)
    np.testing.assert_allclose(states.copy_to_host(), exact, rtol=RTOL[dtype], atol=RTOL[dtype])
    np.testing.assert_allclose(states.copy_to_host(), cpu_states, rtol=RTOL[dtype], atol=RTOL[dtype])
    np.testing.assert_allclose(means.copy_to_host(), cpu_means, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_sampling_equals_the_cpu(dtype):
    """The same Philox draws: hidden states equal (away from rounding ties), visible states to rounding."""
    model = _model(dtype)
    options = dict(num_chains=10, steps=3, init="gaussian", rng=5, record=[0, 3])
    cpu = bmsample.sample(model, **options)
    gpu = bmsample.sample(model, backend="cuda", **options)
    np.testing.assert_allclose(gpu.visible, cpu.visible, rtol=8 * RTOL[dtype], atol=8 * RTOL[dtype])
    np.testing.assert_allclose(gpu.recorded, cpu.recorded, rtol=8 * RTOL[dtype], atol=8 * RTOL[dtype])
    assert not np.allclose(cpu.recorded[0], cpu.recorded[1])  # the chains moved


@pytest.mark.parametrize("scheme, init", [("rdm", "gaussian"), ("cd", "zeros"), ("pcd", "data")])
def test_device_training_writes_the_cpu_run(tmp_path, scheme, init):
    rng = np.random.default_rng(4)
    data = rng.standard_normal((32, 4)) * np.array([1.0, 2.0, 0.5, 1.0]) + np.array([0.0, 1.0, -1.0, 3.0])
    settings = dict(model="gaussian-rbm", num_hiddens=3, scheme=scheme, init=init, k=2, batch_size=8, num_chains=12,
                    updates=3, learning_rate=0.1, l2=0.01, dtype="float64", seed=5)
    cpu = bmsample.fit(data, out=tmp_path / "cpu", **settings)
    gpu = bmsample.fit(data, out=tmp_path / "gpu", backend="cuda", **settings)
    assert_same_run_files(tmp_path / "cpu", tmp_path / "gpu", rtol=1e-10, atol=1e-10)
    assert not np.allclose(cpu.model.weight_matrix, bmsample.load_model(tmp_path / "cpu" / "checkpoints" /
                                                                        "update_00000001.npz").weight_matrix)
    for cpu_record, gpu_record in zip(cpu.history, gpu.history, strict=True):
        assert gpu_record.keys() == cpu_record.keys()
        for key in ("mean_rmse", "variance_rmse"):
            assert gpu_record[key] == pytest.approx(cpu_record[key], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tempered_visible_kernel_draws_the_cpu_passes_units(dtype):
    """The visible pass of parallel tempering at each row's beta: the CPU's scaled field, then its draw."""
    rng = np.random.default_rng(2)
    field = rng.standard_normal((6, 7)).astype(dtype)
    gap, bias, sigma = rng.standard_normal(7).astype(dtype), rng.standard_normal(7).astype(dtype), \
        (0.5 + rng.random(7)).astype(dtype)
    beta = np.array([1.0, 0.0, 0.5, 0.2, 0.9, 0.3], dtype=dtype)
    key, draw, offset = (3, 4), 7, 1
    tempered = field * beta[:, None] + (1 - beta)[:, None] * gap[None, :]
    cpu_states = np.empty_like(field)
    _cpu.sample_gaussian_visible(tempered, bias, sigma, np.uint32(key[0]), np.uint32(key[1]), draw, offset,
                                 cpu_states)
    states = cuda.device_array_like(field)
    _gpu.sample_tempered_gaussian_visible(*(cuda.to_device(a) for a in (field, gap, beta, bias, sigma)),
                                          np.uint32(key[0]), np.uint32(key[1]), draw, offset, states)
    np.testing.assert_allclose(states.copy_to_host(), cpu_states, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_parallel_tempering_runs_the_cpu_ladder(dtype):
    """Same swaps and replicas as the CPU, states to rounding: the device's gaps decide as the CPU's do."""
    from bmsample.tempering import parallel_tempering

    options = dict(num_chains=3, sweeps=5, betas=[1.0, 0.5, 0.0], rng=4, record=[0, 5], record_replicas=True)
    cpu = parallel_tempering(_model(dtype), **options)
    gpu = parallel_tempering(_model(dtype), backend="cuda", **options)
    np.testing.assert_array_equal(gpu.replica_history, cpu.replica_history)
    np.testing.assert_array_equal(gpu.acceptance, cpu.acceptance)
    np.testing.assert_allclose(gpu.replica_states, cpu.replica_states, rtol=8 * RTOL[dtype], atol=8 * RTOL[dtype])
    np.testing.assert_allclose(gpu.recorded, cpu.recorded, rtol=8 * RTOL[dtype], atol=8 * RTOL[dtype])
    assert 0 < cpu.acceptance.min() and not np.allclose(cpu.recorded[0], cpu.recorded[1])
