"""Ising sweeps on the CUDA backend against the CPU kernel and the exact law (simulator, or a real GPU)."""

import numpy as np
import pytest
from conftest import assert_same_run_files, chain_layouts, resume_from_update_2

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


LAYOUTS = chain_layouts()


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_sweep_kernel_matches_the_cpu_kernel(sampler, dtype, layout):
    """Same Philox words, same field updates in the same order: equal spins and fields, in every layout."""
    model = _model(7, dtype)
    rng = np.random.default_rng(1)
    state = np.where(rng.random((7, 7)) < 0.5, 1.0, -1.0).astype(dtype)
    fields = (state @ model.coupling_matrix + model.field).astype(dtype)
    key0, key1, first_draw, offset = np.uint32(11), np.uint32(22), 2**32 - 1, 3
    cpu_state, workspace = state.copy(), IsingWorkspace(model, 7)
    workspace.local_field[...] = fields
    _cpu.sweeps(model.coupling_matrix, SAMPLERS[sampler], 3, key0, key1, first_draw, offset, cpu_state,
                *workspace.scratch())
    d_state, d_fields = cuda.to_device(state), cuda.to_device(fields)
    _gpu.sweeps(cuda.to_device(model.coupling_matrix), SAMPLERS[sampler], 3, key0, key1, first_draw, offset,
                d_state, d_fields, layout=LAYOUTS[layout])
    np.testing.assert_array_equal(d_state.copy_to_host(), cpu_state)
    tolerance = 64 * np.finfo(dtype).eps * (np.abs(model.coupling_matrix).sum() + np.abs(model.field).sum())
    np.testing.assert_allclose(d_fields.copy_to_host(), workspace.local_field, rtol=0, atol=tolerance)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_device_sampling_equals_the_cpu(sampler):
    """Equal chains, so the CPU sampler's exact-law tests (test_ising.py) hold on the GPU too.

    Few chains: the simulator runs every thread of a chain in Python, with barriers per site update.
    """
    model = _model(5, "float64", seed=2)
    options = dict(init="uniform", sampler=sampler, rng=5, record=[0, 1, 2])
    cpu = bmsample.sample(model, 12, 2, **options)
    gpu = bmsample.sample(model, 12, 2, backend="cuda", **options)
    np.testing.assert_array_equal(gpu.visible, cpu.visible)
    np.testing.assert_array_equal(gpu.recorded, cpu.recorded)


