"""Every family's trainer, every scheme: the package's gradient estimate against the exact gradient.

The estimates come from the trainers themselves (``trainer.gradient``) with many chains; the oracles are
closed forms (Gaussian model: the k-step moment recursions of Langevin and coordinate Gibbs) or exact
enumeration (Ising spins, Bernoulli RBM).  The positive phase is exact on the batch that the trainer is
given, so the tolerances are 5 standard errors of the chains' part, from the exact chain law.  The
Gaussian-Bernoulli RBM's schemes are in ``test_grbm.py``, the plain RBM's Rdm-k and CD-k in
``test_training.py``.
"""

import numpy as np
import pytest
from conftest import random_rbm

from bmsample._rng import ChainStreams, seed_sequence
from bmsample.gaussian.model import GaussianModel, exact_gibbs_moments, exact_langevin_moments
from bmsample.gaussian.train import GaussianTrainer
from bmsample.ising import exact
from bmsample.ising.model import IsingModel
from bmsample.ising.train import IsingTrainer
from bmsample.rbm.model import (
    data_distribution,
    exact_process_distribution,
    exact_statistics,
    state_index,
)
from bmsample.rbm.train import RBMTrainer
from bmsample.training import TrainingConfig

CHAINS = 200_000


def _streams(seed):
    return ChainStreams.from_seed_sequence(seed_sequence(seed))


# --- Gaussian model: grad_J = -1/2 (<x x^T>_data - <x x^T>_chains), grad_h = <x>_data - <x>_chains -----------

def _gaussian_model():
    rng = np.random.default_rng(31)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    return GaussianModel(q @ np.diag([0.6, 1.0, 2.5]) @ q.T, rng.standard_normal(3), dtype="float64")


def _exact_gaussian_gradient(batch, mean, covariance):
    second = covariance + np.outer(mean, mean)
    return -0.5 * (batch.T @ batch / len(batch) - second), batch.mean(axis=0) - mean


def _gaussian_standard_errors(mean, covariance, num_chains):
    """sd of the chains' part of (grad_J, grad_h): Var(x_i x_j) of N(m, C), times 1/2 for grad_J."""
    c, m = covariance, mean
    d = np.diag(c)
    var_xx = np.outer(d, d) + c**2 + np.outer(m**2, d) + np.outer(d, m**2) + 2 * np.outer(m, m) * c
    return 0.5 * np.sqrt(var_xx / num_chains), np.sqrt(d / num_chains)


def _empirical_moments(x):
    mean = x.mean(axis=0)
    return mean, (x - mean).T @ (x - mean) / len(x)


def _chain_moments(model, start_mean, start_covariance, cfg):
    if cfg.sampler == "langevin":
        return exact_langevin_moments(model, start_mean, start_covariance, cfg.k, cfg.step_size)
    return exact_gibbs_moments(model, start_mean, start_covariance, cfg.k)


@pytest.mark.parametrize("scheme, sampler", [("rdm", "langevin"), ("rdm", "gibbs"), ("cd", "langevin"),
                                             ("cd", "gibbs"), ("pcd", "langevin")])
def test_gaussian_trainer_gradient_is_the_exact_one(scheme, sampler):
    """Rdm-k from p0 = N(0, 0.7^2 I); CD-k from the batch; PCD-k from the trainer's current chains. Doubling
    the J gradient, or its sign, or running k - 1 steps, is many standard errors off."""
    model, rng = _gaussian_model(), np.random.default_rng(32)
    batch_size = CHAINS if scheme == "cd" else 500
    batch = rng.standard_normal((batch_size, 3)) * [1.2, 0.8, 1.5] + [0.3, -0.5, 1.0]
    cfg = TrainingConfig(model="gaussian", scheme=scheme, sampler=sampler, k=4, step_size=0.1, init="gaussian",
                         init_scale=0.7, batch_size=batch_size, num_chains=CHAINS, dtype="float64",
                         seed=0).validated()
    trainer = GaussianTrainer(model, cfg.estimate(), _streams(33), batch, np.random.default_rng(0), step_size=0.1)
    if scheme == "rdm":
        start = (np.zeros(3), 0.49 * np.eye(3))
    elif scheme == "cd":
        start = _empirical_moments(batch)
    else:
        start = _empirical_moments(trainer.chains)  # the chains the next update continues
    (grad_j, grad_h), _ = trainer.gradient(batch)
    mean, covariance = _chain_moments(model, *start, cfg)
    exact_j, exact_h = _exact_gaussian_gradient(batch, mean, covariance)
    se_j, se_h = _gaussian_standard_errors(mean, covariance, CHAINS)
    assert np.all(np.abs(grad_j - exact_j) < 5 * se_j), (grad_j - exact_j) / se_j
    assert np.all(np.abs(grad_h - exact_h) < 5 * se_h), (grad_h - exact_h) / se_h
    np.testing.assert_array_equal(grad_j, grad_j.T)


# --- Ising spins: grad_J = <s s^T>_data - <s s^T>_chains (zero diagonal), grad_h = <s>_data - <s>_chains ------

def _ising_model():
    rng = np.random.default_rng(41)
    J = np.triu(rng.standard_normal((4, 4)) * 0.7, 1)
    return IsingModel(J + J.T, rng.standard_normal(4) * 0.5, dtype="float64")


