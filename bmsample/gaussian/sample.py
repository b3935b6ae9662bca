"""Langevin and coordinate-Gibbs sampling of a Gaussian energy model (public layer over ``_cpu``)."""

import warnings

import numpy as np

from .. import _steps
from .._chains import random_rows
from .._sampling import ChainProcess, run
from .._validation import check_choice, check_memory, check_positive_float, check_real_data
from . import _cpu
from .model import GaussianModel

SAMPLERS = ("langevin", "gibbs")
INITS = ("zeros", "uniform", "gaussian", "data")


class GaussianWorkspace:
    """Scratch arrays for ``num_chains`` chains of an N-dimensional model."""

    def __init__(self, model, num_chains):
        check_memory(num_chains * self.chain_nbytes(model),
                     f"num_chains: {num_chains} chains of a Gaussian model of {model.num_units} units")
        self.field = np.empty((num_chains, model.num_units), dtype=model.dtype)
        self.noise = np.empty((num_chains, model.num_units), dtype=model.dtype)

    @staticmethod
    def chain_nbytes(model):
        """Bytes per chain of this workspace and the chains."""
        return 3 * model.dtype.itemsize * model.num_units


def stability_warning(model, step_size):
    """Warn when eps times the largest eigenvalue of J reaches 1 (Langevin becomes unstable at 2)."""
    top = model.eigenvalues()[-1]
    if step_size * top >= 1.0:
        warnings.warn(f"step_size * largest eigenvalue of J = {step_size * top:.3g} >= 1: "
                      "the Langevin chain oscillates and is unstable past 2", RuntimeWarning, stacklevel=4)


def langevin_steps(model, state, steps, streams, workspace, *, step_size, temperature=1.0, chain_offset=0,
                   on_step=None):
    """Run ``steps`` unadjusted Langevin steps in place on ``state`` (num_chains, N)."""
    dt = model.dtype.type
    eps, noise = dt(step_size), dt(np.sqrt(2.0 * step_size * temperature))
    key0, key1 = streams.kernel_args()
    with _steps.abandonable():
        for t in range(1, steps + 1):
            np.matmul(state, model.coupling_matrix, out=workspace.field)
            _cpu.langevin_update(workspace.field, model.field, eps, noise, key0, key1, streams.next_draw(),
                                 chain_offset, state)
            if on_step is not None:
                on_step(t, state)
            _steps.steps_done(1)


def gibbs_sweeps(model, state, sweeps, streams, workspace, *, temperature=1.0, chain_offset=0, on_step=None):
    """Run ``sweeps`` sequential coordinate-Gibbs sweeps in place on ``state`` (needs J_ii > 0)."""
    dt = model.dtype.type
    diagonal = np.diag(model.coupling_matrix).astype(np.float64)
    inverse = (1.0 / diagonal).astype(model.dtype)
    noise_std = np.sqrt(temperature / diagonal).astype(model.dtype)
    key0, key1 = streams.kernel_args()
    with _steps.abandonable():
        for t in range(1, sweeps + 1):
            _cpu.fill_normal(dt(0), dt(1), key0, key1, streams.next_draw(), chain_offset, workspace.noise)
            np.matmul(state, model.coupling_matrix, out=workspace.field)
            _cpu.gibbs_sweep(model.coupling_matrix, model.field, inverse, noise_std, workspace.noise,
                             workspace.field, state)
            if on_step is not None:
                on_step(t, state)
            _steps.steps_done(1)


def run_sampler(model, state, steps, streams, workspace, *, sampler, step_size, temperature, chain_offset=0,
                on_step=None):
    if sampler == "langevin":
        langevin_steps(model, state, steps, streams, workspace, step_size=step_size, temperature=temperature,
                       chain_offset=chain_offset, on_step=on_step)
    else:
        gibbs_sweeps(model, state, steps, streams, workspace, temperature=temperature, chain_offset=chain_offset,
                     on_step=on_step)


def initial_states(num_chains, num_units, init, init_scale, streams, generator, dtype, *, data=None,
                   chain_offset=0):
    """Draw ``num_chains`` real states from p0, shape (num_chains, num_units).

    Parameters
    ----------
    init : {"zeros", "uniform", "gaussian", "data"}
        All zeros, uniform on [-init_scale, init_scale], N(0, init_scale^2),
        or random rows of ``data``.
    streams : ChainStreams
        Always advanced by one draw, whatever ``init``.
    generator : numpy Generator
        Picks the rows for "data" (with replacement only if num_chains > len(data)).
    data : ndarray, shape (num_samples, num_units), optional
    """
    check_choice(init, "init", INITS)
    dt = np.dtype(dtype).type
    out = np.zeros((num_chains, num_units), dtype=dtype)
    key0, key1 = streams.kernel_args()
    draw = streams.next_draw()
    if init == "uniform":
        _cpu.fill_uniform(dt(-init_scale), dt(init_scale), key0, key1, draw, chain_offset, out)
    elif init == "gaussian":
        _cpu.fill_normal(dt(0), dt(init_scale), key0, key1, draw, chain_offset, out)
    elif init == "data":
        out[...] = random_rows(data, num_chains, generator)
    return out


