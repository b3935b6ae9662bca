"""A fully connected Boltzmann machine on a CUDA device: sweeps, and Rdm/CD/PCD training with resident
parameters and chains (imported only for a CUDA backend)."""

import numpy as np
from numba import cuda

from .. import _gpu_linalg as linalg
from .. import _steps
from .._device_tempering import DeviceRows, DeviceTemperedChains
from .._device_training import DeviceCouplings, DeviceTrainer, LazyMetrics, coupling_products, rms
from ..rbm import _gpu as rbm_gpu
from . import _gpu
from ._cpu import SAMPLERS
from .model import RUNAWAY, runaway_parameters, up_probabilities


def sweeps_on_device(model, state, sweeps, streams, *, sampler, on_step=None):
    """Run ``sweeps`` sweeps of ``sampler`` from the host ``state`` on the device; return the host result.

    The device twin of ``sample.run_sweeps`` (same draws): the local fields
    are one product and then kept up to date by the kernel.  ``on_step(t,
    state)`` receives host copies (one copy per call: use it for recording only).
    """
    d_state = cuda.to_device(state)
    if sweeps == 0:
        return state
    coupling = cuda.to_device(model.coupling_matrix)
    local_field = cuda.device_array_like(d_state)
    linalg.scaled_product(d_state, coupling, 1.0, local_field)
    linalg.add_row(local_field, cuda.to_device(model.field))
    t = 0
    for count in device_sweeps(coupling, SAMPLERS[sampler], sweeps, streams, d_state, local_field, _steps.StepRuns(),
                               each=on_step is not None):
        t += count
        if on_step is not None:
            on_step(t, d_state.copy_to_host())
    return d_state.copy_to_host()


def bench_case(model, state, steps, streams, *, sampler):
    """(products, sampler) of ``bench`` on the device from the host spins ``state``: ``steps`` sweeps each.

    The sampler side computes the local fields once (one product), as ``sweeps_on_device`` does.
    """
    params, d_state = DeviceCouplings(model), cuda.to_device(state)
    local_field, kind = cuda.device_array_like(d_state), SAMPLERS[sampler]

    def run():
        linalg.scaled_product(d_state, params.coupling, 1.0, local_field)
        linalg.add_row(local_field, params.field)
        key0, key1 = streams.kernel_args()
        _gpu.sweeps(params.coupling, kind, steps, key0, key1, streams.reserve(steps), 0, d_state, local_field)

    return coupling_products(params, d_state, steps), run


def device_sweeps(coupling, kind, sweeps, streams, state, local_field, runs, *, each=False):
    """Run ``sweeps`` sweeps on the device arrays, in launches of about ``_steps.RUN_SECONDS``; yields each
    launch's sweep count after it ran (``runs``: the ``StepRuns`` that times them)."""
    key0, key1 = streams.kernel_args()
    with _steps.abandonable():
        for count in runs(sweeps, each=each, sync=cuda.synchronize):
            _gpu.sweeps(coupling, kind, count, key0, key1, streams.reserve(count), 0, state, local_field)
            yield count


