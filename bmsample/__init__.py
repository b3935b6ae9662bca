"""bmsample: Boltzmann machines and Gaussian energy models on NumPy + Numba.

Public API::

    load_dataset, list_datasets       bundled data and file loaders
    BernoulliRBM                      binary RBM and its reference maths
    GaussianModel                     Gaussian energy model E = x^T J x / 2 - h^T x
    GaussianBernoulliRBM              real visible, binary hidden units
    IsingModel                        fully connected Boltzmann machine on +-1 spins
    fit, TrainingConfig, FitResult    Rdm-k / CD-k / PCD-k training
    sample                            sampling; reproduces the training process by default
    save_model, load_model            versioned .npz files
    set_num_threads                   Numba + BLAS threads

The names are imported on first use, so ``import bmsample`` (and
``bmsample --help``, ``info``, ``datasets``) loads neither Numba nor a kernel.
"""

import importlib

from ._threads import configure_environment as _configure_environment

_configure_environment()

from ._threads import set_num_threads  # noqa: E402, F401
from ._version import __version__  # noqa: E402, F401

#: Public name -> the module that defines it.
_LAZY = {
    "TrainingPreempted": "._errors", "TrainingDiverged": "._errors",
    "Dataset": ".datasets", "list_datasets": ".datasets", "load_dataset": ".datasets",
    "GaussianModel": ".gaussian.model",
    "GaussianBernoulliRBM": ".grbm.model",
    "ModelFileError": ".io", "load_model": ".io", "read_model_file": ".io", "save_model": ".io",
    "IsingModel": ".ising.model",
    "BernoulliRBM": ".rbm.model", "SampleResult": "._sampling",
    "sample": ".sampling",
    "FitResult": ".training", "TrainingConfig": ".training", "fit": ".training",
}

__all__ = sorted([*_LAZY, "__version__", "set_num_threads"])


def __getattr__(name):
    """Import a public name, or a submodule (``bmsample.theory``), on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif not name.startswith("__"):
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})
