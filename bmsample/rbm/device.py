"""The Bernoulli RBM on a CUDA device: resident parameters, block-Gibbs chains and Rdm/CD/PCD training.

Imported only when a CUDA backend runs.  Parameters, chains, minibatches and
gradient buffers live on the device for the whole run; the host copies them
back only when asked (``download``: logging, checkpoints, the end of a run).
The host keeps the random state (``ChainStreams``: key and draw counter) and
passes draw indices to the kernels, so a device run advances it exactly as a
CPU run does and checkpoints are the same files.
"""

import numpy as np
from numba import cuda

from .. import _gpu_linalg as linalg
from .._device_training import DeviceTrainer, LazyMetrics
from . import _gpu
from .sample import bias_init_probabilities


class DeviceParameters:
    """Device copies of a model's weight matrix and biases.

    Parameters
    ----------
    model : BernoulliRBM
        The host model; ``download`` writes the device values back into it.
    """

    def __init__(self, model):
        self.model = model
        self.weights = cuda.to_device(model.weight_matrix)
        self.vbias = cuda.to_device(model.vbias)
        self.hbias = cuda.to_device(model.hbias)

    def download(self):
        """Copy the device parameters into the host model (in place)."""
        self.weights.copy_to_host(self.model.weight_matrix)
        self.vbias.copy_to_host(self.model.vbias)
        self.hbias.copy_to_host(self.model.hbias)


def device_gibbs_steps(params, visible, hidden, steps, streams, *, visible_means=None, on_step=None):
    """Run ``steps`` block-Gibbs steps in place on the device array ``visible``.

    The device twin of ``sample.gibbs_steps`` (same draws, same order): each
    half-step is one fused product + sigmoid + Bernoulli kernel.

    Parameters
    ----------
    params : DeviceParameters
    visible : device array, shape (num_chains, num_visibles)
    hidden : device array, shape (num_chains, num_hiddens)
        Scratch for the hidden layer.
    steps : int
    streams : ChainStreams
        Advanced by two draws per step.
    visible_means : device array, shape (num_chains, num_visibles), optional
        Receives P(v = 1 | h) of the last half-step.
    on_step : callable(t, visible) or None
        Called with the device array after every step.
    """
    key0, key1 = streams.kernel_args()
    for t in range(1, steps + 1):
        _gpu.sample_bernoulli_product(visible, params.weights, False, params.hbias, key0, key1,
                                      streams.next_draw(), 0, hidden)
        means = visible_means if t == steps else None
        _gpu.sample_bernoulli_product(hidden, params.weights, True, params.vbias, key0, key1,
                                      streams.next_draw(), 0, visible, means)
        if on_step is not None:
            on_step(t, visible)


def sample_on_device(model, visible, steps, streams, *, return_means=False, on_step=None):
    """Run the chains ``visible`` (host array) on the device; return (visible, means or None) on the host.

    ``on_step(t, visible)`` receives host copies (one copy per call: use it for recording only).
    """
    params = DeviceParameters(model)
    d_visible = cuda.to_device(visible)
    hidden = cuda.device_array((visible.shape[0], model.num_hiddens), dtype=model.dtype)
    means = cuda.device_array_like(d_visible) if return_means else None
    hook = None if on_step is None else (lambda t, chains: on_step(t, chains.copy_to_host()))
    device_gibbs_steps(params, d_visible, hidden, steps, streams, visible_means=means, on_step=hook)
    return d_visible.copy_to_host(), (None if means is None else means.copy_to_host())


class RBMDeviceTrainer(DeviceTrainer):
    """``RBMTrainer`` on a CUDA device: the same gradient, schemes and random draws.

    Parameters
    ----------
    model : BernoulliRBM
        Its arrays are refreshed from the device by ``download``.
    config : TrainingConfig
        ``centered`` is not supported on the device.
    streams : ChainStreams

    Notes
    -----
    Per update: p0 draw (Rdm-k) or minibatch copy (CD-k), k fused Gibbs
    steps, two fused hidden-means products, two transposed products into the
    weight gradient, four column sums into the bias gradients and three
    update kernels, all on the device.
    """

    def __init__(self, model, config, streams):
        if config.centered:
            raise ValueError("centered: the centred gradient has no CUDA path yet; use backend='cpu'")
        super().__init__(config, streams, model.num_visibles, model.dtype)
        self.model = model
        dtype, nv, nh = model.dtype, model.num_visibles, model.num_hiddens
        self.params = DeviceParameters(model)
        probabilities = (np.full(nv, 0.5) if config.init == "uniform" else bias_init_probabilities(model))
        self.init_logits = cuda.to_device((np.log(probabilities) - np.log1p(-probabilities)).astype(dtype))
        self.zero_field = cuda.to_device(np.zeros((self.num_chains, nv), dtype=dtype))
        self.hidden = cuda.device_array((self.num_chains, nh), dtype=dtype)
        self.chain_hidden = cuda.device_array((self.num_chains, nh), dtype=dtype)
        self.batch_hidden = cuda.device_array((config.batch_size, nh), dtype=dtype)
        self.grad_w = cuda.device_array((nv, nh), dtype=dtype)
        self.grad_a = cuda.device_array(nv, dtype=dtype)
        self.grad_b = cuda.device_array(nh, dtype=dtype)
        self.partial = cuda.device_array((linalg.default_row_groups(), max(nv, nh)), dtype=dtype)
        if config.scheme == "pcd":
            self._draw_p0_into(self.device_chains)

    def download(self):
        """Bring the host model up to date (before logging and checkpoints)."""
        self.params.download()

    def _draw_p0_into(self, out):
        key0, key1 = self.streams.kernel_args()
        _gpu.sample_bernoulli_layer(self.zero_field, self.init_logits, key0, key1, self.streams.next_draw(), 0, out)
        return out

    def negative_chains(self, batch):
        """The negative-phase chains after k steps (a device array); PCD-k chains continue in place."""
        chains = self.start_chains(batch)
        device_gibbs_steps(self.params, chains, self.hidden, self.config.k, self.streams)
        return chains

    def update(self, batch, learning_rate):
        """One gradient-ascent step on the device ``batch``; returns lazily read metrics."""
        params = self.params
        chains = self.negative_chains(batch)
        inv_b, inv_m = 1.0 / batch.shape[0], 1.0 / chains.shape[0]
        _gpu.bernoulli_means_product(batch, params.weights, False, params.hbias, self.batch_hidden)
        _gpu.bernoulli_means_product(chains, params.weights, False, params.hbias, self.chain_hidden)
        linalg.scaled_product(batch, self.batch_hidden, inv_b, self.grad_w, transpose_left=True)
        linalg.scaled_product(chains, self.chain_hidden, -inv_m, self.grad_w, accumulate=True, transpose_left=True)
        linalg.column_means(batch, self.partial, inv_b, self.grad_a)
        linalg.column_means(chains, self.partial, -inv_m, self.grad_a, accumulate=True)
        linalg.column_means(self.batch_hidden, self.partial, inv_b, self.grad_b)
        linalg.column_means(self.chain_hidden, self.partial, -inv_m, self.grad_b, accumulate=True)
        self.ascend([(params.weights, self.grad_w, self.config.l2), (params.vbias, self.grad_a, 0.0),
                     (params.hbias, self.grad_b, 0.0)], learning_rate)
        # grad_a is <v>_data - <v>_chains: its rms is the CPU trainer's magnetisation_rmse.
        return LazyMetrics(lambda: {"magnetisation_rmse": _rms(self.grad_a.copy_to_host())})


def _rms(values):
    return float(np.sqrt(np.mean(values.astype(np.float64) ** 2)))
