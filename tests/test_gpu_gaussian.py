"""Gaussian Langevin on the CUDA backend: kernels against the NumPy reference and the CPU twins, and sampling."""

import json

import numpy as np
import pytest
from conftest import chain_layouts

import bmsample
from bmsample._rng import normals_reference, reference_uniforms
from bmsample.gaussian import _cpu

pytest.importorskip("numba_cuda")
pytestmark = pytest.mark.gpu

from numba import cuda  # noqa: E402

from bmsample.gaussian import _gpu  # noqa: E402

LAYOUTS = chain_layouts()
KEY, DRAW, OFFSET = (123456789, 987654321), 2**32 + 3, 5
#: float32: Box-Muller through logf / sinf / cosf against float64 maths; float64: a few ulps.
RTOL = {"float32": 2e-5, "float64": 1e-12}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_normals_match_the_reference(dtype):
    """7 units: a full Box-Muller block and a partial one in both dtypes; the draw uses both counter words."""
    out = cuda.device_array((6, 7), dtype=dtype)
    _gpu.fill_normal(0.5, 2.0, np.uint32(KEY[0]), np.uint32(KEY[1]), DRAW, OFFSET, out)
    xi = normals_reference(KEY, DRAW, OFFSET + np.arange(6), 7, dtype)
    np.testing.assert_allclose(out.copy_to_host(), 0.5 + 2.0 * xi, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_uniforms_match_the_reference(dtype):
    out = cuda.device_array((6, 7), dtype=dtype)
    _gpu.fill_uniform(-1.5, 1.5, np.uint32(KEY[0]), np.uint32(KEY[1]), DRAW, OFFSET, out)
    u = reference_uniforms(KEY, DRAW, OFFSET + np.arange(6), 7, dtype).astype(np.float64)
    np.testing.assert_allclose(out.copy_to_host(), -1.5 + 3.0 * u, rtol=0, atol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_langevin_update_matches_the_cpu_twin(dtype):
    rng = np.random.default_rng(1)
    field, state = (rng.standard_normal((6, 7)).astype(dtype) for _ in range(2))
    bias = rng.standard_normal(7).astype(dtype)
    eps, noise = np.dtype(dtype).type(0.1), np.dtype(dtype).type(np.sqrt(0.2))
    cpu_state = state.copy()
    _cpu.langevin_update(field, bias, eps, noise, np.uint32(KEY[0]), np.uint32(KEY[1]), DRAW, OFFSET, cpu_state)
    d_state = cuda.to_device(state)
    _gpu.langevin_update(cuda.to_device(field), cuda.to_device(bias), eps, noise, np.uint32(KEY[0]),
                         np.uint32(KEY[1]), DRAW, OFFSET, d_state)
    np.testing.assert_allclose(d_state.copy_to_host(), cpu_state, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_langevin_sampling_equals_the_cpu_to_rounding(dtype):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 5))
    model = bmsample.GaussianModel(a @ a.T / 5 + np.eye(5), rng.standard_normal(5), dtype=dtype)
    options = dict(num_chains=12, steps=4, init="gaussian", sampler="langevin", step_size=0.05, rng=3,
                   record=[0, 4])
    cpu = bmsample.sample(model, **options)
    gpu = bmsample.sample(model, backend="cuda", **options)
    # Four steps of a contraction (eps * max eigenvalue < 1) keep the per-step rounding at its size.
    np.testing.assert_allclose(gpu.visible, cpu.visible, rtol=4 * RTOL[dtype], atol=4 * RTOL[dtype])
    np.testing.assert_allclose(gpu.recorded, cpu.recorded, rtol=4 * RTOL[dtype], atol=4 * RTOL[dtype])


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gibbs_sweep_matches_the_cpu_twin(dtype, layout):
    """Same normals, same coordinate order, same field updates: equal chains and fields up to rounding, in
    every layout of chains on thread blocks."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((7, 7))
    coupling = (a @ a.T / 7 + np.eye(7)).astype(dtype)
    bias, temperature = rng.standard_normal(7).astype(dtype), 0.7
    state = rng.standard_normal((7, 7)).astype(dtype)
    noise = rng.standard_normal((7, 7)).astype(dtype)
    field = (state @ coupling).astype(dtype)
    diagonal = np.diag(coupling).astype(np.float64)
    cpu_state, cpu_field = state.copy(), field.copy()
    _cpu.gibbs_sweep(coupling, bias, (1 / diagonal).astype(dtype), np.sqrt(temperature / diagonal).astype(dtype),
                     noise, cpu_field, cpu_state)
    d_state, d_field = cuda.to_device(state), cuda.to_device(field)
    _gpu.gibbs_sweep(cuda.to_device(coupling), cuda.to_device(bias), temperature, cuda.to_device(noise), d_field,
                     d_state, layout=LAYOUTS[layout])
    np.testing.assert_allclose(d_state.copy_to_host(), cpu_state, rtol=RTOL[dtype], atol=RTOL[dtype])
    np.testing.assert_allclose(d_field.copy_to_host(), cpu_field, rtol=RTOL[dtype], atol=RTOL[dtype])
    assert not np.allclose(cpu_state, state)  # the sweep moved every chain


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_gibbs_sampling_equals_the_cpu_to_rounding(dtype):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 5))
    model = bmsample.GaussianModel(a @ a.T / 5 + np.eye(5), rng.standard_normal(5), dtype=dtype)
    options = dict(num_chains=12, steps=3, init="gaussian", sampler="gibbs", temperature=0.8, rng=3, record=[0, 3])
    cpu = bmsample.sample(model, **options)
    gpu = bmsample.sample(model, backend="cuda", **options)
    np.testing.assert_allclose(gpu.visible, cpu.visible, rtol=8 * RTOL[dtype], atol=8 * RTOL[dtype])
    np.testing.assert_allclose(gpu.recorded, cpu.recorded, rtol=8 * RTOL[dtype], atol=8 * RTOL[dtype])


def _run_arrays(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _comparable_metadata(entry):
    """A file's metadata without what differs between any two runs: creation time, elapsed seconds."""
    metadata = json.loads(str(entry))
    metadata.pop("created", None)
    metadata.get("checkpoint", {}).pop("seconds", None)
    return metadata


@pytest.mark.parametrize("scheme, init, sampler", [("rdm", "uniform", "langevin"), ("rdm", "zeros", "langevin"),
                                                   ("cd", "gaussian", "langevin"), ("pcd", "data", "langevin"),
                                                   ("rdm", "gaussian", "gibbs"), ("pcd", "data", "gibbs")])
def test_device_training_writes_the_cpu_run(tmp_path, scheme, init, sampler):
    rng = np.random.default_rng(4)
    data = rng.standard_normal((32, 4)) @ np.array([[1, 0.5, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0.3], [0, 0, 0, 1]])
    settings = dict(model="gaussian", scheme=scheme, init=init, sampler=sampler, k=3, step_size=0.05, batch_size=8,
                    num_chains=12, updates=3, learning_rate=0.1, dtype="float64", seed=5)
    cpu = bmsample.fit(data, out=tmp_path / "cpu", **settings)
    gpu = bmsample.fit(data, out=tmp_path / "gpu", backend="cuda", **settings)
    cpu_files, gpu_files = (sorted(p.relative_to(tmp_path / side) for p in (tmp_path / side).rglob("*.npz"))
                            for side in ("cpu", "gpu"))
    assert gpu_files == cpu_files
    for name in cpu_files:
        cpu_arrays, gpu_arrays = _run_arrays(tmp_path / "cpu" / name), _run_arrays(tmp_path / "gpu" / name)
        gpu_meta, cpu_meta = (_comparable_metadata(arrays.pop("metadata")) for arrays in (gpu_arrays, cpu_arrays))
        assert gpu_meta == cpu_meta, name
        for key, array in cpu_arrays.items():
            # Float64 products and Box-Muller in another order: a few ulps through three updates.
            np.testing.assert_allclose(gpu_arrays[key], array, rtol=1e-10, atol=1e-10, err_msg=f"{name} {key}")
    for cpu_record, gpu_record in zip(cpu.history, gpu.history, strict=True):
        assert gpu_record.keys() == cpu_record.keys()
        for key in ("mean_rmse", "variance_rmse"):
            assert gpu_record[key] == pytest.approx(cpu_record[key], rel=1e-9, abs=1e-12)
