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
from numba import prange, types
from numba.extending import overload

from .._jit import helper, kernel
from .._numerics import fast_exp, fast_sigmoid, one_like
from .._rng import philox4x32, uniform_from_bits

#: Chains swept together, site by site (see ``sweeps``).
CHAIN_BLOCK = 16
#: Above this many spins the site-major block's rank-1 field updates (done
#: for every chain, flipped or not) outgrow L1 and cost more than per-chain
#: updates on flips only (heat-bath sweeps/s with 1000 chains, block vs per
#: chain: N = 64 1500-2400 vs 1060; N = 96 1070-1250 vs 680; N = 128 460 vs
#: 560; N = 784 23 vs 47).
SITE_MAJOR_MAX_UNITS = 100

HEAT_BATH = 0
RANDOM_SITE = 1
METROPOLIS = 2
#: Sampler names and the kernel kind of each.
SAMPLERS = {"heat-bath": HEAT_BATH, "random-site": RANDOM_SITE, "metropolis": METROPOLIS}


def tempered_field(field, row_beta, base_field, c, i):
    """The field site ``i`` of chain ``c`` feels: ``field``, or at inverse temperature ``row_beta[c]`` towards
    ``base_field``: beta H_i + (1 - beta) h0_i (parallel tempering)."""
    if row_beta is None:
        return field
    beta = row_beta[c]
    return beta * field + (1 - beta) * base_field[i]


@overload(tempered_field, inline="always")
def _tempered_field_overload(field, row_beta, base_field, c, i):
    # Chosen at compile time: plain sweeps (no ``row_beta``) compile with no arithmetic added.
    if isinstance(row_beta, (types.NoneType, types.Omitted)):
        return lambda field, row_beta, base_field, c, i: field
    return lambda field, row_beta, base_field, c, i: (row_beta[c] * field
                                                      + (one_like(field) - row_beta[c]) * base_field[i])


# The random-site helpers index the 2-d arrays with (chain, site) rather than
# taking row views: a view in the innermost loop costs an atomic reference count.
@helper
def _set_spin(coupling, state, local_field, c, i, new):
    delta = new - state[c, i]
    if delta != 0:
        state[c, i] = new
        for j in range(state.shape[1]):
            local_field[c, j] += coupling[i, j] * delta


@helper
def _metropolis(coupling, state, local_field, c, i, u, row_beta, base_field):
    # Accept the flip with probability min(1, exp(-dE)), dE = 2 s_i H_i.
    gain = state[c, i] * tempered_field(local_field[c, i], row_beta, base_field, c, i)
    if u < fast_exp(-(gain + gain)):
        _set_spin(coupling, state, local_field, c, i, -state[c, i])


@helper
def _heat_bath(coupling, state, local_field, c, i, u, row_beta, base_field):
    field = tempered_field(local_field[c, i], row_beta, base_field, c, i)
    one = one_like(field)
    p_up = fast_sigmoid((one + one) * field)
    _set_spin(coupling, state, local_field, c, i, one if u < p_up else -one)


