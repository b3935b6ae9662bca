"""``sample``: one entry point for every model family."""

from .gaussian.model import GaussianModel
from .gaussian.sample import sample_gaussian
from .grbm.model import GaussianBernoulliRBM
from .grbm.sample import sample_grbm
from .ising.model import IsingModel
from .ising.sample import sample_ising
from .rbm.model import BernoulliRBM
from .rbm.sample import sample_rbm


def sample(model, num_chains=None, steps=None, *, backend="cpu", **options):
    """Sample ``model``; by default reproduce the process it was trained with.

    Dispatches to ``bmsample.rbm.sample.sample_rbm`` (Bernoulli RBM),
    ``bmsample.gaussian.sample.sample_gaussian`` (Gaussian energy model) or
    ``bmsample.grbm.sample.sample_grbm`` (Gaussian-Bernoulli RBM) or
    ``bmsample.ising.sample.sample_ising`` (Ising / independent spins); see
    those for the options.  ``backend`` ("cpu", "cuda", "cuda:N" or "auto")
    says where the sampler runs (every family and sampler has a CUDA path:
    ``bmsample._backend.GPU_TASKS``).
    """
    if isinstance(model, BernoulliRBM):
        return sample_rbm(model, num_chains, steps, backend=backend, **options)
    if isinstance(model, GaussianModel):
        return sample_gaussian(model, num_chains, steps, backend=backend, **options)
    if isinstance(model, IsingModel):
        return sample_ising(model, num_chains, steps, backend=backend, **options)
    if isinstance(model, GaussianBernoulliRBM):
        return sample_grbm(model, num_chains, steps, backend=backend, **options)
    raise TypeError(f"model: expected a bmsample model, got {type(model).__name__}")
