"""Sampler steps (RBM block Gibbs, Gaussian Langevin and coordinate Gibbs, Ising sweeps) and RBM training updates
against their bare-GEMM floor (same group, same process)."""

import numpy as np
import pytest

import bmsample
from bmsample._rng import ChainStreams
from bmsample.rbm.sample import GibbsWorkspace, gibbs_steps
from bmsample.rbm.train import RBMTrainer
from bmsample.training import TrainingConfig

SIZES = [(100, 50), (784, 500), (784, 2000)]


def make_model(num_visibles, num_hiddens, dtype):
    rng = np.random.default_rng(0)
    return bmsample.BernoulliRBM(rng.standard_normal((num_visibles, num_hiddens)) * 0.05,
                                 rng.standard_normal(num_visibles) * 0.1, np.zeros(num_hiddens), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("chains", [100, 1000])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("what", ["bare-gemms", "gibbs-step"])
def test_gibbs_step(benchmark, what, size, chains, dtype):
    model = make_model(*size, dtype)
    benchmark.group = f"gibbs {size[0]}x{size[1]} chains={chains} {dtype}"
    visible = (np.random.default_rng(1).random((chains, size[0])) < 0.5).astype(dtype)
    work = GibbsWorkspace(model, chains)
    if what == "bare-gemms":
        def run():
            np.matmul(visible, model.weight_matrix, out=work.hidden_field)
            np.matmul(work.hidden, model.weight_matrix.T, out=work.visible_field)
    else:
        streams = ChainStreams((1, 2))

        def run():
            gibbs_steps(model, visible, 1, streams, work)
    run()
    benchmark.pedantic(run, rounds=30, iterations=1, warmup_rounds=3)


@pytest.mark.parametrize("scheme", ["rdm", "cd", "pcd"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_training_update(benchmark, scheme, dtype):
    """One update, batch 100, 784 x 500, k = 10 (the MNIST default)."""
    data = bmsample.load_dataset("mnist-test", dtype=dtype).data[:1000]
    cfg = TrainingConfig(num_hiddens=500, scheme=scheme, k=10, batch_size=100, dtype=dtype, seed=0).validated()
    model = bmsample.BernoulliRBM.from_data(data, 500, rng=0, dtype=dtype)
    trainer = RBMTrainer(model, cfg.estimate(), ChainStreams((3, 4)))
    batch = np.ascontiguousarray(data[:100])
    benchmark.group = f"training update 784x500 batch=100 k=10 {dtype}"
    benchmark.pedantic(lambda: trainer.update(batch, 1e-4), rounds=10, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("chains", [100, 1000])
@pytest.mark.parametrize("num_units", [100, 784])
@pytest.mark.parametrize("what", ["bare-gemm", "langevin-step", "gibbs-sweep"])
def test_gaussian_step(benchmark, what, num_units, chains, dtype):
    from bmsample.gaussian.sample import GaussianWorkspace, gibbs_sweeps, langevin_steps

    rng = np.random.default_rng(0)
    a = rng.standard_normal((num_units, num_units)) / np.sqrt(num_units)
    model = bmsample.GaussianModel(a @ a.T + np.eye(num_units), np.zeros(num_units), dtype=dtype)
    state = rng.standard_normal((chains, num_units)).astype(dtype)
    work = GaussianWorkspace(model, chains)
    streams = ChainStreams((1, 2))
    benchmark.group = f"gaussian N={num_units} chains={chains} {dtype}"
    if what == "bare-gemm":
        def run():
            np.matmul(state, model.coupling_matrix, out=work.field)
    elif what == "langevin-step":
        def run():
            langevin_steps(model, state, 1, streams, work, step_size=0.01)
    else:
        def run():
            gibbs_sweeps(model, state, 1, streams, work)
    run()
    benchmark.pedantic(run, rounds=20, iterations=1, warmup_rounds=2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("chains", [100, 1000])
@pytest.mark.parametrize("num_units", [64, 784, 1600])
@pytest.mark.parametrize("what", ["bare-gemm", "heat-bath", "metropolis"])
def test_ising_sweep(benchmark, what, num_units, chains, dtype):
    """One sweep (N site updates per chain) next to the one GEMM that computes all local fields."""
    from bmsample.ising.sample import IsingWorkspace, run_sweeps

    rng = np.random.default_rng(0)
    coupling = rng.standard_normal((num_units, num_units)) * 0.3 / np.sqrt(num_units)
    coupling = np.triu(coupling, 1) + np.triu(coupling, 1).T
    model = bmsample.IsingModel(coupling, rng.standard_normal(num_units) * 0.1, dtype=dtype)
    state = np.where(rng.random((chains, num_units)) < 0.5, 1.0, -1.0).astype(dtype)
    work = IsingWorkspace(model, chains)
    streams = ChainStreams((1, 2))
    benchmark.group = f"ising N={num_units} chains={chains} {dtype}"
    if what == "bare-gemm":
        def run():
            np.matmul(state, model.coupling_matrix, out=work.local_field)
    else:
        def run():
            run_sweeps(model, state, 1, streams, work, sampler=what)
    run()
    benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
