"""bmsample: Boltzmann machines and Gaussian energy models on NumPy + Numba.

Public API::

    load_dataset, list_datasets       bundled data and file loaders
    BernoulliRBM                      binary RBM and its reference maths
    fit, TrainingConfig, FitResult    Rdm-k / CD-k / PCD-k training
    sample, SampleResult              block-Gibbs sampling (reproduces the training process)
    save_model, load_model            versioned .npz files
    set_num_threads                   Numba + BLAS threads
"""

from ._threads import configure_environment as _configure_environment

_configure_environment()

from ._threads import set_num_threads  # noqa: E402
from ._version import __version__  # noqa: E402
from .datasets import Dataset, list_datasets, load_dataset  # noqa: E402
from .io import ModelFileError, load_model, read_model_file, save_model  # noqa: E402
from .rbm.model import BernoulliRBM  # noqa: E402
from .rbm.sample import SampleResult, sample  # noqa: E402
from .training import FitResult, TrainingConfig, TrainingDiverged, fit  # noqa: E402

__all__ = [
    "BernoulliRBM", "Dataset", "FitResult", "ModelFileError", "SampleResult", "TrainingConfig",
    "TrainingDiverged", "__version__", "fit", "list_datasets", "load_dataset", "load_model",
    "read_model_file", "sample", "save_model", "set_num_threads",
]
