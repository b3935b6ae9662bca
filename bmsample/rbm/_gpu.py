"""CUDA kernels of the Bernoulli-Bernoulli RBM (``numba.cuda``), twins of ``_cpu``.

``sample_bernoulli_layer`` (its ``means`` optional, as on the CPU),
``bernoulli_means``, ``subtract_outer_pair`` and parallel tempering's
``sample_tempered_layer`` and ``tempered_gaps`` take the arguments of their
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

import math
from functools import lru_cache

import numpy as np
from numba import cuda, float64, uint32

from .._gpu_linalg import (
    MEANS,
    SAMPLE,
    SAMPLE_WITH_MEANS,
    bernoulli_unit_functions,
    block_sum_function,
    default_block,
    grid_2d,
    launch_product,
    reduction_threads,
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


@lru_cache(maxsize=None)
def _tempered_layer_kernel(dtype):
    """Elementwise Bernoulli pass of chains at their own inverse temperatures."""
    sigmoid, bernoulli = bernoulli_unit_functions(dtype)
    one = np.dtype(dtype).type(1.0)

    @cuda.jit
    def kernel(field, bias, base_bias, row_beta, key0, key1, draw_lo, draw_hi, chain_offset, states):
        j, first = cuda.grid(2)
        if j >= field.shape[1]:
            return
        for c in range(first, field.shape[0], cuda.gridsize(2)[1]):
            beta = row_beta[c]
            p = sigmoid(beta * (field[c, j] + bias[j]) + (one - beta) * base_bias[j])
            states[c, j] = bernoulli(p, j, uint32(chain_offset + c), draw_lo, draw_hi, key0, key1)

    return kernel


def sample_tempered_layer(field, bias, base_bias, row_beta, key0, key1, draw, chain_offset, states):
    """``states[c, j] = 1{u < sigmoid(beta_c (field[c, j] + bias[j]) + (1 - beta_c) base_bias[j])}``, the
    random numbers of ``sample_bernoulli_layer`` (see ``_cpu.sample_tempered_layer``); ``row_beta`` in the dtype
    of ``field``."""
    block = default_block()
    grid = grid_2d(field.shape[0], field.shape[1], block)
    if grid is not None:
        _tempered_layer_kernel(np.dtype(field.dtype))[grid, block](field, bias, base_bias, row_beta, key0, key1,
                                                                   *split_draw(draw), chain_offset, states)


@lru_cache(maxsize=None)
def _gap_kernel(dtype, threads):
    """One block per row: the row's softplus and visible terms summed by its threads, then in shared memory."""
    scalar = np.dtype(dtype).type
    one, zero = scalar(1.0), scalar(0.0)
    block_sum = block_sum_function(threads)

    @cuda.jit
    def kernel(hidden_field, hbias, visible, vbias_gap, betas, new_betas, gaps):
        c, t = cuda.blockIdx.x, cuda.threadIdx.x
        partial = cuda.shared.array(threads, float64)
        beta, new_beta = betas[c], new_betas[c]
        total = 0.0
        if beta != new_beta:
            low, high = scalar(beta), scalar(new_beta)
            for j in range(t, hidden_field.shape[1], threads):
                y = hidden_field[c, j] + hbias[j]
                ay = abs(y)
                ratio = (one + math.exp(-high * ay)) / (one + math.exp(-low * ay))
                total += (high - low) * max(y, zero) + math.log(ratio)
            visible_terms = 0.0
            for i in range(t, visible.shape[1], threads):
                visible_terms += visible[c, i] * vbias_gap[i]
            total += (new_beta - beta) * visible_terms
        partial[t] = total
        row_total = block_sum(partial, t)
        if t == 0:
            gaps[c] = row_total

    return kernel


def tempered_gaps(hidden_field, hbias, visible, vbias_gap, betas, new_betas, gaps, threads=None):
    """``gaps[c]`` = log p*_{new_betas[c]}(v_c) - log p*_{betas[c]}(v_c) from the hidden field ``v W`` (float64;
    0 where the betas are equal): the reduction of ``_cpu.tempered_fields_and_gaps``, the product given;
    ``threads`` per row, a power of 2 (default ``reduction_threads()``)."""
    threads = reduction_threads() if threads is None else threads
    if gaps.shape[0]:
        _gap_kernel(np.dtype(hidden_field.dtype), threads)[gaps.shape[0], threads](hidden_field, hbias, visible,
                                                                                   vbias_gap, betas, new_betas, gaps)
