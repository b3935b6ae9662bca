"""Gaussian-Bernoulli RBM: reference maths against brute force, the block-Gibbs
sampler and the trainer against exact oracles, kernels against NumPy, units.

Oracles:

* enumeration over h with z integrated out analytically (``exact_*``);
* an independent one: for 2 visible units, a fine grid over z (the integrand
  is Gaussian in z, so the uniform-grid Riemann sum converges exponentially);
* the block-Gibbs kernel on the hidden layer, T[h, h'] = E_{z ~ N(mu(h), sigma^2)} P(h' | z),
  by Gauss-Hermite product quadrature (converged to ~1e-14 at 30 nodes per
  dimension for these models).  Its stationary law must be the closed-form
  p(h), and p0 T^t gives the exact law of the sampler after t steps, so the
  Rdm-k process itself (not only equilibrium) is checked.

Statistical tolerances: 100 000 chains, means and covariances within 5
standard errors (estimated from the chains), laws by Pearson chi-square
within 5 sd of its mean (``conftest.chi_square_ok``).  Fixed seeds.
"""

import itertools

import numpy as np
import pytest
from conftest import chi_square_ok, needs_two_threads, product_rounding_bound

import bmsample
from bmsample._ascent import Estimate
from bmsample._rng import ChainStreams, normals_reference
from bmsample.grbm import _cpu
from bmsample.grbm.model import (
    GaussianBernoulliRBM,
    data_statistics,
    exact_gradient,
    exact_hidden_distribution,
    exact_log_likelihood,
    exact_log_partition,
    exact_statistics,
    exact_visible_moments,
)
from bmsample.grbm.sample import GRBMWorkspace, gibbs_steps, initial_states, sample_grbm
from bmsample.grbm.train import GRBMTrainer
from bmsample.rbm.model import all_binary_states, softplus, state_index

CHAINS = 100_000


def random_grbm(num_visibles=3, num_hiddens=4, scale=0.8, seed=0, dtype="float64"):
    """A tiny GRBM with O(1) parameters and non-unit widths."""
    rng = np.random.default_rng(seed)
    return GaussianBernoulliRBM(rng.standard_normal((num_visibles, num_hiddens)) * scale,
                                0.5 * rng.standard_normal(num_visibles), 0.5 * rng.standard_normal(num_hiddens),
                                rng.uniform(0.6, 1.5, num_visibles), dtype=dtype)


def estimate(scheme="rdm", k=3, init="gaussian", init_scale=1.0, batch_size=100, num_chains=100):
    """A trainer's Estimate (CD-k: one chain per minibatch row, whatever ``num_chains``)."""
    return Estimate(scheme=scheme, k=k, batch_size=batch_size, num_chains=batch_size if scheme == "cd" else num_chains,
                    init=init, init_scale=init_scale, sampler="block-gibbs")


# --- quadrature oracle of the block-Gibbs process ----------------------------------

