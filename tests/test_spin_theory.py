"""bmsample.theory, independent spins (docs/theory.md section 3), against bmsample.ising.exact and 60-digit arithmetic.

J = 0 and p0 uniform: the exact distribution after k sweeps (bmsample.ising.exact, built from the kernels'
definitions) must give the predicted magnetisation, and the Rdm-k field must reproduce the data magnetisation.
"""

from decimal import Decimal, localcontext

import numpy as np
import pytest

from bmsample import theory
from bmsample.ising import exact

SAMPLERS = ("heat-bath", "random-site", "metropolis")
EPS = np.finfo(np.float64).eps


def exact_magnetisation(h, k, sampler):
    J = np.zeros((len(h), len(h)))
    p = exact.distribution_after(exact.uniform_distribution(len(h)), J, h, k, sampler)
    return exact.moments(p, len(h))[0]


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("num_spins", [1, 3, 4])
def test_magnetisation_matches_exact_dynamics(sampler, num_spins):
    h = np.array([0.35, -1.4, 2.2, -0.05])[:num_spins]
    J = np.zeros((num_spins, num_spins))
    p = exact.uniform_distribution(num_spins)
    for k in range(0, 7):
        predicted = theory.independent_magnetisation(h, k, sampler, num_spins=num_spins)
        np.testing.assert_allclose(predicted, exact.moments(p, num_spins)[0], rtol=0, atol=1e-13,
                                   err_msg=f"k = {k}")
        p = exact.apply_sweep(p, J, h, sampler)


def test_magnetisation_closed_forms_and_broadcasting():
    h = np.linspace(-3, 3, 13)[:, None]
    k = np.arange(0, 6)[None, :]
    a = np.exp(-2 * np.abs(h))
    q = (1 - 1 / 7) ** (k * 7)
    np.testing.assert_allclose(theory.independent_magnetisation(h, k, "heat-bath"), np.tanh(h) * (k >= 1) + 0 * k,
                               atol=1e-15)
    np.testing.assert_allclose(theory.independent_magnetisation(h, k, "random-site", num_spins=7),
                               np.tanh(h) * (1 - q), atol=1e-15)
    np.testing.assert_allclose(theory.independent_magnetisation(h, k, "metropolis"),
                               np.tanh(h) * (1 - (-a) ** k), atol=1e-15)
    assert isinstance(theory.independent_magnetisation(0.3, 2, "metropolis"), np.floating)
    # infinite fields are fully aligned after one sweep; small fields keep full relative precision
    assert theory.independent_magnetisation(np.inf, 1, "metropolis") == 1.0
    assert theory.independent_magnetisation(-np.inf, 0, "metropolis") == 0.0
    np.testing.assert_allclose(theory.independent_magnetisation(1e-200, [1, 2], "metropolis"), [2e-200, 4e-400],
                               rtol=1e-12)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_learned_field_reproduces_magnetisation_under_exact_dynamics(sampler, k):
    num_spins = 3
    threshold = theory.independent_divergence_threshold(k, sampler, num_spins=num_spins)
    data_m = np.array([0.25, -0.6, 0.93]) * threshold
    field = theory.independent_rdm_field(data_m, k, sampler, num_spins=num_spins)
    assert np.isfinite(field).all()
    np.testing.assert_allclose(exact_magnetisation(field, k, sampler), data_m, rtol=0, atol=1e-12)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 20])
def test_learned_field_round_trip(sampler, k):
    threshold = theory.independent_divergence_threshold(k, sampler, num_spins=5)
    m = np.concatenate([[0.0, 1e-300, 1e-12, 1e-5], np.linspace(0.01, 0.99, 99), [1 - 1e-9, 1 - 2 * EPS]]) * threshold
    m = np.concatenate([m, -m])
    field = theory.independent_rdm_field(m, k, sampler, num_spins=5)
    assert np.isfinite(field).all()
    np.testing.assert_array_equal(np.sign(field), np.sign(m))
    back = theory.independent_magnetisation(field, k, sampler, num_spins=5)
    np.testing.assert_allclose(back, m, rtol=8 * EPS, atol=0)


def test_heat_bath_field_is_the_ml_field_for_every_k():
    m = np.linspace(-0.999, 0.999, 41)
    for k in (1, 2, 5):
        np.testing.assert_allclose(theory.independent_rdm_field(m, k, "heat-bath"), np.arctanh(m), rtol=4 * EPS)
    q = (1 - 1 / 4) ** (3 * 4)
    np.testing.assert_allclose(theory.independent_rdm_field(0.5, 3, "random-site", num_spins=4),
                               np.arctanh(0.5 / (1 - q)), rtol=4 * EPS)


def test_metropolis_k1_matches_theory_md():
    m = np.concatenate([np.linspace(-0.999999, 0.999999, 101), [1e-17, 1 - 1e-15]])
    expected = -0.5 * np.log1p(-np.abs(m)) * np.sign(m)  # docs/theory.md: h = -1/2 log(1 - |m|) sign(m)
    np.testing.assert_allclose(theory.independent_rdm_field(m, 1, "metropolis"), expected, rtol=1e-13, atol=0)


