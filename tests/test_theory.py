"""bmsample.theory (docs/theory.md section 2) against exact rational arithmetic, scipy, and its own limits.

Tolerances are in units of EPS = 2.2e-16 and come from the error analysis
stated next to each test: a closed form evaluated through log1p/expm1 has a
relative error of a few EPS plus n |log a^2| EPS from the power a^(2n); a
root returned to adjacent doubles is off by that evaluation error divided by
|dc/dj| (``root_tolerance``).
"""

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
import scipy.linalg
import scipy.special

from bmsample import theory

EPS = np.finfo(np.float64).eps
INV_E = 0.36787944117144233  # the double nearest to 1/e (slightly above it)


def variance_tolerance(n, a_sq):
    """Relative error bound of c_n: 8 EPS for the log1p/expm1/products, plus 2 n |log a^2| EPS for the power."""
    with np.errstate(divide="ignore"):
        growth = np.where(np.asarray(a_sq) > 0, np.abs(n * np.log(np.where(np.asarray(a_sq) > 0, a_sq, 1.0))), 0.0)
    return (8.0 + 2.0 * growth) * EPS


def root_tolerance(variance, j, lam, n_log_a_sq):
    """|j - j_exact| bound: evaluation error of c (``variance_tolerance``) over |dc/dj|, plus 2 ulp of j.

    dc/dj by a central difference (step 1e-6 (1 + |j|)); its own 1e-6-ish error is immaterial for a bound.
    """
    step = 1e-6 * (1.0 + np.abs(j))
    slope = np.abs(variance(j + step) - variance(j - step)) / (2.0 * step)
    return (8.0 + 2.0 * np.abs(n_log_a_sq)) * EPS * lam / slope + 2.0 * EPS * np.abs(j)


# --- Langevin dynamics along one mode --------------------------------------------------------------------------

EPS_STEP = 1.0 / 16  # eps j is exact for the dyadic j below, so the reference sees the same a as the closed form
J_GRID = [-8.0, -1.5, -(2.0**-30), 0.0, 2.0**-30, 0.5, 3.0, 8.0, 16.0, 20.0, 24.0, 31.0, 32.0, 40.0]
# a = 1 - j/16: 1.5, ..., 1 -+ 2^-34 (a^2 = 1 to 1e-10: cancellation test), 1, ..., 0.5, 0 (j = 1/eps),
# -0.25, -0.5, -0.9375, -1 (a^2 = 1 again), -1.5 (unstable side)


@pytest.mark.parametrize("s0_sq", [0.0, 0.3, 5.0])
def test_langevin_variance_equals_exact_recurrence(s0_sq):
    # Reference: c_{n+1} = a^2 c_n + 2 eps in exact rational arithmetic on the same doubles.
    steps = np.arange(41)
    got = theory.langevin_variance(np.array(J_GRID)[:, None], steps[None, :], EPS_STEP, s0_sq)
    for row, j in zip(got, J_GRID):
        a = 1 - Fraction(EPS_STEP) * Fraction(j)
        c, exact = Fraction(s0_sq), []
        for _ in steps:
            exact.append(float(c))
            c = a * a * c + 2 * Fraction(EPS_STEP)
        tol = variance_tolerance(steps, float(a * a))
        np.testing.assert_array_less(np.abs(row - exact), tol * np.array(exact) + 1e-300)


@pytest.mark.parametrize("m0, h", [(0.0, 1.3), (0.7, -1.3), (-2.0, 0.0)])
def test_langevin_mean_equals_exact_recurrence(m0, h):
    # m_{n+1} = a m_n + eps h exactly; the two terms can cancel, so the bound is relative to
    # |a|^n |m0| + eps |h| sum_s |a|^s (each evaluated with the variance_tolerance error).
    steps = np.arange(41)
    got = theory.langevin_mean(np.array(J_GRID)[:, None], h, steps[None, :], EPS_STEP, m0)
    for row, j in zip(got, J_GRID):
        a = 1 - Fraction(EPS_STEP) * Fraction(j)
        m, scale, exact, scales = Fraction(m0), abs(Fraction(m0)), [], []
        for _ in steps:
            exact.append(float(m))
            scales.append(float(scale))
            m = a * m + Fraction(EPS_STEP) * Fraction(h)
            scale = abs(a) * scale + Fraction(EPS_STEP) * abs(Fraction(h))
        tol = variance_tolerance(steps, float(a * a))
        np.testing.assert_array_less(np.abs(row - exact), tol * np.array(scales) + 1e-300)