def _spin_data(num_rows=48, num_units=6, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.random((3, num_units)) < 0.5
    rows = prototypes[rng.integers(0, 3, num_rows)] ^ (rng.random((num_rows, num_units)) < 0.1)
    return np.where(rows, 1.0, -1.0)


@pytest.mark.parametrize("model, scheme, sampler, init", [
    ("ising", "rdm", "heat-bath", "uniform"),
    ("ising", "cd", "metropolis", "uniform"),
    ("ising", "pcd", "random-site", "bias"),
    ("independent", "rdm", "random-site", "bias"),
])
def test_device_training_writes_the_cpu_run(tmp_path, model, scheme, sampler, init):
    """Same p0 draws, sweeps and gradient: the run files equal the CPU's up to float64 summation order."""
    data = _spin_data()
    settings = dict(model=model, scheme=scheme, sampler=sampler, init=init, k=2, batch_size=16, num_chains=24,
                    updates=3, learning_rate=0.1, dtype="float64", seed=3)
    cpu = bmsample.fit(data, out=tmp_path / "cpu", **settings)
    gpu = bmsample.fit(data, out=tmp_path / "gpu", backend="cuda", **settings)
    assert_same_run_files(tmp_path / "cpu", tmp_path / "gpu", rtol=1e-12, atol=1e-13)
    assert np.any(cpu.model.field != 0) and (model == "independent") == (not np.any(cpu.model.coupling_matrix))
    for cpu_record, gpu_record in zip(cpu.history, gpu.history, strict=True):
        assert gpu_record.keys() == cpu_record.keys()
        for key in ("magnetisation_rmse", "correlation_rmse"):
            if key in cpu_record:
                assert gpu_record[key] == pytest.approx(cpu_record[key], abs=1e-12)


def test_device_training_reports_the_cpu_runaway_field():
    """A spin that is always up in the data drives its field past |20|: the same update, the same message."""
    data = _spin_data()
    data[:, 2] = 1.0
    settings = dict(model="independent", sampler="random-site", k=1, batch_size=16, num_chains=32, updates=200,
                    learning_rate=8.0, seed=0)
    messages = []
    for backend in ("cpu", "cuda"):
        with pytest.raises(bmsample.TrainingDiverged, match=r"^training diverged at update \d+ \(epoch \d+\): "
                                                            r"field h\[2\] = ") as info:
            bmsample.fit(data, backend=backend, **settings)
        messages.append(str(info.value))
    assert messages[1] == messages[0]


def test_device_training_names_the_runaway_update_it_finds_later(monkeypatch):
    """The host reads the device's runaway flag every few updates (8 here): with no log line or checkpoint in
    between, the run that runs away at update 6 stops at update 8, and names update 6 and its field, as the
    CPU does."""
    from bmsample import _device_training
    from bmsample.training import loop

    monkeypatch.setattr(loop, "log_spaced_updates", lambda total: set())
    monkeypatch.setattr(_device_training.DeviceTrainer, "runaway_check_interval", 8)
    found = []
    read = _device_training.DeviceTrainer.updates_since_runaway
    monkeypatch.setattr(_device_training.DeviceTrainer, "updates_since_runaway",
                        lambda self: found.append(read(self)) or found[-1])
    data = _spin_data()
    data[:, 2] = 1.0
    settings = dict(model="independent", sampler="random-site", k=1, batch_size=16, num_chains=32, updates=800,
                    learning_rate=8.0, seed=0)  # logs every 8 updates
    messages = []
    for backend in ("cpu", "cuda"):
        with pytest.raises(bmsample.TrainingDiverged, match=r"^training diverged at update 6 \(epoch 2\): "
                                                            r"field h\[2\] = 21.3 ") as info:
            bmsample.fit(data, backend=backend, **settings)
        messages.append(str(info.value))
    assert found == [2] and messages[1] == messages[0]


def test_device_ising_run_resumes_bit_identically(tmp_path):
    settings = dict(model="ising", scheme="pcd", k=2, batch_size=16, num_chains=24, updates=4, learning_rate=0.1,
                    dtype="float64", seed=3)
    full, resumed = resume_from_update_2(tmp_path, _spin_data(), settings)
    for name, array in full.model.to_arrays().items():
        assert np.array_equal(resumed.model.to_arrays()[name], array), name
    assert np.array_equal(resumed.chains, full.chains)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_tempered_sweep_kernel_matches_the_cpu_kernel(sampler, layout):
    """Each chain at its own beta towards the base field: the CPU's tempered sweeps, in every layout."""
    model = _model(7, "float64")
    rng = np.random.default_rng(2)
    state = np.where(rng.random((7, 7)) < 0.5, 1.0, -1.0)
    fields = state @ model.coupling_matrix + model.field
    row_beta, base = np.linspace(0.0, 1.0, 7), rng.standard_normal(7) * 0.5
    key0, key1, first_draw, offset = np.uint32(11), np.uint32(22), 5, 0
    cpu_state, workspace = state.copy(), IsingWorkspace(model, 7)
    workspace.local_field[...] = fields
    _cpu.sweeps(model.coupling_matrix, SAMPLERS[sampler], 2, key0, key1, first_draw, offset, cpu_state,
                *workspace.scratch(), row_beta, base)
    d_state, d_fields = cuda.to_device(state), cuda.to_device(fields)
    _gpu.sweeps(cuda.to_device(model.coupling_matrix), SAMPLERS[sampler], 2, key0, key1, first_draw, offset,
                d_state, d_fields, layout=LAYOUTS[layout], row_beta=cuda.to_device(row_beta),
                base_field=cuda.to_device(base))
    np.testing.assert_array_equal(d_state.copy_to_host(), cpu_state)
    assert not np.array_equal(cpu_state, state)


def test_tempering_log_weights_kernel_is_minus_the_energy_less_the_base_term():
    model = _model(9, "float32", seed=4)
    rng = np.random.default_rng(3)
    state = np.where(rng.random((6, 9)) < 0.5, 1.0, -1.0).astype(np.float32)
    fields = (state @ model.coupling_matrix + model.field).astype(np.float32)
    base = rng.standard_normal(9) * 0.5
    for threads in (1, 4):
        out = cuda.device_array(6, dtype=np.float64)
        _gpu.tempering_log_weights(cuda.to_device(state), cuda.to_device(fields),
                                   cuda.to_device(0.5 * model.field.astype(np.float64) - base), out, threads=threads)
        exact = -model.energy(state) - state.astype(np.float64) @ base
        np.testing.assert_allclose(out.copy_to_host(), exact, rtol=0, atol=1e-5)


def test_device_parallel_tempering_runs_the_cpu_ladder(monkeypatch):
    """Swaps from the device's reductions, tempered sweeps on the device: the CPU's run, through an auto
    ladder's resizing, the output's restart and refreshes of the local fields (every 4 sweeps here)."""
    from bmsample import tempering

    monkeypatch.setattr(tempering, "REFRESH_SWEEPS", 4)
    model = _model(5, "float64", seed=2)
    options = dict(num_chains=2, sweeps=9, replicas=3, warmup=16, rng=4, record=[0, 9], record_replicas=True)
    cpu = tempering.parallel_tempering(model, **options)
    gpu = tempering.parallel_tempering(model, backend="cuda", **options)
    np.testing.assert_array_equal(gpu.betas, cpu.betas)
    np.testing.assert_array_equal(gpu.replica_history, cpu.replica_history)
    np.testing.assert_array_equal(gpu.replica_states, cpu.replica_states)
    np.testing.assert_array_equal(gpu.recorded, cpu.recorded)
    assert 0 < cpu.acceptance.min()
