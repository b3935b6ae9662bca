"""The RBM on the CUDA backend against the CPU: same chains, same law, same run files.

The GPU draws the CPU's Philox numbers, so chains agree exactly unless float
rounding of a field flips a comparison ``u < p``; with O(1) fields that has
probability of order eps per unit (about 1e-16 in float64, 1e-7 in float32),
far below one over the few thousand units these tests draw.
"""

import json

import numpy as np
import pytest
from conftest import chi_square_ok, random_rbm, resume_from_update_2

import bmsample
from bmsample.rbm.model import exact_process_distribution, state_index

pytest.importorskip("numba_cuda")
pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_chains_equal_the_cpu_chains(dtype):
    model = random_rbm(6, 4, scale=1.5, seed=3, dtype=dtype)
    options = dict(num_chains=20, steps=3, init="uniform", rng=7, record=[0, 2, 3], return_means=True)
    cpu = bmsample.sample(model, **options)
    gpu = bmsample.sample(model, backend="cuda", **options)
    np.testing.assert_array_equal(gpu.visible, cpu.visible)
    np.testing.assert_array_equal(gpu.recorded, cpu.recorded)
    assert gpu.visible.dtype == cpu.visible.dtype
    np.testing.assert_allclose(gpu.visible_means, cpu.visible_means, rtol=0, atol=64 * np.finfo(dtype).eps)


def test_device_sampler_follows_the_exact_k_step_law():
    model = random_rbm(4, 3, scale=1.5, seed=5, dtype="float32")
    steps, num_chains = 2, 400
    result = bmsample.sample(model, num_chains, steps, init="uniform", rng=11, backend="cuda")
    law = exact_process_distribution(model, np.full(16, 1 / 16), steps)
    counts = np.bincount(state_index(result.visible), minlength=16)
    stat, dof, ok = chi_square_ok(counts, law)
    assert ok, (stat, dof)


def _binary_data(num_rows=48, num_visibles=6, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.random((3, num_visibles)) < 0.5
    rows = prototypes[rng.integers(0, 3, num_rows)] ^ (rng.random((num_rows, num_visibles)) < 0.1)
    return rows.astype(np.float64)


def _run_files(path):
    with np.load(path / "model.npz", allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(str(arrays.pop("metadata")))
    return arrays, metadata


@pytest.mark.parametrize("scheme, centered", [("rdm", False), ("cd", False), ("pcd", False), ("pcd", True),
                                              ("rdm", True)])
def test_device_training_writes_the_cpu_run(tmp_path, scheme, centered):
    data = _binary_data()
    settings = dict(num_hiddens=4, scheme=scheme, k=2, batch_size=16, num_chains=24, updates=3, learning_rate=0.2,
                    l2=0.01, dtype="float64", seed=3, centered=centered, centering_rate=0.3)
    cpu = bmsample.fit(data, out=tmp_path / "cpu", **settings)
    gpu = bmsample.fit(data, out=tmp_path / "gpu", backend="cuda", **settings)
    cpu_arrays, cpu_meta = _run_files(tmp_path / "cpu")
    gpu_arrays, gpu_meta = _run_files(tmp_path / "gpu")
    assert sorted(gpu_arrays) == sorted(cpu_arrays)
    for name, array in cpu_arrays.items():
        # Float64 sums in another order: equal to a few ulps of the parameters' size.
        np.testing.assert_allclose(gpu_arrays[name], array, rtol=1e-12, atol=1e-13, err_msg=name)
    cpu_meta.pop("created", None), gpu_meta.pop("created", None)
    assert gpu_meta == cpu_meta
    checkpoints = sorted(p.name for p in (tmp_path / "cpu" / "checkpoints").iterdir())
    assert sorted(p.name for p in (tmp_path / "gpu" / "checkpoints").iterdir()) == checkpoints
    for name in checkpoints:  # parameters, chains and the centred gradient's hidden offset at every checkpoint
        cpu_path, gpu_path = (tmp_path / run / "checkpoints" / name for run in ("cpu", "gpu"))
        with np.load(cpu_path) as c, np.load(gpu_path) as g:
            assert sorted(g.files) == sorted(c.files)
            assert ("trainer_hidden_offset" in c.files) == centered
            for array in set(c.files) - {"metadata"}:
                np.testing.assert_allclose(g[array], c[array], rtol=1e-12, atol=1e-13, err_msg=f"{name}: {array}")
    for cpu_record, gpu_record in zip(cpu.history, gpu.history, strict=True):
        assert gpu_record.keys() == cpu_record.keys()
        assert gpu_record["magnetisation_rmse"] == pytest.approx(cpu_record["magnetisation_rmse"], abs=1e-12)
    np.testing.assert_allclose(gpu.model.weight_matrix, cpu.model.weight_matrix, rtol=1e-12, atol=1e-13)
    # A model trained on the device samples on the CPU like the CPU-trained one.
    loaded = bmsample.load_model(tmp_path / "gpu" / "model.npz")
    assert loaded.weight_matrix.shape == (6, 4)


# The simulator runs kernels as NumPy scalar code in threads that fit's np.errstate does not reach.
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_device_training_reports_divergence_at_the_cpu_update():
    data = np.eye(4)[[0, 1, 2, 3] * 10]  # as the CPU test: diverges at update 2
    settings = dict(num_hiddens=3, updates=50, batch_size=10, learning_rate=1e38, seed=0)
    messages = []
    for backend in ("cpu", "cuda"):
        with pytest.raises(bmsample.TrainingDiverged, match=r"^training diverged at update 2 \(epoch 1\): ") as info:
            bmsample.fit(data, backend=backend, **settings)
        messages.append(str(info.value))
    assert "weight_matrix" in messages[1] and messages[1] == messages[0]


def test_cli_device_option(tmp_path):
    from click.testing import CliRunner

    from bmsample.cli.main import main

    bmsample.save_model(tmp_path / "model.npz", random_rbm(6, 4, seed=1, dtype="float32"))
    runner = CliRunner()
    args = ["sample", str(tmp_path / "model.npz"), "--chains", "8", "--steps", "2", "--seed", "4"]
    for device in ("cpu", "cuda"):
        result = runner.invoke(main, [*args, "--device", device, "--out", str(tmp_path / f"{device}.npz")])
        assert result.exit_code == 0, result.output
    with np.load(tmp_path / "cpu.npz") as cpu, np.load(tmp_path / "cuda.npz") as gpu:
        np.testing.assert_array_equal(gpu["visible"], cpu["visible"])
    result = runner.invoke(main, [*args, "--device", "gpu", "--out", str(tmp_path / "bad.npz")])
    assert result.exit_code == 2 and result.output.startswith("error: backend: expected")
    assert not (tmp_path / "bad.npz").exists()


def test_device_check_script_compares_cpu_and_gpu():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = module.Report(None, deadline=600)
    lines = []
    report.line = lines.append
    module.compare_cpu_gpu(report, 6, 4, 8, 1)
    assert len(lines) == 8 and all("100.00% chains identical" in line for i, line in enumerate(lines) if i % 4 != 1)


@pytest.mark.parametrize("centered", [False, True])
def test_device_run_resumes_bit_identically(tmp_path, centered):
    """Parameters, persistent chains (and the centred gradient's hidden offset) go back to the device from a
    checkpoint; the result is the same run."""
    settings = dict(num_hiddens=4, scheme="pcd", k=2, batch_size=16, num_chains=24, updates=4, learning_rate=0.2,
                    dtype="float64", seed=3, centered=centered, centering_rate=0.3)
    full, resumed = resume_from_update_2(tmp_path, _binary_data(), settings)
    for name, array in full.model.to_arrays().items():
        assert np.array_equal(resumed.model.to_arrays()[name], array), name
    assert np.array_equal(resumed.chains, full.chains)


def _gpu_check(tmp_path, *args):
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "OUT": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(script), "--quick", *args], capture_output=True, text=True, env=env,
                          timeout=600)
    return proc, (tmp_path / "gpu_check.txt").read_text().splitlines()