class IsingDeviceTrainer(DeviceTrainer):
    """``IsingTrainer`` on a CUDA device: the same gradient, schemes, sweeps and random draws.

    Parameters
    ----------
    model : IsingModel
        Its arrays are refreshed from the device by ``download``.
    estimate : bmsample._ascent.Estimate
        As ``IsingTrainer``'s.
    streams : ChainStreams
    data : ndarray, shape (num_samples, N)
        +-1 spins (uploaded once).

    Notes
    -----
    Per update: p0 draw (Rdm-k) or minibatch copy (CD-k), the local fields
    (one product), k sweeps, the magnetisations (column sums) and, with
    couplings, the correlations (two transposed products), then the update
    kernels.  The update kernel flags a parameter past |RUNAWAY| (or NaN) as
    the CPU trainer's ``divergence`` does (read every few updates: ``DeviceTrainer``).
    """

    def __init__(self, model, estimate, streams, data):
        super().__init__(estimate, streams, model.num_units, model.dtype)
        self.model, self.data = model, data
        n, dtype = model.num_units, model.dtype
        self.params = DeviceCouplings(model)
        up = up_probabilities(model, estimate.init)
        self.init_logits = cuda.to_device((np.log(up) - np.log1p(-up)).astype(dtype))
        self.zero_field = cuda.to_device(np.zeros((self.num_chains, n), dtype=dtype))
        self.local_field = cuda.device_array((self.num_chains, n), dtype=dtype)
        self.grad_j = cuda.device_array((n, n), dtype=dtype)
        self.grad_scratch = self.gradient_scratch(n, n, dtype)
        self.grad_h = cuda.device_array(n, dtype=dtype)
        self.partial = cuda.device_array((linalg.default_row_groups(), n), dtype=dtype)
        self.runs = _steps.StepRuns()
        if estimate.scheme == "pcd":
            self._draw_p0_into(self.device_chains)

    def divergence(self):
        """The CPU trainer's message on the (downloaded) model: called once the update kernel raised its flag."""
        return runaway_parameters(self.model, self.estimate)

    def _draw_p0_into(self, out):
        """p0 as ``sample.initial_spins`` draws it: one draw of {0, 1} sites, then 2 x - 1."""
        key0, key1 = self.streams.kernel_args()
        rbm_gpu.sample_bernoulli_layer(self.zero_field, self.init_logits, key0, key1, self.streams.next_draw(), 0,
                                       out)
        linalg.affine(out, 2.0, -1.0)
        return out

    def negative_chains(self, batch):
        """The negative-phase chains after k sweeps (a device array); PCD-k chains continue in place."""
        chains = self.start_chains(batch)
        params = self.params
        linalg.scaled_product(chains, params.coupling, 1.0, self.local_field)
        linalg.add_row(self.local_field, params.field)
        for _ in device_sweeps(params.coupling, SAMPLERS[self.estimate.sampler], self.estimate.k, self.streams, chains,
                               self.local_field, self.runs):
            pass
        return chains

    def update(self, batch, learning_rate):
        """One gradient-ascent step on the device ``batch`` (+-1 spins); returns lazily read metrics."""
        chains = self.negative_chains(batch)
        inv_b, inv_m = 1.0 / batch.shape[0], 1.0 / chains.shape[0]
        linalg.column_means(batch, self.partial, inv_b, self.grad_h)
        linalg.column_means(chains, self.partial, -inv_m, self.grad_h, accumulate=True)
        steps = [(self.params.field, self.grad_h)]
        independent = self.model.independent
        if not independent:
            linalg.scaled_product(batch, batch, inv_b, self.grad_j, transpose_left=True, scratch=self.grad_scratch)
            linalg.scaled_product(chains, chains, -inv_m, self.grad_j, accumulate=True, transpose_left=True,
                                  scratch=self.grad_scratch)
            linalg.zero_diagonal(self.grad_j)
            steps.append((self.params.coupling, self.grad_j))
        self.ascend([(param, grad, 0.0) for param, grad in steps], learning_rate, limit=RUNAWAY)
        grad_h, grad_j = self.grad_h, self.grad_j

        def metrics():
            # grad_h is <s>_data - <s>_chains; grad_j the correlation gap (zero diagonal).
            values = {"magnetisation_rmse": rms(grad_h.copy_to_host())}
            if not independent:
                values["correlation_rmse"] = rms(grad_j.copy_to_host())
            return values

        return LazyMetrics(metrics)


class _TemperedSpinWorkspace(DeviceRows):
    """Device copies of parallel tempering's spins, local fields and betas; the host copy of the swap terms."""

    def __init__(self, model, num_rows):
        super().__init__(model, num_rows, model.num_units)
        self.local_field = cuda.device_array((num_rows, model.num_units), dtype=model.dtype)
        self.log_weights = cuda.device_array(num_rows, dtype=np.float64)
        self.host_log_weights = np.empty(num_rows)


class DeviceIsingTempered(DeviceTemperedChains):
    """Parallel tempering of +-1 spins on a CUDA device, for ``bmsample.tempering`` (a ``TemperedChains``).

    The rows and their local fields live on the device; each sweep reduces every row's -E(s) - h0 . s there
    and copies the R x M values to the host, which forms the gaps (beta' - beta) times them as the CPU does and
    decides the swaps; the tempered sweep (``_gpu.sweeps`` with ``row_beta``) then runs on the device.  The
    local fields are recomputed from the spins when the CPU recomputes them (``fresh``).

    Parameters
    ----------
    host : bmsample.ising.tempering.IsingTempered
    """

    def __init__(self, host):
        super().__init__(host)
        self.params = DeviceCouplings(self.model)
        self.kind = SAMPLERS[host.sampler]
        self.base = cuda.to_device(host.base)
        self.offset = cuda.to_device(0.5 * host.field64 - host.base64)

    def _workspace(self, num_rows):
        return _TemperedSpinWorkspace(self.model, num_rows)

    def prepare(self, state, workspace, fresh, betas, new_betas):
        if fresh:
            linalg.scaled_product(workspace.state, self.params.coupling, 1.0, workspace.local_field)
            linalg.add_row(workspace.local_field, self.params.field)
        _gpu.tempering_log_weights(workspace.state, workspace.local_field, self.offset, workspace.log_weights)
        workspace.log_weights.copy_to_host(workspace.host_log_weights)
        return (new_betas - betas) * workspace.host_log_weights

    def step(self, state, workspace, row_betas, streams):
        workspace.send_betas(row_betas)
        key0, key1 = streams.kernel_args()
        _gpu.sweeps(self.params.coupling, self.kind, 1, key0, key1, streams.reserve(1), 0, workspace.state,
                    workspace.local_field, row_beta=workspace.row_betas, base_field=self.base)
        workspace.host_is_stale = True
