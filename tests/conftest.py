import os

# GPU tests run on Numba's CUDA simulator unless NUMBA_ENABLE_CUDASIM=0 asks for a real GPU; it must be
# set before numba.cuda is first imported.  CPU code never reads it, and backend="auto" ignores the simulator.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np
import pytest

from bmsample import BernoulliRBM


def random_rbm(num_visibles=4, num_hiddens=3, scale=1.0, seed=0, dtype="float64"):
    """A tiny RBM with O(1) parameters, so that its dynamics are far from trivial."""
    rng = np.random.default_rng(seed)
    return BernoulliRBM(rng.standard_normal((num_visibles, num_hiddens)) * scale,
                        rng.standard_normal(num_visibles) * 0.5 * scale,
                        rng.standard_normal(num_hiddens) * 0.5 * scale, dtype=dtype)


@pytest.fixture
def tiny_rbm():
    return random_rbm()


def chi_square_ok(counts, probabilities, alpha_sigma=5.0):
    """Pearson chi-square of ``counts`` against ``probabilities`` within ``alpha_sigma`` sd of its mean.

    For K cells with non-negligible probability the statistic has mean K-1 and
    variance 2(K-1); cells with probability below 1e-12 must be empty.
    """
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum()
    live = probabilities > 1e-12
    assert counts[~live].sum() == 0
    expected = n * probabilities[live]
    stat = np.sum((counts[live] - expected) ** 2 / expected)
    dof = live.sum() - 1
    return stat, dof, stat < dof + alpha_sigma * np.sqrt(2 * dof)
