"""bmsample.ising.exact against brute-force matrices, detailed balance and the J = 0 closed forms (docs/theory.md §3).

The brute-force oracles below build everything from the definitions (the spin
table of each state index, E(s), H_i(s), the kernel's acceptance rule), with
explicit 2^N x 2^N matrices for N <= 4; the module under test never builds
them.
"""

import itertools

import numpy as np
import pytest
import scipy.special

from bmsample.ising import exact
from bmsample.rbm.model import all_binary_states

SAMPLERS = ("heat-bath", "random-site", "metropolis")


def random_model(num_spins, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.standard_normal((num_spins, num_spins)) * scale, 1)
    return upper + upper.T, rng.standard_normal(num_spins) * scale


def brute_spins(num_spins):
    """Spin table from the definition: index = sum_i b_i 2^(N-1-i), s_i = 2 b_i - 1."""
    return np.array([[1.0 if bits[i] else -1.0 for i in range(num_spins)]
                     for bits in itertools.product((0, 1), repeat=num_spins)])


def brute_energies(J, h):
    spins = brute_spins(len(h))
    return np.array([-h @ s - sum(J[i, j] * s[i] * s[j] for i in range(len(h)) for j in range(i + 1, len(h)))
                     for s in spins])


def brute_site_matrix(J, h, i, kernel):
    """M[y, x] = P(x -> y) for one update of site i, from the kernel's definition."""
    spins = brute_spins(len(h))
    index = {tuple(s): r for r, s in enumerate(spins)}
    matrix = np.zeros((len(spins), len(spins)))
    for x, s in enumerate(spins):
        field = h[i] + J[i] @ s  # J_ii = 0
        flipped = s.copy()
        flipped[i] = -s[i]
        y = index[tuple(flipped)]
        if kernel == "heat-bath":
            p_up = 1.0 / (1.0 + np.exp(-2.0 * field))
            p_new = p_up if s[i] < 0 else 1.0 - p_up  # probability that s_i changes
        else:
            p_new = min(1.0, np.exp(-2.0 * s[i] * field))
        matrix[y, x] += p_new
        matrix[x, x] += 1.0 - p_new
    return matrix


def site_matrix(J, h, i, kernel):
    """The matrix of exact.apply_site, column by column from basis vectors."""
    size = 2 ** len(h)
    return np.stack([exact.apply_site(np.eye(size)[x], J, h, i, kernel) for x in range(size)], axis=1)


# --- states, energies, Z ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("num_spins", [1, 2, 3, 5])
def test_state_convention(num_spins):
    spins = exact.all_spin_states(num_spins)
    np.testing.assert_array_equal(spins, brute_spins(num_spins))
    np.testing.assert_array_equal(spins, 2.0 * all_binary_states(num_spins) - 1.0)


