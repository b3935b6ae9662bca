"""Parallel tempering against exact enumeration: every replica's law, the swap rule, determinism and resume."""

import itertools

import numpy as np
import pytest
from conftest import chi_square_ok, needs_two_threads, random_rbm

import bmsample
from bmsample import BernoulliRBM, GaussianBernoulliRBM, IsingModel, families
from bmsample.grbm.model import exact_visible_moments
from bmsample.tempering import check_betas, parallel_tempering, swap_probabilities


def binary_states(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.float64)


def rbm_log_weights(model, beta, states, base_vbias):
    """Exact log p*_beta(v) of the RBM path, by its formula."""
    W, a, b = (np.asarray(x, np.float64) for x in (model.weight_matrix, model.vbias, model.hbias))
    return beta * states @ a + (1 - beta) * states @ base_vbias + np.logaddexp(0, beta * (states @ W + b)).sum(1)


def ising_log_weights(model, beta, spins, base_field):
    return -beta * model.energy(spins) + (1 - beta) * spins @ base_field


def normalised(log_weights):
    p = np.exp(log_weights - log_weights.max())
    return p / p.sum()


def state_counts(samples, states):
    index = {tuple(s): i for i, s in enumerate(states)}
    counts = np.zeros(len(states))
    for row in np.asarray(samples, np.float64):
        counts[index[tuple(row)]] += 1
    return counts


def bimodal_rbm():
    """8 visibles, two hidden units pulling towards all-on and all-off: modes of mass 0.87 and 0.13.

    From |v| <= 3, P(v_i = 1 | h) = sigmoid(-4) = 0.018: plain Gibbs leaves its mode about once in 10^5 steps.
    """
    n, w = 8, 4.0
    weights = np.zeros((n, 2))
    weights[:, 0], weights[:, 1] = w, -w
    return BernoulliRBM(weights, np.full(n, 0.25), np.array([-w * n / 2, w * n / 2]), dtype="float64")


def bimodal_ising():
    """8 spins, J = 0.6 between all pairs, h = 0.08: the up mode holds 0.78 of the mass, a barrier of e^-16."""
    n = 8
    coupling = np.full((n, n), 0.6) - 0.6 * np.eye(n)
    return IsingModel(coupling, np.full(n, 0.08), dtype="float64")


def class_counts(values, num_classes):
    return np.bincount(np.asarray(values, np.int64), minlength=num_classes).astype(np.float64)


def test_rbm_every_replica_matches_its_exact_law_where_plain_gibbs_stays_in_one_mode():
    model = bimodal_rbm()
    states = binary_states(8)
    ones = states.sum(1).astype(int)
    result = parallel_tempering(model, num_chains=2000, sweeps=300, replicas=6, rng=11)
    for r, beta in enumerate(result.betas):
        exact = normalised(rbm_log_weights(model, beta, states, model.vbias.astype(np.float64)))
        law = np.bincount(ones, weights=exact, minlength=9)
        stat, dof, ok = chi_square_ok(class_counts(result.replica_states[r].sum(1), 9), law)
        assert ok, (r, beta, stat, dof)
    up = np.bincount(ones, weights=normalised(rbm_log_weights(model, 1.0, states, np.zeros(8))), minlength=9)[5:].sum()
    gibbs = bmsample.sample(model, 2000, 2000, init="uniform", rng=11).visible
    # Plain Gibbs from noise keeps the split of its first steps: z far beyond any sampling error.
    assert abs((gibbs.sum(1) >= 5).mean() - up) > 10 * np.sqrt(up * (1 - up) / 2000)
    assert abs((result.visible.sum(1) >= 5).mean() - up) < 4 * np.sqrt(up * (1 - up) / 2000)


