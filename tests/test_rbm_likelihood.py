"""Exact and AIS log-likelihoods of the Bernoulli RBM against exact enumeration.

Tolerances, measured on this file's models (10 visible x 8 hidden units,
weights N(0, 1), biases N(0, 1/4); three models x 20 seeds x {float32,
float64}, 500 chains x 2000 betas, classic schedule): the AIS error on log Z
has mean within +-0.0014 of 0 (no detectable bias), rms 0.004-0.006, largest
0.016 = 3.1 reported standard errors.  The accuracy tests below ask for
|error| < 4 standard errors (two-sided normal tail 6e-5, with slack for the
noise of the error bar itself) and < 0.05 absolute (8x the rms).
"""

import numpy as np
import pytest
from conftest import product_rounding_bound, random_rbm

from bmsample import BernoulliRBM
from bmsample.rbm.likelihood import (
    AISResult,
    ais_log_likelihood,
    ais_log_partition,
    ais_schedule,
    base_log_partition,
    exact_log_likelihood,
    reverse_ais_log_partition,
)
from bmsample.rbm.model import all_binary_states, exact_log_partition, exact_visible_distribution


def brute_force_log_p(model, v):
    """log p(v) from the joint energy summed over every (v, h) pair."""
    vs, hs = all_binary_states(model.num_visibles), all_binary_states(model.num_hiddens)

    def log_marginal(x):
        energies = model.energy(np.repeat(x[None], len(hs), 0), hs)
        return np.logaddexp.reduce(-energies)

    log_z = np.logaddexp.reduce([log_marginal(x) for x in vs])
    return np.array([log_marginal(x) for x in v]) - log_z


def exact_samples(model, num, seed):
    """Independent draws from the model's exact visible law."""
    p = exact_visible_distribution(model)
    rows = np.random.default_rng(seed).choice(p.size, size=num, p=p)
    return all_binary_states(model.num_visibles)[rows].astype(model.dtype)


# --- exact log-likelihood -----------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 3), (3, 5)])
def test_exact_log_likelihood_is_the_brute_force_mean_log_p(shape):
    model = random_rbm(*shape, scale=1.5, seed=11)
    data = np.random.default_rng(0).integers(0, 2, size=(40, shape[0]))
    expected = brute_force_log_p(model, data.astype(np.float64)).mean()
    assert exact_log_likelihood(model, data) == pytest.approx(expected, abs=1e-11)
    # bool data and a single row
    assert exact_log_likelihood(model, data[:1].astype(bool)) == pytest.approx(
        brute_force_log_p(model, data[:1].astype(np.float64))[0], abs=1e-11)


def test_exact_log_likelihood_is_a_normalised_law():
    model = random_rbm(6, 4, seed=3)
    vs = all_binary_states(6)
    log_p = np.array([exact_log_likelihood(model, v[None]) for v in vs])
    assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-12)


def test_exact_log_likelihood_refuses_large_models_and_bad_data():
    big = BernoulliRBM(np.zeros((23, 30)), np.zeros(23), np.zeros(30))
    with pytest.raises(ValueError, match="model: .*22 units"):
        exact_log_likelihood(big, np.zeros((1, 23)))
    model = random_rbm(4, 3)
    with pytest.raises(ValueError, match="data: expected 4 columns"):
        exact_log_likelihood(model, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="data: a Bernoulli model needs 0/1"):
        exact_log_likelihood(model, np.full((2, 4), 0.5))
    with pytest.raises(TypeError, match="model: expected a BernoulliRBM"):
        exact_log_likelihood("model", np.zeros((2, 4)))


# --- base model and schedule ---------------------------------------------------

def test_base_log_partition_is_exact():
    a0 = np.random.default_rng(1).standard_normal(7) * 3
    base = BernoulliRBM(np.zeros((7, 5)), a0, np.zeros(5), dtype="float64")
    assert base_log_partition(a0, 5) == pytest.approx(exact_log_partition(base), abs=1e-12)


