"""The Gaussian energy model as a ``bmsample.families.Family``."""

from .._validation import check_real_data
from ..families import Family, lazy
from .model import GaussianModel
from .sample import INITS, SAMPLERS, default_init
from .train import GaussianTrainer

_DEVICE_TRAINER = lazy("bmsample.gaussian.device:GaussianDeviceTrainer")
#: p0 laws of its training, the default first.
P0_LAWS = ("uniform", "zeros", "gaussian", "data")
assert set(P0_LAWS) == set(INITS)


def _new_model(config, data, rng):
    return GaussianModel.from_data(data, dtype=config.dtype)


def _trainer(model, config, streams, data, generator, device):
    return (_DEVICE_TRAINER if device.is_cuda else GaussianTrainer)(model, config, streams, data, generator)


FAMILIES = (Family(name="gaussian", model_class=GaussianModel, units="finite reals", p0_laws=P0_LAWS,
                   samplers=tuple(SAMPLERS), check_data=check_real_data, new_model=_new_model, trainer=_trainer,
                   sample=lazy("bmsample.gaussian.sample:sample_gaussian"), label="a Gaussian", sample_inits=INITS,
                   default_sample_init=lambda model, chains: default_init(model),
                   sample_options=("init_scale", "sampler", "step_size", "temperature", "record_moments"),
                   process_settings=("init_scale", "step_size", "temperature")),)
