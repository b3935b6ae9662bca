"""A Gaussian energy model on a CUDA device: Langevin and coordinate-Gibbs chains, Rdm/CD/PCD training
(imported only for CUDA).

The chains stay on the device for all steps.  A Langevin step is the tiled
product ``x @ J`` and the fused Langevin update, with the CPU's Philox
normals; a Gibbs sweep is the sweep's normals, ``x @ J`` and one thread block
per chain updating its coordinates in sequence (``_gpu.gibbs_sweep``).  In
training, J, h, the chains, minibatches and gradients stay on the device too;
the host copies them back for logging, checkpoints and the end of a run.
"""

import numpy as np
from numba import cuda

from .. import _gpu_linalg as linalg
from .. import _steps
from .._chains import random_row_indices
from .._device_training import DeviceCouplings, DeviceTrainer, LazyMetrics, coupling_products
from . import _gpu
from .stability import data_variance_warning, langevin_instability_warning


def device_langevin_steps(params, state, field, steps, streams, *, step_size, temperature=1.0, on_step=None):
    """Run ``steps`` Langevin steps in place on the device array ``state`` (num_chains, N).

    The device twin of ``sample.langevin_steps`` (same draws); ``field`` is
    scratch of the shape of ``state``; ``on_step(t, state)`` gets the device array.
    """
    dt = params.model.dtype.type
    eps, noise = dt(step_size), dt(np.sqrt(2.0 * step_size * temperature))
    key0, key1 = streams.kernel_args()
    with _steps.abandonable():
        for t in range(1, steps + 1):
            linalg.scaled_product(state, params.coupling, 1.0, field)
            _gpu.langevin_update(field, params.field, eps, noise, key0, key1, streams.next_draw(), 0, state)
            if on_step is not None:
                on_step(t, state)
            _steps.steps_done(1)


def device_gibbs_sweeps(params, state, field, noise, sweeps, streams, *, temperature=1.0, on_step=None):
    """Run ``sweeps`` coordinate-Gibbs sweeps in place on the device array ``state`` (num_chains, N).

    The device twin of ``sample.gibbs_sweeps`` (same draws, same order: the
    sweep's normals, the fields ``state @ J``, then the sweep); ``field`` and
    ``noise`` are scratch of the shape of ``state``.
    """
    dt = params.model.dtype.type
    key0, key1 = streams.kernel_args()
    with _steps.abandonable():
        for t in range(1, sweeps + 1):
            _gpu.fill_normal(dt(0), dt(1), key0, key1, streams.next_draw(), 0, noise)
            linalg.scaled_product(state, params.coupling, 1.0, field)
            _gpu.gibbs_sweep(params.coupling, params.field, temperature, noise, field, state)
            if on_step is not None:
                on_step(t, state)
            _steps.steps_done(1)


def sample_on_device(model, state, steps, streams, *, sampler, step_size, temperature=1.0, on_step=None):
    """Run ``sampler`` ("langevin" or "gibbs") from the host ``state`` on the device; return the host result.

    ``on_step(t, state)`` receives host copies (one copy per call: use it for recording only).
    """
    d_state = cuda.to_device(state)
    hook = None if on_step is None else (lambda t, chains: on_step(t, chains.copy_to_host()))
    params, field = DeviceCouplings(model), cuda.device_array_like(d_state)
    if sampler == "langevin":
        device_langevin_steps(params, d_state, field, steps, streams, step_size=step_size, temperature=temperature,
                              on_step=hook)
    else:
        device_gibbs_sweeps(params, d_state, field, cuda.device_array_like(d_state), steps, streams,
                            temperature=temperature, on_step=hook)
    return d_state.copy_to_host()


def bench_case(model, state, steps, streams, *, sampler, step_size, temperature):
    """(products, sampler) of ``bench`` on the device from the host chains ``state``: ``steps`` each, unsynchronised."""
    params, d_state = DeviceCouplings(model), cuda.to_device(state)
    field = cuda.device_array_like(d_state)
    if sampler == "langevin":
        def run():
            device_langevin_steps(params, d_state, field, steps, streams, step_size=step_size, temperature=temperature)
    else:
        noise = cuda.device_array_like(d_state)

        def run():
            device_gibbs_sweeps(params, d_state, field, noise, steps, streams, temperature=temperature)
    return coupling_products(params, d_state, steps), run