def hermite_grid(num_visibles, nodes=30):
    """Nodes (nodes**nv, nv) and weights of E[f(xi)], xi ~ N(0, I), by Gauss-Hermite product quadrature."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    points = np.array(list(itertools.product(x, repeat=num_visibles)))
    weights = np.prod(np.array(list(itertools.product(w / np.sqrt(2 * np.pi), repeat=num_visibles))), axis=1)
    return points, weights


def hidden_law_given(model, z):
    """P(h | z) for every row of z and every h (all_binary_states order), shape (len(z), 2**nh)."""
    field = (np.asarray(z, dtype=np.float64) / model.sigma.astype(np.float64)) @ model.weight_matrix.astype(
        np.float64) + model.hbias
    hs = all_binary_states(model.num_hiddens)
    return np.exp(-softplus(-field) @ hs.T - softplus(field) @ (1 - hs).T)


def hidden_transition(model, nodes=30):
    """T[h, h'] = E_{z ~ N(mu(h), diag sigma^2)} P(h' | z), shape (2**nh, 2**nh)."""
    points, weights = hermite_grid(model.num_visibles, nodes)
    mu = model.visible_means(all_binary_states(model.num_hiddens))
    s = model.sigma.astype(np.float64)
    return np.stack([weights @ hidden_law_given(model, m + s * points) for m in mu])


def first_hidden_law(model, init, init_scale):
    """Law of h after the first half-step from p0 ("zeros" or N(0, init_scale^2 I))."""
    if init == "zeros":
        return hidden_law_given(model, np.zeros((1, model.num_visibles)))[0]
    points, weights = hermite_grid(model.num_visibles)
    return weights @ hidden_law_given(model, init_scale * points)


def hidden_laws(model, init, init_scale, times):
    """{t: law of h_t} for t >= 1, h_t the hidden state of step t."""
    T = hidden_transition(model)
    q, laws = first_hidden_law(model, init, init_scale), {}
    for t in range(1, max(times) + 1):
        if t in times:
            laws[t] = q
        q = q @ T
    return laws


def mixture_moments(model, q):
    """Mean and covariance of z = mu(h) + sigma xi with h ~ q."""
    mu = model.visible_means(all_binary_states(model.num_hiddens))
    mean = q @ mu
    return mean, np.diag(model.sigma.astype(np.float64) ** 2) + mu.T @ (q[:, None] * mu) - np.outer(mean, mean)


def mixture_statistics(model, q, nodes=30):
    """Gradient statistics (keys of ``data_statistics``) of z = mu(h) + sigma xi, h ~ q, by quadrature."""
    points, weights = hermite_grid(model.num_visibles, nodes)
    mu = model.visible_means(all_binary_states(model.num_hiddens))
    s, a = model.sigma.astype(np.float64), model.vbias.astype(np.float64)
    out = {"vh": 0.0, "v": 0.0, "h": 0.0}
    for qh, m in zip(q, mu):
        z = m + s * points
        ph = model.hidden_means(z)
        out["vh"] = out["vh"] + qh * ((weights[:, None] * z / s).T @ ph)
        out["v"] = out["v"] + qh * (m - a) / s**2
        out["h"] = out["h"] + qh * (weights @ ph)
    return out


def assert_moments(z, mean, covariance, label=""):
    """Sample mean and covariance of rows z within 5 standard errors estimated from the rows."""
    n = z.shape[0]
    z = np.asarray(z, dtype=np.float64)
    m = z.mean(axis=0)
    d = z - m
    products = d[:, :, None] * d[:, None, :]
    assert np.all(np.abs(m - mean) < 5 * z.std(axis=0) / np.sqrt(n)), f"{label}: mean {m} vs {mean}"
    sd = products.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(products.mean(axis=0) - covariance) < 5 * sd), f"{label}: covariance"


# --- reference maths -------------------------------------------------------------------

def brute_force_free_energy(model, z):
    hs = all_binary_states(model.num_hiddens)
    energies = np.stack([model.energy(z, np.broadcast_to(h, (z.shape[0], h.size))) for h in hs], axis=1)
    return -np.logaddexp.reduce(-energies, axis=1)


def test_free_energy_integrates_the_energy_over_h():
    model = random_grbm(3, 3, scale=1.2, seed=1)
    z = np.random.default_rng(2).standard_normal((20, 3)) * 2
    np.testing.assert_allclose(model.free_energy(z), brute_force_free_energy(model, z), rtol=1e-12, atol=1e-12)


def test_conditionals_follow_from_the_energy():
    model = random_grbm(3, 3, scale=1.2, seed=3)
    rng = np.random.default_rng(4)
    z = rng.standard_normal((5, 3))
    hs = all_binary_states(3)
    # P(h | z) proportional to exp(-E(z, h)) over h, and a product of the hidden means.
    energies = np.stack([model.energy(z, np.broadcast_to(h, (5, 3))) for h in hs], axis=1)
    p = np.exp(-energies - np.logaddexp.reduce(-energies, axis=1, keepdims=True))
    np.testing.assert_allclose(p, hidden_law_given(model, z), rtol=1e-10)
    # E(z, h) - E(mu(h), h) = sum_i (z_i - mu_i)^2 / (2 sigma_i^2): z | h ~ N(mu(h), sigma^2).
    h = hs[rng.integers(0, 8, 5)]
    mu = model.visible_means(h)
    np.testing.assert_allclose(model.energy(z, h) - model.energy(mu, h),
                               np.sum((z - mu) ** 2 / (2 * model.sigma**2), axis=1), rtol=1e-10)


def test_exact_enumeration_against_a_grid_over_z():
    """Independent check of the analytic integral over z: p(h), log Z and the moments of z."""
    model = random_grbm(2, 3, scale=1.0, seed=5)
    s = model.sigma
    mu = model.visible_means(all_binary_states(3))
    step = 0.05  # Riemann sum of a Gaussian of width >= 0.6: error ~ exp(-2 pi^2 (0.6 / step)^2), negligible
    axes = [np.arange(mu[:, i].min() - 9 * s[i], mu[:, i].max() + 9 * s[i], step) for i in range(2)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
    weights = np.stack([np.exp(-model.energy(grid, np.broadcast_to(h, (len(grid), 3)))) for h in
                        all_binary_states(3)]) * step**2  # (2**nh, grid)
    per_h = weights.sum(axis=1)
    np.testing.assert_allclose(exact_hidden_distribution(model), per_h / per_h.sum(), rtol=1e-9)
    np.testing.assert_allclose(exact_log_partition(model), np.log(per_h.sum()), rtol=1e-10)
    density = weights.sum(axis=0) / per_h.sum()
    mean, cov = exact_visible_moments(model)
    np.testing.assert_allclose(mean, density @ grid, atol=1e-9)
    centred = grid - mean
    np.testing.assert_allclose(cov, centred.T @ (density[:, None] * centred), atol=1e-9)
    # log-likelihood = -F - log Z is a normalised log-density.
    np.testing.assert_allclose(np.exp(-model.free_energy(grid) - exact_log_partition(model)).sum() * step**2,
                               1.0, rtol=1e-9)


def test_gibbs_kernel_on_h_has_the_closed_form_law_as_its_stationary_law():
    """The quadrature kernel uses only the two conditionals: p(h) T = p(h) checks the integral over z."""
    model = random_grbm(3, 4, seed=0)
    T = hidden_transition(model)
    np.testing.assert_allclose(T.sum(axis=1), 1.0, atol=1e-12)
    p = exact_hidden_distribution(model)
    np.testing.assert_allclose(p @ T, p, atol=1e-12)
    np.testing.assert_allclose(np.abs(hidden_transition(model, 40) - T).max(), 0.0, atol=1e-12)


def test_equilibrium_statistics_and_gradient():
    model = random_grbm(3, 4, seed=6)
    p = exact_hidden_distribution(model)
    # At equilibrium <f(z) P(h|z)> = <f(z) h>: the quadrature of the mixture with q = p must agree.
    quad = mixture_statistics(model, p)
    for key, value in exact_statistics(model).items():
        np.testing.assert_allclose(value, quad[key], atol=1e-12, err_msg=key)
    # Data drawn from the model itself: the ML gradient vanishes up to sampling noise; with 2 * 10^5 rows
    # every entry is O(1), so 5 / sqrt(n) bounds the noise loosely.
    rng = np.random.default_rng(7)
    h = all_binary_states(4)[rng.choice(16, size=200_000, p=p)]
    z = model.visible_means(h) + model.sigma * rng.standard_normal((200_000, 3))
    for g in exact_gradient(model, z):
        assert np.all(np.abs(g) < 5 * 3 / np.sqrt(200_000))
    grad_w_l2 = exact_gradient(model, z, l2=0.1)[0]
    np.testing.assert_allclose(grad_w_l2, exact_gradient(model, z)[0] - 0.1 * model.weight_matrix, atol=1e-12)
    assert exact_log_likelihood(model, z) == pytest.approx(
        np.mean(-model.free_energy(z)) - exact_log_partition(model))


# --- kernels ---------------------------------------------------------------------------

def kernel_inputs(dtype, chains=13, units=7):
    rng = np.random.default_rng(8)
    return (rng.standard_normal((chains, units)).astype(dtype), rng.standard_normal(units).astype(dtype),
            rng.uniform(0.5, 2.0, units).astype(dtype))


KEY, DRAW, OFFSET = (123456789, 987654321), 2**32 + 3, 5


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-5), ("float64", 1e-12)])
def test_visible_kernel_matches_the_numpy_reference(dtype, rtol):
    """7 units: one full Box-Muller block and a partial one in both dtypes; draw > 2**32 uses both counter words."""
    field, bias, sigma = kernel_inputs(dtype)
    xi = normals_reference(KEY, DRAW, OFFSET + np.arange(field.shape[0]), field.shape[1], dtype)
    states = np.empty_like(field)
    _cpu.sample_gaussian_visible(field, bias, sigma, np.uint32(KEY[0]), np.uint32(KEY[1]), DRAW, OFFSET, states)
    assert states.dtype == np.dtype(dtype)
    np.testing.assert_allclose(states, bias + sigma * field + sigma * xi, rtol=rtol, atol=rtol)


def test_visible_kernel_with_means_matches_the_plain_one():
    """float64 only: the two kernels share their row code, and each dtype costs ~5-10 s of cold compilation."""
    field, bias, sigma = kernel_inputs("float64")
    states, states2, means = np.empty_like(field), np.empty_like(field), np.empty_like(field)
    _cpu.sample_gaussian_visible(field, bias, sigma, np.uint32(KEY[0]), np.uint32(KEY[1]), DRAW, OFFSET, states)
    _cpu.sample_gaussian_visible(field, bias, sigma, np.uint32(KEY[0]), np.uint32(KEY[1]), DRAW, OFFSET,
                                            states2, means)
    np.testing.assert_array_equal(states2, states)
    np.testing.assert_allclose(means, bias + sigma * field, rtol=1e-14)


def test_gibbs_steps_visible_means_are_the_last_conditional():
    model = random_grbm(5, 3, seed=9)
    z = np.zeros((50, 5))
    streams, ws = ChainStreams((1, 2)), GRBMWorkspace(model, 50)
    means = np.empty_like(z)
    gibbs_steps(model, z, 4, streams, ws, visible_means=means)
    assert streams.draw == 8
    np.testing.assert_allclose(means, model.visible_means(ws.hidden), rtol=1e-12, atol=1e-12)


# --- sampler against the exact process -----------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_block_gibbs_follows_the_exact_process_and_reaches_equilibrium(dtype):
    model = random_grbm(3, 4, seed=0, dtype=dtype)
    init, scale, times = "gaussian", 1.5, [1, 2, 5, 30]
    laws = hidden_laws(model, init, scale, times)
    p = exact_hidden_distribution(model)
    assert np.abs(laws[30] - p).sum() < 1e-9  # the exact process has mixed by t = 30
    streams = ChainStreams((11, 22))
    z = initial_states(model, CHAINS, init, scale, streams, None)
    assert_moments(z, np.zeros(3), scale**2 * np.eye(3), "p0")
    ws = GRBMWorkspace(model, CHAINS)
    seen = {}

    def keep(t, visible):
        if t in times:
            seen[t] = (state_index(ws.hidden), visible.copy())

    gibbs_steps(model, z, 30, streams, ws, on_step=keep)
    assert z.dtype == np.dtype(dtype)
    for t in times:
        counts = np.bincount(seen[t][0], minlength=16)
        stat, dof, ok = chi_square_ok(counts, laws[t])
        assert ok, f"t={t}: chi2 {stat:.1f} with {dof} dof"
        assert_moments(seen[t][1], *mixture_moments(model, laws[t]), label=f"t={t}")
    assert_moments(z, *exact_visible_moments(model), label="equilibrium")


def test_sample_reproduces_the_training_process_by_default():
    model = random_grbm(3, 2, seed=10)
    model.process = {"scheme": "rdm", "k": 4, "init": "zeros", "init_scale": 0.5}
    result = sample_grbm(model, 10, rng=0, record=[0, 4])
    assert (result.steps, result.init) == (4, "zeros")
    np.testing.assert_array_equal(result.recorded[0], 0.0)
    np.testing.assert_array_equal(result.recorded[1], result.visible)
    model.process = {"scheme": "cd", "k": 2, "init": "gaussian"}
    with pytest.raises(ValueError, match="init: 'data' needs a dataset"):
        sample_grbm(model, 10, rng=0)
    assert sample_grbm(model, 10, rng=0, data=np.ones((3, 3))).init == "data"


@needs_two_threads
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_same_chains_with_one_or_two_threads(dtype):
    """Same random numbers whatever the threads or the chain count; BLAS may round the products differently.

    The visible layer is drawn afresh from the hidden one at every step, so a chain whose hidden
    draws agree differs only by the rounding of its last product sigma (W h) (and of the draw
    itself, a few roundings of |z|); a rounding can flip a hidden unit only when its uniform lies
    within that rounding of its probability, which a few of 3000 x 13 x 7 draws may do at most.
    """
    model = random_grbm(20, 13, scale=0.3, seed=11, dtype=dtype)
    runs = []
    for threads in (1, 2, 2):
        bmsample.set_num_threads(threads)
        runs.append(sample_grbm(model, 3000, 7, init="gaussian", rng=42, record=[7]))
    bmsample.set_num_threads(2)
    np.testing.assert_array_equal(runs[1].visible, runs[2].visible)  # same threads and rows: bit-identical
    small = sample_grbm(model, 10, 7, init="gaussian", rng=42).visible
    u = np.finfo(dtype).eps / 2
    z = (runs[0].visible - model.data_mean) / model.data_std
    hidden = np.ones((1, 13), dtype=dtype)  # the largest |h W^T| of binary h
    bound = float(model.sigma.max() * model.data_std.max()) * (
        product_rounding_bound(hidden, np.abs(model.weight_matrix.T)) + 8 * u * np.abs(z).max())
    apart = np.abs(runs[0].visible - runs[1].visible).max(axis=1) > bound
    assert apart.sum() <= 3
    assert np.abs(small - runs[0].visible[:10]).max() <= bound
    assert not np.array_equal(sample_grbm(model, 10, 7, init="gaussian", rng=43).visible, small)


# --- units --------------------------------------------------------------------------------

def test_from_data_records_the_standardisation_and_round_trips():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((500, 3)) * [5.0, 0.1, 1.0] + [100.0, -3.0, 0.0]
    x[:, 2] = 7.0  # a constant column: std clipped to 1e-8
    model = GaussianBernoulliRBM.from_data(x, 4, rng=0)
    assert model.dtype == np.float32 and model.data_mean.dtype == np.float64
    np.testing.assert_allclose(model.data_mean, x.mean(axis=0))
    np.testing.assert_allclose(model.data_std, [x[:, 0].std(), x[:, 1].std(), 1e-8])
    np.testing.assert_array_equal(model.vbias, 0)
    np.testing.assert_array_equal(model.hbias, 0)
    np.testing.assert_array_equal(model.sigma, 1)
    z = model.standardise(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z[:, :2].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, :2].std(axis=0), 1, rtol=1e-5)
    np.testing.assert_array_equal(z[:, 2], 0)
    np.testing.assert_allclose(model.destandardise(z), x, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_samples_are_returned_in_data_units(dtype):
    """W = 0: z_i ~ N(a_i, sigma_i^2) after one step, so x_i ~ N(mean_i + std_i a_i, (std_i sigma_i)^2)."""
    mean, std = np.array([100.0, -3.0]), np.array([5.0, 0.1])
    a, sigma = np.array([0.0, 0.7]), np.array([1.0, 0.5])
    model = GaussianBernoulliRBM(np.zeros((2, 3)), a, np.zeros(3), sigma, data_mean=mean, data_std=std, dtype=dtype)
    result = sample_grbm(model, CHAINS, 3, init="zeros", rng=13, record=[0, 3])
    assert result.visible.dtype == np.dtype(dtype) and result.recorded.dtype == np.dtype(dtype)
    np.testing.assert_allclose(result.recorded[0], np.broadcast_to(mean, (CHAINS, 2)), rtol=1e-7)
    assert_moments(result.visible, mean + std * a, np.diag((std * sigma) ** 2), "data units")
    # init="data" takes rows in data units and returns them unchanged after 0 steps.
    rows = np.random.default_rng(0).standard_normal((5, 2)) * std + mean
    start = sample_grbm(model, 20, 0, init="data", data=rows, rng=0).visible
    assert all(np.abs(rows - row).max(axis=1).min() < 1e-4 * np.abs(mean).max() for row in start)


# --- training ---------------------------------------------------------------------------------

def gradient_standard_errors(model, chains):
    """Standard errors of the chains' part of (grad_w, grad_a, grad_b)."""
    z = np.asarray(chains, dtype=np.float64)
    s = model.sigma.astype(np.float64)
    ph = model.hidden_means(z)
    n = z.shape[0]
    terms_w = (z / s)[:, :, None] * ph[:, None, :]
    return terms_w.std(axis=0) / np.sqrt(n), (z / s**2).std(axis=0) / np.sqrt(n), ph.std(axis=0) / np.sqrt(n)


