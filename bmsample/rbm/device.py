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
from .. import _steps
from .._device_tempering import DeviceRows, DeviceTemperedChains
from .._device_training import DeviceTrainer, LazyMetrics, rms
from . import _gpu
from .model import bias_init_probabilities


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
    with _steps.abandonable():
        for t in range(1, steps + 1):
            _gpu.sample_bernoulli_product(visible, params.weights, False, params.hbias, key0, key1,
                                          streams.next_draw(), 0, hidden)
            means = visible_means if t == steps else None
            _gpu.sample_bernoulli_product(hidden, params.weights, True, params.vbias, key0, key1,
                                          streams.next_draw(), 0, visible, means)
            if on_step is not None:
                on_step(t, visible)
            _steps.steps_done(1)


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


def two_layer_products(params, visible, hidden, steps):
    """The bare v W and h W^T of ``steps`` block-Gibbs steps on device arrays (``bench``'s baseline)."""
    hidden_field = cuda.device_array_like(hidden)
    visible_field = cuda.device_array_like(visible)

    def products():
        for _ in range(steps):
            linalg.scaled_product(visible, params.weights, 1.0, hidden_field)
            linalg.scaled_product(hidden, params.weights, 1.0, visible_field, transpose_right=True)

    return products


def bench_case(model, state, steps, streams):
    """(products, sampler) of ``bench`` on the device from the host chains ``state``: ``steps`` each, unsynchronised."""
    params, visible = DeviceParameters(model), cuda.to_device(state)
    hidden = cuda.to_device(np.zeros((state.shape[0], model.num_hiddens), dtype=model.dtype))
    return (two_layer_products(params, visible, hidden, steps),
            lambda: device_gibbs_steps(params, visible, hidden, steps, streams))


class TwoLayerDeviceTrainer(DeviceTrainer):
    """Base of the device trainers of the RBM families: hidden-layer buffers and the gradient they share.

    Subclasses set ``params`` (with ``weights``, ``vbias``, ``hbias`` on the device).
    """

    def __init__(self, model, estimate, streams):
        super().__init__(estimate, streams, model.num_visibles, model.dtype)
        self.model = model
        dtype, nv, nh = model.dtype, model.num_visibles, model.num_hiddens
        self.hidden = cuda.device_array((self.num_chains, nh), dtype=dtype)
        self.chain_hidden = cuda.device_array((self.num_chains, nh), dtype=dtype)
        self.batch_hidden = cuda.device_array((estimate.batch_size, nh), dtype=dtype)
        self.grad_w = cuda.device_array((nv, nh), dtype=dtype)
        self.grad_scratch = self.gradient_scratch(nv, nh, dtype)
        self.grad_a = cuda.device_array(nv, dtype=dtype)
        self.grad_b = cuda.device_array(nh, dtype=dtype)
        self.partial = cuda.device_array((linalg.default_row_groups(), max(nv, nh)), dtype=dtype)

    def hidden_gradient(self, batch, chains, hidden_weights, hidden_data_means=None):
        """The two-phase statistics of a layer of Bernoulli hidden units, into the gradient buffers.

        With p(v) = sigmoid(v @ hidden_weights + hbias) (into ``batch_hidden``
        and ``chain_hidden``): ``grad_w = <v p^T>_data - <v p^T>_chains``,
        ``grad_a = <v>_data - <v>_chains``, ``grad_b = <p>_data - <p>_chains``.
        ``hidden_data_means``, when given, also receives ``<p>_data``.
        Returns 1 / (rows of ``batch``).
        """
        hbias = self.params.hbias
        inv_b, inv_m = 1.0 / batch.shape[0], 1.0 / chains.shape[0]
        _gpu.bernoulli_means_product(batch, hidden_weights, False, hbias, self.batch_hidden)
        _gpu.bernoulli_means_product(chains, hidden_weights, False, hbias, self.chain_hidden)
        linalg.scaled_product(batch, self.batch_hidden, inv_b, self.grad_w, transpose_left=True,
                              scratch=self.grad_scratch)
        linalg.scaled_product(chains, self.chain_hidden, -inv_m, self.grad_w, accumulate=True, transpose_left=True,
                              scratch=self.grad_scratch)
        linalg.column_means(batch, self.partial, inv_b, self.grad_a)
        linalg.column_means(chains, self.partial, -inv_m, self.grad_a, accumulate=True)
        linalg.column_means(self.batch_hidden, self.partial, inv_b, self.grad_b)
        if hidden_data_means is not None:
            hidden_data_means.copy_to_device(self.grad_b)
        linalg.column_means(self.chain_hidden, self.partial, -inv_m, self.grad_b, accumulate=True)
        return inv_b


