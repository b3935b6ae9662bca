"""Metrics: moments and their errors, AATS, autocorrelation time, memory of p0, energies.

Oracles: NumPy/SciPy brute force on tiny cases (covariances, distances, the
full-matrix AATS), closed forms for AR(1) processes (tau_int = (1 + phi) /
(1 - phi), memory(t) = phi^t), the models' own reference maths for energies.

Statistical tolerances (fixed seeds), derived from the sample sizes:

* mean differences of two independent sets of n rows have sd sqrt(2 var / n)
  per unit; the rms over units is held below 3 times its expected value
  (rmse^2 / expected ~ chi2_N / N, far below 9);
* each adversarial accuracy is a mean of n scores in [0, 1] with variance
  <= 1/4: held within 4 sqrt(0.25 / n) of 1/2 (approximately independent
  scores; see the test for the measured spread);
* tau_int: Sokal's variance 2 (2 M + 1) tau^2 / (T K) with window M ~ 5 tau;
* pooled correlations over C chains x N independent units: sd <= 1 / sqrt(C N),
  held within 5 of them.
"""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

import bmsample
from bmsample import metrics

# --- moments ---------------------------------------------------------------------------------


def gaussian_samples(rng, n, num_units=20, shift=0.0):
    """n draws of N(mu + shift, C) with a fixed random mean and a strongly structured covariance."""
    law = np.random.default_rng(123)
    factor = law.standard_normal((num_units, num_units)) / np.sqrt(num_units)
    covariance = factor @ factor.T + 0.5 * np.eye(num_units)
    mean = law.standard_normal(num_units)
    return rng.multivariate_normal(mean + shift, covariance, size=n), covariance


def test_moments_match_numpy_and_blocks(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(301, 7))
    means, covariance = metrics.moments(x)
    assert means.dtype == covariance.dtype == np.float64
    np.testing.assert_allclose(means, x.mean(axis=0), rtol=0, atol=1e-14)
    np.testing.assert_allclose(covariance, np.cov(x, rowvar=False, bias=True), rtol=0, atol=1e-14)
    monkeypatch.setattr(metrics, "_COVARIANCE_BLOCK_VALUES", 50)   # 7 rows per block
    np.testing.assert_allclose(metrics.moments(x)[1], covariance, rtol=0, atol=1e-14)


def test_moment_errors_of_a_set_against_itself():
    x, _ = gaussian_samples(np.random.default_rng(1), 500)
    errors = metrics.moment_errors(x, x)
    assert errors["mean_rmse"] == errors["covariance_rmse"] == errors["variance_rmse"] == 0
    assert errors["covariance_pearson"] == pytest.approx(1, abs=1e-12)


def test_moment_errors_of_independent_sets_are_sampling_noise():
    rng = np.random.default_rng(2)
    n_samples, n_data = 20_000, 30_000
    x, covariance = gaussian_samples(rng, n_samples)
    y, _ = gaussian_samples(rng, n_data)
    errors = metrics.moment_errors(x, y)
    expected_rms = np.sqrt(np.mean(np.diag(covariance) * (1 / n_samples + 1 / n_data)))
    assert 0.2 * expected_rms < errors["mean_rmse"] < 3 * expected_rms
    assert errors["covariance_pearson"] > 0.99


def test_moment_errors_of_a_shifted_set():
    x, _ = gaussian_samples(np.random.default_rng(3), 1000)
    errors = metrics.moment_errors(x + 0.25, x)
    assert errors["mean_rmse"] == pytest.approx(0.25, abs=1e-12)
    assert errors["covariance_rmse"] < 1e-12 and errors["variance_rmse"] < 1e-12
    assert errors["covariance_pearson"] == pytest.approx(1, abs=1e-12)