@pytest.mark.parametrize("init, dtype", [("gaussian", "float64"), ("zeros", "float32")])
def test_rdm_gradient_equals_the_exact_k_step_gradient(init, dtype):
    """Rdm-k: positive phase exact on the batch, negative phase under p0 T^k (quadrature oracle)."""
    model = random_grbm(3, 4, seed=14, dtype=dtype)
    cfg = estimate(scheme="rdm", k=3, init=init, init_scale=0.8, batch_size=64, num_chains=CHAINS)
    batch = np.random.default_rng(15).standard_normal((64, 3)).astype(dtype)
    trainer = GRBMTrainer(model, cfg, ChainStreams((5, 6)), None, np.random.default_rng(0), l2=0.01)
    assert trainer.chains is None
    grads, metrics = trainer.gradient(batch)
    chains = trainer.negative_chains(batch)  # another draw of the same law, only for the standard errors
    pos = data_statistics(model, batch)
    neg = mixture_statistics(model, hidden_laws(model, init, 0.8, [3])[3])
    exact = (pos["vh"] - neg["vh"] - 0.01 * model.weight_matrix, pos["v"] - neg["v"], pos["h"] - neg["h"])
    for name, g, e, se in zip("wab", grads, exact, gradient_standard_errors(model, chains)):
        assert g.dtype == np.dtype(dtype)
        assert np.all(np.abs(g - e) < 5 * se + 1e-5), f"grad_{name}: {g - e} vs se {se}"
    assert set(metrics) == {"mean_rmse", "variance_rmse"}


