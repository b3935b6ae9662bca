"""The fully connected Boltzmann machine on +-1 spins, and independent spins, as ``bmsample.families.Family``."""

import numpy as np

from .._validation import check_matrix_memory
from ..families import Family, lazy
from .model import IsingModel, to_spins
from .sample import INITS, SAMPLERS, IsingChains, default_process
from .train import IsingTrainer

_DEVICE_TRAINER = lazy("bmsample.ising.device:IsingDeviceTrainer")


def _model_maker(independent):
    def new_model(config, data, rng):
        return IsingModel.from_data(data, independent=independent, dtype=config.dtype)

    return new_model


def _comparable_data(model, data):
    return to_spins(data, "data", model.num_units, "float64")


def _log_likelihood(model, data, method, ais_chains, ais_betas, rng):
    """Exact, by enumeration of the 2**N states (N <= ``exact.MAX_EXACT_SPINS``)."""
    from . import exact

    if method == "ais":
        raise ValueError("method: AIS is implemented for Bernoulli RBMs only")
    if model.num_units > exact.MAX_EXACT_SPINS:
        raise ValueError(f"model: exact log-likelihood needs N <= {exact.MAX_EXACT_SPINS} spins")
    log_z = exact.log_partition(model.coupling_matrix.astype(np.float64), model.field.astype(np.float64))
    return {"method": "exact", "log_likelihood": float(np.mean(-model.energy(data)) - log_z)}


def _random_model(num_units, num_hiddens, dtype, rng):
    check_matrix_memory(num_units, num_units, dtype, "visibles", "coupling matrix")
    upper = np.triu(rng.standard_normal((num_units, num_units)) / np.sqrt(num_units), 1)
    return IsingModel(upper + upper.T, rng.standard_normal(num_units) * 0.1, dtype=dtype)


def _trainer(model, estimate, streams, data, generator, device):
    if device.is_cuda and estimate.scheme == "jarzynski":
        raise ValueError("scheme: jarzynski training runs on the CPU for now (--device cpu)")
    return (_DEVICE_TRAINER if device.is_cuda else IsingTrainer)(model, estimate, streams, data)


FAMILIES = tuple(Family(name=name, model_class=IsingModel, units="+-1 spins (or exact 0/1 values)",
                        p0_laws=("uniform", "bias"), samplers=tuple(SAMPLERS), check_data=to_spins,
                        new_model=_model_maker(name == "independent"), trainer=_trainer,
                        chains=IsingChains, label="an Ising", sample_inits=INITS,
                        default_sample_init=lambda model, chains: default_process(model, chains)[0],
                        sample_options=("sampler", "chains", "record_moments"), comparable_data=_comparable_data,
                        log_likelihood=_log_likelihood, image_values=lambda spins: (spins + 1) / 2,
                        random_model=_random_model if name == "ising" else None,
                        tempering=lazy("bmsample.ising.tempering:IsingTempered"),
                        schemes=("rdm", "cd", "pcd", "jarzynski"))
                 for name in ("ising", "independent"))
