"""The Gaussian-Bernoulli RBM as a ``bmsample.families.Family``."""

import numpy as np

from .._validation import check_matrix_memory, check_real_data
from ..families import Family, lazy
from .model import GaussianBernoulliRBM
from .sample import INITS, GRBMChains, default_process
from .train import GRBMTrainer

_DEVICE_TRAINER = lazy("bmsample.grbm.device:GRBMDeviceTrainer")
#: p0 laws of its training (standardised units), the default first.
P0_LAWS = ("gaussian", "zeros", "data")
assert set(P0_LAWS) == set(INITS)


def _new_model(config, data, rng):
    return GaussianBernoulliRBM.from_data(data, config.num_hiddens, rng=rng, dtype=config.dtype,
                                          weight_scale=config.weight_scale, sigma=config.sigma)


def _training_data(model, data):
    """Trained in standardised units (the model records the standardisation)."""
    return np.ascontiguousarray(model.standardise(data), dtype=model.dtype)


def _comparable_data(model, data):
    return check_real_data(data, "data", model.num_visibles, "float64")


def _log_likelihood(model, data, method, ais_chains, ais_betas, rng):
    """Exact, summing over the 2**num_hiddens hidden states, in data units."""
    from .model import MAX_EXACT_HIDDENS, exact_log_likelihood

    if method == "ais":
        raise ValueError("method: AIS is implemented for Bernoulli RBMs only")
    if model.num_hiddens > MAX_EXACT_HIDDENS:
        raise ValueError(f"model: exact log-likelihood needs at most {MAX_EXACT_HIDDENS} hidden units")
    # The density of z = (x - mean) / std, times the Jacobian 1 / prod(std).
    value = exact_log_likelihood(model, model.standardise(data)) - np.sum(np.log(model.data_std))
    return {"method": "exact", "log_likelihood": float(value)}


def _random_model(num_visibles, num_hiddens, dtype, rng):
    check_matrix_memory(num_visibles, num_hiddens, dtype, "hiddens", "weight matrix")
    return GaussianBernoulliRBM(rng.standard_normal((num_visibles, num_hiddens)) * 0.05,
                                rng.standard_normal(num_visibles) * 0.1, np.zeros(num_hiddens), dtype=dtype)


def _trainer(model, estimate, streams, data, generator, device, **settings):
    return (_DEVICE_TRAINER if device.is_cuda else GRBMTrainer)(model, estimate, streams, data, generator, **settings)


FAMILIES = (Family(name="gaussian-rbm", model_class=GaussianBernoulliRBM, units="finite reals", p0_laws=P0_LAWS,
                   samplers=("block-gibbs",), check_data=check_real_data, new_model=_new_model, trainer=_trainer,
                   chains=GRBMChains, label="a Gaussian-Bernoulli RBM",
                   sample_inits=INITS, default_sample_init=lambda model, chains: default_process(model)[0],
                   sample_options=("init_scale",), comparable_data=_comparable_data,
                   log_likelihood=_log_likelihood, process_settings=("init_scale", "l2", "sigma"),
                   trainer_settings=("l2",),
                   training_data=_training_data, image_values=lambda states: states,
                   random_model=_random_model, tempering=lazy("bmsample.grbm.tempering:GRBMTempered")),)