def test_j_zero_limits_are_exact():
    assert theory.langevin_variance(0.0, 7, 0.1, 0.5) == 0.5 + 2 * 0.1 * 7
    assert theory.langevin_mean(0.0, 2.0, 7, 0.1, 0.3) == 0.3 + 2.0 * 0.1 * 7
    assert theory.continuous_variance(0.0, 1.7, 0.5) == 0.5 + 2 * 1.7
    assert theory.continuous_mean(0.0, 2.0, 1.7, 0.3) == 0.3 + 2.0 * 1.7


@pytest.mark.parametrize("j", [1e-9, -1e-9, 3e-12])
def test_continuous_forms_are_stable_near_j_zero(j):
    # Taylor to second order in j t; the O((j t)^3) remainder is below 1e-26, so 4 EPS is all rounding.
    t, s0_sq, h, m0 = 1.7, 0.5, 2.0, 0.3
    c = s0_sq * (1 - 2 * j * t + 2 * (j * t) ** 2) + 2 * t - 2 * j * t**2 + 4 / 3 * j**2 * t**3
    m = m0 * (1 - j * t + (j * t) ** 2 / 2) + h * (t - j * t**2 / 2 + j**2 * t**3 / 6)
    assert abs(theory.continuous_variance(j, t, s0_sq) - c) <= 4 * EPS * c
    assert abs(theory.continuous_mean(j, h, t, m0) - m) <= 4 * EPS * m


def test_negative_j_variance_grows_and_overflow_is_inf_without_warning():
    c = theory.langevin_variance(-1.0, np.array([1, 10, 100]), 0.1, 1.0)
    assert np.all(np.diff(c) > 0)
    assert theory.langevin_variance(-1e3, 10**6, 0.1, 0.0) == np.inf
    assert theory.continuous_variance(-1e3, 1e3, 0.0) == np.inf


def test_discrete_dynamics_tend_to_continuous_at_first_order():
    # At fixed t = n eps, c_n = c(t) + eps D + O(eps^2) with (expanding a^(2n) = e^(n log a^2) and
    # 2 eps / (1 - a^2) = (1 + eps j / 2) / j + O(eps^2), E = e^(-2 j t)):
    #     D = -s0^2 j^2 t E + (1 - E) / 2 + j t E,
    # and for the mean m_n = m(t) + eps Dm, Dm = (h j t - m0 j^2 t) e^(-j t) / 2.
    # Check: R(eps) = c_n - c - eps D is second order, so R(eps) / R(eps/2) -> 4 (a wrong D leaves a
    # first-order R: ratio 2); the O(eps) correction to the ratio is below 0.1 at eps = 2^-10 for
    # |j| t <= 2.5, and rounding (1e-16) is far below R (> 1e-13).
    t, s0_sq, m0, h = 1.0, 0.7, 0.4, 1.3
    j = np.array([-1.5, -0.3, 0.2, 1.0, 2.5])
    e2 = np.exp(-2 * j * t)
    d_var = -s0_sq * j**2 * t * e2 + (1 - e2) / 2 + j * t * e2
    d_mean = (h * j * t - m0 * j**2 * t) * np.exp(-j * t) / 2
    c, m = theory.continuous_variance(j, t, s0_sq), theory.continuous_mean(j, h, t, m0)

    def remainder(p):
        eps = 2.0**-p
        rv = theory.langevin_variance(j, 2**p, eps, s0_sq) - c - eps * d_var
        rm = theory.langevin_mean(j, h, 2**p, eps, m0) - m - eps * d_mean
        return rv, rm

    (rv1, rm1), (rv2, rm2) = remainder(10), remainder(11)
    np.testing.assert_allclose(rv1 / rv2, 4.0, atol=0.5)
    np.testing.assert_allclose(rm1 / rm2, 4.0, atol=0.5)


