"""The Gaussian-Bernoulli RBM on a CUDA device: block-Gibbs chains and Rdm/CD/PCD training with resident
parameters, chains and minibatches (imported only for a CUDA backend).

Everything is in standardised units, as on the CPU.  A step is the fused
hidden product ``z @ (W / sigma)`` + sigmoid + Bernoulli, then ``h @ W^T``
and the Gaussian visible draw with the CPU's Philox normals.
"""

import numpy as np
from numba import cuda

from .. import _gpu_linalg as linalg
from .. import _steps
from .._device_training import LazyMetrics
from ..gaussian.device import _moment_metrics, draw_initial_states
from ..rbm import _gpu as rbm_gpu
from ..rbm.device import DeviceTempered, TwoLayerDeviceTrainer, two_layer_products
from . import _gpu


class DeviceGRBM:
    """Device copies of W, the biases and sigma of a model, and of W / sigma (``refresh_scaled``)."""

    def __init__(self, model):
        self.model = model
        self.weights = cuda.to_device(model.weight_matrix)
        self.vbias = cuda.to_device(model.vbias)
        self.hbias = cuda.to_device(model.hbias)
        self.sigma = cuda.to_device(model.sigma)
        self.scaled_weights = cuda.device_array_like(self.weights)

    def refresh_scaled(self):
        """W / sigma[:, None] from the current device W (the CPU's ``scaled_weights``)."""
        _gpu.divide_rows(self.weights, self.sigma, self.scaled_weights)
        return self.scaled_weights

    def download(self):
        """Copy W and the biases into the host model (sigma is fixed)."""
        self.weights.copy_to_host(self.model.weight_matrix)
        self.vbias.copy_to_host(self.model.vbias)
        self.hbias.copy_to_host(self.model.hbias)


def device_gibbs_steps(params, visible, hidden, field, steps, streams, *, on_step=None):
    """Run ``steps`` block-Gibbs steps z -> h -> z in place on the device array ``visible`` (standardised).

    The device twin of ``sample.gibbs_steps`` (same draws, same order);
    ``hidden`` (num_chains, num_hiddens) and ``field`` (num_chains,
    num_visibles) are scratch; ``on_step(t, visible)`` gets the device array.
    """
    scaled = params.refresh_scaled()
    key0, key1 = streams.kernel_args()
    with _steps.abandonable():
        for t in range(1, steps + 1):
            rbm_gpu.sample_bernoulli_product(visible, scaled, False, params.hbias, key0, key1, streams.next_draw(), 0,
                                             hidden)
            linalg.scaled_product(hidden, params.weights, 1.0, field, transpose_right=True)
            _gpu.sample_gaussian_visible(field, params.vbias, params.sigma, key0, key1, streams.next_draw(), 0, visible)
            if on_step is not None:
                on_step(t, visible)
            _steps.steps_done(1)


def sample_on_device(model, visible, steps, streams, *, on_step=None):
    """Run the chains ``visible`` (host, standardised) on the device; return the host result.

    ``on_step(t, visible)`` receives host copies (one copy per call: use it for recording only).
    """
    d_visible = cuda.to_device(visible)
    hidden = cuda.device_array((visible.shape[0], model.num_hiddens), dtype=model.dtype)
    hook = None if on_step is None else (lambda t, chains: on_step(t, chains.copy_to_host()))
    device_gibbs_steps(DeviceGRBM(model), d_visible, hidden, cuda.device_array_like(d_visible), steps, streams,
                       on_step=hook)
    return d_visible.copy_to_host()


def bench_case(model, state, steps, streams):
    """(products, sampler) of ``bench`` on the device from the host chains ``state``: ``steps`` each, unsynchronised."""
    params, visible = DeviceGRBM(model), cuda.to_device(state)
    hidden = cuda.to_device(np.zeros((state.shape[0], model.num_hiddens), dtype=model.dtype))
    field = cuda.device_array_like(visible)
    return (two_layer_products(params, visible, hidden, steps),
            lambda: device_gibbs_steps(params, visible, hidden, field, steps, streams))


class GRBMDeviceTrainer(TwoLayerDeviceTrainer):
    """``GRBMTrainer`` on a CUDA device: the same gradient, schemes and random draws.

    Parameters
    ----------
    model : GaussianBernoulliRBM
        Its W and biases are refreshed from the device by ``download``.
    estimate : bmsample._ascent.Estimate
    streams : ChainStreams
    data : ndarray, shape (num_samples, num_visibles)
        The STANDARDISED training data (uploaded once; also the p0 rows of ``init="data"``).
    generator : numpy Generator
        Picks the p0 rows for ``init="data"``, as on the CPU.
    l2 : float
        Weight decay on ``weight_matrix``.
    """

    def __init__(self, model, estimate, streams, data, generator, *, l2=0.0):
        super().__init__(model, estimate, streams)
        self.l2 = l2
        self.data, self.generator = data, generator
        self.params = DeviceGRBM(model)
        self.inverse_sigma = cuda.to_device(model.dtype.type(1) / model.sigma)
        self.field = cuda.device_array((self.num_chains, model.num_visibles), dtype=model.dtype)
        if estimate.scheme == "pcd":
            self._draw_p0_into(self.device_chains)

    def _draw_p0_into(self, out):
        return draw_initial_states(self, out)

    def negative_chains(self, batch):
        """The negative-phase chains after k steps (a device array); PCD-k chains continue in place."""
        chains = self.start_chains(batch)
        device_gibbs_steps(self.params, chains, self.hidden, self.field, self.estimate.k, self.streams)
        return chains

    def update(self, batch, learning_rate):
        """One gradient-ascent step on the standardised device ``batch``; returns lazily read metrics."""
        params = self.params
        chains = self.negative_chains(batch)
        # P(h|z) with W / sigma of this update's W (from negative_chains); then the sigma scalings of
        # GRBMTrainer.gradient: grad_w rows / sigma, grad_a / sigma^2.
        self.hidden_gradient(batch, chains, params.scaled_weights)
        _gpu.divide_rows(self.grad_w, params.sigma, self.grad_w)
        _gpu.scale_by_square(self.grad_a, self.inverse_sigma)
        self.ascend([(params.weights, self.grad_w, self.l2), (params.vbias, self.grad_a, 0.0),
                     (params.hbias, self.grad_b, 0.0)], learning_rate)
        return LazyMetrics(lambda: _moment_metrics(batch.copy_to_host(), chains.copy_to_host()))


class DeviceGRBMTempered(DeviceTempered):
    """Parallel tempering of a Gaussian-Bernoulli RBM on the device: the visible pass draws the Gaussian units
    of the rows' tempered field (``_gpu.sample_tempered_gaussian_visible``)."""

    def __init__(self, host):
        super().__init__(host)
        self.sigma = cuda.to_device(self.model.sigma)
        self.bias_gap = cuda.to_device(host.bias_gap)

    def _visible_pass(self, workspace, key0, key1, draw):
        _gpu.sample_tempered_gaussian_visible(workspace.visible_field, self.bias_gap, workspace.row_betas,
                                              self.params.vbias, self.sigma, key0, key1, draw, 0, workspace.state)
