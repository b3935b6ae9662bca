"""CUDA kernel of the fully connected Boltzmann machine (+-1 spins), twin of ``_cpu.sweeps``.

A group of threads runs each chain (``_gpu_linalg.ChainLayout``): one warp
for small N, several chains a block, else a block of threads.  The chain's
spins and local fields stay in shared memory for the whole launch when they
fit.  Each piece of ``chunk`` site updates first draws its Philox numbers
together, across the group (the same words as the CPU: site i of a
sequential sweep uses word i % 4 of block i // 4; random-site update u uses
block u // 2).  Then, site by site, the group's first thread sets the spin
and the group adds ``J[i, :] * delta`` to the chain's local fields, only
when the spin flipped, as the CPU does.  Both kernels run the same float
operations on the fields in the same order; a spin differs only where the
rounding of a sigmoid or exponential flips a comparison.
"""

import math
from functools import lru_cache

import numpy as np
from numba import cuda, float64, int32, uint32, uint64

from .._gpu_linalg import (
    bernoulli_unit_functions,
    block_sum_function,
    chain_group_functions,
    chain_layout,
    reduction_threads,
)
from .._rng_gpu import philox4x32, uniform_from_bits
from ._cpu import METROPOLIS, RANDOM_SITE


@lru_cache(maxsize=None)
def _sweep_kernel(dtype, kind, layout, tempered=False):
    row_dtype = np.dtype(dtype)  # an instance: the simulator's dynamic shared array reads its itemsize
    dtype = row_dtype.type
    one = dtype(1.0)
    limit = dtype(87.0)
    sigmoid, _ = bernoulli_unit_functions(dtype)
    uniform = uniform_from_bits(dtype)
    low32, shift32 = np.uint64(0xFFFFFFFF), np.uint64(32)
    group, slots, chunk, shared_rows, warp_sync = layout
    barrier, store_rows = chain_group_functions(warp_sync)
    per_block = 2 if kind == RANDOM_SITE else 4  # site updates per Philox block
    if chunk % 4:
        raise ValueError(f"layout: chunk {chunk} is not a whole number of Philox blocks")
    chunk_shape = (slots, chunk)  # literal shapes for cuda.shared.array, built here

    @cuda.jit
    def kernel(coupling, num_sweeps, key0, key1, first_draw, chain_offset, state, local_field, row_beta, base_field):
        num_chains, num_units = state.shape
        lane, slot = cuda.threadIdx.x % group, cuda.threadIdx.x // group
        c = cuda.blockIdx.x * slots + slot
        live = c < num_chains
        # A slot past the last chain runs every loop (its group meets the barriers) and writes nothing.
        row = min(c, num_chains - 1)
        uniforms = cuda.shared.array(chunk_shape, dtype)
        sites = cuda.shared.array(chunk_shape, int32)
        change = cuda.shared.array(slots, dtype)
        changed_site = cuda.shared.array(slots, int32)
        if shared_rows:
            rows = cuda.shared.array(0, row_dtype)
            spins = rows[2 * slot * num_units:(2 * slot + 1) * num_units]
            fields = rows[(2 * slot + 1) * num_units:(2 * slot + 2) * num_units]
            for j in range(lane, num_units, group):
                spins[j] = state[row, j]
                fields[j] = local_field[row, j]
        else:
            spins, fields = state[row], local_field[row]
        stream = uint32(chain_offset + row)
        beta = row_beta[row] if tempered else one
        for t in range(num_sweeps):
            draw = uint64(first_draw + t)
            draw_lo, draw_hi = uint32(draw & low32), uint32(draw >> shift32)
            for start in range(0, num_units, chunk):
                count = min(chunk, num_units - start)
                for b in range(lane, (count + per_block - 1) // per_block, group):
                    k = b * per_block
                    w0, w1, w2, w3 = philox4x32(uint32((start + k) // per_block), stream, draw_lo, draw_hi,
                                                key0, key1)
                    if kind == RANDOM_SITE:
                        sites[slot, k] = int32((uint64(w0) * uint64(num_units)) >> shift32)
                        uniforms[slot, k] = uniform(w1)
                        if k + 1 < count:
                            sites[slot, k + 1] = int32((uint64(w2) * uint64(num_units)) >> shift32)
                            uniforms[slot, k + 1] = uniform(w3)
                    else:
                        uniforms[slot, k] = uniform(w0)
                        if k + 1 < count:
                            uniforms[slot, k + 1] = uniform(w1)
                        if k + 2 < count:
                            uniforms[slot, k + 2] = uniform(w2)
                        if k + 3 < count:
                            uniforms[slot, k + 3] = uniform(w3)
                barrier()
                for k in range(count):
                    if lane == 0:
                        i = sites[slot, k] if kind == RANDOM_SITE else start + k
                        u, s, h = uniforms[slot, k], spins[i], fields[i]
                        if tempered:  # parallel tempering: beta H_i + (1 - beta) h0_i, as the CPU's tempered_field
                            h = beta * h + (one - beta) * base_field[i]
                        if kind == METROPOLIS:
                            gain = s * h
                            new = -s if u < math.exp(min(max(-(gain + gain), -limit), limit)) else s
                        else:
                            new = one if u < sigmoid((one + one) * h) else -one
                        if live:
                            spins[i] = new
                        change[slot] = new - s
                        changed_site[slot] = i
                    barrier()
                    delta, i = change[slot], changed_site[slot]
                    if delta != 0 and live:
                        for j in range(lane, num_units, group):
                            fields[j] += coupling[i, j] * delta
                    barrier()
        if shared_rows and live:
            store_rows(state, local_field, row, spins, fields, lane, group)

    return kernel


def sweeps(coupling, kind, num_sweeps, key0, key1, first_draw, chain_offset, state, local_field, *cpu_scratch,
           layout=None, row_beta=None, base_field=None):
    """Run ``num_sweeps`` sweeps of every chain in place (see ``_cpu.sweeps``; its scratch arguments are ignored).

    Parameters
    ----------
    coupling : device array, shape (N, N)
    kind : int
        HEAT_BATH, RANDOM_SITE or METROPOLIS.
    num_sweeps : int
    key0, key1 : uint32
    first_draw : int
        Sweep t uses draw ``first_draw + t``.
    chain_offset : int
    state : device array, shape (num_chains, N)
        +-1 spins, updated in place.
    local_field : device array, shape (num_chains, N)
        h + state @ J on entry, kept up to date.
    layout : ChainLayout, optional
        Default: ``chain_layout(N, itemsize)``.
    row_beta : device array, shape (num_chains,), optional
        Parallel tempering: each chain's inverse temperature, in the dtype of ``state``; its sites feel
        beta H_i + (1 - beta) base_field_i while ``local_field`` stays H.
    base_field : device array, shape (N,), optional
        h0 of the beta = 0 law (with ``row_beta``).
    """
    if state.size == 0 or num_sweeps == 0:
        return
    num_chains, num_units = state.shape
    layout = layout or chain_layout(num_units, state.dtype.itemsize)
    tempered = row_beta is not None
    kernel = _sweep_kernel(np.dtype(state.dtype), kind, layout, tempered)
    if not tempered:  # a plain sweep's kernel never reads them: any 1-d array of the dtype fills the slots
        row_beta = base_field = local_field[0]
    kernel[layout.blocks(num_chains), layout.threads, 0, layout.shared_bytes(num_units, state.dtype.itemsize)](
        coupling, num_sweeps, key0, key1, first_draw, chain_offset, state, local_field, row_beta, base_field)


@lru_cache(maxsize=None)
def _log_weight_kernel(threads):
    """One block per chain: sum_i s_i (H_i / 2 + offset_i) in float64, by its threads and then in shared memory."""
    block_sum = block_sum_function(threads)

    @cuda.jit
    def kernel(state, local_field, offset, out):
        c, t = cuda.blockIdx.x, cuda.threadIdx.x
        partial = cuda.shared.array(threads, float64)
        total = 0.0
        for i in range(t, state.shape[1], threads):
            total += float64(state[c, i]) * (0.5 * float64(local_field[c, i]) + offset[i])
        partial[t] = total
        row_total = block_sum(partial, t)
        if t == 0:
            out[c] = row_total

    return kernel


def tempering_log_weights(state, local_field, offset, out, threads=None):
    """``out[c] = -E(s_c) - h0 . s_c`` = sum_i s_i (H_i / 2 + offset_i), ``offset = h / 2 - h0`` (float64): the
    part of log p*_beta that beta multiplies, from the local fields H = h + s J (see ``tempering.IsingTempered``).
    ``threads`` per chain, a power of 2 (default ``reduction_threads()``)."""
    threads = reduction_threads() if threads is None else threads
    if out.shape[0]:
        _log_weight_kernel(threads)[out.shape[0], threads](state, local_field, offset, out)
