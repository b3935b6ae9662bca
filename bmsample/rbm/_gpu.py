"""CUDA kernels of the Bernoulli-Bernoulli RBM (``numba.cuda``), twins of ``_cpu``.

``sample_bernoulli_layer`` (its ``means`` optional, as on the CPU),
``bernoulli_means`` and ``subtract_outer_pair`` take the arguments of their
``_cpu`` twins, as device arrays.  ``sample_bernoulli_product`` and ``bernoulli_means_product`` fuse a
layer's product with that pass (``bmsample._gpu_linalg``): the field ``v @
W`` never goes through global memory.  Launchers return without
synchronising.

Random numbers: unit ``j`` of row ``c`` takes word ``j % 4`` of Philox block
``j // 4`` of stream ``chain_offset + c`` at ``draw``, as on the CPU
(``bmsample._rng_gpu``).  Float results differ from the CPU in the last bits
(summation order, ``expf``), so a state differs only where ``|u - p|`` is
within that rounding.
"""

from functools import lru_cache

import numpy as np
from numba import cuda, uint32

from .._gpu_linalg import (
    MEANS,
    SAMPLE,
    SAMPLE_WITH_MEANS,
    bernoulli_unit_functions,
    default_block,
    grid_2d,
    launch_product,
    split_draw,
)


@lru_cache(maxsize=None)
def _layer_kernel(dtype, mode):
    """Elementwise bias + sigmoid (+ Bernoulli) pass over a (chains, units) field."""
    sigmoid, bernoulli = bernoulli_unit_functions(dtype)

    @cuda.jit
    def kernel(field, bias, key0, key1, draw_lo, draw_hi, chain_offset, states, means):
        j, first = cuda.grid(2)
        if j >= field.shape[1]:
            return
        for c in range(first, field.shape[0], cuda.gridsize(2)[1]):
            p = sigmoid(field[c, j] + bias[j])
            if mode != SAMPLE:
                means[c, j] = p
            if mode != MEANS:
                states[c, j] = bernoulli(p, j, uint32(chain_offset + c), draw_lo, draw_hi, key0, key1)

    return kernel


def _launch_layer(field, bias, key0, key1, draw, chain_offset, states, means, mode):
    block = default_block()
    grid = grid_2d(field.shape[0], field.shape[1], block)
    if grid is None:
        return
    kernel = _layer_kernel(np.dtype(field.dtype), mode)
    kernel[grid, block](field, bias, key0, key1, *split_draw(draw), chain_offset, states, means)


def sample_bernoulli_layer(field, bias, key0, key1, draw, chain_offset, states, means=None):
    """``states[c, j] = 1{u < sigmoid(field[c, j] + bias[j])}`` and, where ``means`` is given,
    ``means = sigmoid(field + bias)`` (see ``_cpu.sample_bernoulli_layer``)."""
    mode = SAMPLE if means is None else SAMPLE_WITH_MEANS
    _launch_layer(field, bias, key0, key1, draw, chain_offset, states, states if means is None else means, mode)


def bernoulli_means(field, bias, means):
    """``means = sigmoid(field + bias)``; ``means`` may be ``field``."""
    _launch_layer(field, bias, np.uint32(0), np.uint32(0), 0, 0, means, means, MEANS)


def sample_bernoulli_product(layer, weights, transpose, bias, key0, key1, draw, chain_offset, states,
                             means=None, tile=None):
    """Fused ``states = Bernoulli(sigmoid(layer @ op(weights) + bias))``, the field never stored.

    Parameters
    ----------
    layer : device array, shape (num_chains, K)
        The other layer's states.
    weights : device array, shape (K, num_units), or (num_units, K) with ``transpose``
        ``weight_matrix``: not transposed for the hidden layer, transposed for the visible one.
    transpose : bool
    bias : device array, shape (num_units,)
    key0, key1 : uint32
    draw, chain_offset : int
    states : device array, shape (num_chains, num_units)
        Output, exact 0/1; must not alias ``layer``.
    means : device array, shape (num_chains, num_units), optional
        Also receives ``sigmoid(field + bias)``.
    tile : Tile, optional
    """
    mode = SAMPLE if means is None else SAMPLE_WITH_MEANS
    launch_product(layer, weights, False, transpose, bias, 0.0, key0, key1, draw, chain_offset, states,
                    states if means is None else means, mode, tile)


def bernoulli_means_product(layer, weights, transpose, bias, means, tile=None):
    """Fused ``means = sigmoid(layer @ op(weights) + bias)`` (shapes as ``sample_bernoulli_product``)."""
    launch_product(layer, weights, False, transpose, bias, 0.0, np.uint32(0), np.uint32(0), 0, 0, means, means,
                    MEANS, tile)


@cuda.jit
def _subtract_outer_pair_kernel(target, x1, y1, x2, y2):
    j, first = cuda.grid(2)
    if j < target.shape[1]:
        for i in range(first, target.shape[0], cuda.gridsize(2)[1]):
            target[i, j] -= x1[i] * y1[j] + x2[i] * y2[j]


def subtract_outer_pair(target, x1, y1, x2, y2):
    """``target -= outer(x1, y1) + outer(x2, y2)`` in place; ``target`` has shape (len(x), len(y))."""
    block = default_block()
    grid = grid_2d(target.shape[0], target.shape[1], block)
    if grid is not None:
        _subtract_outer_pair_kernel[grid, block](target, x1, y1, x2, y2)