def test_cd_gradient_equals_the_exact_k_step_gradient_from_the_batch():
    """CD-k: the chains are the batch run k steps, so their law is the batch's hidden mixture run k - 1 hidden
    transitions (quadrature oracle); the batch holds every chain's start, so only the steps are noise."""
    model = random_grbm(3, 4, seed=19)
    batch = np.random.default_rng(20).standard_normal((CHAINS, 3)) * 1.3 + 0.4
    cfg = estimate(scheme="cd", k=2, batch_size=CHAINS, num_chains=None)
    trainer = GRBMTrainer(model, cfg, ChainStreams((9, 10)), None, np.random.default_rng(0))
    grads, _ = trainer.gradient(batch)
    chains = trainer.negative_chains(batch)  # another draw of the same law, only for the standard errors
    q = hidden_law_given(model, batch).mean(axis=0) @ hidden_transition(model)  # law of h_2
    pos, neg = data_statistics(model, batch), mixture_statistics(model, q)
    exact = (pos["vh"] - neg["vh"], pos["v"] - neg["v"], pos["h"] - neg["h"])
    for name, g, e, se in zip("wab", grads, exact, gradient_standard_errors(model, chains)):
        assert np.all(np.abs(g - e) < 5 * se + 1e-6), f"grad_{name}: {g - e} vs se {se}"


