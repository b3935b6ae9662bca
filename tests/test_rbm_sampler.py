"""Block-Gibbs sampler against exact enumeration on tiny RBMs."""

import numpy as np
import pytest
from conftest import chi_square_ok, needs_two_threads, random_rbm

import bmsample
from bmsample.rbm.model import all_binary_states, exact_gibbs_transition, exact_visible_distribution, state_index

NUM_CHAINS = 100_000


def exact_after(model, p0, t):
    return p0 @ np.linalg.matrix_power(exact_gibbs_transition(model), t)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_distribution_after_t_steps_from_uniform(dtype):
    model = random_rbm(4, 3, scale=1.5, seed=4, dtype=dtype)
    times = [0, 1, 2, 5]
    result = bmsample.sample(model, NUM_CHAINS, steps=5, init="uniform", rng=0, record=times)
    assert result.visible.dtype == np.dtype(dtype)
    p0 = np.full(16, 1 / 16)
    for i, t in enumerate(times):
        counts = np.bincount(state_index(result.recorded[i]), minlength=16)
        stat, dof, ok = chi_square_ok(counts, exact_after(model, p0, t))
        assert ok, f"t={t}: chi2 {stat:.1f} with {dof} dof"
    np.testing.assert_array_equal(result.recorded[-1], result.visible)


def test_long_runs_reach_the_equilibrium_distribution():
    model = random_rbm(5, 3, scale=1.0, seed=7)
    p = exact_visible_distribution(model)
    # Check the chain has mixed after 60 steps in the exact dynamics first.
    assert np.abs(exact_after(model, np.full(32, 1 / 32), 60) - p).sum() < 1e-9
    result = bmsample.sample(model, NUM_CHAINS, steps=60, init="uniform", rng=1)
    stat, dof, ok = chi_square_ok(np.bincount(state_index(result.visible), minlength=32), p)
    assert ok, f"chi2 {stat:.1f} with {dof} dof"


def test_bias_init_is_the_independent_site_law_of_the_data():
    model = random_rbm(4, 2, seed=3)
    model.data_means = np.array([0.1, 0.5, 0.9, 0.0])
    result = bmsample.sample(model, NUM_CHAINS, steps=0, init="bias", rng=2)
    probs = np.clip(model.data_means, 1e-3, 1 - 1e-3)
    sd = np.sqrt(probs * (1 - probs) / NUM_CHAINS)
    assert np.all(np.abs(result.visible.mean(0) - probs) < 5 * sd)


def test_visible_means_are_the_last_conditional():
    model = random_rbm(4, 3, seed=5)
    result = bmsample.sample(model, NUM_CHAINS, steps=3, init="uniform", rng=3, return_means=True)
    # E[v | h] = means, so the chains' averages agree up to sampling noise.
    diff = (result.visible - result.visible_means).mean(0)
    assert np.all(np.abs(diff) < 5 * 0.5 / np.sqrt(NUM_CHAINS))
    exact = exact_after(model, np.full(16, 1 / 16), 3) @ all_binary_states(4)
    assert np.all(np.abs(result.visible_means.mean(0) - exact) < 5 * 0.5 / np.sqrt(NUM_CHAINS))


@needs_two_threads
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_same_chains_with_one_or_two_threads(dtype):
    model = random_rbm(20, 13, scale=0.7, seed=8, dtype=dtype)
    runs = []
    for threads in (1, 2, 1):
        bmsample.set_num_threads(threads)
        runs.append(bmsample.sample(model, 3000, steps=7, init="uniform", rng=42).visible)
    bmsample.set_num_threads(2)
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


def test_a_chain_does_not_depend_on_how_many_run_beside_it():
    model = random_rbm(9, 5, seed=9)
    small = bmsample.sample(model, 10, steps=4, init="uniform", rng=6).visible
    large = bmsample.sample(model, 5000, steps=4, init="uniform", rng=6).visible
    np.testing.assert_array_equal(small, large[:10])
    other_seed = bmsample.sample(model, 5000, steps=4, init="uniform", rng=7).visible
    assert not np.array_equal(large, other_seed)