@pytest.mark.parametrize("num_betas", [2, 5, 9, 100, 10_000])
@pytest.mark.parametrize("kind", ["classic", "linear"])
def test_schedules_run_from_zero_to_one(num_betas, kind):
    betas = ais_schedule(num_betas, kind)
    assert betas.shape == (num_betas,) and betas[0] == 0.0 and betas[-1] == 1.0
    assert np.all(np.diff(betas) > 0)


def test_classic_schedule_shares():
    betas = ais_schedule(15_001)
    # 1000 steps on [0, 0.5), 4000 on [0.5, 0.9), 10000 on [0.9, 1] (Salakhutdinov & Murray 2008).
    assert (betas < 0.5).sum() == 1000 and (betas < 0.9).sum() == 5000
    np.testing.assert_allclose(np.diff(betas[-10_001:]), 1e-5, rtol=1e-9)


def test_ais_is_exact_when_the_weights_do_not_depend_on_the_chains():
    # W = 0 and a = a0: every increment is sum_j softplus(beta_k b_j) - softplus(beta_{k-1} b_j),
    # the same for all chains, and the sum telescopes to log Z - log Z_A.
    rng = np.random.default_rng(2)
    model = BernoulliRBM(np.zeros((6, 5)), rng.standard_normal(6), rng.standard_normal(5) * 3, dtype="float64")
    result = ais_log_partition(model, num_chains=7, num_betas=50, rng=0)
    assert result.log_z == pytest.approx(exact_log_partition(model), abs=1e-12)
    assert result.log_z_std_error == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(result.log_weights, result.log_weights[0], atol=1e-13)
    reverse = reverse_ais_log_partition(model, np.zeros((3, 6)), num_betas=50, rng=0)
    assert reverse.log_z == pytest.approx(exact_log_partition(model), abs=1e-12)


def test_default_base_model_uses_the_data_means():
    model = random_rbm(6, 3, seed=4)
    plain = ais_log_partition(model, num_chains=2, num_betas=2, rng=0)
    assert plain.log_z_base == pytest.approx(base_log_partition(model.vbias, 3), abs=1e-12)
    model.data_means = np.array([0.0, 0.1, 0.5, 0.9, 1.0, 0.3])
    p = np.clip(model.data_means, 1e-3, 1 - 1e-3)
    trained = ais_log_partition(model, num_chains=2, num_betas=2, rng=0)
    assert trained.log_z_base == pytest.approx(base_log_partition(np.log(p / (1 - p)), 3), abs=1e-12)
    given = ais_log_partition(model, num_chains=2, num_betas=2, base_vbias=np.zeros(6), rng=0)
    assert given.log_z_base == pytest.approx(6 * np.log(2) + 3 * np.log(2), abs=1e-12)


# --- accuracy --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("model_seed", [0, 2])
def test_ais_log_partition_matches_the_exact_value(dtype, model_seed):
    model = random_rbm(10, 8, scale=1.0, seed=model_seed, dtype=dtype)
    exact = exact_log_partition(model)
    result = ais_log_partition(model, num_chains=500, num_betas=2000, rng=model_seed)
    assert isinstance(result, AISResult)
    error = result.log_z - exact
    assert abs(error) < 4 * result.log_z_std_error, f"error {error:.4f}, se {result.log_z_std_error:.4f}"
    assert abs(error) < 0.05
    assert result.log_z_lower < exact < result.log_z_upper
    assert result.num_chains == 500 and result.num_betas == 2000
    assert result.chains.shape == (500, 10) and result.chains.dtype == np.dtype(dtype)
    assert set(np.unique(result.chains)) <= {0.0, 1.0}
    assert result.log_weights.dtype == np.float64
    assert 1 <= result.effective_sample_size <= 500


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ais_log_partition_of_a_trained_model_with_its_own_base_law(dtype):
    """A trained model records its data means: AIS starts from that base law, whose visible biases differ
    from the model's, so every weight carries the base-rate term v (a - a0), zero in the tests above.
    Dropping or mis-signing it shifts log Z by far more than the bound (checked on this model)."""
    model = random_rbm(10, 8, scale=1.0, seed=3, dtype=dtype)
    model.data_means = np.linspace(0.05, 0.95, 10)
    base = np.log(model.data_means / (1 - model.data_means))
    assert np.abs(base - model.vbias).min() > 0.05
    exact = exact_log_partition(model)
    result = ais_log_partition(model, num_chains=500, num_betas=2000, rng=3)
    assert result.log_z_base == pytest.approx(base_log_partition(base, 8), rel=10 * float(np.finfo(dtype).eps))
    error = result.log_z - exact
    assert abs(error) < 4 * result.log_z_std_error and abs(error) < 0.05, (error, result.log_z_std_error)
    data = exact_samples(model, 300, seed=4)
    found = ais_log_likelihood(model, data, num_chains=500, num_betas=2000, rng=5)
    exact_ll = exact_log_likelihood(model, data)
    assert abs(found.log_likelihood - exact_ll) < 0.05


