"""CPU kernels of the Gaussian-Bernoulli RBM (Numba).

Kernels do not validate, do not allocate and never raise: the public layer
(``sample.py``, ``train.py``) does that.  The hidden layer is a Bernoulli
layer and uses ``bmsample.rbm._cpu.sample_bernoulli_layer`` (re-exported
here) on the field ``z @ (W / sigma)``; the caller folds 1/sigma into a scaled
copy of W once per ``gibbs_steps`` call.  The visible layer is drawn here,
fused with the bias, the width and the Box-Muller normals in one parallel
pass over the chains.

Normals come from ``bmsample._rng.normal_block``: unit ``j`` of chain
``chain_offset + c`` at ``draw`` takes normal ``j % P`` of block ``j // P``,
with P = 4 (float32) or 2 (float64), exactly as the Gaussian model's
``langevin_update`` (so ``bmsample._rng.normals_reference`` reproduces them).
"""

import numpy as np
from numba import prange

from .._jit import helper, kernel
from .._numerics import means_or
from .._rng import normal_block, normals_per_block
from ..rbm._cpu import bernoulli_means, sample_bernoulli_layer

__all__ = ["bernoulli_means", "sample_bernoulli_layer", "sample_gaussian_visible"]


@helper
def _gaussian_row(field_row, bias, sigma, stream, draw_lo, draw_hi, key0, key1, states_row, means_row, with_means):
    num_units = states_row.shape[0]
    like = states_row.dtype.type(0)
    per = normals_per_block(like)
    num_full = num_units // per
    for block in range(num_full):
        z = normal_block(np.uint32(block), stream, draw_lo, draw_hi, key0, key1, like)
        for r in range(per):
            j = per * block + r
            mean = bias[j] + sigma[j] * field_row[j]
            states_row[j] = mean + sigma[j] * z[r]
            if with_means:
                means_row[j] = mean
    if num_full * per < num_units:
        z = normal_block(np.uint32(num_full), stream, draw_lo, draw_hi, key0, key1, like)
        for r in range(num_units - num_full * per):
            j = per * num_full + r
            mean = bias[j] + sigma[j] * field_row[j]
            states_row[j] = mean + sigma[j] * z[r]
            if with_means:
                means_row[j] = mean


@kernel
def sample_gaussian_visible(field, bias, sigma, key0, key1, draw, chain_offset, states, means=None):
    """Draw the real visible layer given the hidden states.

    ``states[c, j] = bias[j] + sigma[j] * field[c, j] + sigma[j] * xi[c, j]``, xi standard normal.

    Parameters
    ----------
    field : ndarray, shape (num_chains, num_visibles)
        ``h @ W.T`` (unscaled W).
    bias : ndarray, shape (num_visibles,)
        a.
    sigma : ndarray, shape (num_visibles,)
    key0, key1 : uint32
        Philox key of the chains' streams.
    draw : int
        Draw index (one per layer pass).
    chain_offset : int
        Stream index of row 0.
    states : ndarray, shape (num_chains, num_visibles)
        Output, same dtype as the inputs.
    means : ndarray, shape (num_chains, num_visibles), optional
        Also receives ``bias + sigma * field`` (E[z | h]).
    """
    draw_lo = np.uint32(draw & 0xFFFFFFFF)
    draw_hi = np.uint32(draw >> 32)
    target, with_means = means_or(states, means), means is not None
    for c in prange(states.shape[0]):
        _gaussian_row(field[c], bias, sigma, np.uint32(chain_offset + c), draw_lo, draw_hi, key0, key1,
                      states[c], target[c], with_means)