def test_pcd_gradient_at_equilibrium_equals_the_ml_gradient():
    model = random_grbm(3, 4, seed=16)
    cfg = estimate(scheme="pcd", k=2, init="gaussian", batch_size=64, num_chains=CHAINS)
    trainer = GRBMTrainer(model, cfg, ChainStreams((7, 8)), None, np.random.default_rng(0))
    assert trainer.chains.shape == (CHAINS, 3)
    gibbs_steps(model, trainer.chains, 30, trainer.streams, trainer.workspace)  # burn-in (mixes by t ~ 20)
    batch = np.random.default_rng(17).standard_normal((64, 3))
    grads, _ = trainer.gradient(batch)
    for name, g, e, se in zip("wab", grads, exact_gradient(model, batch),
                              gradient_standard_errors(model, trainer.chains)):
        assert np.all(np.abs(g - e) < 5 * se), f"grad_{name}: {g - e} vs se {se}"


def test_cd_starts_from_the_batch_and_data_init_draws_rows():
    model = random_grbm(3, 2, seed=18)
    data = np.random.default_rng(19).standard_normal((40, 3))
    trainer = GRBMTrainer(model, estimate(scheme="cd", k=1, batch_size=40, num_chains=7), ChainStreams((1, 1)), data,
                          np.random.default_rng(0))
    assert trainer.num_chains == 40
    chains = trainer.negative_chains(data)
    assert chains.shape == (40, 3) and not np.shares_memory(chains, data)
    # k = 1 from the batch equals one Gibbs step run by hand with the same streams.
    by_hand = data.copy()
    gibbs_steps(model, by_hand, 1, ChainStreams((1, 1)), GRBMWorkspace(model, 40))
    np.testing.assert_array_equal(chains, by_hand)
    rows = initial_states(model, 25, "data", 1.0, ChainStreams((1, 1)), np.random.default_rng(0), data=data)
    assert all(np.any(np.all(data == row, axis=1)) for row in rows)


