"""The fully connected Boltzmann machine on +-1 spins, and independent spins, as ``bmsample.families.Family``."""

from ..families import Family, lazy
from .model import IsingModel, to_spins
from .sample import INITS, SAMPLERS, default_process
from .train import IsingTrainer

_DEVICE_TRAINER = lazy("bmsample.ising.device:IsingDeviceTrainer")


def _model_maker(independent):
    def new_model(config, data, rng):
        return IsingModel.from_data(data, independent=independent, dtype=config.dtype)

    return new_model


def _trainer(model, config, streams, data, generator, device):
    return (_DEVICE_TRAINER if device.is_cuda else IsingTrainer)(model, config, streams, data)


FAMILIES = tuple(Family(name=name, model_class=IsingModel, units="+-1 spins (or exact 0/1 values)",
                        p0_laws=("uniform", "bias"), samplers=tuple(SAMPLERS), check_data=to_spins,
                        new_model=_model_maker(name == "independent"), trainer=_trainer,
                        sample=lazy("bmsample.ising.sample:sample_ising"), label="an Ising", sample_inits=INITS,
                        default_sample_init=lambda model, chains: default_process(model, chains)[0],
                        sample_options=("sampler", "chains", "record_moments"))
                 for name in ("ising", "independent"))
