"""The hot loops allocate nothing per step: memory stays at parameters, chains and one minibatch.

NumPy reports its array buffers to ``tracemalloc``; the kernels allocate
nothing.  The bound of each test is far below the size of one chains or
weight array, so a single temporary of that size fails it.
"""

import tracemalloc

import numpy as np
import pytest
from conftest import random_rbm

from bmsample._rng import ChainStreams
from bmsample.rbm.sample import GibbsWorkspace, gibbs_steps
from bmsample.rbm.train import RBMTrainer
from bmsample.training import TrainingConfig


def peak_bytes(call, repeats=3):
    call()  # warm-up: compilation and lazily created objects
    tracemalloc.start()
    try:
        for _ in range(repeats):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kernel", ["blocks", "units", "gemm"])
def test_gibbs_steps_allocate_nothing_per_step(kernel):
    model = random_rbm(300, 250, dtype="float32")
    chains = 200
    visible = (np.random.default_rng(0).random((chains, 300)) < 0.5).astype(np.float32)
    work = GibbsWorkspace(model, chains, kernel=kernel)
    streams = ChainStreams((1, 2))
    peak = peak_bytes(lambda: gibbs_steps(model, visible, 10, streams, work))
    assert peak < 16 * 1024, f"{peak} bytes traced; one chains array is {visible.nbytes}"


@pytest.mark.parametrize("scheme,centered,l2", [("rdm", False, 0.0), ("cd", False, 0.0), ("pcd", True, 1e-4)])
def test_training_updates_allocate_no_chains_or_weight_sized_arrays(scheme, centered, l2):
    model = random_rbm(300, 250, dtype="float32")
    data = (np.random.default_rng(1).random((100, 300)) < 0.3).astype(np.float32)
    model.data_means = data.mean(axis=0)
    cfg = TrainingConfig(num_hiddens=250, scheme=scheme, k=3, batch_size=100, centered=centered, l2=l2,
                         dtype="float32", seed=0).validated()
    trainer = RBMTrainer(model, cfg.estimate(), ChainStreams((3, 4)), l2=l2, centered=centered)
    peak = peak_bytes(lambda: trainer.update(data, 0.01))
    smallest = min(model.weight_matrix.nbytes, data.nbytes)
    assert peak < smallest / 4, f"{peak} bytes traced per update; weights {model.weight_matrix.nbytes}, " \
                                f"batch {data.nbytes}"
