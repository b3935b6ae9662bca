"""The Bernoulli RBM as a ``bmsample.families.Family``."""

import numpy as np

from .._validation import check_binary_data, check_matrix_memory
from ..families import Family, lazy
from .model import BernoulliRBM
from .sample import INITS, RBMChains, default_process
from .train import RBMTrainer

_DEVICE_TRAINER = lazy("bmsample.rbm.device:RBMDeviceTrainer")


def _new_model(config, data, rng):
    return BernoulliRBM.from_data(data, config.num_hiddens, rng=rng, dtype=config.dtype,
                                  weight_scale=config.weight_scale)


def _comparable_data(model, data):
    return check_binary_data(data, "data", model.num_visibles, "float64")


def _log_likelihood(model, data, method, ais_chains, ais_betas, rng):
    """Exact when the smaller layer has at most 20 units (or ``method="exact"``), else AIS."""
    from . import likelihood

    if method == "exact" or (method == "auto" and min(model.num_visibles, model.num_hiddens) <= 20):
        return {"method": "exact", "log_likelihood": float(likelihood.exact_log_likelihood(model, data))}
    result = likelihood.ais_log_likelihood(model, data, num_chains=ais_chains, num_betas=ais_betas, rng=rng)
    return {"method": "ais", "log_likelihood": result.log_likelihood, "std_error": result.std_error,
            "log_z": result.ais.log_z}


def _random_model(num_visibles, num_hiddens, dtype, rng):
    check_matrix_memory(num_visibles, num_hiddens, dtype, "hiddens", "weight matrix")
    return BernoulliRBM(rng.standard_normal((num_visibles, num_hiddens)) * 0.05,
                        rng.standard_normal(num_visibles) * 0.1, np.zeros(num_hiddens), dtype=dtype)


def _trainer(model, estimate, streams, data, generator, device, **settings):
    if device.is_cuda and estimate.scheme == "jarzynski":
        raise ValueError("scheme: jarzynski training runs on the CPU for now (--device cpu)")
    return (_DEVICE_TRAINER if device.is_cuda else RBMTrainer)(model, estimate, streams, **settings)


FAMILIES = (Family(name="rbm", model_class=BernoulliRBM, units="exact 0/1 values", p0_laws=("uniform", "bias"),
                   samplers=("block-gibbs",), check_data=check_binary_data, new_model=_new_model, trainer=_trainer,
                   chains=RBMChains, label="a Bernoulli RBM", sample_inits=INITS,
                   default_sample_init=lambda model, chains: default_process(model, chains)[0],
                   sample_options=("chains", "return_means"), comparable_data=_comparable_data,
                   log_likelihood=_log_likelihood, process_settings=("l2", "centered"),
                   trainer_settings=("l2", "centered", "centering_rate"),
                   image_values=lambda states: states, random_model=_random_model,
                   tempering=lazy("bmsample.rbm.tempering:RBMTempered"),
                   trajectory=lazy("bmsample.rbm.trajectory:RBMTrajectory"),
                   schemes=("rdm", "cd", "pcd", "jarzynski")),)