def test_metropolis_k2_root_finder_matches_closed_form():
    # k = 2: |m| = (1 - a)^2, so |h| = -1/2 log(1 - sqrt|m|) = -1/2 [log(1 - |m|) - log(1 + sqrt|m|)].
    m = np.concatenate([[1e-300, 1e-20, 1e-8], np.linspace(0.001, 0.999, 200), [1 - 1e-12, 1 - 2 * EPS]])
    expected = np.where(m < 0.25, -0.5 * np.log1p(-np.sqrt(m)), -0.5 * (np.log1p(-m) - np.log1p(np.sqrt(m))))
    np.testing.assert_allclose(theory.independent_rdm_field(m, 2, "metropolis"), expected, rtol=1e-14, atol=0)


def decimal_metropolis_field(m, k):
    """|h| with (1 - a)(1 - (-a)^k) / (1 + a) = m, a = e^(-2|h|): bisection on a in (0, 1) with 60 digits."""
    with localcontext() as ctx:
        ctx.prec = 60
        target, lo, hi = Decimal(m), Decimal(0), Decimal(1)
        for _ in range(220):
            a = (lo + hi) / 2
            value = (1 - a) * (1 - (-a) ** k) / (1 + a)
            if value > target:
                lo = a
            else:
                hi = a
        return float(-((lo + hi) / 2).ln() / 2)


@pytest.mark.parametrize("k", [3, 4, 5, 8, 13])
def test_metropolis_field_against_60_digit_arithmetic(k):
    m = np.array([1e-30, 1e-6, 0.05, 0.3, 0.5, 0.5 + 1e-9, 0.77, 0.99, 1 - 1e-8, 1 - 1e-14])
    field = theory.independent_rdm_field(m, k, "metropolis")
    expected = np.array([decimal_metropolis_field(value, k) for value in m])
    np.testing.assert_allclose(field, expected, rtol=16 * EPS, atol=0)


@pytest.mark.parametrize("k", range(1, 16))
def test_metropolis_magnetisation_is_strictly_increasing_in_abs_h(k):
    h = np.linspace(0, 6, 3001)
    m = theory.independent_magnetisation(h, k, "metropolis")
    assert (np.diff(m) > 0).all()
    assert (m < 1).all()
    assert theory.independent_magnetisation(40.0, k, "metropolis") == 1.0  # the supremum 1 is approached ...
    assert theory.independent_divergence_threshold(k, "metropolis") == 1.0  # ... so no finite threshold below 1
    visible = k * h < 15  # where (-a)^k = (-e^(-2h))^k is not lost against 1
    if k % 2:  # odd k overshoots the equilibrium magnetisation tanh h, even k undershoots it
        assert (m[1:][visible[1:]] > np.tanh(h[1:][visible[1:]])).all()
    else:
        assert (m[1:][visible[1:]] < np.tanh(h[1:][visible[1:]])).all()


def test_divergence_threshold_and_nan_above_it():
    k = np.arange(1, 6)
    np.testing.assert_allclose(theory.independent_divergence_threshold(k, "random-site", num_spins=4),
                               1 - (3 / 4) ** (4 * k), rtol=4 * EPS)
    np.testing.assert_array_equal(theory.independent_divergence_threshold(k, "heat-bath"), 1.0)
    np.testing.assert_array_equal(theory.independent_divergence_threshold(2, "random-site", num_spins=1), 1.0)
    for kk in (1, 2, 5):
        threshold = theory.independent_divergence_threshold(kk, "random-site", num_spins=4)
        just_below = np.nextafter(threshold, 0.0)
        field = theory.independent_rdm_field([just_below, -just_below, threshold, -threshold, threshold + 1e-3, 1.0],
                                             kk, "random-site", num_spins=4)
        assert np.isfinite(field[:2]).all() and field[0] > 10
        assert np.isnan(field[2:]).all()
        # above the threshold no field reaches the data: the exact magnetisation at a huge field stays below it
        assert exact_magnetisation(np.array([50.0, 0.0, 0.0, 0.0]), kk, "random-site")[0] < threshold + 1e-15
    for sampler in ("heat-bath", "metropolis"):
        field = theory.independent_rdm_field([1.0, -1.0, 1.5, np.nan, np.inf, 1 - EPS / 2], 3, sampler)
        assert np.isnan(field[:5]).all() and np.isfinite(field[5])


def test_validation():
    with pytest.raises(ValueError, match="num_spins"):
        theory.independent_magnetisation(0.5, 2, "random-site")
    with pytest.raises(ValueError, match="num_spins"):
        theory.independent_rdm_field(0.5, 2, "random-site", num_spins=0)
    with pytest.raises(ValueError, match="sampler"):
        theory.independent_divergence_threshold(2, "gibbs")
    with pytest.raises(ValueError, match="k"):
        theory.independent_rdm_field(0.5, 0, "metropolis")
    with pytest.raises(ValueError, match="k"):
        theory.independent_magnetisation(0.5, -1, "heat-bath")
    with pytest.raises(TypeError, match="k"):
        theory.independent_magnetisation(0.5, 1.5, "heat-bath")
    with pytest.raises(TypeError, match="data_magnetisation"):
        theory.independent_rdm_field("a", 1, "heat-bath")
    for name in ("independent_magnetisation", "independent_rdm_field", "independent_divergence_threshold"):
        assert name in theory.__all__