def draw_initial_states(trainer, out):
    """p0 of a device trainer of real units into ``out``, as ``sample.initial_states`` draws it on the CPU.

    One draw of ``trainer.streams`` whatever ``trainer.estimate.init`` ("zeros",
    "uniform", "gaussian" or "data": rows picked on the host by
    ``trainer.generator``, gathered from the device copy of ``trainer.data``).
    """
    estimate, dt = trainer.estimate, trainer.model.dtype.type
    key0, key1 = trainer.streams.kernel_args()
    draw = trainer.streams.next_draw()
    if estimate.init == "gaussian":
        _gpu.fill_normal(dt(0), dt(estimate.init_scale), key0, key1, draw, 0, out)
    elif estimate.init == "data":
        rows = random_row_indices(trainer.data.shape[0], out.shape[0], trainer.generator)
        if trainer.chain_rows is None:
            trainer.chain_rows = cuda.device_array(out.shape[0], dtype=np.int64)
        linalg.gather_rows(trainer.device_data(trainer.data), trainer.upload_rows(rows, trainer.chain_rows), out)
    else:  # "zeros" is the uniform law on [0, 0]
        scale = dt(estimate.init_scale if estimate.init == "uniform" else 0.0)
        _gpu.fill_uniform(-scale, scale, key0, key1, draw, 0, out)
    return out


class GaussianDeviceTrainer(DeviceTrainer):
    """``GaussianTrainer`` on a CUDA device: the same gradient, schemes, samplers and random draws.

    Parameters
    ----------
    model : GaussianModel
        Its arrays are refreshed from the device by ``download``.
    estimate : bmsample._ascent.Estimate
        ``sampler``: "langevin" or "gibbs" (coordinate Gibbs sweeps).
    streams : ChainStreams
    data : ndarray, shape (num_samples, N)
        The training data (uploaded once; also the source of p0 rows for ``init="data"``).
    generator : numpy Generator
        Picks the p0 rows for ``init="data"``, as on the CPU.
    step_size, temperature : float
        As ``GaussianTrainer``'s.
    """

    def __init__(self, model, estimate, streams, data, generator, *, step_size=0.01, temperature=1.0):
        super().__init__(estimate, streams, model.num_units, model.dtype)
        self.step_size, self.temperature = step_size, temperature
        self.model, self.data, self.generator = model, data, generator
        n, dtype = model.num_units, model.dtype
        self.params = DeviceCouplings(model)
        self.field = cuda.device_array((self.num_chains, n), dtype=dtype)
        self.grad_j = cuda.device_array((n, n), dtype=dtype)
        self.grad_scratch = self.gradient_scratch(n, n, dtype)
        self.grad_h = cuda.device_array(n, dtype=dtype)
        self.partial = cuda.device_array((linalg.default_row_groups(), n), dtype=dtype)
        self.noise = cuda.device_array((self.num_chains, n), dtype=dtype) if estimate.sampler == "gibbs" else None
        self._stability_warned = False
        if estimate.sampler == "langevin":
            data_variance_warning(data, step_size)
        if estimate.scheme == "pcd":
            self._draw_p0_into(self.device_chains)

    def _draw_p0_into(self, out):
        return draw_initial_states(self, out)

    def negative_chains(self, batch):
        """The negative-phase chains after k Langevin steps or Gibbs sweeps (a device array)."""
        chains, k = self.start_chains(batch), self.estimate.k
        if self.estimate.sampler == "langevin":
            device_langevin_steps(self.params, chains, self.field, k, self.streams, step_size=self.step_size,
                                  temperature=self.temperature)
        else:
            device_gibbs_sweeps(self.params, chains, self.field, self.noise, k, self.streams,
                                temperature=self.temperature)
        return chains

    def update(self, batch, learning_rate):
        """One gradient-ascent step on the device ``batch``; returns lazily read metrics.

        grad_J = -1/2 (<x x^T>_data - <x x^T>_chains), grad_h = <x>_data - <x>_chains.
        """
        chains = self.negative_chains(batch)
        inv_b, inv_m = 1.0 / batch.shape[0], 1.0 / chains.shape[0]
        linalg.scaled_product(batch, batch, -0.5 * inv_b, self.grad_j, transpose_left=True, scratch=self.grad_scratch)
        linalg.scaled_product(chains, chains, 0.5 * inv_m, self.grad_j, accumulate=True, transpose_left=True,
                              scratch=self.grad_scratch)
        linalg.column_means(batch, self.partial, inv_b, self.grad_h)
        linalg.column_means(chains, self.partial, -inv_m, self.grad_h, accumulate=True)
        self.ascend([(self.params.coupling, self.grad_j, 0.0), (self.params.field, self.grad_h, 0.0)],
                    learning_rate)
        return LazyMetrics(lambda: _moment_metrics(batch.copy_to_host(), chains.copy_to_host()))

    def check_stability(self):
        """Warn once, as the CPU trainer does, on the host model (current at log points)."""
        if self.estimate.sampler == "langevin" and not self._stability_warned:
            self._stability_warned = langevin_instability_warning(self.model, self.step_size)


def _moment_metrics(batch, chains):
    """The CPU trainer's metrics: rms errors of the chains' means and variances against the batch."""
    return {"mean_rmse": float(np.sqrt(np.mean((chains.mean(axis=0) - batch.mean(axis=0)) ** 2))),
            "variance_rmse": float(np.sqrt(np.mean((chains.var(axis=0) - batch.var(axis=0)) ** 2)))}
