"""Reference maths of the Bernoulli RBM against brute-force enumeration."""

import numpy as np
import pytest
from conftest import random_rbm

from bmsample import BernoulliRBM
from bmsample.rbm.model import (
    all_binary_states,
    data_distribution,
    exact_gibbs_transition,
    exact_log_partition,
    exact_statistics,
    exact_visible_distribution,
    state_index,
)


def test_free_energy_marginalises_the_energy(tiny_rbm):
    vs, hs = all_binary_states(4), all_binary_states(3)
    for v in vs:
        energies = tiny_rbm.energy(np.repeat(v[None], len(hs), 0), hs)
        assert tiny_rbm.free_energy(v[None])[0] == pytest.approx(-np.log(np.exp(-energies).sum()), abs=1e-12)


def test_log_partition_is_the_same_from_either_layer():
    wide, tall = random_rbm(3, 5, seed=1), random_rbm(5, 3, seed=2)
    for model in (wide, tall):
        vs, hs = all_binary_states(model.num_visibles), all_binary_states(model.num_hiddens)
        brute = np.log(sum(np.exp(-model.energy(np.repeat(v[None], len(hs), 0), hs)).sum() for v in vs))
        assert exact_log_partition(model) == pytest.approx(brute, abs=1e-12)


def test_conditionals_are_ratios_of_the_joint(tiny_rbm):
    v = all_binary_states(4)[5]
    hs = all_binary_states(3)
    joint = np.exp(-tiny_rbm.energy(np.repeat(v[None], len(hs), 0), hs))
    p_h1 = (joint[:, None] * hs).sum(0) / joint.sum()
    np.testing.assert_allclose(tiny_rbm.hidden_means(v[None])[0], p_h1, atol=1e-12)


def test_gibbs_transition_is_stochastic_and_leaves_p_invariant(tiny_rbm):
    T = exact_gibbs_transition(tiny_rbm)
    np.testing.assert_allclose(T.sum(1), 1, atol=1e-12)
    p = exact_visible_distribution(tiny_rbm)
    np.testing.assert_allclose(p @ T, p, atol=1e-12)


def test_state_index_inverts_enumeration():
    vs = all_binary_states(6)
    np.testing.assert_array_equal(state_index(vs), np.arange(64))
    np.testing.assert_allclose(data_distribution(vs[[1, 1, 3]], 6)[[1, 3]], [2 / 3, 1 / 3])


def test_exact_statistics_of_a_point_mass(tiny_rbm):
    q = np.zeros(16)
    q[9] = 1.0
    stats = exact_statistics(tiny_rbm, q)
    v = all_binary_states(4)[9]
    np.testing.assert_allclose(stats["v"], v)
    np.testing.assert_allclose(stats["vh"], np.outer(v, tiny_rbm.hidden_means(v[None])[0]))


def test_initialisation_from_data():
    data = np.zeros((10, 3))
    data[:5, 1] = 1
    model = BernoulliRBM.from_data(data, 4, rng=0)
    assert model.dtype == np.float32 and model.weight_matrix.shape == (3, 4)
    assert np.all(model.hbias == 0) and np.abs(model.weight_matrix).max() < 0.1
    # always-0 pixel: clipped to 1e-3, finite bias; half-on pixel: bias 0.
    assert model.vbias[0] == pytest.approx(np.log(1e-3 / (1 - 1e-3)), rel=1e-6)
    assert model.vbias[1] == pytest.approx(0, abs=1e-7)


def test_float64_is_preserved():
    model = BernoulliRBM.from_data(np.eye(3), 2, dtype="float64")
    assert model.weight_matrix.dtype == model.vbias.dtype == model.hbias.dtype == np.float64


@pytest.mark.parametrize("kwargs, match", [
    ({"vbias": np.zeros(2)}, "vbias"),
    ({"hbias": np.zeros(5)}, "hbias"),
    ({"dtype": "float16"}, "dtype"),
])
def test_model_rejects_inconsistent_parameters(kwargs, match):
    args = {"weight_matrix": np.zeros((3, 2)), "vbias": np.zeros(3), "hbias": np.zeros(2), **kwargs}
    with pytest.raises(ValueError, match=match):
        BernoulliRBM(args.pop("weight_matrix"), args.pop("vbias"), args.pop("hbias"), **args)
