"""Parallel tempering of a Bernoulli RBM (``bmsample.tempering``): block Gibbs at any inverse temperature.

At beta the chains follow the visible law of the RBM (beta W, (1 - beta) a0 + beta a, beta b), the path of
AIS (``bmsample.rbm.likelihood``):

    log p*_beta(v) = beta a . v + (1 - beta) a0 . v + sum_j softplus(beta (b_j + (v W)_j)),

a0 the visible biases of the independent-site law at beta = 0 (``base="data"``: the logit of the model's
training-data means, else its visible biases, as AIS; ``base="uniform"``: 0).  One sweep is one GEMM v W for
every chain of every replica and the swap energies from it (``_cpu.tempered_fields_and_gaps``), the hidden pass at
each row's beta and one GEMM h W^T (``_cpu.tempered_hidden_step``), and the visible pass: the products of one plain
Gibbs step of as many chains.  Each kernel's threads own blocks of rows and call single-threaded BLAS, as the
"blocks" Gibbs kernel does (``parallel_tempering`` sets it).
"""

import numba
import numpy as np

from .._validation import check_choice
from ..tempering import TemperedChains
from . import _cpu
from .model import BernoulliRBM
from .sample import GibbsWorkspace, draw_independent_sites


def _num_blocks(state):
    """Blocks of rows of the kernels: one per thread, each calling single-threaded BLAS."""
    return max(1, min(numba.get_num_threads(), state.shape[0]))


class _Workspace(GibbsWorkspace):
    """``GibbsWorkspace`` plus the float64 scratch and outputs of the swap energies."""

    def __init__(self, model, num_rows):
        super().__init__(model, num_rows)
        # One scratch row of the swap gaps per block of rows (a block per thread at most).
        self.terms = np.empty((numba.config.NUMBA_NUM_THREADS, 2 * model.num_hiddens), dtype=model.dtype)
        self.gaps = np.empty(num_rows)


class RBMTempered(TemperedChains):
    """Block-Gibbs chains of an RBM-like model whose hidden field is ``visible @ weights`` (see the module doc).

    Subclasses change the visible half-step (``_visible_pass``) and the beta-independent visible terms.
    """

    record_dtype = np.uint8
    task = "rbm block-gibbs tempering"

    def __init__(self, model, *, base="data"):
        if not isinstance(model, BernoulliRBM):
            raise TypeError(f"model: expected a BernoulliRBM, got {type(model).__name__}")
        from .likelihood import _resolve_base_vbias

        check_choice(base, "base", ("data", "uniform"))
        a0 = _resolve_base_vbias(model, None) if base == "data" else np.zeros(model.num_visibles)
        self._setup(model, model.weight_matrix, model.vbias.astype(np.float64), a0)

    def _setup(self, model, weights, vbias64, base_vbias64):
        self.model, self.weights = model, weights
        self.vbias_gap64, self.base_vbias64 = vbias64 - base_vbias64, base_vbias64
        self.base_vbias = base_vbias64.astype(model.dtype)
        self.zero_hbias = np.zeros(model.num_hiddens, dtype=model.dtype)
        self.ones = np.ones(model.num_hiddens, dtype=model.dtype)
        self._row_betas = self._betas_in_dtype = None

    def base_states(self, num_rows, streams):
        shape = (num_rows, self.model.num_visibles)
        return draw_independent_sites(self.base_vbias, streams, np.empty(shape, self.model.dtype),
                                      np.zeros(shape, self.model.dtype))

    def workspace(self, num_rows):
        return _Workspace(self.model, num_rows)

    def prepare(self, state, workspace, fresh, betas, new_betas):
        _cpu.tempered_fields_and_gaps(self.weights, self.model.hbias, state, self.vbias_gap64, betas, new_betas,
                                      _num_blocks(state), workspace.hidden_field, workspace.terms, self.ones,
                                      workspace.gaps)
        return workspace.gaps

    def step(self, state, workspace, row_betas, streams):
        if row_betas is not self._row_betas:
            self._row_betas, self._betas_in_dtype = row_betas, row_betas.astype(self.model.dtype)
        betas = self._betas_in_dtype
        key0, key1 = streams.kernel_args()
        draw = streams.reserve(2)
        _cpu.tempered_hidden_step(self.model.weight_matrix, self.model.hbias, self.zero_hbias, betas, key0, key1, draw,
                                  _num_blocks(state), workspace.hidden_field, workspace.hidden,
                                  workspace.visible_field)
        self._visible_pass(state, workspace, betas, key0, key1, draw + 1)

    def on_device(self, backend):
        from .device import DeviceTempered

        return DeviceTempered(self)

    def _visible_pass(self, state, workspace, betas, key0, key1, draw):
        _cpu.sample_tempered_layer(workspace.visible_field, self.model.vbias, self.base_vbias, betas, key0, key1,
                                   draw, 0, state)
