"""CPU kernels of the fully connected Boltzmann machine (Numba).

Each chain keeps its local fields H = h + s J up to date: a site update
costs O(1), and O(N) only when the spin flips.  Chains run in parallel; the
sites of one chain are updated in sequence.  Random numbers come from the
chain's Philox stream, one draw index per sweep:

* sequential sweeps (heat-bath, Metropolis): site i uses word i % 4 of block i // 4;
* random-site sweeps: update u (0..N-1) uses block u // 2, words 2 (u % 2) (site
  index, floor(w N / 2^32)) and 2 (u % 2) + 1 (acceptance uniform).
"""

import numpy as np
from numba import njit, prange

from .._numerics import KERNEL_FASTMATH, fast_exp, fast_sigmoid
from .._rng import philox4x32, uniform_from_bits

#: Chains swept together, site by site (see ``sweeps``).
CHAIN_BLOCK = 16

HEAT_BATH = 0
RANDOM_SITE = 1
METROPOLIS = 2


# The helpers index the 2-d arrays with (chain, site) rather than taking row
# views: a view in the innermost loop costs an atomic reference-count update.
@njit(inline="always", fastmath=KERNEL_FASTMATH)
def _set_spin(coupling, state, local_field, c, i, new):
    delta = new - state[c, i]
    if delta != 0:
        state[c, i] = new
        for j in range(state.shape[1]):
            local_field[c, j] += coupling[i, j] * delta


@njit(inline="always", fastmath=KERNEL_FASTMATH)
def _heat_bath(coupling, state, local_field, c, i, u):
    field = local_field[c, i]
    one = field - field + 1
    p_up = fast_sigmoid((one + one) * field)
    _set_spin(coupling, state, local_field, c, i, one if u < p_up else -one)


@njit(inline="always", fastmath=KERNEL_FASTMATH)
def _metropolis(coupling, state, local_field, c, i, u):
    # Accept the flip with probability min(1, exp(-dE)), dE = 2 s_i H_i.
    energy_gain = state[c, i] * local_field[c, i]
    if u < fast_exp(-(energy_gain + energy_gain)):
        _set_spin(coupling, state, local_field, c, i, -state[c, i])


@njit(parallel=True, fastmath=KERNEL_FASTMATH, cache=True)
def sweeps(coupling, kind, num_sweeps, key0, key1, first_draw, chain_offset, state, local_field, words):
    """Run ``num_sweeps`` sweeps of every chain in place.

    Sequential sweeps go site by site over a block of CHAIN_BLOCK chains, so
    that row J[i] is read once per block rather than once per chain (for
    N = 784, J does not fit in L2 and reading rows dominated), and the
    chains of a block give the core independent work while one waits.
    Random-site sweeps go chain by chain (each chain picks its own sites).

    Parameters
    ----------
    coupling : ndarray, shape (N, N)
        J, symmetric, zero diagonal.
    kind : int
        HEAT_BATH (sequential), RANDOM_SITE (heat-bath at N random sites) or
        METROPOLIS (sequential).
    num_sweeps : int
    key0, key1 : uint32
    first_draw : int
        Draw index of the first sweep; sweep t uses ``first_draw + t``.
    chain_offset : int
    state : ndarray, shape (num_chains, N)
        +-1 spins, updated in place.
    local_field : ndarray, shape (num_chains, N)
        h + state @ J on entry, kept up to date.
    words : ndarray of uint32, shape (num_chains, 4)
        Scratch: the current Philox block of each chain.
    """
    num_chains, num_units = state.shape
    like = local_field[0, 0]
    for block_index in prange((num_chains + CHAIN_BLOCK - 1) // CHAIN_BLOCK):
        lo = block_index * CHAIN_BLOCK
        hi = min(num_chains, lo + CHAIN_BLOCK)
        for t in range(num_sweeps):
            draw = first_draw + t
            draw_lo = np.uint32(draw & 0xFFFFFFFF)
            draw_hi = np.uint32(draw >> 32)
            if kind == RANDOM_SITE:
                for c in range(lo, hi):
                    _random_site_sweep(coupling, state, local_field, c, np.uint32(chain_offset + c), draw_lo,
                                       draw_hi, key0, key1, like)
                continue
            for i in range(num_units):
                if i % 4 == 0:
                    for c in range(lo, hi):
                        w0, w1, w2, w3 = philox4x32(np.uint32(i // 4), np.uint32(chain_offset + c), draw_lo,
                                                    draw_hi, key0, key1)
                        words[c, 0] = w0
                        words[c, 1] = w1
                        words[c, 2] = w2
                        words[c, 3] = w3
                for c in range(lo, hi):
                    u = uniform_from_bits(words[c, i % 4], like)
                    if kind == HEAT_BATH:
                        _heat_bath(coupling, state, local_field, c, i, u)
                    else:
                        _metropolis(coupling, state, local_field, c, i, u)


@njit(inline="always", fastmath=KERNEL_FASTMATH)
def _random_site_sweep(coupling, state, local_field, c, stream, draw_lo, draw_hi, key0, key1, like):
    num_units = state.shape[1]
    for block in range((num_units + 1) // 2):
        w0, w1, w2, w3 = philox4x32(np.uint32(block), stream, draw_lo, draw_hi, key0, key1)
        i = np.int64((np.uint64(w0) * np.uint64(num_units)) >> np.uint64(32))
        _heat_bath(coupling, state, local_field, c, i, uniform_from_bits(w1, like))
        if 2 * block + 1 < num_units:
            i = np.int64((np.uint64(w2) * np.uint64(num_units)) >> np.uint64(32))
            _heat_bath(coupling, state, local_field, c, i, uniform_from_bits(w3, like))