def test_forward_is_a_lower_and_reverse_an_upper_bound_on_average():
    """E[log w_forward] = log Z/Z_A - KL <= log Z/Z_A <= -E[log w_reverse] (exact model samples).

    A short schedule (10 betas) makes the gap large (measured: -0.85 and
    +0.76 for this model, 0.03 standard errors each).  Each of the 2000
    chains is an independent single-chain AIS run (its own random stream);
    the check allows 4 standard errors of the chain average on the wrong
    side and asks that the gap be visible (beyond 5 standard errors).  The
    same holds for the estimator itself averaged over 200 independent
    groups of 10 chains (the mean of log of the mean weight).
    """
    model = random_rbm(10, 8, scale=1.5, seed=0)
    exact = exact_log_partition(model)
    forward = ais_log_partition(model, num_chains=2000, num_betas=10, schedule="linear", rng=1)
    reverse = reverse_ais_log_partition(model, exact_samples(model, 2000, seed=2), num_betas=10, schedule="linear",
                                        rng=3)
    per_chain = {"forward": forward.log_z_base + forward.log_weights - exact,
                 "reverse": reverse.log_z_base - reverse.log_weights - exact}
    groups = {"forward": forward.log_z_base + np.logaddexp.reduce(forward.log_weights.reshape(200, 10), axis=1)
              - np.log(10) - exact,
              "reverse": reverse.log_z_base - np.logaddexp.reduce(reverse.log_weights.reshape(200, 10), axis=1)
              + np.log(10) - exact}
    for sign, name in ((1, "forward"), (-1, "reverse")):
        for values in (per_chain[name], groups[name]):
            se = values.std(ddof=1) / np.sqrt(values.size)
            assert sign * values.mean() < 4 * se, f"{name}: mean error {values.mean():.4f}, se {se:.4f}"
        se = per_chain[name].std(ddof=1) / np.sqrt(per_chain[name].size)
        assert sign * per_chain[name].mean() < -5 * se
    # with all the chains pooled, both estimates are close to the exact value
    assert abs(forward.log_z - exact) < 4 * forward.log_z_std_error
    assert abs(reverse.log_z - exact) < 4 * reverse.log_z_std_error


def test_reverse_ais_from_model_samples_matches_the_exact_value():
    model = random_rbm(10, 8, scale=1.0, seed=0, dtype="float32")
    start = exact_samples(model, 500, seed=5)
    kept = start.copy()
    result = reverse_ais_log_partition(model, start, num_betas=2000, burn_in=5, rng=4)
    np.testing.assert_array_equal(start, kept)
    assert result.direction == "reverse"
    error = result.log_z - exact_log_partition(model)
    assert abs(error) < 4 * result.log_z_std_error and abs(error) < 0.05
    assert result.log_z_lower < result.log_z < result.log_z_upper


def test_ais_log_likelihood_against_the_exact_one():
    model = random_rbm(10, 8, scale=1.0, seed=2)
    data = exact_samples(model, 300, seed=6)
    ll, se, result = ais_log_likelihood(model, data, num_chains=500, num_betas=2000, rng=7)
    exact = exact_log_likelihood(model, data)
    # the free energies are exact, so the error is the one of log Z, sign flipped
    assert ll - exact == pytest.approx(exact_log_partition(model) - result.log_z, abs=1e-10)
    assert se == result.log_z_std_error
    assert abs(ll - exact) < 4 * se and abs(ll - exact) < 0.05


# --- reproducibility and input checks ----------------------------------------------

