"""Sweeps of a fully connected Boltzmann machine (public layer over ``_cpu``)."""

import numpy as np

from .. import _steps
from .._chains import first_saved_chains, random_rows
from .._sampling import ChainProcess, run
from .._validation import check_choice, check_memory
from ..rbm.sample import independent_site_chains
from . import _cpu
from .model import IsingModel, to_spins, up_probabilities

SAMPLERS = _cpu.SAMPLERS
INITS = ("uniform", "bias", "data", "chains")


class IsingWorkspace:
    """Local fields of ``num_chains`` chains."""

    def __init__(self, model, num_chains):
        check_memory(num_chains * self.chain_nbytes(model),
                     f"num_chains: {num_chains} chains of an Ising model of {model.num_units} units")
        blocks = (num_chains + _cpu.CHAIN_BLOCK - 1) // _cpu.CHAIN_BLOCK
        self.local_field = np.empty((num_chains, model.num_units), dtype=model.dtype)
        self.spins_t = np.empty((blocks, model.num_units, _cpu.CHAIN_BLOCK), dtype=model.dtype)
        self.fields_t = np.empty_like(self.spins_t)
        self.words = np.empty((blocks, 4, _cpu.CHAIN_BLOCK), dtype=np.uint32)
        self.delta = np.empty((blocks, _cpu.CHAIN_BLOCK), dtype=model.dtype)
        self.runs = _steps.StepRuns()

    @staticmethod
    def chain_nbytes(model):
        """Bytes per chain of this workspace, the chains and the temporaries of their initial draw."""
        return model.dtype.itemsize * (7 * model.num_units + 1) + 16

    def scratch(self):
        return self.local_field, self.spins_t, self.fields_t, self.words, self.delta


def run_sweeps(model, state, sweeps, streams, workspace, *, sampler, chain_offset=0, on_step=None):
    """Run ``sweeps`` sweeps of ``sampler`` in place on ``state`` (num_chains, N) of +-1 spins.

    The local fields are computed once (one GEMM) and then kept up to date by
    the kernel; ``on_step(t, state)`` after every sweep when given.
    """
    if sweeps == 0:
        return
    kind = SAMPLERS[sampler]
    np.matmul(state, model.coupling_matrix, out=workspace.local_field)
    workspace.local_field += model.field
    key0, key1 = streams.kernel_args()
    t = 0
    with _steps.abandonable():
        for count in workspace.runs(sweeps, each=on_step is not None):
            _cpu.sweeps(model.coupling_matrix, kind, count, key0, key1, streams.reserve(count), chain_offset, state,
                        *workspace.scratch())
            t += count
            if on_step is not None:
                on_step(t, state)


def initial_spins(model, num_chains, init, streams, generator, *, data=None, chains=None, clip=1e-3):
    """``num_chains`` +-1 states from p0: uniform, the independent-site law of the data, data rows, saved chains."""
    check_choice(init, "init", INITS)
    if init in ("uniform", "bias"):
        up = up_probabilities(model, init, clip)
        return 2 * independent_site_chains(up, num_chains, streams, model.dtype) - 1
    if init == "data":
        return random_rows(data, num_chains, generator)
    if chains is None:
        raise ValueError("init: 'chains' needs saved persistent chains, and this model has none")
    return first_saved_chains(to_spins(chains, "chains", model.num_units, model.dtype), num_chains)


def default_process(model, chains=None):
    """(init, sampler, steps) reproducing how ``model`` was trained."""
    process = model.process or {}
    scheme = process.get("scheme")
    if scheme in ("pcd", "jarzynski") and chains is not None:
        init = "chains"
    elif scheme == "cd":
        init = "data"
    else:
        init = process.get("init", "uniform")
    return init, process.get("sampler", "heat-bath"), process.get("k")


class IsingChains(ChainProcess):
    """Sweeps of +-1 spins of an Ising model (``sample_ising``'s options, settled and checked)."""

    step_unit = "sweeps"
    record_dtype = np.int8

    def __init__(self, model, *, init=None, sampler=None, data=None, chains=None, record_moments=False):
        if not isinstance(model, IsingModel):
            raise TypeError(f"model: expected an IsingModel, got {type(model).__name__}")
        default_init, default_sampler, self.default_steps = default_process(model, chains)
        self.init = check_choice(default_init if init is None else init, "init", INITS)
        self.sampler = check_choice(default_sampler if sampler is None else sampler, "sampler", tuple(SAMPLERS))
        if self.init == "chains" and chains is not None:
            self.default_chains = chains.shape[0]
        if self.init == "data" and data is not None:
            data = to_spins(data, "data", model.num_units, model.dtype)
        self.model, self.data, self.chains = model, data, chains
        self.task = f"ising {self.sampler} sampling"
        self.moments = "second" if record_moments else None

    def workspace(self, num_chains):
        return IsingWorkspace(self.model, num_chains)

    def initial_states(self, num_chains, streams, generator):
        return initial_spins(self.model, num_chains, self.init, streams, generator, data=self.data,
                             chains=self.chains)

    def run(self, state, steps, streams, workspace, on_step):
        run_sweeps(self.model, state, steps, streams, workspace, sampler=self.sampler, on_step=on_step)

    def run_on_device(self, state, steps, streams, on_step):
        from .device import sweeps_on_device

        return sweeps_on_device(self.model, state, steps, streams, sampler=self.sampler, on_step=on_step), None

    def dense_products(self, state, workspace):
        """s J, the one GEMM of all local fields (a sequential sweep cannot be a GEMM)."""
        return lambda: np.matmul(state, self.model.coupling_matrix, out=workspace.local_field)

    def bench_on_device(self, state, steps, streams):
        from .device import bench_case

        return bench_case(self.model, state, steps, streams, sampler=self.sampler)


def sample_ising(model, num_chains=None, steps=None, *, init=None, sampler=None, data=None, chains=None, rng=None,
                 record=None, record_moments=False, callback=None, backend="cpu"):
    """Sample +-1 spins of ``model`` with sweeps of ``sampler``.

    By default this reproduces the model's training process: an Rdm-k model
    draws fresh chains from its p0 and runs exactly k sweeps of its sampler.

    Parameters
    ----------
    model : IsingModel
    num_chains : int, default 1000 (or the saved chains)
    steps : int, default the model's k
        Number of sweeps (N site updates each).
    init : {"uniform", "bias", "data", "chains"}
    sampler : {"heat-bath", "random-site", "metropolis"}
    data : ndarray, shape (n, N), +-1 or 0/1, for ``init="data"``
    chains : ndarray, for ``init="chains"``
    rng : None, int, SeedSequence or Generator
    record : iterable of int, optional
        Sweeps at which to store the chains (int8), or with ``record_moments``
        their ``magnetisations`` and ``correlations`` <s_i s_j>.
    callback : callable(t, spins), optional
        Called for t = 0..steps with the chains (do not keep a reference).
    backend : {"cpu", "cuda", "cuda:N", "auto"}
        Where the sweeps run: on a GPU, a warp or a thread block per chain, the
        same draws as the CPU (spins equal except where rounding flips a comparison).

    Returns
    -------
    SampleResult
    """
    process = IsingChains(model, init=init, sampler=sampler, data=data, chains=chains, record_moments=record_moments)
    return run(process, num_chains, steps, rng=rng, record=record, callback=callback, backend=backend)
