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
"""

from ._threads import configure_environment as _configure_environment

_configure_environment()

from ._threads import set_num_threads  # noqa: E402
from ._version import __version__  # noqa: E402
from .checkpointing import TrainingPreempted  # noqa: E402
from .datasets import Dataset, list_datasets, load_dataset  # noqa: E402
from .gaussian.model import GaussianModel  # noqa: E402
from .gaussian.sample import GaussianSampleResult  # noqa: E402
from .grbm.model import GaussianBernoulliRBM  # noqa: E402
from .io import ModelFileError, load_model, read_model_file, save_model  # noqa: E402
from .ising.model import IsingModel  # noqa: E402
from .rbm.model import BernoulliRBM  # noqa: E402
from .rbm.sample import SampleResult  # noqa: E402
from .sampling import sample  # noqa: E402
from .training import FitResult, TrainingConfig, TrainingDiverged, fit  # noqa: E402

__all__ = [
    "BernoulliRBM", "Dataset", "FitResult", "GaussianBernoulliRBM", "GaussianModel", "GaussianSampleResult",
    "IsingModel", "ModelFileError", "SampleResult", "TrainingConfig", "TrainingDiverged", "TrainingPreempted",
    "__version__", "fit", "list_datasets", "load_dataset", "load_model", "read_model_file", "sample", "save_model",
    "set_num_threads",
]
