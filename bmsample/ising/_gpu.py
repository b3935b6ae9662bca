"""CUDA kernel of the fully connected Boltzmann machine (+-1 spins), twin of ``_cpu.sweeps``.

One thread block per chain.  The sites of a chain are updated in sequence:
thread 0 draws the site's Philox number (the same word as the CPU: site i
of a sequential sweep uses word i % 4 of block i // 4; random-site update
u uses block u // 2) and sets the spin; then the block's threads add
``J[i, :] * delta`` to the chain's local fields, only when the spin
flipped, as the CPU does.  Both kernels run the same float operations on the
fields in the same order; a spin differs only where the rounding of a
sigmoid or exponential flips a comparison.
"""

import math
from functools import lru_cache

import numpy as np
from numba import cuda, int64, uint32, uint64

from .._gpu_linalg import bernoulli_unit_functions, chain_threads
from .._rng_gpu import philox4x32, uniform_from_bits
from ._cpu import METROPOLIS, RANDOM_SITE


@lru_cache(maxsize=None)
def _sweep_kernel(dtype, kind):
    dtype = np.dtype(dtype).type
    one = dtype(1.0)
    limit = dtype(87.0)
    sigmoid, _ = bernoulli_unit_functions(dtype)
    uniform = uniform_from_bits(dtype)
    low32, shift32 = np.uint64(0xFFFFFFFF), np.uint64(32)

    @cuda.jit
    def kernel(coupling, num_sweeps, key0, key1, first_draw, chain_offset, state, local_field):
        c = cuda.blockIdx.x
        if c >= state.shape[0]:
            return
        tid, threads = cuda.threadIdx.x, cuda.blockDim.x
        num_units = state.shape[1]
        change = cuda.shared.array(1, dtype)
        site = cuda.shared.array(1, int64)
        stream = uint32(chain_offset + c)
        for t in range(num_sweeps):
            draw = uint64(first_draw + t)
            draw_lo, draw_hi = uint32(draw & low32), uint32(draw >> shift32)
            for update in range(num_units):
                if tid == 0:
                    if kind == RANDOM_SITE:
                        w0, w1, w2, w3 = philox4x32(uint32(update >> 1), stream, draw_lo, draw_hi, key0, key1)
                        site_bits, bits = (w0, w1) if update % 2 == 0 else (w2, w3)
                        i = int64((uint64(site_bits) * uint64(num_units)) >> shift32)
                    else:
                        w0, w1, w2, w3 = philox4x32(uint32(update >> 2), stream, draw_lo, draw_hi, key0, key1)
                        r = update % 4
                        bits = w0 if r == 0 else (w1 if r == 1 else (w2 if r == 2 else w3))
                        i = update
                    u = uniform(bits)
                    s = state[c, i]
                    h = local_field[c, i]
                    if kind == METROPOLIS:
                        gain = s * h
                        new = -s if u < math.exp(min(max(-(gain + gain), -limit), limit)) else s
                    else:
                        new = one if u < sigmoid((one + one) * h) else -one
                    state[c, i] = new
                    change[0] = new - s
                    site[0] = i
                cuda.syncthreads()
                delta, i = change[0], site[0]
                if delta != 0:
                    for j in range(tid, num_units, threads):
                        local_field[c, j] += coupling[i, j] * delta
                cuda.syncthreads()

    return kernel


def sweeps(coupling, kind, num_sweeps, key0, key1, first_draw, chain_offset, state, local_field, *cpu_scratch):
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
    """
    if state.size == 0 or num_sweeps == 0:
        return
    kernel = _sweep_kernel(np.dtype(state.dtype), kind)
    kernel[state.shape[0], chain_threads()](coupling, num_sweeps, key0, key1, first_draw, chain_offset, state,
                                                 local_field)