def test_ising_every_replica_matches_its_exact_law_where_plain_sweeps_stay_in_one_mode():
    model = bimodal_ising()
    spins = 2 * binary_states(8) - 1
    ups = ((spins.sum(1) + 8) // 2).astype(int)
    result = parallel_tempering(model, num_chains=2000, sweeps=300, replicas=8, rng=5)
    for r, beta in enumerate(result.betas):
        law = np.bincount(ups, weights=normalised(ising_log_weights(model, beta, spins, np.zeros(8))), minlength=9)
        stat, dof, ok = chi_square_ok(class_counts((result.replica_states[r].sum(1) + 8) // 2, 9), law)
        assert ok, (r, beta, stat, dof)
    up = np.bincount(ups, weights=normalised(ising_log_weights(model, 1.0, spins, np.zeros(8))), minlength=9)[5:].sum()
    plain = bmsample.sample(model, 2000, 2000, init="uniform", sampler="heat-bath", rng=5).visible
    assert abs((plain.sum(1) > 0).mean() - up) > 10 * np.sqrt(up * (1 - up) / 2000)


@pytest.mark.parametrize("family", ["rbm", "ising"])
def test_random_tiny_model_replicas_match_their_exact_law_state_by_state(family):
    """Random parameters and a data base law, so that a unit-indexing error cannot hide behind symmetry."""
    rng = np.random.default_rng(3)
    if family == "rbm":
        model = random_rbm(4, 3, scale=1.5, seed=4, dtype="float64")
        model.data_means = np.array([0.2, 0.7, 0.5, 0.9])
        states = binary_states(4)
        base = families.named("rbm").tempering(model, base="data").base_vbias64
        log_weights = lambda beta: rbm_log_weights(model, beta, states, base)  # noqa: E731
    else:
        upper = np.triu(rng.normal(0, 0.8, (4, 4)), 1)
        model = IsingModel(upper + upper.T, rng.normal(0, 0.5, 4), dtype="float64",
                           data_magnetisation=np.array([0.5, -0.3, 0.1, 0.8]))
        states = 2 * binary_states(4) - 1
        base = families.named("ising").tempering(model, base="data").base64
        log_weights = lambda beta: ising_log_weights(model, beta, states, base)  # noqa: E731
    result = parallel_tempering(model, num_chains=4000, sweeps=60, betas=[1.0, 0.6, 0.25, 0.0], rng=8)
    for r, beta in enumerate(result.betas):
        stat, dof, ok = chi_square_ok(state_counts(result.replica_states[r], states), normalised(log_weights(beta)))
        assert ok, (r, beta, stat, dof)


def test_grbm_replicas_match_the_exact_moments_of_their_tempered_models():
    rng = np.random.default_rng(2)
    model = GaussianBernoulliRBM(rng.normal(0, 1.2, (3, 2)), rng.normal(0, 0.5, 3), rng.normal(0, 0.5, 2),
                                 sigma=np.array([0.7, 1.0, 1.3]), dtype="float64")
    num_chains = 4000
    result = parallel_tempering(model, num_chains=num_chains, sweeps=40, betas=[1.0, 0.5, 0.0], rng=1)
    standardised = model.standardise(result.replica_states.reshape(-1, 3)).reshape(3, num_chains, 3)
    for r, beta in enumerate(result.betas):
        tempered = GaussianBernoulliRBM(beta * model.weight_matrix, beta * model.vbias, beta * model.hbias,
                                        sigma=model.sigma, dtype="float64")
        mean, covariance = exact_visible_moments(tempered)
        error = np.sqrt(np.diag(covariance) / num_chains)
        assert np.all(np.abs(standardised[r].mean(0) - mean) < 5 * error), (r, beta)


@pytest.mark.parametrize("family", ["rbm", "grbm", "ising"])
def test_swap_energies_equal_the_exact_log_weights_up_to_a_constant(family):
    """The kernel's log p*_beta from the step's fields, against the formula, at every state and two betas."""
    rng = np.random.default_rng(7)
    if family == "rbm":
        model = random_rbm(5, 3, scale=1.0, seed=1, dtype="float64")
        states = binary_states(5)
        process = families.named("rbm").tempering(model, base="data")
        exact = lambda beta: rbm_log_weights(model, beta, states, process.base_vbias64)  # noqa: E731
    elif family == "grbm":
        model = GaussianBernoulliRBM(rng.normal(0, 1, (3, 2)), rng.normal(0, 1, 3), rng.normal(0, 1, 2),
                                     sigma=np.array([0.5, 1.0, 2.0]), dtype="float64")
        states = rng.normal(0, 1, (50, 3))
        process = families.named("gaussian-rbm").tempering(model, base="data")

        def exact(beta):  # the visible law of GRBM(beta W, beta a, beta b) at a0 = 0, sigma fixed
            s = model.sigma
            x = (states / s) @ (beta * model.weight_matrix) + beta * model.hbias
            return -np.sum((states - beta * model.vbias) ** 2 / (2 * s**2), 1) + np.logaddexp(0, x).sum(1)
    else:
        upper = np.triu(rng.normal(0, 1, (5, 5)), 1)
        model = IsingModel(upper + upper.T, rng.normal(0, 1, 5), dtype="float64",
                           data_magnetisation=rng.uniform(-0.9, 0.9, 5))
        states = 2 * binary_states(5) - 1
        process = families.named("ising").tempering(model, base="data")
        exact = lambda beta: ising_log_weights(model, beta, states, process.base64)  # noqa: E731
    state = np.ascontiguousarray(states, dtype=np.float64)
    workspace = process.workspace(len(state))
    for beta, new_beta in [(1.0, 0.7), (0.0, 0.3)]:
        betas = np.full(len(state), beta)
        got = process.prepare(state, workspace, True, betas, np.full(len(state), new_beta)).copy()
        difference = got - (exact(new_beta) - exact(beta))
        # A swap needs the gap of every state up to one constant; it is 0 where no term is left out.
        np.testing.assert_allclose(difference, difference[0] if family == "grbm" else 0.0, atol=1e-9)
        assert not np.any(process.prepare(state, workspace, True, betas, betas))


@pytest.mark.parametrize("num_hiddens", [1, 16, 37, 500])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rbm_swap_gaps_of_wide_hidden_layers_to_float_rounding(num_hiddens, dtype):
    """The gap sums log ratios 16 at a time (one logarithm per product): every width that leaves a remainder,
    against the float64 formula; float32 within the rounding of its field and of 500 terms."""
    model = random_rbm(20, num_hiddens, scale=1.5, seed=num_hiddens, dtype=dtype)
    process = families.named("rbm").tempering(model, base="data")
    states = (np.random.default_rng(3).random((9, 20)) < 0.5).astype(dtype)
    betas = np.linspace(0.0, 1.0, 9)
    new_betas = betas[::-1].copy()
    got = process.prepare(states, process.workspace(9), True, betas, new_betas).copy()
    exact = np.array([rbm_log_weights(model, nb, states[i:i + 1].astype(np.float64), process.base_vbias64)[0]
                      - rbm_log_weights(model, b, states[i:i + 1].astype(np.float64), process.base_vbias64)[0]
                      for i, (b, nb) in enumerate(zip(betas, new_betas))])
    scale = 1.0 + np.abs(states.astype(np.float64) @ model.weight_matrix.astype(np.float64)).sum(1)
    tolerance = (64 * np.finfo(dtype).eps) * (scale + num_hiddens)
    assert np.all(np.abs(got - exact) <= tolerance) and got[4] == 0.0


def test_swap_probability_is_the_metropolis_ratio_and_the_accepted_fraction_follows_it():
    # p*_r(x_r) = 0.2, p*_s(x_r) = 0.05, p*_s(x_s) = 0.1, p*_r(x_s) = 0.3: ratio 0.3 * 0.05 / (0.2 * 0.1) = 0.75;
    # a second pair more likely swapped (ratio 1.5) is always accepted.
    gaps = np.log(np.array([[0.05 / 0.2, 1.5], [0.3 / 0.1, 1.0]]))
    np.testing.assert_allclose(swap_probabilities(gaps), [0.75, 1.0])
    result = parallel_tempering(random_rbm(4, 3, scale=1.0, seed=2), num_chains=500, sweeps=400,
                                betas=[1.0, 0.5, 0.0], rng=4)
    proposals = 500 * 200  # each pair proposes on every other sweep
    p = result.swap_probability
    assert np.all(np.abs(result.acceptance - p) < 5 * np.sqrt(p * (1 - p) / proposals))


def test_auto_ladder_equalises_the_swap_probability_near_the_target():
    result = parallel_tempering(bimodal_rbm(), num_chains=500, sweeps=400, rng=2)
    probability = result.swap_probability
    assert result.warmup == 496 and result.tuning and result.tuning[0]["sweeps"] == 16
    assert probability.max() - probability.min() < 0.1, probability
    assert 0.15 < probability.mean() < 0.6, probability
    fixed = parallel_tempering(bimodal_rbm(), num_chains=500, sweeps=400, replicas=10, rng=2)
    assert fixed.betas.size == 10 and np.ptp(fixed.swap_probability) < 0.1, fixed.swap_probability


def test_round_trips_and_replica_history_agree():
    result = parallel_tempering(bimodal_ising(), num_chains=50, sweeps=300, betas=[1.0, 0.7, 0.4, 0.0],
                                record_replicas=True, rng=3)
    history = result.replica_history
    assert history.shape == (301, 4, 50)
    # Every sweep the replicas of a column are a permutation, and each walker moves by at most one replica.
    assert np.all(np.sort(history, axis=1) == np.arange(4)[None, :, None])
    assert np.abs(np.diff(history.astype(int), axis=0)).max() <= 1
    trips = 0
    for walker in history.reshape(301, -1).T:
        ends = walker[np.isin(walker, (0, 3))]
        ends = ends[np.concatenate([[True], ends[1:] != ends[:-1]])]  # alternating 0 / 3 visits
        if ends.size and ends[0] == 3:
            ends = ends[1:]
        trips += max(0, (ends.size - 1) // 2)
    assert trips == result.round_trips > 0


def test_resume_continues_bit_for_bit():
    model = random_rbm(6, 4, scale=1.0, seed=3, dtype="float32")
    whole = parallel_tempering(model, num_chains=30, sweeps=40, betas=[1.0, 0.5, 0.0], rng=9)
    first = parallel_tempering(model, num_chains=30, sweeps=15, betas=[1.0, 0.5, 0.0], rng=9)
    arrays, metadata = first.state.to_arrays()
    again = type(first.state).from_arrays(arrays, metadata)
    rest = parallel_tempering(model, sweeps=25, resume=again)
    np.testing.assert_array_equal(rest.replica_states, whole.replica_states)
    np.testing.assert_array_equal(rest.state.rows, whole.state.rows)


@needs_two_threads
@pytest.mark.parametrize("make", [lambda: random_rbm(20, 12, scale=0.5, seed=1, dtype="float32"), bimodal_ising])
def test_same_seed_same_chains_with_one_or_two_threads(make):
    runs = []
    for threads in (1, 2):
        bmsample.set_num_threads(threads)
        runs.append(parallel_tempering(make(), num_chains=40, sweeps=30, replicas=4, warmup=32, rng=6))
    bmsample.set_num_threads(2)
    np.testing.assert_array_equal(runs[0].replica_states, runs[1].replica_states)
    np.testing.assert_array_equal(runs[0].betas, runs[1].betas)


@pytest.mark.parametrize("kwargs, message", [
    ({"betas": [1.0, 0.2, 0.5]}, "strictly decreasing"),
    ({"betas": [1.0, 0.5, -0.1]}, r"lie in \[0, 1\]"),
    ({"betas": [0.9, 0.5]}, "start at beta = 1"),
    ({"betas": [1.0]}, "at least 2"),
    ({"betas": "fast"}, "'auto' or an array"),
    ({"replicas": 1}, ">= 2"),
    ({"replicas": 3, "betas": [1.0, 0.0]}, "disagrees"),
    ({"target_acceptance": 1.0}, "target_acceptance"),
    ({"base": "zeros"}, "base"),
    ({"sweeps": -1}, "sweeps"),
    ({"record": [5000]}, "record"),
])
def test_bad_ladders_get_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        parallel_tempering(random_rbm(3, 2), **kwargs)


def test_families_without_tempering_and_bad_resumes_are_refused():
    from bmsample import GaussianModel

    with pytest.raises(ValueError, match="not available"):
        parallel_tempering(GaussianModel(np.eye(2), np.zeros(2)))
    first = parallel_tempering(random_rbm(3, 2), num_chains=5, sweeps=2, betas=[1.0, 0.0], rng=1)
    with pytest.raises(ValueError, match="do not fit this model"):
        parallel_tempering(random_rbm(4, 2), sweeps=2, resume=first.state)
    with pytest.raises(ValueError, match="give no replicas"):
        parallel_tempering(random_rbm(3, 2), sweeps=2, resume=first.state, replicas=2)
    with pytest.raises(ValueError, match="strictly decreasing"):
        check_betas(np.array([1.0, 1.0]))