def test_device_check_records_a_failing_section_and_runs_the_next(tmp_path):
    proc, lines = _gpu_check(tmp_path, "--sections", "machine,tiny kernels,backend", "--fail", "tiny kernels")
    assert proc.returncode == 1
    assert lines[:3] == [lines[0], "device: Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)", lines[2]]
    assert lines[0].startswith("bmsample ") and lines[2].startswith("[machine: ok, ")
    assert "  RuntimeError: fault injected by --fail" in lines
    failed = lines.index(next(line for line in lines if line.startswith("[tiny kernels: FAILED")))
    assert lines[failed + 1] == "backend: cuda:0 (simulator)" and lines[failed + 2].startswith("[backend: ok")
    assert lines[-1].startswith("summary: 3 sections, 2 ok, 1 failed in ")
    assert lines[-1].endswith("(tiny kernels failed)")
    assert proc.stdout.splitlines() == lines  # every line went out as it came


def test_device_check_ends_at_its_deadline_with_what_it_has(tmp_path):
    proc, lines = _gpu_check(tmp_path, "--sections", "machine,compare", "--deadline", "4")
    assert proc.returncode == 1
    assert "device: Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)" in lines
    assert lines[-2].startswith("[compare: cut by the deadline after ")
    assert lines[-1].startswith("summary: 2 sections, 1 ok, 1 cut by the deadline in ")


@pytest.mark.parametrize("dtype, betas", [("float64", "auto"), ("float32", [1.0, 0.5, 0.0])])
def test_device_parallel_tempering_runs_the_cpu_ladder(dtype, betas):
    """Swaps decided on the host from the device's gaps: the same rows, swaps, replicas and recorded chains as
    the CPU, through an auto ladder's resize and the output's restart (host copies of the device rows)."""
    from bmsample.tempering import parallel_tempering

    model = random_rbm(6, 4, scale=2.0, seed=3, dtype=dtype)
    options = dict(num_chains=3, sweeps=5, betas=betas, rng=4, record=[0, 3, 5], record_replicas=True)
    if betas == "auto":
        options.update(replicas=3, warmup=16)
    cpu = parallel_tempering(model, **options)
    gpu = parallel_tempering(model, backend="cuda", **options)
    np.testing.assert_array_equal(gpu.betas, cpu.betas)
    np.testing.assert_array_equal(gpu.replica_states, cpu.replica_states)
    np.testing.assert_array_equal(gpu.recorded, cpu.recorded)
    np.testing.assert_array_equal(gpu.replica_history, cpu.replica_history)
    np.testing.assert_array_equal(gpu.acceptance, cpu.acceptance)
    assert gpu.visible.dtype == cpu.visible.dtype and cpu.acceptance.min() > 0
