"""CPU kernels of the Gaussian energy model (Numba).

Kernels do not validate, do not allocate and never raise.  Normals come from
``bmsample._rng.normal_block`` (Box-Muller on Philox words): unit ``j`` of
chain ``chain_offset + c`` at ``draw`` takes normal ``j % P`` of block
``j // P``, with P = 4 (float32) or 2 (float64).
"""

import numpy as np
from numba import prange

from .._jit import kernel
from .._rng import normal_block, normals_per_block, philox4x32, uniform_from_bits


@kernel
def langevin_update(field, bias, step_size, noise_scale, key0, key1, draw, chain_offset, state):
    """One unadjusted Langevin step in place: x <- x - eps (J x - h) + noise_scale * xi.

    Parameters
    ----------
    field : ndarray, shape (num_chains, N)
        ``state @ J`` for the current state.
    bias : ndarray, shape (N,)
        h.
    step_size, noise_scale : scalar of the model dtype
        eps and sqrt(2 eps T).
    key0, key1 : uint32
    draw, chain_offset : int
    state : ndarray, shape (num_chains, N)
        Updated in place.
    """
    num_chains, num_units = state.shape
    per = normals_per_block(step_size)
    draw_lo = np.uint32(draw & 0xFFFFFFFF)
    draw_hi = np.uint32(draw >> 32)
    num_full = num_units // per
    for c in prange(num_chains):
        stream = np.uint32(chain_offset + c)
        for block in range(num_full):
            z = normal_block(np.uint32(block), stream, draw_lo, draw_hi, key0, key1, step_size)
            for r in range(per):
                j = per * block + r
                state[c, j] += noise_scale * z[r] - step_size * (field[c, j] - bias[j])
        if num_full * per < num_units:
            z = normal_block(np.uint32(num_full), stream, draw_lo, draw_hi, key0, key1, step_size)
            for r in range(num_units - num_full * per):
                j = per * num_full + r
                state[c, j] += noise_scale * z[r] - step_size * (field[c, j] - bias[j])


@kernel
def fill_normal(loc, scale, key0, key1, draw, chain_offset, out):
    """out[c, j] = loc + scale * xi (standard normals of the streams); loc, scale in the out dtype."""
    num_chains, num_units = out.shape
    per = normals_per_block(scale)
    draw_lo = np.uint32(draw & 0xFFFFFFFF)
    draw_hi = np.uint32(draw >> 32)
    num_blocks = (num_units + per - 1) // per
    for c in prange(num_chains):
        stream = np.uint32(chain_offset + c)
        for block in range(num_blocks):
            z = normal_block(np.uint32(block), stream, draw_lo, draw_hi, key0, key1, scale)
            for r in range(min(per, num_units - per * block)):
                out[c, per * block + r] = loc + scale * z[r]


@kernel
def fill_uniform(low, high, key0, key1, draw, chain_offset, out):
    """out[c, j] = low + (high - low) * u, u uniform in [0, 1) (word j % 4 of block j // 4)."""
    num_chains, num_units = out.shape
    draw_lo = np.uint32(draw & 0xFFFFFFFF)
    draw_hi = np.uint32(draw >> 32)
    width = high - low
    for c in prange(num_chains):
        stream = np.uint32(chain_offset + c)
        for block in range((num_units + 3) // 4):
            words = philox4x32(np.uint32(block), stream, draw_lo, draw_hi, key0, key1)
            for r in range(min(4, num_units - 4 * block)):
                out[c, 4 * block + r] = low + width * uniform_from_bits(words[r], low)


@kernel
def gibbs_sweep(coupling, bias, inverse_diagonal, noise_std, noise, local_field, state):
    """One sequential coordinate-Gibbs sweep (sites 0..N-1) of every chain, in place.

    Parameters
    ----------
    coupling : ndarray, shape (N, N), symmetric
    bias : ndarray, shape (N,)
    inverse_diagonal, noise_std : ndarray, shape (N,)
        1 / J_ii and sqrt(T / J_ii).
    noise : ndarray, shape (num_chains, N)
        Standard normals for this sweep (``fill_normal``).
    local_field : ndarray, shape (num_chains, N)
        ``state @ J`` on entry; kept up to date.
    state : ndarray, shape (num_chains, N)
    """
    num_chains, num_units = state.shape
    for c in prange(num_chains):
        x = state[c]
        f = local_field[c]
        for i in range(num_units):
            new = (bias[i] - f[i] + coupling[i, i] * x[i]) * inverse_diagonal[i] + noise_std[i] * noise[c, i]
            delta = new - x[i]
            x[i] = new
            row = coupling[i]
            for j in range(num_units):
                f[j] += row[j] * delta