def test_discrete_root_tends_to_continuous_root_at_first_order():
    # j_disc(eps) - j_cont = eps G + O(eps^2) (implicit function of the expansion above), so the
    # difference halves with eps; the O(eps) correction to the ratio 2 is below 0.05 at eps = 1/1000.
    lam, t, s0_sq = np.array([0.5, 2.0, 12.0]), 1.0, 1.0
    j_cont = theory.rdm_eigenvalue(lam, 1, t, s0_sq, continuous=True)
    diffs = [theory.rdm_eigenvalue(lam, k, t / k, s0_sq) - j_cont for k in (1000, 2000)]
    np.testing.assert_allclose(diffs[0] / diffs[1], 2.0, atol=0.1)


# --- Rdm-k eigenvalue ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("k, eps", [(4, 0.25), (1, 1.0), (1000, 0.001)])
def test_worked_examples_of_theory_md(k, eps):
    # Continuous time, t = k eps = 1 exactly in floating point for all three (k, eps).
    j = theory.rdm_eigenvalue(np.array([0.5, 3.0, 12.0]), k, eps, 1.0, continuous=True)
    assert round(j[0], 4) == 2.0353
    assert j[1] == 0.0  # lambda = s0^2 + 2 t = 3 exactly: the root is exactly 0
    assert round(j[2], 4) == -0.9173


def test_worked_example_s0_zero():
    assert round(theory.rdm_eigenvalue(3.0, 1, 0.5, 0.0, continuous=True), 5) == -1.90381
    assert round(theory.rdm_eigenvalue_lambert(3.0, 0.5), 5) == -1.90381


LAMBDAS = np.logspace(np.log10(0.2), 3, 40)  # >= 2 eps for every eps below


@pytest.mark.parametrize("continuous", [False, True])
def test_root_reproduces_the_data_variance(continuous):
    # Requested check: c_k(j*) = lambda to 1e-12 relative, over k, eps and s0^2 (broadcast).
    lam = LAMBDAS[:, None, None, None]
    k = np.array([1, 3, 10, 100])[None, :, None, None]
    eps = np.array([0.01, 0.1])[None, None, :, None]
    s0_sq = np.array([0.0, 1 / 3, 1.0, 4.0])[None, None, None, :]
    j = theory.rdm_eigenvalue(lam, k, eps, s0_sq, continuous=continuous)
    assert j.shape == (LAMBDAS.size, 4, 2, 4)
    undetermined = np.zeros(j.shape, bool)
    if not continuous:  # k = 1 from a point mass: c_1 = 2 eps for every j, so j is undetermined (NaN)
        undetermined[:, 0, :, 0] = True
    np.testing.assert_array_equal(np.isnan(j), undetermined)
    j = np.where(undetermined, 0.0, j)
    lam = np.where(undetermined, theory.langevin_variance(0.0, 1, eps, 0.0), lam)
    if continuous:
        c = theory.continuous_variance(j, k * eps, s0_sq)
    else:
        assert (eps * j <= 1).all()
        c = theory.langevin_variance(j, k, eps, s0_sq)
        mirror = theory.langevin_variance(2 / eps - j, k, eps, s0_sq)  # a -> -a: same variance, not returned
        np.testing.assert_allclose(mirror, lam * np.ones_like(mirror), rtol=1e-12)
    np.testing.assert_allclose(c, lam * np.ones_like(c), rtol=1e-12)