def default_init(model):
    """p0 of the model's training process: its own p0, or the data for a CD-k model."""
    process = model.process or {}
    return "data" if process.get("scheme") == "cd" else process.get("init", "uniform")


def check_sampler_settings(model, sampler, step_size, temperature):
    check_choice(sampler, "sampler", SAMPLERS)
    step_size = check_positive_float(step_size, "step_size")
    temperature = check_positive_float(temperature, "temperature")
    if sampler == "gibbs" and np.any(np.diag(model.coupling_matrix) <= 0):
        raise ValueError("sampler: coordinate Gibbs needs J_ii > 0 for every i")
    return step_size, temperature


class GaussianChains(ChainProcess):
    """Langevin or coordinate-Gibbs chains of a Gaussian model (``sample_gaussian``'s options, settled and checked)."""

    def __init__(self, model, *, init=None, init_scale=None, sampler=None, step_size=None, temperature=None,
                 data=None, record_moments=False):
        if not isinstance(model, GaussianModel):
            raise TypeError(f"model: expected a GaussianModel, got {type(model).__name__}")
        process = model.process or {}
        self.init = check_choice(default_init(model) if init is None else init, "init", INITS)
        self.init_scale = check_positive_float(process.get("init_scale", 1.0) if init_scale is None else init_scale,
                                               "init_scale")
        sampler = process.get("sampler", "langevin") if sampler is None else sampler
        step_size = process.get("step_size", 0.01) if step_size is None else step_size
        temperature = process.get("temperature", 1.0) if temperature is None else temperature
        self.step_size, self.temperature = check_sampler_settings(model, sampler, step_size, temperature)
        self.sampler, self.default_steps = sampler, process.get("k")
        if self.init == "data" and data is not None:
            data = check_real_data(data, "data", model.num_units, model.dtype)
        if sampler == "langevin":
            stability_warning(model, self.step_size)
        self.model, self.data = model, data
        self.task, self.record_dtype = f"gaussian {sampler} sampling", model.dtype
        self.moments = "covariance" if record_moments else None

    def workspace(self, num_chains):
        return GaussianWorkspace(self.model, num_chains)

    def initial_states(self, num_chains, streams, generator):
        return initial_states(num_chains, self.model.num_units, self.init, self.init_scale, streams, generator,
                              self.model.dtype, data=self.data)

    def run(self, state, steps, streams, workspace, on_step):
        run_sampler(self.model, state, steps, streams, workspace, sampler=self.sampler, step_size=self.step_size,
                    temperature=self.temperature, on_step=on_step)

    def run_on_device(self, state, steps, streams, on_step):
        from .device import sample_on_device

        return sample_on_device(self.model, state, steps, streams, sampler=self.sampler, step_size=self.step_size,
                                temperature=self.temperature, on_step=on_step), None

    def dense_products(self, state, workspace):
        return lambda: np.matmul(state, self.model.coupling_matrix, out=workspace.field)

    def bench_on_device(self, state, steps, streams):
        from .device import bench_case

        return bench_case(self.model, state, steps, streams, sampler=self.sampler, step_size=self.step_size,
                          temperature=self.temperature)


def sample_gaussian(model, num_chains=None, steps=None, *, init=None, init_scale=None, sampler=None, step_size=None,
                    temperature=None, data=None, rng=None, record=None, record_moments=False, callback=None,
                    backend="cpu"):
    """Sample a Gaussian energy model with Langevin or coordinate Gibbs.

    By default this reproduces the model's training process (its p0, sampler,
    step size and k; rows of ``data`` for a CD-k model).  ``record`` stores the chains, or with
    ``record_moments`` only their mean and covariance, at the given times.

    Parameters
    ----------
    model : GaussianModel
    num_chains : int, default 1000
    steps : int, default: the model's k
    init : {"zeros", "uniform", "gaussian", "data"}
    init_scale : float
        Half-width a of the uniform law on [-a, a], or std of the Gaussian law.
    sampler : {"langevin", "gibbs"}
    step_size : float
        Langevin eps.
    temperature : float
    data : ndarray, shape (n, N), for ``init="data"``
    rng : None, int, SeedSequence or Generator
    record : iterable of int, optional
    record_moments : bool
        Keep only ``means`` and ``covariances`` at the recorded times.
    callback : callable(t, states), optional
        Called for t = 0..steps with the chains (do not keep a reference).
    backend : {"cpu", "cuda", "cuda:N", "auto"}
        Where the sampler runs; the GPU runs both samplers with the CPU's
        Philox normals (states equal to float rounding).

    Returns
    -------
    SampleResult
    """
    process = GaussianChains(model, init=init, init_scale=init_scale, sampler=sampler, step_size=step_size,
                             temperature=temperature, data=data, record_moments=record_moments)
    return run(process, num_chains, steps, rng=rng, record=record, callback=callback, backend=backend)