def test_rdm_model_samples_its_own_process_by_default():
    model = random_rbm(4, 3, seed=10)
    model.process = {"scheme": "rdm", "k": 3, "init": "uniform"}
    result = bmsample.sample(model, 50, rng=0)
    assert (result.steps, result.init) == (3, "uniform")
    model.process = {"scheme": "pcd", "k": 2, "init": "uniform"}
    chains = np.ones((7, 4))
    result = bmsample.sample(model, chains=chains, rng=0)
    assert (result.steps, result.init, result.visible.shape) == (2, "chains", (7, 4))


def test_steps_zero_returns_the_initial_chains():
    model = random_rbm(4, 3, seed=11)
    data = all_binary_states(4)[[3, 5]]
    result = bmsample.sample(model, 6, steps=0, init="data", data=data, rng=0)
    assert set(state_index(result.visible)) <= {3, 5}


@pytest.mark.parametrize("kwargs, error", [
    ({"steps": -1}, ValueError),
    ({"steps": 2, "num_chains": 0}, ValueError),
    ({"steps": 2, "init": "noise"}, ValueError),
    ({"steps": 2, "record": [0, 3]}, ValueError),
    ({"steps": 2, "init": "data"}, ValueError),
    ({"steps": 2, "init": "chains"}, ValueError),
    ({"steps": 2, "init": "bias"}, ValueError),
    ({}, ValueError),
])
def test_sample_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        bmsample.sample(random_rbm(4, 3), **kwargs)


# (37, 21): rows not whole Philox blocks and several row groups per pass of the block kernel;
# (4099, 5): one row is longer than a pass's scratch (PASS_WORDS).  1001 chains: the small
# models' blocks run in chunks of CHUNK_ROWS, the last one shorter.
@pytest.mark.parametrize("shape", [(4, 3), (37, 21), (4099, 5)])
def test_every_kernel_gives_the_same_chains(shape):
    """Same random numbers, same sums up to rounding: float64 chains agree exactly."""
    from bmsample._rng import ChainStreams
    from bmsample.rbm.sample import KERNELS, GibbsWorkspace, gibbs_steps

    model = random_rbm(*shape, scale=1.5, seed=11)
    start = (np.random.default_rng(0).random((1001, shape[0])) < 0.5).astype(np.float64)
    runs = []
    for kernel in KERNELS:
        visible, means, seen = start.copy(), np.empty_like(start), []
        streams = ChainStreams((5, 6), draw=3)
        gibbs_steps(model, visible, 6, streams, GibbsWorkspace(model, 1001, kernel=kernel), chain_offset=7,
                    visible_means=means, on_step=lambda t, v, seen=seen: seen.append((t, v.copy())))
        runs.append((visible, means, seen, streams.draw))
    v1, m1, seen1, draw1 = runs[0]
    assert [t for t, _ in seen1] == list(range(1, 7)) and draw1 == 3 + 12
    assert 0.05 < v1.mean() < 0.95  # the chains move: not a trivially equal pair of runs
    for v2, m2, seen2, draw2 in runs[1:]:
        np.testing.assert_array_equal(v1, v2)
        np.testing.assert_allclose(m1, m2, rtol=1e-13)
        assert [t for t, _ in seen2] == list(range(1, 7)) and draw2 == draw1
        for (_, a), (_, b) in zip(seen1, seen2):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kernel", ["blocks", "units", "gemm"])
def test_every_kernel_samples_the_exact_k_step_law(kernel):
    from bmsample._rng import ChainStreams
    from bmsample.rbm.sample import GibbsWorkspace, gibbs_steps

    model = random_rbm(4, 3, scale=1.5, seed=4)
    chains = 50_000
    visible = bmsample.sample(model, chains, steps=0, init="uniform", rng=5).visible
    gibbs_steps(model, visible, 3, ChainStreams((8, 9)), GibbsWorkspace(model, chains, kernel=kernel))
    counts = np.bincount(state_index(visible), minlength=16)
    stat, dof, ok = chi_square_ok(counts, exact_after(model, np.full(16, 1 / 16), 3))
    assert ok, f"chi2 {stat:.1f} with {dof} dof"