@pytest.mark.parametrize("continuous", [False, True])
def test_sign_of_root_flips_at_the_critical_variance(continuous):
    # c_k(0) = s0^2 + 2 k eps exactly, for the discrete map and in continuous time alike.
    k, eps, s0_sq = np.array([1, 5, 40]), 0.05, 1 / 3
    critical = theory.critical_variance(k, eps, s0_sq)
    np.testing.assert_array_equal(critical, s0_sq + 2 * k * eps)
    np.testing.assert_array_equal(theory.langevin_variance(0.0, k, eps, s0_sq), critical)
    np.testing.assert_array_equal(theory.rdm_eigenvalue(critical, k, eps, s0_sq, continuous=continuous), 0.0)
    assert (theory.rdm_eigenvalue(critical * (1 + 1e-9), k, eps, s0_sq, continuous=continuous) < 0).all()
    assert (theory.rdm_eigenvalue(critical * (1 - 1e-9), k, eps, s0_sq, continuous=continuous) > 0).all()


def test_no_root_below_two_eps_on_the_discrete_map():
    # Every step adds 2 eps, so c_k(j) >= 2 eps for all j; at lambda = 2 eps the root is a = 0 (j = 1/eps),
    # where dc/dj = 0 and c - 2 eps ~ 2 eps a^2: a rounding error EPS in c moves a by ~sqrt(EPS).
    eps = 0.1
    j = theory.rdm_eigenvalue(np.array([0.0, 0.1, 0.2 - 1e-12, np.nan, np.inf, -1.0]), 5, eps, 1.0)
    assert np.isnan(j).all()
    assert abs(theory.rdm_eigenvalue(2 * eps, 5, eps, 1.0) * eps - 1) <= 4 * math.sqrt(EPS)
    # Continuous time: every lambda > 0 has a root.
    j = theory.rdm_eigenvalue(np.array([1e-6, 0.1, 0.0, -1.0]), 5, eps, 1.0, continuous=True)
    assert (j[:2] > 0).all() and np.isnan(j[2:]).all()
    np.testing.assert_allclose(theory.continuous_variance(j[:2], 0.5, 1.0), [1e-6, 0.1], rtol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 7, 50])
def test_stationary_start_gives_discretised_ml_for_every_k(k):
    # s0^2 = lambda = c_inf(j_dML): the chain starts stationary, so c_k(j_dML) = lambda for every k.
    eps, lam = 0.05, np.array([0.15, 0.3, 1.0, 4.0, 30.0])  # > 2 eps: a > 0 (at 2 eps the root has dc/dj = 0)
    j = theory.rdm_eigenvalue(lam, k, eps, lam)
    expected = theory.discretised_ml_eigenvalue(lam, eps)
    np.testing.assert_allclose(expected, (1 - np.sqrt(1 - 2 * eps / lam)) / eps, rtol=1e-12)  # cancellation-prone
    np.testing.assert_allclose(theory.stationary_variance(expected, eps), lam, rtol=4 * EPS)
    a_sq = (1 - eps * expected) ** 2
    tol = root_tolerance(lambda x: theory.langevin_variance(x, k, eps, lam), expected, lam, k * np.log(a_sq))
    np.testing.assert_array_less(np.abs(j - expected), tol + 4 * EPS * expected)


@pytest.mark.parametrize("t", [0.01, 1.0, 20.0])
def test_stationary_start_gives_ml_in_continuous_time(t):
    lam = np.array([0.1, 1.0, 4.0, 30.0])
    j = theory.rdm_eigenvalue(lam, 1, t, lam, continuous=True)
    tol = root_tolerance(lambda x: theory.continuous_variance(x, t, lam), 1 / lam, lam, 2 * t / lam)
    np.testing.assert_array_less(np.abs(j - theory.ml_eigenvalue(lam)), tol)