def _spin_law(spins):
    """Empirical law of +-1 rows over ``exact.all_spin_states`` order."""
    law = np.bincount(state_index((spins + 1) // 2), minlength=2 ** spins.shape[1]).astype(np.float64)
    return law / law.sum()


@pytest.mark.parametrize("sampler", ["heat-bath", "random-site", "metropolis"])
@pytest.mark.parametrize("scheme", ["rdm", "cd", "pcd"])
def test_ising_trainer_gradient_is_the_exact_one(scheme, sampler):
    """Chains' law by exact enumeration of k sweeps from p0 (uniform), the batch, or the current PCD chains;
    every moment is in [-1, 1], so 5 / sqrt(chains) bounds 5 standard errors."""
    model, rng = _ising_model(), np.random.default_rng(42)
    batch_size = CHAINS if scheme == "cd" else 400
    batch = np.where(rng.random((batch_size, 4)) < [0.7, 0.4, 0.5, 0.8], 1.0, -1.0)
    cfg = TrainingConfig(model="ising", scheme=scheme, sampler=sampler, k=2, init="uniform",
                         batch_size=batch_size, num_chains=CHAINS, dtype="float64", seed=0).validated()
    trainer = IsingTrainer(model, cfg.estimate(), _streams(43), batch)
    start = {"rdm": lambda: exact.uniform_distribution(4), "cd": lambda: _spin_law(batch),
             "pcd": lambda: _spin_law(trainer.chains)}[scheme]()
    J, h = model.coupling_matrix, model.field
    (grad_j, grad_h), _ = trainer.gradient(batch)
    exact_j, exact_h = exact.exact_gradient(J, h, _spin_law(batch), exact.distribution_after(start, J, h, 2,
                                                                                             sampler))
    assert np.max(np.abs(grad_j - exact_j)) < 5 / np.sqrt(CHAINS)
    assert np.max(np.abs(grad_h - exact_h)) < 5 / np.sqrt(CHAINS)
    assert np.all(np.diag(grad_j) == 0)


# --- Bernoulli RBM: PCD-k, and the centred gradient -------------------------------------------------------

NV, NH, K = 4, 3, 2


def _rbm_terms(model, law):
    s = exact_statistics(model, law)
    return s["vh"], s["v"], s["h"]


def test_rbm_pcd_gradient_is_the_exact_one_from_the_current_chains():
    model = random_rbm(NV, NH, scale=1.0, seed=51)
    rng = np.random.default_rng(52)
    batch = (rng.random((500, NV)) < [0.2, 0.7, 0.5, 0.9]).astype(np.float64)
    cfg = TrainingConfig(num_hiddens=NH, scheme="pcd", k=K, batch_size=500, num_chains=CHAINS, dtype="float64",
                         seed=0).validated()
    trainer = RBMTrainer(model, cfg.estimate(), _streams(53))
    start = data_distribution(trainer.chains, NV)
    (gw, ga, gb), _ = trainer.gradient(batch)
    pos, neg = _rbm_terms(model, data_distribution(batch, NV)), _rbm_terms(
        model, exact_process_distribution(model, start, K))
    for estimate, p, n in zip((gw, ga, gb), pos, neg):  # |v P(h|v)| <= 1: sd <= 0.5 / sqrt(chains)
        assert np.max(np.abs(estimate - (p - n))) < 5 * 0.5 / np.sqrt(CHAINS)


def test_centred_rbm_gradient_is_the_exact_centred_one():
    """With offsets mu (visible) and lam (hidden): grad_W = D_vh - mu D_h^T - D_v lam^T, grad_a = D_v - grad_W
    lam, grad_b = D_h - mu^T grad_W, where D are the data-minus-chains differences of the uncentred
    statistics.  Dropping either correction moves its term past the bound."""
    chains = 1_000_000
    model = random_rbm(NV, NH, scale=1.0, seed=54)
    rng = np.random.default_rng(55)
    batch = (rng.random((500, NV)) < [0.05, 0.95, 0.9, 0.05]).astype(np.float64)
    model.data_means = np.array([0.15, 0.75, 0.55, 0.35])
    cfg = TrainingConfig(num_hiddens=NH, scheme="rdm", k=K, init="uniform", batch_size=500, num_chains=chains,
                         centered=True, dtype="float64", seed=0).validated()
    trainer = RBMTrainer(model, cfg.estimate(), _streams(56), centered=True)
    mu, lam = trainer.visible_offset.copy(), trainer.hidden_offset.copy()
    assert np.allclose(mu, model.data_means) and np.all(lam > 0)
    (gw, ga, gb), _ = trainer.gradient(batch)
    uniform = np.full(2**NV, 1 / 2**NV)
    pos = _rbm_terms(model, data_distribution(batch, NV))
    neg = _rbm_terms(model, exact_process_distribution(model, uniform, K))
    d_vh, d_v, d_h = (p - n for p, n in zip(pos, neg))
    exact_w = d_vh - np.outer(mu, d_h) - np.outer(d_v, lam)
    exact_a, exact_b = d_v - exact_w @ lam, d_h - mu @ exact_w
    # Linear maps of the uncentred chain means (each in [0, 1]: 5 sd <= 2.5 / sqrt(chains)), bounded term by term.
    five_sd = 2.5 / np.sqrt(chains)
    bound_w = five_sd * (1 + mu.max() + lam.max())
    bound_a, bound_b = five_sd + NH * lam.max() * bound_w, five_sd + NV * mu.max() * bound_w
    assert np.max(np.abs(gw - exact_w)) < bound_w
    assert np.max(np.abs(ga - exact_a)) < bound_a and np.max(np.abs(gb - exact_b)) < bound_b
    assert np.max(np.abs(exact_w @ lam)) > 1.1 * bound_a and np.max(np.abs(mu @ exact_w)) > 1.1 * bound_b
