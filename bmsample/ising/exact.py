"""Exact enumeration for the fully connected Boltzmann machine (Ising model) on +-1 spins.

The model is

    E(s) = -sum_i h_i s_i - sum_{i<j} J_ij s_i s_j,      s in {-1, +1}^N,

with J symmetric and zero on the diagonal; the local field of site i is
H_i = h_i + sum_j J_ij s_j (it does not depend on s_i).  A distribution over
the 2^N states is a vector of length 2^N indexed by

    index(s) = sum_i b_i 2^(N-1-i),      b_i = (s_i + 1) / 2,

i.e. unit 0 is the most significant bit (the order of
``bmsample.rbm.model.all_binary_states``: spins = 2 b - 1).

Single-site kernels (docs/theory.md section 3): heat-bath sets s_i = +1 with
probability sigmoid(2 H_i); Metropolis flips s_i with probability
min(1, exp(-dE)), dE = 2 s_i H_i.  A sweep is N single-site updates: sites
0, ..., N-1 in order ("heat-bath", "metropolis"), or N heat-bath updates at
independently uniform sites ("random-site": the operator T_rs^N with
T_rs = (1/N) sum_i T_i).

Everything is plain NumPy in float64 and limited to N <= ``MAX_EXACT_SPINS``.
No 2^N x 2^N matrix is built: a site update pairs every state with its
site-i flip through a (2^i, 2, 2^(N-1-i)) view of the distribution, O(2^N)
work and memory per site; energies and local fields are built by doubling
over the units (O(2^N) per unit).  This module is the oracle that the
sampling kernels and the theory of independent spins are tested against.
"""

import numpy as np

from .._validation import check_choice, check_int

__all__ = [
    "KERNELS", "MAX_EXACT_SPINS", "SAMPLERS", "all_spin_states", "apply_site", "apply_sweep", "distribution_after",
    "energies", "equilibrium_distribution", "exact_gradient", "log_partition", "moments", "product_distribution",
    "uniform_distribution",
]

#: Largest number of spins the exact functions accept.
MAX_EXACT_SPINS = 20
#: Single-site kernels of ``apply_site``.
KERNELS = ("heat-bath", "metropolis")
#: Sweep kinds of ``apply_sweep`` (the names used by ``bmsample.ising.sample``).
SAMPLERS = ("heat-bath", "random-site", "metropolis")

_SIGNS = np.array([-1.0, 1.0])
_ROWS_PER_BLOCK = 1 << 14


# --- validation -------------------------------------------------------------------------------------------------

def _real_array(x, name):
    array = np.asarray(x)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
                                     or array.dtype == bool):
        raise TypeError(f"{name}: expected real numbers, got dtype {array.dtype}")
    return array.astype(np.float64)


def _check_num_spins(num_spins, name="num_spins"):
    num_spins = check_int(num_spins, name, minimum=1)
    if num_spins > MAX_EXACT_SPINS:
        raise ValueError(f"{name}: exact enumeration is limited to {MAX_EXACT_SPINS} spins, got {num_spins}")
    return num_spins


def _check_model(J, h):
    """(J, h) as float64 arrays: J (N, N) finite, exactly symmetric, zero diagonal; h (N,) finite; N <= 20."""
    J, h = _real_array(J, "J"), _real_array(h, "h")
    if J.ndim != 2 or J.shape[0] != J.shape[1] or J.shape[0] < 1:
        raise ValueError(f"J: expected a square (N, N) coupling matrix with N >= 1, got shape {J.shape}")
    num_spins = J.shape[0]
    if num_spins > MAX_EXACT_SPINS:
        raise ValueError(f"J: exact enumeration is limited to {MAX_EXACT_SPINS} spins, got N = {num_spins}")
    if h.shape != (num_spins,):
        raise ValueError(f"h: expected shape ({num_spins},) to match J, got {h.shape}")
    if not (np.isfinite(J).all() and np.isfinite(h).all()):
        raise ValueError("J, h: expected finite values")
    if not np.array_equal(J, J.T):
        raise ValueError("J: expected an exactly symmetric matrix")
    if np.any(np.diag(J) != 0):
        raise ValueError(f"J: expected a zero diagonal, got J[i, i] = {np.diag(J)[np.diag(J) != 0][0]}")
    return J, h