def test_moment_errors_pearson_nan_when_constant_and_unit_checks():
    x = np.random.default_rng(4).standard_normal((100, 3))
    independent = np.random.default_rng(5).standard_normal((50, 3)) * np.array([1.0, 0.0, 0.0])
    assert np.isnan(metrics.moment_errors(x, independent)["covariance_pearson"])   # data covariances all 0
    with pytest.raises(ValueError, match="data"):
        metrics.moment_errors(x, x[:, :2])
    with pytest.raises(ValueError, match="samples"):
        metrics.moment_errors(x[0], x)
    single = metrics.moment_errors(x[:, :1], x[:, :1] + 1)
    assert single["mean_rmse"] == pytest.approx(1) and np.isnan(single["covariance_rmse"])


# --- distances and AATS ------------------------------------------------------------------------


def test_pairwise_hamming_and_euclidean_match_brute_force():
    rng = np.random.default_rng(6)
    a = rng.integers(0, 2, size=(5, 9))
    b = rng.integers(0, 2, size=(4, 9))
    brute = (a[:, None, :] != b[None, :, :]).sum(axis=-1)
    np.testing.assert_array_equal(metrics.pairwise_distances(a, b), brute)
    np.testing.assert_array_equal(metrics.pairwise_distances(2 * a - 1, 2 * b - 1), brute)   # +-1
    np.testing.assert_array_equal(metrics.pairwise_distances(a.astype(bool), b, metric="hamming"), brute)
    x = rng.standard_normal((5, 9)) * 3 + 1
    y = rng.standard_normal((4, 9))
    np.testing.assert_allclose(metrics.pairwise_distances(x, y), cdist(x, y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(metrics.pairwise_distances(a, b, metric="euclidean"), np.sqrt(brute), atol=1e-12)


def brute_force_aats(data, samples, metric):
    """The definition with the full (2n x 2n) matrix and the documented tie rule."""
    n = min(len(data), len(samples))
    pool = np.concatenate([data[:n], samples[:n]]).astype(np.float64)
    distances = cdist(pool, pool, metric="hamming" if metric == "hamming" else "euclidean")
    np.fill_diagonal(distances, np.inf)
    to_data, to_samples = distances[:, :n].min(axis=1), distances[:, n:].min(axis=1)

    def score(same, other):
        return np.mean(np.where(same < other, 1.0, np.where(same == other, 0.5, 0.0)))

    truth, syn = score(to_data[:n], to_samples[:n]), score(to_samples[n:], to_data[n:])
    return {"aa_truth": truth, "aa_syn": syn, "aats": (truth + syn) / 2, "n": n}


@pytest.mark.parametrize("kind", ["binary", "spins", "real"])
def test_aats_matches_brute_force_and_does_not_depend_on_chunks(kind):
    rng = np.random.default_rng(7)
    if kind == "real":
        data, samples = rng.standard_normal((40, 6)), rng.standard_normal((37, 6)) * 1.3
    else:
        data, samples = rng.integers(0, 2, size=(40, 6)), rng.integers(0, 2, size=(37, 6))   # many ties
        if kind == "spins":
            data, samples = 2 * data - 1, 2 * samples - 1
    metric = "euclidean" if kind == "real" else "hamming"
    expected = brute_force_aats(data, samples, metric)
    for chunk_size in (1, 7, 10**6):
        result = metrics.adversarial_accuracy(data, samples, chunk_size=chunk_size)
        assert result == pytest.approx(expected, abs=1e-15)
    assert metrics.adversarial_accuracy(data, samples, chunk_size=5) == metrics.adversarial_accuracy(data, samples)
    assert result["n"] == 37
    assert metrics.adversarial_accuracy(data[:37], samples) == result   # first n rows of each


@pytest.mark.parametrize("kind", ["binary", "spins", "real"])
def test_aats_of_two_samples_of_one_law_is_one_half(kind):
    # indicators of neighbouring points are weakly dependent, so sqrt(0.25 / n) is not a strict bound: over 40
    # seeds the sd of each side measured 0.009-0.014 here (n = 1500: sqrt(0.25 / n) = 0.013), but 0.016 for
    # 30-d Gaussians (hubness), hence 10 real units
    rng = np.random.default_rng(8)
    n, num_units = 1500, (10 if kind == "real" else 30)
    if kind == "real":
        def draw():
            return rng.standard_normal((n, num_units)) * np.linspace(0.5, 2, num_units)
    else:
        probabilities = np.linspace(0.1, 0.6, num_units)

        def draw():
            bits = (rng.random((n, num_units)) < probabilities).astype(np.int8)
            return 2 * bits - 1 if kind == "spins" else bits
    result = metrics.adversarial_accuracy(draw(), draw(), chunk_size=512)
    tolerance = 4 * np.sqrt(0.25 / n)
    for key in ("aa_truth", "aa_syn", "aats"):
        assert abs(result[key] - 0.5) < tolerance, (key, result)


@pytest.mark.parametrize("kind", ["binary", "real"])
def test_aats_of_copies_is_zero(kind):
    rng = np.random.default_rng(9)
    data = rng.integers(0, 2, size=(400, 60)) if kind == "binary" else rng.standard_normal((400, 5))
    assert len(np.unique(data, axis=0)) == 400   # distinct rows: each point's nearest neighbour is its copy
    result = metrics.adversarial_accuracy(data, data.copy(), chunk_size=100)
    assert result == {"aa_truth": 0.0, "aa_syn": 0.0, "aats": 0.0, "n": 400}
    # duplicated data rows tie with the copy: the tie rule gives 1/2 to each of the 4 points of a pair
    doubled = np.concatenate([data[:200], data[:200]])
    assert metrics.adversarial_accuracy(doubled, doubled)["aats"] == 0.5


def test_aats_of_different_laws_is_one():
    rng = np.random.default_rng(10)
    data = (rng.random((500, 40)) < 0.1).astype(np.float32)
    samples = (rng.random((500, 40)) < 0.9).astype(np.float32)
    assert metrics.adversarial_accuracy(data, samples)["aats"] == 1.0
    real = metrics.adversarial_accuracy(rng.standard_normal((500, 5)), 5 + rng.standard_normal((500, 5)))
    assert real["aats"] == 1.0


def test_aats_metric_choice_and_errors():
    rng = np.random.default_rng(11)
    bits = rng.integers(0, 2, size=(50, 8))
    real = rng.standard_normal((50, 8))
    assert (metrics.adversarial_accuracy(real, bits) ==
            metrics.adversarial_accuracy(real, bits, metric="euclidean"))   # auto: real -> euclidean
    with pytest.raises(ValueError, match="hamming"):
        metrics.adversarial_accuracy(real, bits, metric="hamming")
    with pytest.raises(ValueError, match="samples.*convention"):
        metrics.adversarial_accuracy(bits, 2 * bits - 1)
    with pytest.raises(ValueError, match="metric"):
        metrics.adversarial_accuracy(bits, bits, metric="cosine")
    with pytest.raises(ValueError, match="samples: expected 8 columns"):
        metrics.adversarial_accuracy(bits, bits[:, :3])
    with pytest.raises(ValueError, match="at least 2 rows"):
        metrics.adversarial_accuracy(bits, bits[:1])
    with pytest.raises(TypeError, match="chunk_size"):
        metrics.adversarial_accuracy(bits, bits, chunk_size=1.5)
    with pytest.raises(ValueError, match="data: contains NaN"):
        metrics.adversarial_accuracy(np.full((3, 8), np.nan), bits)


# --- integrated autocorrelation time ---------------------------------------------------------


def ar1_chains(rng, phi, steps, num_chains, num_units=None):
    """Stationary AR(1): x(0) ~ N(0, 1), x(t+1) = phi x(t) + sqrt(1 - phi^2) xi; shape (steps, chains[, units])."""
    shape = (num_chains,) if num_units is None else (num_chains, num_units)
    out = np.empty((steps,) + shape)
    out[0] = rng.standard_normal(shape)
    scale = np.sqrt(1 - phi**2)
    for t in range(1, steps):
        out[t] = phi * out[t - 1] + scale * rng.standard_normal(shape)
    return out


def test_autocovariance_matches_direct_sum():
    x = np.random.default_rng(12).standard_normal((37, 3))
    direct = [np.mean([np.dot(x[: 37 - t, k], x[t:, k]) for k in range(3)]) / 37 for t in range(37)]
    np.testing.assert_allclose(metrics._autocovariance(x), direct, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("phi", [0.5, 0.8])
def test_tau_of_ar1_process(phi):
    # T K = 5e5 steps, window M ~ 5 tau <= 45: relative sd sqrt(2 (2 M + 1) / (T K)) <= 0.02; 10 % is 5 sd
    series = ar1_chains(np.random.default_rng(13), phi, 5000, 100)
    assert metrics.integrated_autocorrelation_time(series) == pytest.approx((1 + phi) / (1 - phi), rel=0.10)


def test_tau_of_white_noise_and_shapes():
    rng = np.random.default_rng(14)
    noise = rng.standard_normal((20_000, 10))
    # window M ~ 5: sd of the sum 2 sum_{t<=M} rho(t) is 2 sqrt(M / (T K)) = 0.01
    assert metrics.integrated_autocorrelation_time(noise) == pytest.approx(1, abs=0.05)
    one = noise[:, 0]
    assert metrics.integrated_autocorrelation_time(one) == metrics.integrated_autocorrelation_time(one[:, None])
    assert np.isnan(metrics.integrated_autocorrelation_time(np.ones((50, 2))))


def test_tau_errors_and_short_series_warning():
    with pytest.warns(RuntimeWarning, match="fewer than 50 tau_int"):
        metrics.integrated_autocorrelation_time(np.cumsum(np.random.default_rng(15).standard_normal(30)))
    with pytest.raises(ValueError, match="series"):
        metrics.integrated_autocorrelation_time(np.zeros((4, 2, 2)))
    with pytest.raises(ValueError, match="series"):
        metrics.integrated_autocorrelation_time(np.zeros(1))
    with pytest.raises(ValueError, match="c:"):
        metrics.integrated_autocorrelation_time(np.zeros(10), c=0)
    with pytest.raises(TypeError, match="series"):
        metrics.integrated_autocorrelation_time(np.array(["a", "b"]))


# --- memory of the initial state --------------------------------------------------------------


def test_memory_of_ar1_chains_decays_as_phi_to_the_t():
    phi, num_chains, num_units, threshold = 0.8, 4000, 50, 0.05
    chains = ar1_chains(np.random.default_rng(16), phi, 31, num_chains, num_units)
    times = np.arange(0, 31, 3)
    # a bias shared by all chains (offset and drift of the mean) is not memory
    bias = 3 + np.linspace(-1, 1, num_units) * (1 - phi ** times[:, None, None])
    result = metrics.memory_of_initial_state(chains[0] + 3, chains[times] + bias, times, threshold=threshold)
    np.testing.assert_array_equal(result["times"], times)
    assert result["memory"][0] == pytest.approx(1, abs=1e-12)
    np.testing.assert_allclose(result["memory"], phi**times, rtol=0, atol=5 / np.sqrt(num_chains * num_units))
    # log(0.05) / log(0.8) = 13.4 -> first grid time 15 (phi^12 = 0.069, phi^15 = 0.035: > 6 sd from 0.05)
    expected = times[np.argmax(times >= np.log(threshold) / np.log(phi))]
    assert expected == 15 and result["forget_time"] == expected


def test_memory_of_frozen_and_collapsed_chains():
    rng = np.random.default_rng(17)
    spins = np.where(rng.random((200, 30)) < 0.8, 1, -1).astype(np.int8)   # biased +-1 spins
    frozen = metrics.memory_of_initial_state(spins, np.stack([spins] * 4), [0, 1, 10, 100])
    np.testing.assert_allclose(frozen["memory"], 1, rtol=0, atol=1e-12)
    assert np.isnan(frozen["forget_time"])
    collapsed = np.stack([spins, np.ones_like(spins)])
    result = metrics.memory_of_initial_state(spins, collapsed, [0, 5])
    assert result["memory"][1] == 0 and result["forget_time"] == 5


def test_memory_errors():
    x = np.random.default_rng(18).standard_normal((10, 4))
    with pytest.raises(ValueError, match="states_at_times"):
        metrics.memory_of_initial_state(x, x, [0])
    with pytest.raises(ValueError, match="times"):
        metrics.memory_of_initial_state(x, np.stack([x, x]), [3, 3])
    with pytest.raises(ValueError, match="times"):
        metrics.memory_of_initial_state(x, np.stack([x, x]), [0])
    with pytest.raises(ValueError, match="threshold"):
        metrics.memory_of_initial_state(x, x[None], [0], threshold=1.0)
    with pytest.raises(ValueError, match="initial: all chains"):
        metrics.memory_of_initial_state(np.ones((10, 4)), x[None], [0])
    with pytest.raises(ValueError, match="initial: expected at least 2 chains"):
        metrics.memory_of_initial_state(x[:1], x[None, :1], [0])


# --- energies ----------------------------------------------------------------------------------


def test_mean_energy_per_family():
    rng = np.random.default_rng(19)
    nv, nh, n = 4, 3, 25
    W, a, b = rng.standard_normal((nv, nh)), rng.standard_normal(nv), rng.standard_normal(nh)
    bits = rng.integers(0, 2, size=(n, nv))
    rbm = bmsample.BernoulliRBM(W, a, b, dtype="float64")
    assert metrics.mean_energy(rbm, bits) == pytest.approx(rbm.free_energy(bits).mean(), rel=1e-14)

    J = rng.standard_normal((nv, nv))
    J = J @ J.T + nv * np.eye(nv)
    h = rng.standard_normal(nv)
    x = rng.standard_normal((n, nv))
    gaussian = bmsample.GaussianModel(J, h, dtype="float64")
    by_hand = np.mean([0.5 * xs @ J @ xs - h @ xs for xs in x])
    assert metrics.mean_energy(gaussian, x) == pytest.approx(by_hand, rel=1e-12)

    K = np.triu(rng.standard_normal((nv, nv)), 1)
    ising = bmsample.IsingModel(K + K.T, h, dtype="float64")
    spins = 2 * bits - 1
    assert metrics.mean_energy(ising, spins) == pytest.approx(ising.energy(spins).mean(), rel=1e-14)
    assert metrics.mean_energy(ising, bits) == metrics.mean_energy(ising, spins)   # {0,1} -> 2 x - 1

    grbm = bmsample.GaussianBernoulliRBM(W, a, b, sigma=np.linspace(0.5, 2, nv), data_mean=rng.standard_normal(nv),
                                         data_std=np.linspace(1, 3, nv), dtype="float64")
    expected = grbm.free_energy((x - grbm.data_mean) / grbm.data_std).mean()
    assert metrics.mean_energy(grbm, x) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(metrics.sample_energies(grbm, x), grbm.free_energy(grbm.standardise(x)), rtol=1e-14)


def test_mean_energy_errors():
    rbm = bmsample.BernoulliRBM(np.zeros((3, 2)), np.zeros(3), np.zeros(2))
    with pytest.raises(TypeError, match="model"):
        metrics.mean_energy(object(), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="samples: expected 3 columns"):
        metrics.mean_energy(rbm, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="samples: a Bernoulli model needs 0/1"):
        metrics.mean_energy(rbm, -np.ones((2, 3)))


def test_aats_of_independent_site_samples_of_mnist_is_one_half_and_flagged():
    """Blurry noise from the pixel marginals: every data point is closest to data, every sample too, so
    AA_truth ~ 1, AA_syn ~ 0 and AATS ~ 0.5, which alone would read as indistinguishable."""
    from bmsample.metrics import aa_disagree, format_aats

    data = bmsample.load_dataset("mnist-test").data[:500]
    noise = (np.random.default_rng(0).random(data.shape) < data.mean(axis=0)).astype(np.float32)
    result = metrics.adversarial_accuracy(data, noise)
    assert abs(result["aats"] - 0.5) < 0.05 and result["aa_truth"] > 0.95 and result["aa_syn"] < 0.05
    assert aa_disagree(result)
    assert format_aats(result).endswith("; disagree)") and format_aats(result).startswith(f"{result['aats']:.3f} (")
    same = metrics.adversarial_accuracy(data[:250], bmsample.load_dataset("mnist-test").data[250:500])
    assert not aa_disagree(same)  # two halves of the data: both near 0.5
