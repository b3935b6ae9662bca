"""Parallel tempering of a Gaussian-Bernoulli RBM (``bmsample.tempering``), in standardised units.

At beta the chains follow the Gaussian-Bernoulli RBM (beta W, (1 - beta) a0 + beta a, beta b) of the same
widths sigma, a0 = 0 the standardised data mean (so p_0 is independent N(0, sigma_i^2) units):

    log p*_beta(z) = z . ((1 - beta) a0 + beta a) / sigma^2 + sum_j softplus(beta (b_j + ((z / sigma) W)_j))

up to terms that do not depend on z, or on beta (-|z / sigma|^2 / 2).  The swap energies are those of the
Bernoulli RBM's kernel with visible biases a / sigma^2 and a0 / sigma^2 on the hidden field z (W / sigma).
"""

import numpy as np

from .._validation import check_choice
from ..rbm.tempering import RBMTempered
from . import _cpu
from .model import GaussianBernoulliRBM
from .sample import scaled_weights


class GRBMTempered(RBMTempered):
    """Block-Gibbs chains of a Gaussian-Bernoulli RBM at the rows' inverse temperatures."""

    task = "gaussian-rbm block-gibbs tempering"

    def __init__(self, model, *, base="data"):
        if not isinstance(model, GaussianBernoulliRBM):
            raise TypeError(f"model: expected a GaussianBernoulliRBM, got {type(model).__name__}")
        check_choice(base, "base", ("data",))
        sigma64 = model.sigma.astype(np.float64)
        a0 = np.zeros(model.num_visibles)
        weights = scaled_weights(model, np.empty_like(model.weight_matrix))
        self._setup(model, weights, model.vbias.astype(np.float64) / sigma64**2, a0 / sigma64**2)
        # The visible pass draws a + sigma * field + sigma * xi: at beta the field is
        # beta (W h) + (1 - beta) (a0 - a) / sigma.
        self.bias_gap = ((a0 - model.vbias.astype(np.float64)) / sigma64).astype(model.dtype)
        self.a0 = a0.astype(model.dtype)
        self.record_dtype, self.to_data_units = model.dtype, model.destandardise

    def on_device(self, backend):
        from .device import DeviceGRBMTempered

        return DeviceGRBMTempered(self)

    def base_states(self, num_rows, streams):
        shape = (num_rows, self.model.num_visibles)
        key0, key1 = streams.kernel_args()
        state = np.empty(shape, self.model.dtype)
        _cpu.sample_gaussian_visible(np.zeros(shape, self.model.dtype), self.a0, self.model.sigma, key0, key1,
                                     streams.next_draw(), 0, state)
        return state

    def _visible_pass(self, state, workspace, betas, key0, key1, draw):
        field = workspace.visible_field
        field *= betas[:, None]
        field += (1 - betas)[:, None] * self.bias_gap[None, :]
        _cpu.sample_gaussian_visible(field, self.model.vbias, self.model.sigma, key0, key1, draw, 0, state)