@kernel
def sweeps(coupling, kind, num_sweeps, key0, key1, first_draw, chain_offset, state, local_field, spins_t, fields_t,
           words, delta, row_beta=None, base_field=None):
    """Run ``num_sweeps`` sweeps of every chain in place.

    For N <= SITE_MAJOR_MAX_UNITS, sequential sweeps (heat-bath, Metropolis)
    work on blocks of CHAIN_BLOCK chains copied into site-major scratch
    (N, CHAIN_BLOCK): each site update runs across the chains of the block in
    SIMD lanes (Philox, sigmoid, draw), and the field update is one rank-1
    update of the block, done even for chains whose spin did not flip
    (delta = 0 adds exactly 0) because a branch per chain would cost more.
    Otherwise, and for random-site sweeps (every chain picks its own sites),
    chains go one by one and update their fields only on flips.  Both paths
    give the same chains bit for bit.

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
    spins_t, fields_t : ndarray, shape (num_blocks, N, CHAIN_BLOCK)
        Scratch (site-major copies of a block).
    words : ndarray of uint32, shape (num_blocks, 4, CHAIN_BLOCK)
        Scratch: the current Philox block of each chain.
    delta : ndarray, shape (num_blocks, CHAIN_BLOCK)
        Scratch: the spin changes of the current site.
    row_beta : ndarray, shape (num_chains,), optional
        Inverse temperature of each chain (parallel tempering): a site feels
        beta H_i + (1 - beta) base_field_i, while ``local_field`` stays H.
    base_field : ndarray, shape (N,), optional
        h0 of the beta = 0 law (with ``row_beta``).
    """
    num_chains, num_units = state.shape
    like = local_field[0, 0]
    for block_index in prange((num_chains + CHAIN_BLOCK - 1) // CHAIN_BLOCK):
        lo = block_index * CHAIN_BLOCK
        width = min(num_chains, lo + CHAIN_BLOCK) - lo
        if kind == RANDOM_SITE or num_units > SITE_MAJOR_MAX_UNITS:
            for t in range(num_sweeps):
                draw = first_draw + t
                for c in range(lo, lo + width):
                    _chain_sweep(coupling, kind, state, local_field, c, np.uint32(chain_offset + c),
                                 np.uint32(draw & 0xFFFFFFFF), np.uint32(draw >> 32), key0, key1, like, row_beta,
                                 base_field)
            continue
        spins = spins_t[block_index]
        fields = fields_t[block_index]
        for i in range(num_units):
            for c in range(width):
                spins[i, c] = state[lo + c, i]
                fields[i, c] = local_field[lo + c, i]
        for t in range(num_sweeps):
            draw = first_draw + t
            _sequential_sweep(coupling, kind, key0, key1, np.uint32(draw & 0xFFFFFFFF), np.uint32(draw >> 32),
                              np.uint32(chain_offset + lo), lo, width, spins, fields, words[block_index],
                              delta[block_index], like, row_beta, base_field)
        for i in range(num_units):
            for c in range(width):
                state[lo + c, i] = spins[i, c]
                local_field[lo + c, i] = fields[i, c]


@helper
def _sequential_sweep(coupling, kind, key0, key1, draw_lo, draw_hi, first_stream, lo, width, spins, fields, words,
                      delta, like, row_beta, base_field):
    """One sequential sweep of a site-major block of chains ``lo ...``: spins, fields (N, CHAIN_BLOCK)."""
    one = one_like(like)
    for i in range(spins.shape[0]):
        if i % 4 == 0:
            for c in range(width):
                w0, w1, w2, w3 = philox4x32(np.uint32(i // 4), np.uint32(first_stream + c), draw_lo, draw_hi,
                                            key0, key1)
                words[0, c] = w0
                words[1, c] = w1
                words[2, c] = w2
                words[3, c] = w3
        r = i % 4
        for c in range(width):
            u = uniform_from_bits(words[r, c], like)
            s = spins[i, c]
            h = tempered_field(fields[i, c], row_beta, base_field, lo + c, i)
            if kind == HEAT_BATH:
                new = one if u < fast_sigmoid((one + one) * h) else -one
            else:
                gain = s * h
                new = -s if u < fast_exp(-(gain + gain)) else s
            delta[c] = new - s
            spins[i, c] = new
        row = coupling[i]
        for j in range(spins.shape[0]):
            weight = row[j]
            for c in range(width):
                fields[j, c] += weight * delta[c]


@helper
def _chain_sweep(coupling, kind, state, local_field, c, stream, draw_lo, draw_hi, key0, key1, like, row_beta,
                 base_field):
    """One sweep of chain ``c`` alone, updating its fields only when a spin flips."""
    num_units = state.shape[1]
    if kind != RANDOM_SITE:
        for block in range((num_units + 3) // 4):
            words = philox4x32(np.uint32(block), stream, draw_lo, draw_hi, key0, key1)
            for r in range(min(4, num_units - 4 * block)):
                u = uniform_from_bits(words[r], like)
                if kind == HEAT_BATH:
                    _heat_bath(coupling, state, local_field, c, 4 * block + r, u, row_beta, base_field)
                else:
                    _metropolis(coupling, state, local_field, c, 4 * block + r, u, row_beta, base_field)
        return
    for block in range((num_units + 1) // 2):
        w0, w1, w2, w3 = philox4x32(np.uint32(block), stream, draw_lo, draw_hi, key0, key1)
        i = np.int64((np.uint64(w0) * np.uint64(num_units)) >> np.uint64(32))
        _heat_bath(coupling, state, local_field, c, i, uniform_from_bits(w1, like), row_beta, base_field)
        if 2 * block + 1 < num_units:
            i = np.int64((np.uint64(w2) * np.uint64(num_units)) >> np.uint64(32))
            _heat_bath(coupling, state, local_field, c, i, uniform_from_bits(w3, like), row_beta, base_field)
