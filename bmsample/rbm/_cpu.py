"""CPU kernels of the Bernoulli-Bernoulli RBM (Numba).

Kernels do not validate, do not allocate and never raise: the public layer
(``sample.py``, ``train.py``) does that.  The matrix products of a Gibbs step
go through BLAS in the caller; the kernels fuse everything elementwise that
follows a product (bias, sigmoid, random draw, compare) into one parallel,
vectorised pass over the chains.

Unit ``j`` of row ``c`` takes word ``j % 4`` of the Philox block ``j // 4`` of
stream ``chain_offset + c`` at ``draw`` (``bmsample._rng``).  Storing the
conditional means is a separate kernel rather than a flag: a run-time branch
in the loop body costs about 30 % of the pass.
"""

import numpy as np
from numba import njit, prange

from .._numerics import KERNEL_FASTMATH, fast_sigmoid
from .._rng import philox4x32, uniform_from_bits


@njit(inline="always", fastmath=KERNEL_FASTMATH)
def _bernoulli(p, bits):
    return (p - p + 1) if uniform_from_bits(bits, p) < p else (p - p)


@njit(inline="always", fastmath=KERNEL_FASTMATH)
def _sample_row(field_row, bias, stream, draw_lo, draw_hi, key0, key1, states_row, means_row, with_means):
    num_units = field_row.shape[0]
    num_full_blocks = num_units // 4
    for block in range(num_full_blocks):
        words = philox4x32(np.uint32(block), stream, draw_lo, draw_hi, key0, key1)
        for r in range(4):
            j = 4 * block + r
            p = fast_sigmoid(field_row[j] + bias[j])
            states_row[j] = _bernoulli(p, words[r])
            if with_means:
                means_row[j] = p
    if 4 * num_full_blocks < num_units:
        words = philox4x32(np.uint32(num_full_blocks), stream, draw_lo, draw_hi, key0, key1)
        for r in range(num_units - 4 * num_full_blocks):
            j = 4 * num_full_blocks + r
            p = fast_sigmoid(field_row[j] + bias[j])
            states_row[j] = _bernoulli(p, words[r])
            if with_means:
                means_row[j] = p


@njit(parallel=True, fastmath=KERNEL_FASTMATH, cache=True)
def sample_bernoulli_layer(field, bias, key0, key1, draw, chain_offset, states):
    """Draw a layer of {0,1} units given its input field.

    ``states[c, j] = 1{u < sigmoid(field[c, j] + bias[j])}``.

    Parameters
    ----------
    field : ndarray, shape (num_chains, num_units)
        Input from the other layer, e.g. ``v @ W`` for the hidden layer.
    bias : ndarray, shape (num_units,)
    key0, key1 : uint32
        Philox key of the chains' streams.
    draw : int
        Draw index (one per layer pass).
    chain_offset : int
        Stream index of row 0.
    states : ndarray, shape (num_chains, num_units)
        Output, exact 0/1 in the dtype of ``field``.
    """
    draw_lo = np.uint32(draw & 0xFFFFFFFF)
    draw_hi = np.uint32(draw >> 32)
    for c in prange(field.shape[0]):
        _sample_row(field[c], bias, np.uint32(chain_offset + c), draw_lo, draw_hi, key0, key1,
                    states[c], states[c], False)


@njit(parallel=True, fastmath=KERNEL_FASTMATH, cache=True)
def sample_bernoulli_layer_with_means(field, bias, key0, key1, draw, chain_offset, states, means):
    """``sample_bernoulli_layer`` that also writes ``means = sigmoid(field + bias)``."""
    draw_lo = np.uint32(draw & 0xFFFFFFFF)
    draw_hi = np.uint32(draw >> 32)
    for c in prange(field.shape[0]):
        _sample_row(field[c], bias, np.uint32(chain_offset + c), draw_lo, draw_hi, key0, key1,
                    states[c], means[c], True)


@njit(parallel=True, fastmath=KERNEL_FASTMATH, cache=True)
def bernoulli_means(field, bias, means):
    """``means = sigmoid(field + bias)`` row by row; ``means`` may be ``field``."""
    for c in prange(field.shape[0]):
        for j in range(field.shape[1]):
            means[c, j] = fast_sigmoid(field[c, j] + bias[j])