def _check_distribution(p, num_spins, name="p"):
    """A float64 copy of ``p``: shape (2^N,), finite, non-negative."""
    p = _real_array(p, name)
    if p.shape != (1 << num_spins,):
        raise ValueError(f"{name}: expected shape ({1 << num_spins},) for {num_spins} spins, got {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError(f"{name}: expected finite non-negative probabilities")
    return p


# --- states, energies, fields -----------------------------------------------------------------------------------

def all_spin_states(num_spins):
    """Every +-1 vector of length ``num_spins``, shape (2**num_spins, num_spins), float64.

    Row ``r`` has s_i = 2 b_i - 1 with b_i the bit of weight 2^(N-1-i) of r
    (unit 0 most significant), i.e. ``2 * all_binary_states(N) - 1``.
    """
    num_spins = _check_num_spins(num_spins)
    return _spin_rows(np.arange(1 << num_spins, dtype=np.int64), num_spins)


def _spin_rows(index, num_spins):
    shifts = np.arange(num_spins - 1, -1, -1, dtype=np.int64)
    return 2.0 * ((index[:, None] >> shifts) & 1) - 1.0


def _partial_field(row, units):
    """sum_{j in units} row[j] s_j over every configuration of ``units`` (first unit most significant)."""
    total = np.zeros(1)
    for j in units:
        total = (total[:, None] + row[j] * _SIGNS).ravel()
    return total


def _site_field(J, h, i):
    """H_i over the states of the other spins, shape (2^i, 2^(N-1-i)) (the site-i axis of p removed)."""
    num_spins = J.shape[0]
    before = _partial_field(J[i], range(i))
    after = _partial_field(J[i], range(i + 1, num_spins))
    return h[i] + (before[:, None] + after[None, :])


def _energies(J, h):
    energy = np.zeros(1)
    for j in range(J.shape[0]):
        field = h[j] + _partial_field(J[j], range(j))  # field on unit j from units < j, over their states
        energy = (energy[:, None] - field[:, None] * _SIGNS).ravel()
    return energy


def energies(J, h):
    """Energy of every state, shape (2**N,).

    Parameters
    ----------
    J : array_like, shape (N, N)
        Couplings, exactly symmetric with zero diagonal, N <= 20.
    h : array_like, shape (N,)
        Fields.

    Returns
    -------
    ndarray, shape (2**N,)
        E(s) = -sum_i h_i s_i - sum_{i<j} J_ij s_i s_j in state-index order.

    Notes
    -----
    Spins are +-1, state index sum_i b_i 2^(N-1-i) with b_i = (s_i + 1) / 2.
    Built unit by unit: E over the states of units 0..j is E over units
    0..j-1 minus s_j (h_j + sum_{l<j} J_jl s_l), O(2^N) work in all.
    """
    return _energies(*_check_model(J, h))


def _log_partition(energy):
    top = np.max(-energy)
    return top + np.log(np.sum(np.exp(-energy - top)))


def log_partition(J, h):
    """log Z = log sum_s exp(-E(s)) (float), by enumeration with a shifted log-sum-exp.

    Parameters
    ----------
    J : array_like, shape (N, N)
    h : array_like, shape (N,)

    Returns
    -------
    float
    """
    return float(_log_partition(energies(J, h)))


def equilibrium_distribution(J, h):
    """Boltzmann distribution exp(-E(s)) / Z, shape (2**N,), in state-index order (spins +-1)."""
    energy = energies(J, h)
    return np.exp(-energy - _log_partition(energy))


def uniform_distribution(num_spins):
    """The uniform distribution 2^-N over the 2^N spin states, shape (2**num_spins,)."""
    num_spins = _check_num_spins(num_spins)
    return np.full(1 << num_spins, 2.0**-num_spins)


def product_distribution(m):
    """Independent +-1 spins with magnetisations ``m``: p(s) = prod_i (1 + m_i s_i) / 2.

    Parameters
    ----------
    m : array_like, shape (N,)
        Magnetisations in [-1, 1], 1 <= N <= 20.

    Returns
    -------
    ndarray, shape (2**N,)
        In state-index order (unit 0 most significant).
    """
    m = _real_array(m, "m")
    if m.ndim != 1:
        raise ValueError(f"m: expected a 1-d array of magnetisations, got shape {m.shape}")
    _check_num_spins(m.shape[0], "len(m)")
    if not np.isfinite(m).all() or (np.abs(m) > 1).any():
        raise ValueError("m: expected magnetisations in [-1, 1]")
    p = np.ones(1)
    for value in m:
        p = (p[:, None] * (0.5 * (1.0 + value * _SIGNS))).ravel()
    return p


# --- dynamics ---------------------------------------------------------------------------------------------------

def _site_factors(J, h, i, kernel):
    """Flip probabilities (from s_i = -1 to +1, from +1 to -1) and their complements, each (2^i, 2^(N-1-i))."""
    field = _site_field(J, h, i)
    if kernel == "heat-bath":
        # sigmoid(2H) and sigmoid(-2H) = 1 - sigmoid(2H), both with full relative precision, never overflowing.
        z = np.exp(-2.0 * np.abs(field))
        large, small = 1.0 / (1.0 + z), z / (1.0 + z)
        up = np.where(field >= 0, large, small)
        down = np.where(field >= 0, small, large)
        return up, down, down, up  # P(-1 -> +1), P(+1 -> -1), P(-1 -> -1), P(+1 -> +1)
    # Metropolis: from s_i = -1, dE = -2 H; from s_i = +1, dE = 2 H; accept min(1, exp(-dE)) = exp(min(0, -dE)).
    up, down = np.minimum(0.0, 2.0 * field), np.minimum(0.0, -2.0 * field)
    return np.exp(up), np.exp(down), -np.expm1(up), -np.expm1(down)


def _apply_site(p, J, h, i, kernel):
    num_spins = J.shape[0]
    view = p.reshape(1 << i, 2, 1 << (num_spins - 1 - i))
    minus, plus = view[:, 0, :], view[:, 1, :]
    up, down, stay_minus, stay_plus = _site_factors(J, h, i, kernel)
    out = np.empty_like(view)
    out[:, 0, :] = stay_minus * minus + down * plus
    out[:, 1, :] = up * minus + stay_plus * plus
    return out.reshape(-1)


def _apply_sweep(p, J, h, sampler):
    num_spins = J.shape[0]
    if sampler == "random-site":
        for _ in range(num_spins):
            total = np.zeros_like(p)
            for i in range(num_spins):
                total += _apply_site(p, J, h, i, "heat-bath")
            p = total / num_spins
        return p
    for i in range(num_spins):
        p = _apply_site(p, J, h, i, sampler)
    return p


def apply_site(p, J, h, i, kernel):
    """Distribution after one update of site ``i``.

    Parameters
    ----------
    p : array_like, shape (2**N,)
        Non-negative weights over the states (normally a probability
        distribution; the map is linear, so any non-negative measure works).
    J : array_like, shape (N, N)
        Couplings, exactly symmetric with zero diagonal, N <= 20.
    h : array_like, shape (N,)
        Fields.
    i : int
        Site, 0 <= i < N.
    kernel : {"heat-bath", "metropolis"}
        Heat-bath: s_i <- +1 with probability sigmoid(2 H_i), else -1.
        Metropolis: flip s_i with probability min(1, exp(-2 s_i H_i)).

    Returns
    -------
    ndarray, shape (2**N,)
        T_i p, a new array (``p`` is not modified).

    Notes
    -----
    Spins are +-1; state index sum_i b_i 2^(N-1-i), b_i = (s_i + 1) / 2.
    Viewing p as (2^i, 2, 2^(N-1-i)), the middle axis is s_i = -1, +1 and the
    other axes are the remaining spins, on which H_i depends; each pair
    (s, flip_i s) is mixed by the 2x2 column-stochastic matrix of the kernel
    at that H_i.  O(2^N) time and memory.
    """
    J, h = _check_model(J, h)
    num_spins = J.shape[0]
    i = check_int(i, "i", minimum=0)
    if i >= num_spins:
        raise ValueError(f"i: expected a site in 0..{num_spins - 1}, got {i}")
    check_choice(kernel, "kernel", KERNELS)
    return _apply_site(_check_distribution(p, num_spins), J, h, i, kernel)


def apply_sweep(p, J, h, sampler):
    """Distribution after one sweep (N single-site updates).

    Parameters
    ----------
    p : array_like, shape (2**N,)
        Non-negative weights over the states.
    J : array_like, shape (N, N)
    h : array_like, shape (N,)
    sampler : {"heat-bath", "random-site", "metropolis"}
        Sequential heat-bath (sites 0..N-1 in order), heat-bath at N
        independently uniform sites, or sequential Metropolis.

    Returns
    -------
    ndarray, shape (2**N,)
        T_{N-1} ... T_1 T_0 p (sequential) or T_rs^N p with
        T_rs = (1/N) sum_i T_i (random-site).

    Notes
    -----
    Spins are +-1 (state order: unit 0 most significant).  Sequential
    sweeps cost O(N 2^N), random-site sweeps O(N^2 2^N).
    """
    J, h = _check_model(J, h)
    check_choice(sampler, "sampler", SAMPLERS)
    return _apply_sweep(_check_distribution(p, J.shape[0]), J, h, sampler)


def distribution_after(p0, J, h, sweeps, sampler):
    """Distribution after ``sweeps`` sweeps from ``p0``, T^sweeps p0 (see ``apply_sweep``).

    Parameters
    ----------
    p0 : array_like, shape (2**N,)
    J : array_like, shape (N, N)
    h : array_like, shape (N,)
    sweeps : int
        Number of sweeps k >= 0 (0 returns a copy of p0).
    sampler : {"heat-bath", "random-site", "metropolis"}

    Returns
    -------
    ndarray, shape (2**N,)
    """
    J, h = _check_model(J, h)
    sweeps = check_int(sweeps, "sweeps", minimum=0)
    check_choice(sampler, "sampler", SAMPLERS)
    p = _check_distribution(p0, J.shape[0], "p0")
    for _ in range(sweeps):
        p = _apply_sweep(p, J, h, sampler)
    return p


# --- statistics -------------------------------------------------------------------------------------------------

def _moments(p, num_spins):
    magnetisation = np.zeros(num_spins)
    correlation = np.zeros((num_spins, num_spins))
    for start in range(0, p.size, _ROWS_PER_BLOCK):
        weights = p[start:start + _ROWS_PER_BLOCK]
        spins = _spin_rows(np.arange(start, start + weights.size, dtype=np.int64), num_spins)
        weighted = spins * weights[:, None]
        magnetisation += weighted.sum(axis=0)
        correlation += weighted.T @ spins
    correlation = 0.5 * (correlation + correlation.T)
    np.fill_diagonal(correlation, 1.0)
    return magnetisation, correlation


def moments(p, num_spins):
    """Magnetisations <s_i> and pair correlations <s_i s_j> under ``p``.

    Parameters
    ----------
    p : array_like, shape (2**num_spins,)
        A probability distribution over the states (state-index order).
    num_spins : int
        N, 1 <= N <= 20.

    Returns
    -------
    magnetisations : ndarray, shape (N,)
        sum_s p(s) s_i.
    correlations : ndarray, shape (N, N)
        sum_s p(s) s_i s_j, exactly symmetric, with ones on the diagonal
        (s_i^2 = 1; ``p`` is taken to sum to 1).
    """
    num_spins = _check_num_spins(num_spins)
    return _moments(_check_distribution(p, num_spins), num_spins)


def exact_gradient(J, h, data_p, chain_p):
    """Log-likelihood-style gradient between a data distribution and the chains' distribution.

    Parameters
    ----------
    J : array_like, shape (N, N)
    h : array_like, shape (N,)
        The model (only validated and used for N: the gradient is a difference of moments).
    data_p : array_like, shape (2**N,)
        Distribution of the data over the states.
    chain_p : array_like, shape (2**N,)
        Distribution of the chains (e.g. ``distribution_after(p0, J, h, k, sampler)`` for Rdm-k, or
        ``equilibrium_distribution(J, h)`` for the exact likelihood gradient).

    Returns
    -------
    grad_J : ndarray, shape (N, N)
        <s s^T>_data - <s s^T>_chains, symmetric, zero diagonal.
    grad_h : ndarray, shape (N,)
        <s>_data - <s>_chains.

    Notes
    -----
    With E = -h^T s - sum_{i<j} J_ij s_i s_j, -dE/dJ_ij = s_i s_j and
    -dE/dh_i = s_i, so gradient ascent on the log-likelihood (or its Rdm-k
    surrogate) moves along these differences.
    """
    J, h = _check_model(J, h)
    num_spins = J.shape[0]
    m_data, c_data = _moments(_check_distribution(data_p, num_spins, "data_p"), num_spins)
    m_chain, c_chain = _moments(_check_distribution(chain_p, num_spins, "chain_p"), num_spins)
    grad_j = c_data - c_chain
    np.fill_diagonal(grad_j, 0.0)
    return grad_j, m_data - m_chain
