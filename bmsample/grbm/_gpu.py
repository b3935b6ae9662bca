"""CUDA kernels of the Gaussian-Bernoulli RBM (``numba.cuda``), twins of ``_cpu``.

The hidden layer is a Bernoulli layer (``bmsample.rbm._gpu``, re-exported as
on the CPU).  ``sample_gaussian_visible`` (its ``means`` optional)
takes the arguments of its ``_cpu`` twin, as device arrays, and draws the
same Philox normals (``bmsample._rng_gpu.normal_of_unit``).
"""

from functools import lru_cache

import numpy as np
from numba import cuda, uint32

from .._gpu_linalg import default_block, grid_1d, grid_2d, split_draw
from .._rng_gpu import normal_of_unit
from ..rbm._gpu import bernoulli_means, sample_bernoulli_layer

__all__ = ["bernoulli_means", "divide_rows", "sample_bernoulli_layer", "sample_gaussian_visible", "scale_by_square",
           "sample_tempered_gaussian_visible"]


@lru_cache(maxsize=None)
def _visible_kernel(dtype, with_means):
    normal = normal_of_unit(dtype)

    @cuda.jit
    def kernel(field, bias, sigma, key0, key1, draw_lo, draw_hi, chain_offset, states, means):
        j, first = cuda.grid(2)
        if j >= states.shape[1]:
            return
        for c in range(first, states.shape[0], cuda.gridsize(2)[1]):
            mean = bias[j] + sigma[j] * field[c, j]
            states[c, j] = mean + sigma[j] * normal(j, uint32(chain_offset + c), draw_lo, draw_hi, key0, key1)
            if with_means:
                means[c, j] = mean

    return kernel


def _launch_visible(field, bias, sigma, key0, key1, draw, chain_offset, states, means, with_means):
    block = default_block()
    grid = grid_2d(states.shape[0], states.shape[1], block)
    if grid is None:
        return
    _visible_kernel(np.dtype(states.dtype), with_means)[grid, block](field, bias, sigma, key0, key1, *split_draw(draw),
                                                                     chain_offset, states, means)


def sample_gaussian_visible(field, bias, sigma, key0, key1, draw, chain_offset, states, means=None):
    """``states[c, j] = bias[j] + sigma[j] * field[c, j] + sigma[j] * xi[c, j]`` and, where ``means`` is given,
    ``means = bias + sigma * field`` (see ``_cpu``)."""
    _launch_visible(field, bias, sigma, key0, key1, draw, chain_offset, states,
                    states if means is None else means, means is not None)


@lru_cache(maxsize=None)
def _tempered_visible_kernel(dtype):
    normal = normal_of_unit(dtype)
    one = np.dtype(dtype).type(1.0)

    @cuda.jit
    def kernel(field, bias_gap, row_beta, bias, sigma, key0, key1, draw_lo, draw_hi, chain_offset, states):
        j, first = cuda.grid(2)
        if j >= states.shape[1]:
            return
        for c in range(first, states.shape[0], cuda.gridsize(2)[1]):
            beta = row_beta[c]
            tempered = field[c, j] * beta + (one - beta) * bias_gap[j]
            states[c, j] = (bias[j] + sigma[j] * tempered
                            + sigma[j] * normal(j, uint32(chain_offset + c), draw_lo, draw_hi, key0, key1))

    return kernel


def sample_tempered_gaussian_visible(field, bias_gap, row_beta, bias, sigma, key0, key1, draw, chain_offset, states):
    """Parallel tempering's visible pass: ``sample_gaussian_visible`` of the field ``beta_c field[c] + (1 - beta_c)
    bias_gap`` (as the CPU's ``GRBMTempered``), ``row_beta`` in the dtype of ``field``."""
    block = default_block()
    grid = grid_2d(states.shape[0], states.shape[1], block)
    if grid is not None:
        _tempered_visible_kernel(np.dtype(states.dtype))[grid, block](field, bias_gap, row_beta, bias, sigma, key0,
                                                                      key1, *split_draw(draw), chain_offset, states)


@cuda.jit
def _divide_rows_kernel(matrix, divisors, out):
    j, first = cuda.grid(2)
    if j < out.shape[1]:
        for i in range(first, out.shape[0], cuda.gridsize(2)[1]):
            out[i, j] = matrix[i, j] / divisors[i]


def divide_rows(matrix, divisors, out):
    """``out = matrix / divisors[:, None]`` (``out`` may be ``matrix``)."""
    block = default_block()
    grid = grid_2d(out.shape[0], out.shape[1], block)
    if grid is not None:
        _divide_rows_kernel[grid, block](matrix, divisors, out)


@cuda.jit
def _scale_by_square_kernel(x, factor):
    i = cuda.grid(1)
    if i < x.shape[0]:
        x[i] = x[i] * factor[i] * factor[i]


def scale_by_square(x, factor):
    """``x = x * factor * factor`` in place (vectors), rounded as the CPU's ``(x * f) * f``."""
    threads = default_block()[0] * default_block()[1]
    if x.shape[0]:
        _scale_by_square_kernel[grid_1d(x.shape[0], threads), threads](x, factor)