def test_unknown_kernel_is_refused():
    from bmsample.rbm.sample import GibbsWorkspace

    with pytest.raises(ValueError, match="kernel: expected one of auto, blocks, units, gemm"):
        GibbsWorkspace(random_rbm(), 10, kernel="fast")


@pytest.mark.parametrize("slices", [1, 2, 5])
def test_unit_kernel_with_more_slices_than_threads_finishes_with_the_same_chains(slices):
    """5 slices on at most 2 threads: some thread runs two workers one after the other, and the
    tasks they wait for were claimed before them, so the run ends (no deadlock) with the block
    kernel's chains."""
    from bmsample.rbm import _cpu

    model = random_rbm(37, 21, scale=1.5, seed=3)
    start = (np.random.default_rng(2).random((40, 37)) < 0.5).astype(np.float64)
    args = (model.weight_matrix, model.vbias, model.hbias, np.uint32(4), np.uint32(9), 10, 3, 4)

    def scratch():
        return (np.empty((40, 21)), np.empty((40, 21)), np.empty((40, 37)), _cpu.pass_scratch(5, 37))

    blocks = start.copy()
    _cpu.gibbs_block_steps(*args, 2, 7, blocks, *scratch())
    units, means, tasks, unit_scratch = start.copy(), np.empty_like(start), np.zeros(2, np.int64), scratch()
    _cpu.gibbs_unit_steps(*args, slices, units, *unit_scratch, np.empty(37 * 21), True, tasks, means)
    np.testing.assert_array_equal(units, blocks)
    assert tasks.tolist() == [2 * 4 * slices + slices, 2 * 4 * slices]  # every task claimed and done once
    assert 0.05 < units.mean() < 0.95
    last_hidden = unit_scratch[0]
    field = last_hidden @ model.weight_matrix.T + model.vbias
    np.testing.assert_allclose(means, 1 / (1 + np.exp(-field)), rtol=1e-13)


@pytest.mark.parametrize("chains,shape,threads,expected", [
    (100, (784, 500), 2, "units"),     # 50 chains per thread on 392k weights
    (1000, (784, 500), 2, "blocks"),   # enough chains per thread that packing W per thread is amortised
    (100, (784, 500), 1, "blocks"),    # one thread: nothing to split
    (100, (100, 50), 2, "blocks"),     # small model: the waits between half-steps would dominate
])
def test_auto_kernel_splits_units_only_for_few_chains_on_a_large_model(chains, shape, threads, expected):
    from bmsample.rbm.sample import GibbsWorkspace

    model = random_rbm(*shape, dtype="float32")
    assert GibbsWorkspace(model, chains).kernel_for(model, threads) == expected
    assert GibbsWorkspace(model, chains, kernel="gemm").kernel_for(model, threads) == "gemm"


def test_block_kernel_gives_blas_its_threads_back():
    """Inside the block kernel every BLAS runs on one thread; after it, each has its thread count again."""
    from threadpoolctl import threadpool_info

    from bmsample._rng import ChainStreams
    from bmsample._threads import single_threaded_blas
    from bmsample.rbm.sample import GibbsWorkspace, gibbs_steps

    def blas_threads():
        return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas")

    from bmsample._threads import available_cpus

    bmsample.set_num_threads(available_cpus())
    model = random_rbm(6, 4)
    visible = np.zeros((10, 6))
    gibbs_steps(model, visible, 1, ChainStreams((1, 2)), GibbsWorkspace(model, 10))  # loads every BLAS
    before = blas_threads()
    with single_threaded_blas():
        assert {threads for _, threads in blas_threads()} == {1}
    gibbs_steps(model, visible, 2, ChainStreams((1, 2)), GibbsWorkspace(model, 10))
    assert blas_threads() == before
