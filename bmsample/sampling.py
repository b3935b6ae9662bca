"""``sample``: one entry point for every model family."""

from . import families


def sample(model, num_chains=None, steps=None, *, backend="cpu", **options):
    """Sample ``model``; by default reproduce the process it was trained with.

    Runs the sampler of the model's family (``bmsample.families``):
    ``bmsample.rbm.sample.sample_rbm`` (Bernoulli RBM),
    ``bmsample.gaussian.sample.sample_gaussian`` (Gaussian energy model),
    ``bmsample.grbm.sample.sample_grbm`` (Gaussian-Bernoulli RBM) or
    ``bmsample.ising.sample.sample_ising`` (Ising / independent spins); see
    those for the options.  ``backend`` ("cpu", "cuda", "cuda:N" or "auto")
    says where the sampler runs (every built-in family and sampler has a CUDA
    path: ``bmsample._backend.GPU_TASKS``).
    """
    return families.of_model(model).sample(model, num_chains, steps, backend=backend, **options)