class RBMDeviceTrainer(TwoLayerDeviceTrainer):
    """``RBMTrainer`` on a CUDA device: the same gradient, schemes and random draws.

    Parameters
    ----------
    model : BernoulliRBM
        Its arrays are refreshed from the device by ``download``.
    estimate : bmsample._ascent.Estimate
    streams : ChainStreams
    l2, centered, centering_rate
        As ``RBMTrainer``'s.

    Notes
    -----
    Per update: p0 draw (Rdm-k) or minibatch copy (CD-k), k fused Gibbs
    steps, two fused hidden-means products, two transposed products into the
    weight gradient, four column sums into the bias gradients and three
    update kernels, all on the device.  The centred gradient (``centered``)
    adds the corrections of ``RBMTrainer.gradient`` (a rank-2 update, two
    matrix-vector products) and the running hidden offset, kept on the
    device; ``hidden_offset`` is its host copy, refreshed by ``download``.
    """

    def __init__(self, model, estimate, streams, *, l2=0.0, centered=False, centering_rate=0.01):
        super().__init__(model, estimate, streams)
        self.l2, self.centering_rate = l2, centering_rate
        dtype, nv, nh = model.dtype, model.num_visibles, model.num_hiddens
        self.params = DeviceParameters(model)
        probabilities = (np.full(nv, 0.5) if estimate.init == "uniform" else bias_init_probabilities(model))
        self.init_logits = cuda.to_device((np.log(probabilities) - np.log1p(-probabilities)).astype(dtype))
        self.zero_field = cuda.to_device(np.zeros((self.num_chains, nv), dtype=dtype))
        self.hidden_offset = None
        if centered:
            self.hidden_offset = np.full(nh, 0.5, dtype=dtype)
            self.device_visible_offset = cuda.to_device(model.data_means.astype(dtype))
            self.device_hidden_offset = cuda.to_device(self.hidden_offset)
            self.hidden_data_means = cuda.device_array(nh, dtype=dtype)
            self.visible_gap = cuda.device_array(nv, dtype=dtype)
        if estimate.scheme == "pcd":
            self._draw_p0_into(self.device_chains)

    def download(self):
        """Bring the host model (and the centred gradient's hidden offset) up to date, for logging and checkpoints."""
        super().download()
        if self.hidden_offset is not None:
            self.device_hidden_offset.copy_to_host(self.hidden_offset)

    def restore(self, chains):
        """Upload parameters, PCD chains and the host ``hidden_offset`` (resuming from a checkpoint)."""
        super().restore(chains)
        if self.hidden_offset is not None:
            self.device_hidden_offset.copy_to_device(self.hidden_offset)

    def _draw_p0_into(self, out):
        key0, key1 = self.streams.kernel_args()
        _gpu.sample_bernoulli_layer(self.zero_field, self.init_logits, key0, key1, self.streams.next_draw(), 0, out)
        return out

    def negative_chains(self, batch):
        """The negative-phase chains after k steps (a device array); PCD-k chains continue in place."""
        chains = self.start_chains(batch)
        device_gibbs_steps(self.params, chains, self.hidden, self.estimate.k, self.streams)
        return chains

    def update(self, batch, learning_rate):
        """One gradient-ascent step on the device ``batch``; returns lazily read metrics."""
        params = self.params
        chains = self.negative_chains(batch)
        centred = self.hidden_offset is not None
        self.hidden_gradient(batch, chains, params.weights, self.hidden_data_means if centred else None)
        visible_gap = self.grad_a  # <v>_data - <v>_chains: its rms is the CPU trainer's magnetisation_rmse
        if centred:
            visible_gap = self.visible_gap
            visible_gap.copy_to_device(self.grad_a)
            self._centre_gradient()
        self.ascend([(params.weights, self.grad_w, self.l2), (params.vbias, self.grad_a, 0.0),
                     (params.hbias, self.grad_b, 0.0)], learning_rate)
        return LazyMetrics(lambda: {"magnetisation_rmse": rms(visible_gap.copy_to_host())})

    def _centre_gradient(self):
        """The corrections of the centred gradient, then the running hidden offset (as ``RBMTrainer.gradient``)."""
        mu, lam = self.device_visible_offset, self.device_hidden_offset
        nv, nh = mu.shape[0], lam.shape[0]
        _gpu.subtract_outer_pair(self.grad_w, mu, self.grad_b, self.grad_a, lam)
        # grad_a -= grad_w @ lam and grad_b -= mu @ grad_w, as (nv, 1) and (1, nh) products.
        linalg.scaled_product(self.grad_w, lam.reshape(nh, 1), -1.0, self.grad_a.reshape(nv, 1), accumulate=True)
        linalg.scaled_product(mu.reshape(1, nv), self.grad_w, -1.0, self.grad_b.reshape(1, nh), accumulate=True)
        linalg.blend(lam, self.hidden_data_means, self.centering_rate)