@pytest.mark.parametrize("scheme", ["rdm", "cd", "pcd"])
def test_training_on_a_gaussian_mixture_learns_it(scheme):
    """2-D mixture of two clusters, in data units with means (100, -3) and stds (5, 0.2).

    Started with a wrong visible bias, 350 updates bring the chains'
    mean and variance errors down, raise the exact log-likelihood and match the
    exact model covariance to the data's; ``sample_grbm`` returns data units.
    """
    rng = np.random.default_rng(20)
    n = 4000
    z = rng.choice([-1.0, 1.0], size=(n, 1)) * [0.9, 0.9] + 0.4 * rng.standard_normal((n, 2))
    x = z * [5.0, 0.2] + [100.0, -3.0]
    model = GaussianBernoulliRBM.from_data(x, 4, rng=1, weight_scale=0.1, sigma=0.4)
    model.vbias[:] = [1.5, -1.0]
    data = model.standardise(x)
    cfg = estimate(scheme=scheme, k=10, batch_size=200, num_chains=1000)
    trainer = GRBMTrainer(model, cfg, ChainStreams((3, 4)), data, np.random.default_rng(2))
    ll_start = exact_log_likelihood(model, data)
    # lr 0.05, then 0.01 to damp the noise of the bias (its gradient carries 1 / sigma^2 = 6.25).
    history = [trainer.update(data[rng.choice(n, 200, replace=False)], 0.05 if u < 250 else 0.01)
               for u in range(350)]
    assert trainer.parameters_finite() and model.weight_matrix.dtype == np.float32
    first = {key: np.mean([h[key] for h in history[:5]]) for key in history[0]}
    last = {key: np.mean([h[key] for h in history[-50:]]) for key in history[0]}
    assert last["mean_rmse"] < 0.25 * first["mean_rmse"]
    assert last["variance_rmse"] < 0.25 * first["variance_rmse"]
    assert exact_log_likelihood(model, data) > ll_start + 2.0
    _, cov = exact_visible_moments(model)
    np.testing.assert_allclose(cov, np.cov(data.T.astype(np.float64), bias=True), atol=0.1)
    # The training process (p0 = N(0, 1), k = 10) run by sample_grbm, in data units.  (Margins over seeds
    # 20..23: ratios <= 0.12, log-likelihood gain >= 13, covariance error <= 0.05, sample means <= 0.07 std.)
    samples = sample_grbm(model, 20_000, 10, init="gaussian", rng=3).visible
    assert np.all(np.abs(samples.mean(axis=0) - [100.0, -3.0]) < 0.2 * np.array([5.0, 0.2]))


