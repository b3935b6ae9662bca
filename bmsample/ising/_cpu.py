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

HEAT_BATH = 0
RANDOM_SITE = 1
METROPOLIS = 2


@njit(inline="always", fastmath=KERNEL_FASTMATH)
def _set_spin(coupling, spins, local, i, new):
    delta = new - spins[i]
    if delta != 0:
        spins[i] = new
        row = coupling[i]
        for j in range(spins.shape[0]):
            local[j] += row[j] * delta


@njit(inline="always", fastmath=KERNEL_FASTMATH)
def _heat_bath(coupling, spins, local, i, u):
    one = local[i] - local[i] + 1
    p_up = fast_sigmoid((one + one) * local[i])
    _set_spin(coupling, spins, local, i, one if u < p_up else -one)


@njit(inline="always", fastmath=KERNEL_FASTMATH)
def _metropolis(coupling, spins, local, i, u):
    # Accept the flip with probability min(1, exp(-dE)), dE = 2 s_i H_i.
    energy_gain = spins[i] * local[i]
    if u < fast_exp(-(energy_gain + energy_gain)):
        _set_spin(coupling, spins, local, i, -spins[i])


@njit(parallel=True, fastmath=KERNEL_FASTMATH, cache=True)
def sweeps(coupling, kind, num_sweeps, key0, key1, first_draw, chain_offset, state, local_field):
    """Run ``num_sweeps`` sweeps of every chain in place.

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
    """
    num_chains, num_units = state.shape
    for c in prange(num_chains):
        spins = state[c]
        local = local_field[c]
        stream = np.uint32(chain_offset + c)
        like = local[0]
        for t in range(num_sweeps):
            draw = first_draw + t
            draw_lo = np.uint32(draw & 0xFFFFFFFF)
            draw_hi = np.uint32(draw >> 32)
            if kind == RANDOM_SITE:
                for block in range((num_units + 1) // 2):
                    w0, w1, w2, w3 = philox4x32(np.uint32(block), stream, draw_lo, draw_hi, key0, key1)
                    i = np.int64((np.uint64(w0) * np.uint64(num_units)) >> np.uint64(32))
                    _heat_bath(coupling, spins, local, i, uniform_from_bits(w1, like))
                    if 2 * block + 1 < num_units:
                        i = np.int64((np.uint64(w2) * np.uint64(num_units)) >> np.uint64(32))
                        _heat_bath(coupling, spins, local, i, uniform_from_bits(w3, like))
            else:
                for block in range((num_units + 3) // 4):
                    words = philox4x32(np.uint32(block), stream, draw_lo, draw_hi, key0, key1)
                    for r in range(min(4, num_units - 4 * block)):
                        u = uniform_from_bits(words[r], like)
                        if kind == HEAT_BATH:
                            _heat_bath(coupling, spins, local, 4 * block + r, u)
                        else:
                            _metropolis(coupling, spins, local, 4 * block + r, u)
