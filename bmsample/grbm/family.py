"""The Gaussian-Bernoulli RBM as a ``bmsample.families.Family``."""

import numpy as np

from .._validation import check_real_data
from ..families import Family, lazy
from .model import GaussianBernoulliRBM
from .sample import INITS, default_process
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


def _trainer(model, config, streams, data, generator, device):
    return (_DEVICE_TRAINER if device.is_cuda else GRBMTrainer)(model, config, streams, data, generator)


FAMILIES = (Family(name="gaussian-rbm", model_class=GaussianBernoulliRBM, units="finite reals", p0_laws=P0_LAWS,
                   samplers=("block-gibbs",), check_data=check_real_data, new_model=_new_model, trainer=_trainer,
                   sample=lazy("bmsample.grbm.sample:sample_grbm"), label="a Gaussian-Bernoulli RBM",
                   sample_inits=INITS, default_sample_init=lambda model, chains: default_process(model)[0],
                   sample_options=("init_scale",), process_settings=("init_scale", "l2", "sigma"),
                   training_data=_training_data),)