def test_parameters_finite_detects_divergence():
    model = random_grbm(3, 2, seed=21)
    trainer = GRBMTrainer(model, estimate(), ChainStreams((1, 1)), None, np.random.default_rng(0))
    assert trainer.parameters_finite()
    model.hbias[0] = np.inf
    assert not trainer.parameters_finite()


# --- model object ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_arrays_round_trip_and_copy(dtype):
    model = random_grbm(4, 3, seed=22, dtype=dtype)
    model.data_mean, model.data_std = np.arange(4.0), np.full(4, 2.0)
    model.process = {"scheme": "rdm", "k": 3, "init": "gaussian", "init_scale": 0.5}
    loaded = GaussianBernoulliRBM.from_arrays(model.to_arrays(), {"dtype": dtype, "training": model.process})
    assert loaded.dtype == np.dtype(dtype) and loaded.process == model.process
    for name, array in model.to_arrays().items():
        np.testing.assert_array_equal(getattr(loaded, name), array)
        assert getattr(loaded, name).dtype == array.dtype
    assert model.shape_metadata() == {"num_visibles": 4, "num_hiddens": 3}
    assert model.family == "gaussian_bernoulli_rbm"
    twin = model.copy()
    twin.weight_matrix += 1
    assert not np.array_equal(twin.weight_matrix, model.weight_matrix) and twin.dtype == model.dtype