def test_long_runs_give_ml():
    # Continuous, t = 500: c(t; 1/lambda) - lambda = (s0^2 - lambda) e^(-2t/lambda) < 1e-40 for lambda <= 10,
    # so the root is 1/lambda within root_tolerance.  Discrete, k = 20000, eps = 0.05: a^(2k) < e^(-150),
    # so the root is the discretised ML value.
    lam = np.array([0.5, 1.0, 3.0, 10.0])
    for s0_sq in (0.0, 1 / 3, 4.0):
        j = theory.rdm_eigenvalue(lam, 1, 500.0, s0_sq, continuous=True)
        tol = root_tolerance(lambda x, s=s0_sq: theory.continuous_variance(x, 500.0, s), 1 / lam, lam, 1000 / lam)
        np.testing.assert_array_less(np.abs(j - 1 / lam), tol)
        j = theory.rdm_eigenvalue(lam, 20000, 0.05, s0_sq)
        expected = theory.discretised_ml_eigenvalue(lam, 0.05)
        a_sq = (1 - 0.05 * expected) ** 2
        tol = root_tolerance(lambda x, s=s0_sq: theory.langevin_variance(x, 20000, 0.05, s), expected, lam,
                             20000 * np.log(a_sq))
        np.testing.assert_array_less(np.abs(j - expected), tol + 4 * EPS * expected)
    assert theory.discretised_ml_eigenvalue(0.05, 0.1) != theory.discretised_ml_eigenvalue(0.05, 0.1)  # NaN


@pytest.mark.parametrize("continuous", [False, True])
def test_equilibrium_variance_lies_beyond_the_data_on_the_far_side_from_s0(continuous):
    # docs/theory.md: the variance crosses lambda at t = k, and 1/j (equilibrium) lies beyond it.
    lam = LAMBDAS[None, :]
    s0_sq = np.array([0.0, 0.5, 3.0])[:, None]
    j = theory.rdm_eigenvalue(lam, 8, 0.1, s0_sq, continuous=continuous)
    bounded = j > 0
    c_inf = theory.stationary_variance(j, None if continuous else 0.1)
    assert np.isnan(c_inf[~bounded]).all()
    assert ((c_inf - lam) * (lam - s0_sq) >= 0)[bounded].all()


# --- Lambert W ------------------------------------------------------------------------------------------------

def test_lambert_closed_form_equals_root_finding():
    # Relative error of the closed form ~ EPS (1 + 1 / (1 - 1/beta)^2) (its argument lies within
    # (1 - 1/beta)^2 / (2e) of the branch point, see the docstring); root finding adds a few EPS.
    for t in (0.5, 3.0):
        beta = np.concatenate([np.logspace(-3, np.log10(0.9), 15), [0.99, 0.999, 1.001, 1.01],
                               np.logspace(np.log10(1.1), 2.5, 15)])
        lam = 2 * t * beta
        closed = theory.rdm_eigenvalue_lambert(lam, t)
        rooted = theory.rdm_eigenvalue(lam, 1, t, 0.0, continuous=True)
        assert ((closed > 0) == (beta < 1)).all()
        tol = 4 * EPS * (1 + 1 / (1 - 1 / beta) ** 2) + 8 * EPS
        np.testing.assert_array_less(np.abs(closed - rooted), tol * np.abs(rooted))
        assert theory.rdm_eigenvalue_lambert(2 * t, t) == 0.0 == theory.rdm_eigenvalue(2 * t, 1, t, 0.0, True)
    assert np.isnan(theory.rdm_eigenvalue_lambert([0.0, -1.0, np.nan], 1.0)).all()


@pytest.mark.parametrize("branch", [0, -1])
def test_lambert_w_matches_scipy(branch):
    # Both sides accurate to ~1 ulp times the condition number 1 + 1/|1 + W| (scipy only where it is
    # accurate: more than 1e-2 from -1/e; closer in, see test_lambert_w_near_branch_point).
    x = -INV_E + np.logspace(-2, np.log10(INV_E), 200)
    if branch == 0:
        x = np.concatenate([x, np.logspace(-300, 300, 200), -np.logspace(-300, -3, 50)])
    else:
        x = np.concatenate([x[x < 0], -np.logspace(-300, -3, 100)])
    w, reference = theory.lambert_w(x, branch), scipy.special.lambertw(x, branch).real
    tol = 4 * EPS * (1 + 1 / np.abs(1 + reference)) * np.abs(reference)
    np.testing.assert_array_less(np.abs(w - reference), tol + 1e-300)