@pytest.mark.parametrize("num_spins", [1, 2, 4])
def test_energies_and_log_partition(num_spins):
    J, h = random_model(num_spins, seed=num_spins)
    energy = brute_energies(J, h)
    np.testing.assert_allclose(exact.energies(J, h), energy, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(exact.log_partition(J, h), scipy.special.logsumexp(-energy), rtol=1e-13)
    p = exact.equilibrium_distribution(J, h)
    np.testing.assert_allclose(p, np.exp(-energy) / np.exp(-energy).sum(), rtol=1e-12)
    assert abs(p.sum() - 1.0) < 1e-14


def test_log_partition_large_couplings_no_overflow():
    J, h = random_model(6, scale=300.0, seed=1)
    energy = brute_energies(J, h)
    np.testing.assert_allclose(exact.log_partition(J, h), scipy.special.logsumexp(-energy), rtol=1e-13)


# --- single-site kernels ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel", ["heat-bath", "metropolis"])
def test_apply_site_equals_brute_force_matrix(kernel):
    J, h = random_model(3, seed=2)
    rng = np.random.default_rng(3)
    p = rng.random(8)
    p /= p.sum()
    for i in range(3):
        matrix = brute_site_matrix(J, h, i, kernel)
        np.testing.assert_allclose(site_matrix(J, h, i, kernel), matrix, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(exact.apply_site(p, J, h, i, kernel), matrix @ p, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("kernel", ["heat-bath", "metropolis"])
@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_detailed_balance(kernel, scale):
    J, h = random_model(4, scale=scale, seed=4)
    pi = exact.equilibrium_distribution(J, h)
    for i in range(4):
        flow = site_matrix(J, h, i, kernel) * pi[None, :]  # flow[y, x] = pi(x) P(x -> y)
        np.testing.assert_allclose(flow, flow.T, rtol=1e-12, atol=1e-300)


def test_single_site_kernels_are_stochastic():
    J, h = random_model(4, scale=5.0, seed=5)
    for kernel in ("heat-bath", "metropolis"):
        for i in range(4):
            matrix = site_matrix(J, h, i, kernel)
            assert (matrix >= 0).all()
            np.testing.assert_allclose(matrix.sum(axis=0), 1.0, rtol=0, atol=1e-15)


# --- sweeps -------------------------------------------------------------------------------------------------------

def test_sweeps_equal_explicit_products():
    J, h = random_model(3, seed=6)
    size = 8
    basis = np.eye(size)
    for kernel, sampler in (("heat-bath", "heat-bath"), ("metropolis", "metropolis")):
        sequential = np.eye(size)
        for i in range(3):
            sequential = brute_site_matrix(J, h, i, kernel) @ sequential
        swept = np.stack([exact.apply_sweep(basis[x], J, h, sampler) for x in range(size)], axis=1)
        np.testing.assert_allclose(swept, sequential, rtol=1e-13, atol=1e-15)
    random_site = sum(brute_site_matrix(J, h, i, "heat-bath") for i in range(3)) / 3.0
    expected = np.linalg.matrix_power(random_site, 3)
    swept = np.stack([exact.apply_sweep(basis[x], J, h, "random-site") for x in range(size)], axis=1)
    np.testing.assert_allclose(swept, expected, rtol=1e-13, atol=1e-15)
    p0 = np.random.default_rng(7).dirichlet(np.ones(size))
    np.testing.assert_allclose(exact.distribution_after(p0, J, h, 4, "random-site"),
                               np.linalg.matrix_power(expected, 4) @ p0, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("num_spins, scale", [(1, 1.0), (4, 0.7), (6, 2.0)])
def test_equilibrium_is_invariant(sampler, num_spins, scale):
    J, h = random_model(num_spins, scale=scale, seed=num_spins)
    pi = exact.equilibrium_distribution(J, h)
    np.testing.assert_allclose(exact.apply_sweep(pi, J, h, sampler), pi, rtol=0, atol=1e-12)
    for i in range(num_spins):
        for kernel in ("heat-bath", "metropolis"):
            np.testing.assert_allclose(exact.apply_site(pi, J, h, i, kernel), pi, rtol=0, atol=1e-12)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_distributions_stay_normalised_and_non_negative(sampler):
    J, h = random_model(5, scale=2.5, seed=8)
    p0 = np.random.default_rng(9).dirichlet(np.full(32, 0.3))
    before = p0.copy()
    p = p0
    for _ in range(5):
        p = exact.apply_sweep(p, J, h, sampler)
        assert (p >= 0).all()
        assert abs(p.sum() - 1.0) < 1e-13
    np.testing.assert_array_equal(p0, before)  # inputs are not mutated
    # long runs converge to equilibrium (N = 5, weak couplings: second eigenvalue of a sweep <= 0.76)
    pi = exact.equilibrium_distribution(J * 0.1, h * 0.1)
    far = exact.distribution_after(p0, J * 0.1, h * 0.1, 90, sampler)
    np.testing.assert_allclose(far, pi, atol=1e-9)
    np.testing.assert_array_equal(exact.distribution_after(p0, J, h, 0, sampler), p0)


# --- J = 0 closed forms (docs/theory.md section 3) ---------------------------------------------------------------

@pytest.mark.parametrize("num_spins", [1, 2, 3, 5])
def test_independent_spin_closed_forms(num_spins):
    rng = np.random.default_rng(num_spins)
    h = rng.standard_normal(num_spins) * 1.5
    J = np.zeros((num_spins, num_spins))
    uniform = exact.uniform_distribution(num_spins)
    a = np.exp(-2.0 * np.abs(h))
    p = {sampler: uniform for sampler in SAMPLERS}
    for k in range(0, 7):
        q = (1.0 - 1.0 / num_spins) ** (k * num_spins)
        expected = {"heat-bath": np.tanh(h) * (k >= 1), "random-site": np.tanh(h) * (1.0 - q),
                    "metropolis": np.tanh(h) * (1.0 - (-a) ** k)}
        for sampler in SAMPLERS:
            m, _ = exact.moments(p[sampler], num_spins)
            np.testing.assert_allclose(m, expected[sampler], rtol=0, atol=1e-12, err_msg=f"{sampler}, k = {k}")
            p[sampler] = exact.apply_sweep(p[sampler], J, h, sampler)


def test_independent_sequential_sweeps_keep_a_product_law():
    h = np.array([0.4, -1.1, 0.9])
    J = np.zeros((3, 3))
    p = exact.distribution_after(exact.uniform_distribution(3), J, h, 2, "heat-bath")
    np.testing.assert_allclose(p, exact.product_distribution(np.tanh(h)), rtol=1e-14)


# --- distributions, moments, gradient -----------------------------------------------------------------------------

def test_uniform_and_product_distributions():
    np.testing.assert_array_equal(exact.uniform_distribution(4), exact.product_distribution(np.zeros(4)))
    m = np.array([0.3, -0.8, 1.0, 0.0])
    p = exact.product_distribution(m)
    spins = brute_spins(4)
    np.testing.assert_allclose(p, np.prod((1.0 + m * spins) / 2.0, axis=1), rtol=1e-15)
    mag, corr = exact.moments(p, 4)
    np.testing.assert_allclose(mag, m, atol=1e-15)
    expected = np.outer(m, m)
    np.fill_diagonal(expected, 1.0)
    np.testing.assert_allclose(corr, expected, atol=1e-15)


@pytest.mark.parametrize("num_spins", [1, 3, 15])
def test_moments_brute_force(num_spins):
    p = np.random.default_rng(num_spins).dirichlet(np.ones(2**num_spins))
    spins = exact.all_spin_states(num_spins)
    mag, corr = exact.moments(p, num_spins)
    np.testing.assert_allclose(mag, p @ spins, atol=1e-13)
    np.testing.assert_allclose(corr, (spins * p[:, None]).T @ spins, atol=1e-13)
    np.testing.assert_array_equal(corr, corr.T)
    np.testing.assert_array_equal(np.diag(corr), 1.0)


def test_exact_gradient_is_the_log_likelihood_gradient():
    J, h = random_model(4, scale=0.6, seed=10)
    data_p = np.random.default_rng(11).dirichlet(np.ones(16))
    grad_j, grad_h = exact.exact_gradient(J, h, data_p, exact.equilibrium_distribution(J, h))

    def log_likelihood(J, h):
        return -data_p @ exact.energies(J, h) - exact.log_partition(J, h)

    step = 1e-6
    for i in range(4):
        dh = np.zeros(4)
        dh[i] = step
        numeric = (log_likelihood(J, h + dh) - log_likelihood(J, h - dh)) / (2 * step)
        assert abs(numeric - grad_h[i]) < 1e-8
        for j in range(i + 1, 4):
            dj = np.zeros((4, 4))
            dj[i, j] = dj[j, i] = step
            numeric = (log_likelihood(J + dj, h) - log_likelihood(J - dj, h)) / (2 * step)
            assert abs(numeric - grad_j[i, j]) < 1e-8
    np.testing.assert_array_equal(np.diag(grad_j), 0.0)
    np.testing.assert_array_equal(grad_j, grad_j.T)
    zero_j, zero_h = exact.exact_gradient(J, h, data_p, data_p)
    assert not zero_j.any() and not zero_h.any()


# --- validation ---------------------------------------------------------------------------------------------------

def test_validation_names_the_argument():
    J, h = random_model(3)
    p = exact.uniform_distribution(3)
    with pytest.raises(ValueError, match="num_spins"):
        exact.all_spin_states(21)
    with pytest.raises(ValueError, match="num_spins"):
        exact.uniform_distribution(0)
    with pytest.raises(ValueError, match="J"):
        exact.energies(np.zeros((21, 21)), np.zeros(21))
    with pytest.raises(ValueError, match="J"):
        exact.energies(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="J: expected an exactly symmetric"):
        exact.energies(J + np.triu(np.ones((3, 3)), 1), h)
    with pytest.raises(ValueError, match="J: expected a zero diagonal"):
        exact.energies(J + np.eye(3), h)
    with pytest.raises(ValueError, match="h"):
        exact.energies(J, np.zeros(4))
    with pytest.raises(ValueError, match="p:"):
        exact.apply_site(np.ones(7) / 7, J, h, 0, "heat-bath")
    with pytest.raises(ValueError, match="p:"):
        exact.apply_site(-p, J, h, 0, "heat-bath")
    with pytest.raises(ValueError, match="i:"):
        exact.apply_site(p, J, h, 3, "heat-bath")
    with pytest.raises(ValueError, match="kernel"):
        exact.apply_site(p, J, h, 0, "random-site")
    with pytest.raises(ValueError, match="sampler"):
        exact.apply_sweep(p, J, h, "gibbs")
    with pytest.raises(ValueError, match="p0"):
        exact.distribution_after(np.ones(4), J, h, 1, "heat-bath")
    with pytest.raises(ValueError, match="sweeps"):
        exact.distribution_after(p, J, h, -1, "heat-bath")
    with pytest.raises(ValueError, match="m"):
        exact.product_distribution([0.5, 1.5])
    with pytest.raises(ValueError, match="chain_p"):
        exact.exact_gradient(J, h, p, np.ones(4))
    with pytest.raises(TypeError, match="J"):
        exact.energies(np.full((2, 2), "a"), np.zeros(2))
