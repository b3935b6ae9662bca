"""CUDA kernels of the Gaussian energy model (``numba.cuda``), twins of ``_cpu``.

``langevin_update``, ``fill_normal`` and ``fill_uniform`` take the arguments
of their ``_cpu`` twins, as device arrays, and draw the same Philox numbers:
unit ``j`` of chain ``chain_offset + c`` at ``draw`` takes the normal of
``bmsample._rng_gpu.normal_of_unit`` (Box-Muller; 4 normals per block in
float32, 2 in float64) or the uniform of word ``j % 4`` of block ``j // 4``.
The field ``x @ J`` comes from the tiled product of ``bmsample._gpu_linalg``.
Launchers pick the grid and return without synchronising.
"""

import math
from functools import lru_cache

import numpy as np
from numba import cuda, uint32

from .._gpu_linalg import chain_group_functions, chain_layout, default_block, grid_2d, split_draw
from .._rng_gpu import normal_of_unit, philox_word, uniform_from_bits

LANGEVIN, NORMAL, UNIFORM = range(3)


@lru_cache(maxsize=None)
def _unit_kernel(dtype, kind):
    """Elementwise pass over (chains, units) drawing one normal or uniform per unit."""
    normal, uniform = normal_of_unit(dtype), uniform_from_bits(dtype)

    @cuda.jit
    def kernel(field, bias, a, b, key0, key1, draw_lo, draw_hi, chain_offset, out):
        j, first = cuda.grid(2)
        if j >= out.shape[1]:
            return
        for c in range(first, out.shape[0], cuda.gridsize(2)[1]):
            stream = uint32(chain_offset + c)
            if kind == UNIFORM:
                bits = philox_word(uint32(j >> 2), stream, draw_lo, draw_hi, key0, key1, j & 3)
                out[c, j] = a + (b - a) * uniform(bits)
            else:
                z = normal(j, stream, draw_lo, draw_hi, key0, key1)
                if kind == NORMAL:
                    out[c, j] = a + b * z
                else:
                    out[c, j] += b * z - a * (field[c, j] - bias[j])

    return kernel


def _launch(kind, field, bias, a, b, key0, key1, draw, chain_offset, out):
    block = default_block()
    grid = grid_2d(out.shape[0], out.shape[1], block)
    if grid is None:
        return
    kernel = _unit_kernel(np.dtype(out.dtype), kind)
    kernel[grid, block](field, bias, out.dtype.type(a), out.dtype.type(b), key0, key1, *split_draw(draw),
                        chain_offset, out)


def langevin_update(field, bias, step_size, noise_scale, key0, key1, draw, chain_offset, state):
    """One unadjusted Langevin step in place: x <- x - eps (J x - h) + noise_scale * xi (see ``_cpu``).

    ``field`` (num_chains, N) is ``state @ J``; ``bias`` (N,) is h.
    """
    _launch(LANGEVIN, field, bias, step_size, noise_scale, key0, key1, draw, chain_offset, state)


def fill_normal(loc, scale, key0, key1, draw, chain_offset, out):
    """out[c, j] = loc + scale * xi (standard normals of the streams)."""
    _launch(NORMAL, out, out[0], loc, scale, key0, key1, draw, chain_offset, out)


def fill_uniform(low, high, key0, key1, draw, chain_offset, out):
    """out[c, j] = low + (high - low) * u, u uniform in [0, 1) (word j % 4 of block j // 4)."""
    _launch(UNIFORM, out, out[0], low, high, key0, key1, draw, chain_offset, out)


@lru_cache(maxsize=None)
def _gibbs_kernel(dtype, layout):
    row_dtype = np.dtype(dtype)  # an instance: the simulator's dynamic shared array reads its itemsize
    dtype = row_dtype.type
    one = dtype(1.0)
    group, slots, _, shared_rows, warp_sync = layout
    barrier, store_rows = chain_group_functions(warp_sync)

    @cuda.jit
    def kernel(coupling, bias, temperature, noise, local_field, state):
        num_chains, num_units = state.shape
        lane, slot = cuda.threadIdx.x % group, cuda.threadIdx.x // group
        c = cuda.blockIdx.x * slots + slot
        live = c < num_chains
        row = min(c, num_chains - 1)  # a slot past the last chain meets the barriers and writes nothing
        change = cuda.shared.array(slots, dtype)
        if shared_rows:
            rows = cuda.shared.array(0, row_dtype)
            x = rows[2 * slot * num_units:(2 * slot + 1) * num_units]
            fields = rows[(2 * slot + 1) * num_units:(2 * slot + 2) * num_units]
            for j in range(lane, num_units, group):
                x[j] = state[row, j]
                fields[j] = local_field[row, j]
            barrier()
        else:
            x, fields = state[row], local_field[row]
        for i in range(num_units):
            if lane == 0:
                diagonal = coupling[i, i]
                new = ((bias[i] - fields[i] + diagonal * x[i]) * (one / diagonal)
                       + math.sqrt(temperature / diagonal) * noise[row, i])
                change[slot] = new - x[i]
                if live:
                    x[i] = new
            barrier()
            delta = change[slot]
            if live:
                for j in range(lane, num_units, group):
                    fields[j] += coupling[i, j] * delta
            barrier()
        if shared_rows and live:
            store_rows(state, local_field, row, x, fields, lane, group)

    return kernel


def gibbs_sweep(coupling, bias, temperature, noise, local_field, state, layout=None):
    """One sequential coordinate-Gibbs sweep of every chain in place (chains laid out by ``ChainLayout``).

    The twin of ``_cpu.gibbs_sweep``, which takes ``1 / J_ii`` and
    ``sqrt(T / J_ii)`` precomputed; here they come from the device's J at each
    site (J changes on the device during training), so ``temperature`` is the scalar T.

    Parameters
    ----------
    coupling : device array, shape (N, N), symmetric, positive diagonal
    bias : device array, shape (N,)
    temperature : float
    noise : device array, shape (num_chains, N)
        Standard normals for this sweep (``fill_normal``).
    local_field : device array, shape (num_chains, N)
        ``state @ J`` on entry; kept up to date.
    state : device array, shape (num_chains, N)
    layout : ChainLayout, optional
        Default: ``chain_layout(N, itemsize)`` (its ``chunk`` is unused: the noise is drawn beforehand).
    """
    if state.size == 0:
        return
    num_chains, num_units = state.shape
    layout = layout or chain_layout(num_units, state.dtype.itemsize)
    kernel = _gibbs_kernel(np.dtype(state.dtype), layout)
    kernel[layout.blocks(num_chains), layout.threads, 0, layout.shared_bytes(num_units, state.dtype.itemsize)](
        coupling, bias, state.dtype.type(temperature), noise, local_field, state)