@pytest.mark.parametrize("branch", [0, -1])
def test_lambert_w_near_branch_point(branch):
    # Against 50-digit Halley iterations on the same doubles: W keeps 4 EPS relative even 1e-15 from -1/e.
    x = -INV_E + np.array([1e-15, 1e-12, 1e-9, 1e-6, 1e-3, 0.05])
    w = theory.lambert_w(x, branch)
    with localcontext() as ctx:
        ctx.prec = 50
        for xi, wi in zip(x, w):
            xd, wd = Decimal(float(xi)), Decimal(float(wi))
            for _ in range(8):
                ew = wd.exp()
                f = wd * ew - xd
                wd -= f / (ew * (wd + 1) - f * (wd + 2) / (2 * (wd + 1)))
            assert abs(Decimal(float(wi)) - wd) <= Decimal(4 * EPS) * abs(wd)
            assert (wi > -1) == (branch == 0)


def test_lambert_w_special_values():
    np.testing.assert_array_equal(theory.lambert_w([-INV_E, 0.0, np.inf], 0), [-1.0, 0.0, np.inf])
    np.testing.assert_array_equal(theory.lambert_w([-INV_E, 0.0], -1), [-1.0, -np.inf])
    assert abs(theory.lambert_w(np.e) - 1) <= 2 * EPS
    assert np.isnan(theory.lambert_w([-0.5, np.nan], 0)).all()
    assert np.isnan(theory.lambert_w([-0.5, 0.1, np.nan], -1)).all()
    with pytest.raises(ValueError, match="branch"):
        theory.lambert_w(0.5, 1)


# --- fields ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 5, 20])
@pytest.mark.parametrize("m0", [0.0, 0.6])
def test_rdm_field_gives_the_data_mean_after_k_steps(k, m0):
    # Exact rational recurrence m_{n+1} = a m_n + eps h from m0, with the doubles j and h: the only error
    # is that of h (and a = 1 - eps j rounded), bounded like the mean test, relative to the same scale.
    eps, s0_sq = 0.1, 1 / 3
    lam = np.array([0.25, 0.5, 1.0, 3.0, 10.0, theory.critical_variance(k, eps, s0_sq)])
    j = theory.rdm_eigenvalue(lam, k, eps, s0_sq)  # both signs, and j = 0 exactly for the last
    assert j[-1] == 0.0
    mu = np.linspace(-2.0, 1.5, j.size)
    h = theory.rdm_field(j, mu, k, eps, m0)
    assert theory.rdm_field(0.0, 1.5, k, eps) == 1.5 / (k * eps)
    for ji, hi, mui in zip(j, h, mu):
        a = 1 - Fraction(eps * ji)  # the double eps * j, as the closed form sees it
        m, scale = Fraction(m0), abs(Fraction(m0))
        for _ in range(k):
            m = a * m + Fraction(eps) * Fraction(hi)
            scale = abs(a) * scale + Fraction(eps) * abs(Fraction(hi))
        assert abs(float(m) - mui) <= variance_tolerance(k, float(a * a)) * float(scale) + 2 * EPS * abs(mui)
    np.testing.assert_allclose(theory.langevin_mean(j, h, k, eps, m0), mu, rtol=1e-13, atol=1e-13)


def test_rdm_field_continuous_time():
    j, mu, t = np.array([-1.2, 0.0, 0.3, 4.0]), np.array([1.0, -0.5, 2.0, 0.7]), 0.8
    for m0 in (0.0, -0.4):
        h = theory.rdm_field(j, mu, 8, t / 8, m0, continuous=True)
        np.testing.assert_allclose(theory.continuous_mean(j, h, t, m0), mu, rtol=8 * EPS)
    assert theory.rdm_field(0.0, 1.6, 8, 0.1, continuous=True) == 1.6 / 0.8