def test_fixed_rng_is_deterministic():
    model = random_rbm(10, 8, seed=1, dtype="float32")
    first = ais_log_partition(model, num_chains=20, num_betas=100, rng=5)
    again = ais_log_partition(model, num_chains=20, num_betas=100, rng=np.random.SeedSequence(5))
    other = ais_log_partition(model, num_chains=20, num_betas=100, rng=6)
    np.testing.assert_array_equal(first.log_weights, again.log_weights)
    np.testing.assert_array_equal(first.chains, again.chains)
    assert first.log_z == again.log_z
    assert not np.array_equal(first.log_weights, other.log_weights)
    # chain c uses stream c: the first 10 chains of a 20-chain run are a 10-chain run, up to BLAS's
    # rounding of the hidden fields v W (it may depend on the rows): each step changes log w by
    # sum_a [softplus(b' f_a) - softplus(b f_a)], whose derivative in f_a is below 2 |b' - b|, and
    # the steps' |b' - b| sum to 1.
    fewer = ais_log_partition(model, num_chains=10, num_betas=100, rng=5)
    np.testing.assert_array_equal(fewer.chains, first.chains[:10])
    bound = 2 * model.num_hiddens * product_rounding_bound(np.ones((1, 10), dtype=model.dtype), model.weight_matrix)
    assert np.abs(fewer.log_weights - first.log_weights[:10]).max() <= bound
    start = exact_samples(model, 8, seed=0)
    rev = [reverse_ais_log_partition(model, start, num_betas=100, rng=9).log_weights for _ in range(2)]
    np.testing.assert_array_equal(rev[0], rev[1])


def test_single_chain_has_no_error_bar():
    model = random_rbm(6, 4, seed=1)
    result = ais_log_partition(model, num_chains=1, num_betas=10, rng=0)
    assert np.isfinite(result.log_z)
    assert np.isnan(result.log_z_std_error) and np.isnan(result.log_z_lower) and np.isnan(result.log_z_upper)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"num_chains": 0}, ValueError, "num_chains: expected an integer >= 1"),
    ({"num_betas": 1}, ValueError, "num_betas: expected an integer >= 2"),
    ({"num_betas": 2.5}, TypeError, "num_betas: expected an integer"),
    ({"schedule": "cosine"}, ValueError, "schedule: expected one of classic, linear"),
    ({"schedule": [0.0, 0.5]}, ValueError, "schedule: must start at 0 and end at 1"),
    ({"schedule": [0.0, 0.6, 0.5, 1.0]}, ValueError, "schedule: must be non-decreasing"),
    ({"schedule": [0.0, np.nan, 1.0]}, ValueError, "schedule: contains NaN"),
    ({"schedule": [[0.0, 1.0]]}, ValueError, "schedule: expected a 1-d array"),
    ({"schedule": [0.0, 1.0], "num_betas": 3}, ValueError, "num_betas: 3 disagrees"),
    ({"base_vbias": np.zeros(5)}, ValueError, r"base_vbias: expected shape \(6,\)"),
    ({"base_vbias": np.full(6, np.inf)}, ValueError, "base_vbias: contains NaN or inf"),
    ({"rng": -1}, ValueError, "rng: a seed must be"),
])
def test_ais_bad_input(kwargs, error, message):
    model = random_rbm(6, 4, seed=1)
    with pytest.raises(error, match=message):
        ais_log_partition(model, **kwargs)


def test_reverse_and_likelihood_bad_input():
    model = random_rbm(6, 4, seed=1)
    with pytest.raises(ValueError, match="data_or_chains: a Bernoulli model needs 0/1"):
        reverse_ais_log_partition(model, np.full((3, 6), 2.0))
    with pytest.raises(ValueError, match="data_or_chains: expected 6 columns"):
        reverse_ais_log_partition(model, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="burn_in: expected an integer >= 0"):
        reverse_ais_log_partition(model, np.zeros((3, 6)), burn_in=-1)
    with pytest.raises(ValueError, match="data: expected 6 columns"):
        ais_log_likelihood(model, np.zeros((3, 5)))
    with pytest.raises(TypeError, match="model: expected a BernoulliRBM"):
        ais_log_partition(object())
