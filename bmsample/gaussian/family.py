"""The Gaussian energy model as a ``bmsample.families.Family``."""

import numpy as np

from .._validation import check_matrix_memory, check_real_data
from ..families import Family, lazy
from .model import GaussianModel
from .sample import INITS, SAMPLERS, GaussianChains, default_init
from .train import GaussianTrainer

_DEVICE_TRAINER = lazy("bmsample.gaussian.device:GaussianDeviceTrainer")
#: p0 laws of its training, the default first.
P0_LAWS = ("uniform", "zeros", "gaussian", "data")
assert set(P0_LAWS) == set(INITS)


def _new_model(config, data, rng):
    return GaussianModel.from_data(data, dtype=config.dtype)


def _comparable_data(model, data):
    return check_real_data(data, "data", model.num_visibles, "float64")


def _log_likelihood(model, data, method, ais_chains, ais_betas, rng):
    """Exact: the Gaussian density of the equilibrium law (J positive definite)."""
    if method == "ais":
        raise ValueError("method: AIS is implemented for Bernoulli RBMs only")
    mean, covariance = model.equilibrium_moments()
    centred = data - mean
    _, log_det = np.linalg.slogdet(covariance)
    quadratic = np.einsum("ni,ij,nj->n", centred, np.linalg.inv(covariance), centred)
    value = -0.5 * (quadratic + log_det + model.num_units * np.log(2 * np.pi))
    return {"method": "exact", "log_likelihood": float(np.mean(value))}


def _predicted_spectrum(model, data):
    """The Rdm-k spectrum predicted for ``data`` (theory.md section 2) and the model's J along the same axes."""
    from ..theory import predict_model_process

    return predict_model_process(model, data)


def _random_model(num_units, num_hiddens, dtype, rng):
    check_matrix_memory(num_units, num_units, dtype, "visibles", "coupling matrix")
    a = rng.standard_normal((num_units, num_units)) / np.sqrt(num_units)
    return GaussianModel(a @ a.T + np.eye(num_units), np.zeros(num_units), dtype=dtype)


def _trainer(model, estimate, streams, data, generator, device, **settings):
    return (_DEVICE_TRAINER if device.is_cuda else GaussianTrainer)(model, estimate, streams, data, generator,
                                                                    **settings)


FAMILIES = (Family(name="gaussian", model_class=GaussianModel, units="finite reals", p0_laws=P0_LAWS,
                   samplers=tuple(SAMPLERS), check_data=check_real_data, new_model=_new_model, trainer=_trainer,
                   chains=GaussianChains, label="a Gaussian", sample_inits=INITS,
                   default_sample_init=lambda model, chains: default_init(model),
                   sample_options=("init_scale", "sampler", "step_size", "temperature", "record_moments"),
                   comparable_data=_comparable_data, log_likelihood=_log_likelihood,
                   process_settings=("init_scale", "step_size", "temperature"),
                   trainer_settings=("step_size", "temperature"), random_model=_random_model,
                   predicted_spectrum=_predicted_spectrum),)