@pytest.mark.parametrize("continuous", [False, True])
def test_equilibrium_overshoot(continuous):
    # Equilibrium mean h/j over the data mean, = 1/(1 - a^k) (here 1 - a^k >= 0.1, so the direct formula
    # loses at most a factor 10: 40 EPS).
    k, eps = 6, 0.1
    j = np.array([0.2, 1.0, 5.0, 9.0])
    h = theory.rdm_field(j, 1.0, k, eps, continuous=continuous)
    power = np.exp(-j * k * eps) if continuous else (1 - eps * j) ** k
    overshoot = theory.equilibrium_overshoot(j, k, eps, continuous=continuous)
    np.testing.assert_allclose(overshoot, 1 / (1 - power), rtol=40 * EPS)
    np.testing.assert_allclose(overshoot, h / j, rtol=8 * EPS)
    assert (overshoot > 1).all()
    bad = [-1.0, 0.0] if continuous else [-1.0, 0.0, 20.0, 25.0]
    assert np.isnan(theory.equilibrium_overshoot(bad, k, eps, continuous=continuous)).all()


# --- whole model ------------------------------------------------------------------------------------------------

def synthetic_data(variances, mean, num_samples=300, seed=0):
    """Data whose population covariance is exactly Q diag(variances) Q^T (up to rounding), Q random orthogonal."""
    rng = np.random.default_rng(seed)
    dim = len(variances)
    rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    z = rng.standard_normal((num_samples, dim))
    z -= z.mean(axis=0)
    chol = np.linalg.cholesky(z.T @ z / num_samples)
    z = np.linalg.solve(chol, z.T).T  # whitened: z^T z / n = I
    return z @ (np.sqrt(variances)[:, None] * rotation.T) + mean, rotation


def population_covariance(data):
    centred = data - data.mean(axis=0)
    return centred.T @ centred / data.shape[0]


VARIANCES = np.array([6.0, 2.5, 1.0, 0.4, 0.25])
MEAN = np.array([0.5, -1.0, 0.2, 0.0, 2.0])


def test_predict_gaussian_rdm_discrete_matches_the_k_step_process():
    # Tolerances: eigenvectors of C perturbed by rounding (~1e-14 ||C||) over the smallest gap 0.15:
    # < 1e-12, checked at 1e-10; the k-step matrix recurrences in float64 with ||A|| <= 1.1, k = 10: ~1e-13,
    # checked at 1e-10 relative.
    data, rotation = synthetic_data(VARIANCES, MEAN)
    k, eps = 10, 0.1
    pred = theory.predict_gaussian_rdm(data, k, eps, init="uniform", init_scale=1.0)
    assert pred.s0_sq == 1 / 3 and pred.k == k and pred.eps == eps and not pred.continuous
    np.testing.assert_allclose(pred.data_variances, VARIANCES, rtol=1e-12)
    np.testing.assert_allclose(pred.data_mean, MEAN, atol=1e-12)
    np.testing.assert_allclose(np.abs(pred.eigenvectors.T @ rotation), np.eye(5), atol=1e-10)
    np.testing.assert_array_equal(pred.eigenvalues, theory.rdm_eigenvalue(pred.data_variances, k, eps, 1 / 3))
    np.testing.assert_array_equal(pred.unbounded, [True, True, False, False, False])  # critical 1/3 + 2 = 2.33
    np.testing.assert_array_equal(pred.unbounded, pred.data_variances > theory.critical_variance(k, eps, 1 / 3))
    assert not pred.unmatched.any()
    np.testing.assert_array_equal(pred.ml_eigenvalues, 1 / pred.data_variances)
    np.testing.assert_array_equal(pred.discretised_ml_eigenvalues,
                                  theory.discretised_ml_eigenvalue(pred.data_variances, eps))
    coupling = pred.coupling_matrix
    np.testing.assert_array_equal(coupling, coupling.T)

    step = np.eye(5) - eps * coupling
    power = np.linalg.matrix_power(step, k)
    noise = 2 * eps * sum(np.linalg.matrix_power(step, 2 * s) for s in range(k))
    covariance_k = pred.s0_sq * power @ power.T + noise
    target = population_covariance(data)
    assert np.linalg.norm(covariance_k - target) <= 1e-10 * np.linalg.norm(target)
    mean_k = eps * sum(np.linalg.matrix_power(step, s) for s in range(k)) @ pred.field
    assert np.linalg.norm(mean_k - pred.data_mean) <= 1e-10 * np.linalg.norm(pred.data_mean)