@pytest.mark.parametrize("kwargs, match", [
    ({"sigma": [1.0, 0.0]}, "sigma"), ({"sigma": [1.0, -1.0]}, "sigma"), ({"sigma": [1.0]}, "sigma"),
    ({"vbias": [0.0]}, "vbias"), ({"hbias": [0.0, np.nan, 0.0]}, "hbias"),
    ({"weight_matrix": [[0.0, np.inf, 0.0], [0.0, 0.0, 0.0]]}, "weight_matrix"),
    ({"weight_matrix": np.zeros(3)}, "weight_matrix"), ({"data_std": [1.0, 0.0]}, "data_std"),
    ({"data_mean": [1.0, 2.0, 3.0]}, "data_mean"), ({"dtype": "float16"}, "dtype"),
])
def test_bad_parameters_are_refused(kwargs, match):
    args = {"weight_matrix": np.zeros((2, 3)), "vbias": np.zeros(2), "hbias": np.zeros(3), **kwargs}
    weight_matrix, vbias, hbias = args.pop("weight_matrix"), args.pop("vbias"), args.pop("hbias")
    with pytest.raises(ValueError, match=match):
        GaussianBernoulliRBM(weight_matrix, vbias, hbias, **args)


def test_bad_sampling_requests_are_refused():
    model = random_grbm(3, 2, seed=23)
    with pytest.raises(TypeError, match="model"):
        sample_grbm(object(), 10, 2)
    with pytest.raises(ValueError, match="steps"):
        sample_grbm(model, 10)
    with pytest.raises(ValueError, match="init"):
        sample_grbm(model, 10, 2, init="uniform")
    with pytest.raises(ValueError, match="init_scale"):
        sample_grbm(model, 10, 2, init_scale=0.0)
    with pytest.raises(ValueError, match="data"):
        sample_grbm(model, 10, 2, init="data", data=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="record"):
        sample_grbm(model, 10, 2, record=[3])
    with pytest.raises(ValueError, match="^x:"):
        model.standardise(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="num_hiddens"):
        exact_hidden_distribution(random_grbm(2, 17))