class _TemperedDeviceWorkspace(DeviceRows):
    """Device copies of parallel tempering's rows and their fields, and the host copy of the swap gaps."""

    def __init__(self, model, num_rows):
        super().__init__(model, num_rows, model.num_visibles)
        dtype, nv, nh = model.dtype, model.num_visibles, model.num_hiddens
        self.hidden_field = cuda.device_array((num_rows, nh), dtype=dtype)
        self.hidden = cuda.device_array((num_rows, nh), dtype=dtype)
        self.visible_field = cuda.device_array((num_rows, nv), dtype=dtype)
        self.betas = cuda.device_array(num_rows, dtype=np.float64)
        self.new_betas = cuda.device_array(num_rows, dtype=np.float64)
        self.gaps = cuda.device_array(num_rows, dtype=np.float64)
        self.host_gaps = np.empty(num_rows)


class DeviceTempered(DeviceTemperedChains):
    """Parallel tempering's RBM chains on a CUDA device, for ``bmsample.tempering`` (a ``TemperedChains``);
    subclasses change the visible pass (``bmsample.grbm.device.DeviceGRBMTempered``).

    The rows live on the device; each sweep computes ``v W`` and the swap gaps there and copies the R x M gaps
    to the host, which decides the swaps (the same draws as on the CPU) and sends back the rows' betas; the
    hidden and visible passes then run on the device.  The host state is brought up to date only when the
    ladder reads it (``download``: recording, resizing, the output).

    Parameters
    ----------
    host : bmsample.rbm.tempering.RBMTempered
        The CPU process of the same model and base (its parameters, base biases and options).
    """

    def __init__(self, host):
        super().__init__(host)
        self.params = DeviceParameters(self.model)
        dtype = self.model.dtype
        # The hidden field's weights: the model's (Gaussian-Bernoulli: scaled by 1 / sigma).
        self.field_weights = (self.params.weights if host.weights is self.model.weight_matrix else
                              cuda.to_device(np.ascontiguousarray(host.weights)))
        self.base_vbias = cuda.to_device(host.base_vbias)
        self.zero_hbias = cuda.to_device(np.zeros(self.model.num_hiddens, dtype=dtype))
        self.vbias_gap = cuda.to_device(host.vbias_gap64.astype(dtype))

    def _workspace(self, num_rows):
        return _TemperedDeviceWorkspace(self.model, num_rows)

    def prepare(self, state, workspace, fresh, betas, new_betas):
        linalg.scaled_product(workspace.state, self.field_weights, 1.0, workspace.hidden_field)
        workspace.betas.copy_to_device(np.ascontiguousarray(betas, dtype=np.float64))
        workspace.new_betas.copy_to_device(np.ascontiguousarray(new_betas, dtype=np.float64))
        _gpu.tempered_gaps(workspace.hidden_field, self.params.hbias, workspace.state, self.vbias_gap,
                           workspace.betas, workspace.new_betas, workspace.gaps)
        workspace.gaps.copy_to_host(workspace.host_gaps)
        return workspace.host_gaps

    def step(self, state, workspace, row_betas, streams):
        workspace.send_betas(row_betas)
        key0, key1 = streams.kernel_args()
        draw = streams.reserve(2)
        _gpu.sample_tempered_layer(workspace.hidden_field, self.params.hbias, self.zero_hbias, workspace.row_betas,
                                   key0, key1, draw, 0, workspace.hidden)
        linalg.scaled_product(workspace.hidden, self.params.weights, 1.0, workspace.visible_field,
                              transpose_right=True)
        self._visible_pass(workspace, key0, key1, draw + 1)
        workspace.host_is_stale = True

    def _visible_pass(self, workspace, key0, key1, draw):
        """The visible layer at the rows' betas from ``workspace.visible_field`` = h W^T."""
        _gpu.sample_tempered_layer(workspace.visible_field, self.params.vbias, self.base_vbias, workspace.row_betas,
                                   key0, key1, draw, 0, workspace.state)