def test_predict_gaussian_rdm_continuous_matches_the_diffusion():
    # Van Loan: expm([[-2J, 2I], [0, 0]] t) has int_0^t 2 e^(-2Js) ds as its top-right block, and
    # expm([[-J, h], [0, 0]] t) has int_0^t e^(-Js) h ds; expm is accurate to ~1e-13 here, checked at 1e-10.
    data, _ = synthetic_data(VARIANCES, MEAN, seed=1)
    k, eps, scale = 20, 0.05, 0.8
    pred = theory.predict_gaussian_rdm(data, k, eps, init="gaussian", init_scale=scale, continuous=True)
    t, n, coupling = k * eps, 5, pred.coupling_matrix
    assert pred.s0_sq == scale**2 and pred.continuous
    block = np.zeros((2 * n, 2 * n))
    block[:n, :n], block[:n, n:] = -2 * coupling, 2 * np.eye(n)
    covariance_t = pred.s0_sq * scipy.linalg.expm(-2 * coupling * t) + scipy.linalg.expm(block * t)[:n, n:]
    target = population_covariance(data)
    assert np.linalg.norm(covariance_t - target) <= 1e-10 * np.linalg.norm(target)
    block = np.zeros((n + 1, n + 1))
    block[:n, :n], block[:n, n] = -coupling, pred.field
    mean_t = scipy.linalg.expm(block * t)[:n, n]
    assert np.linalg.norm(mean_t - pred.data_mean) <= 1e-10 * np.linalg.norm(pred.data_mean)


def test_predict_gaussian_rdm_p0_laws_and_unmatched_modes():
    data, _ = synthetic_data(VARIANCES, MEAN)
    assert theory.predict_gaussian_rdm(data, 3, 0.05, init="zeros").s0_sq == 0.0
    assert theory.predict_gaussian_rdm(data, 3, 0.05, init="uniform", init_scale=2.0).s0_sq == 4 / 3
    pred = theory.predict_gaussian_rdm(data, 3, 0.2)  # 2 eps = 0.4: lambda = 0.25 cannot be matched
    np.testing.assert_array_equal(pred.unmatched, [False, False, False, False, True])
    assert np.isnan(pred.eigenvalues[-1]) and np.isfinite(pred.eigenvalues[:-1]).all()


def test_bad_input_names_the_argument():
    data, _ = synthetic_data(VARIANCES, MEAN)
    with pytest.raises(ValueError, match="data"):
        theory.predict_gaussian_rdm(data[:, 0], 3, 0.1)
    with pytest.raises(ValueError, match="init"):
        theory.predict_gaussian_rdm(data, 3, 0.1, init="bits")
    with pytest.raises(ValueError, match="k"):
        theory.predict_gaussian_rdm(data, 0, 0.1)
    with pytest.raises(ValueError, match="eps"):
        theory.rdm_eigenvalue(1.0, 3, -0.1, 0.0)
    with pytest.raises(TypeError, match="k"):
        theory.rdm_eigenvalue(1.0, 1.5, 0.1, 0.0)
    with pytest.raises(ValueError, match="s0_sq"):
        theory.langevin_variance(1.0, 3, 0.1, -1.0)
