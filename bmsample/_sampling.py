"""The sampling driver: one template that runs every family's chains (``bmsample.sample``).

A family says how its chains run on one model through a ``ChainProcess``
(its settled options, initial states, workspace and steps on the CPU and on
a device); ``run`` does the rest once for all of them: the length of the
run, the backend, the seed streams, the recorder and the callback, and one
``SampleResult``.
"""

from dataclasses import dataclass

import numpy as np

from ._backend import resolve_backend
from ._recording import Recorder, step_hook
from ._rng import ChainStreams, seed_sequence
from ._validation import check_run


@dataclass
class SampleResult:
    """Output of ``bmsample.sample`` for every family.

    Attributes
    ----------
    visible : ndarray, shape (num_chains, num_units)
        States after ``steps`` steps, in the units of the family's data
        (0/1 for a Bernoulli RBM, +-1 spins, real values in data units).
    steps : int
    init : str
        The initial law that ran.
    times : list of int
        Recorded times (empty when nothing was recorded).
    sampler : str
        The sampler that ran.
    recorded : ndarray, shape (len(times), num_chains, num_units) or None
        States at each recorded time (time 0 is the initial state); uint8 / int8 for binary units.
    means : ndarray, shape (len(times), num_units) or None
        Chain means at the recorded times, when the family records moments (``record_moments``).
    covariances : ndarray, shape (len(times), num_units, num_units) or None
        Connected covariances over chains (real units, ``record_moments``).
    correlations : ndarray, shape (len(times), num_units, num_units) or None
        Raw second moments <s_i s_j> over chains (spins, ``record_moments``).
    visible_means : ndarray, shape (num_chains, num_units) or None
        Conditional means of the last half-step (``return_means``).
    """

    visible: np.ndarray
    steps: int
    init: str
    times: list
    sampler: str | None = None
    recorded: np.ndarray | None = None
    means: np.ndarray | None = None
    covariances: np.ndarray | None = None
    correlations: np.ndarray | None = None
    visible_means: np.ndarray | None = None

    @property
    def magnetisations(self):
        """``means`` of +-1 spins: the magnetisation of every site at the recorded times."""
        return self.means


class ChainProcess:
    """How one family's chains run on one model, with its sampler's options settled and checked.

    A family's subclass checks its options in ``__init__`` (a ValueError
    naming the option) and sets the attributes below; ``run`` calls the
    methods in the order they are listed.

    Attributes
    ----------
    init : str
        The initial law.
    sampler : str
    default_steps : int or None
        Steps when the caller gives none (the model's k; None: the caller must give them).
    default_chains : int
        Chains when the caller gives none.
    step_unit : str
        What one step is called in an error ("steps", "sweeps").
    task : str
        The run in words, for a backend's refusal ("rbm block-gibbs sampling").
    record_dtype : numpy dtype
        How recorded states are stored.
    moments : {None, "covariance", "second"}
        What ``Recorder`` keeps instead of the states.
    """

    init: str
    sampler: str
    default_steps: int | None
    default_chains = 1000
    step_unit = "steps"
    task: str
    record_dtype: np.dtype
    moments = None

    def check_steps(self, steps):
        """Refuse a run length this process cannot do (ValueError)."""

    def workspace(self, num_chains):
        """Scratch for ``num_chains`` chains on the CPU (checks the memory it needs)."""

    def initial_states(self, num_chains, streams, generator):
        """The states at t = 0, shape (num_chains, num_units), in the units the chains run in.

        ``generator`` (a NumPy Generator) picks data rows, ``streams`` draws everything else.
        """
        raise NotImplementedError

    def run(self, state, steps, streams, workspace, on_step):
        """``steps`` steps in place on ``state`` on the CPU; returns ``visible_means`` or None.

        ``on_step(t, state)`` (or None) after every step t = 1..steps.
        """
        raise NotImplementedError

    def run_on_device(self, state, steps, streams, on_step):
        """The same steps on a CUDA device from the host ``state``; returns (host state, visible_means or None)."""
        raise NotImplementedError

    #: Applied to states before they reach the recorder, the callback and the result (None: none).
    to_data_units = None

    # --- what ``bench`` times ------------------------------------------------------------------------------
    def dense_products(self, state, workspace):
        """A callable doing the bare matrix products of one step on ``state`` into ``workspace``.

        The dense limit that ``bench`` measures a step against (v W and h W^T of a block-Gibbs step, x J of a
        Langevin step or of all local fields).
        """
        raise NotImplementedError

    def bench_on_device(self, state, steps, streams):
        """(products, sampler) on a CUDA device from the host ``state``: each runs ``steps``, unsynchronised."""
        raise NotImplementedError

    def kernel(self, workspace):
        """The CPU kernel variant that runs with ``workspace`` (a ``bench`` row's label), or None."""
        return None


def run(process, num_chains=None, steps=None, *, rng=None, record=None, callback=None, backend="cpu"):
    """Run ``process`` (a ``ChainProcess``): the template every family's sampler shares.

    Parameters
    ----------
    process : ChainProcess
    num_chains, steps : int, optional
        Defaults: ``process.default_chains`` and ``process.default_steps``.
    rng : None, int, SeedSequence or Generator
        Spawns the chains' Philox streams and the generator that picks data rows.
    record : iterable of int, optional
        Times t (0 <= t <= steps) at which to keep the states (or their moments).
    callback : callable(t, states), optional
        Called for t = 0..steps with the states in data units (do not keep a reference).
    backend : {"cpu", "cuda", "cuda:N", "auto"}

    Returns
    -------
    SampleResult
    """
    steps, num_chains, times = check_run(steps, process.default_steps, num_chains, process.default_chains, record,
                                         unit=process.step_unit)
    process.check_steps(steps)
    device = resolve_backend(backend, process.task)
    chain_seed, data_seed = seed_sequence(rng).spawn(2)
    streams = ChainStreams.from_seed_sequence(chain_seed)
    workspace = process.workspace(num_chains)
    state = process.initial_states(num_chains, streams, np.random.default_rng(data_seed))
    to_data = process.to_data_units
    recorder = Recorder(times, num_chains, state.shape[1], process.record_dtype, moments=process.moments,
                        transform=to_data)
    user = callback if callback is None or to_data is None else (lambda t, states: callback(t, to_data(states)))
    hook = step_hook(recorder if recorder.active else None, user)
    if hook is not None:
        hook(0, state)
    if device.is_cuda:
        state, visible_means = process.run_on_device(state, steps, streams, hook)
    else:
        visible_means = process.run(state, steps, streams, workspace, hook)
    second = {"covariance": "covariances", "second": "correlations"}.get(process.moments)
    return SampleResult(state if to_data is None else to_data(state), steps, process.init, times, process.sampler,
                        recorder.states, recorder.means, visible_means=visible_means,
                        **({second: recorder.matrices} if second else {}))
