"""``sample``: one entry point for every model family."""

from . import families


def sample(model, num_chains=None, steps=None, *, rng=None, record=None, callback=None, backend="cpu", **options):
    """Sample ``model``; by default reproduce the process it was trained with.

    The model's family (``bmsample.families``) settles ``options`` into its
    ``ChainProcess`` and the one sampling driver (``bmsample._sampling.run``)
    runs it.  The options of the built-in families are those of
    ``bmsample.rbm.sample.sample_rbm`` (Bernoulli RBM),
    ``bmsample.gaussian.sample.sample_gaussian`` (Gaussian energy model),
    ``bmsample.grbm.sample.sample_grbm`` (Gaussian-Bernoulli RBM) and
    ``bmsample.ising.sample.sample_ising`` (Ising / independent spins).

    Parameters
    ----------
    model : a bmsample model
    num_chains, steps : int, optional
        Defaults: 1000 chains (or the saved persistent chains), the model's k.
    rng : None, int, SeedSequence or Generator
    record : iterable of int, optional
        Times t (0 <= t <= steps) at which to keep the states (or their moments).
    callback : callable(t, states), optional
        Called for t = 0..steps (do not keep a reference).
    backend : {"cpu", "cuda", "cuda:N", "auto"}
        Where the chains run (every built-in family and sampler has a CUDA
        path: ``bmsample._backend.GPU_TASKS``).

    Returns
    -------
    SampleResult
    """
    return families.of_model(model).sample(model, num_chains, steps, rng=rng, record=record, callback=callback,
                                           backend=backend, **options)
