"""A Bernoulli RBM's trajectory (``bmsample.trajectory``): block Gibbs under any of the models saved along training.

The sequence is the independent-site law of the data (index 0: W = 0, visible biases a0 as AIS's base, hidden
biases 0; exactly samplable, exact log Z) followed by the saved models.  Every model's unnormalised law is
log p*_t(v) = a_t . v + sum_j softplus(b_tj + (v W_t)_j), the exact -F_t(v).  One round of the kernels is one GEMM
``v W_t`` per replica for its own model (the field its step needs), one per replica for the model it is compared
with, and the ``h W_t^T`` of the step: the first and the last are those of a plain Gibbs step.
"""

import numba
import numpy as np

from .._validation import check_choice
from ..trajectory import TrajectoryChains
from . import _cpu
from .model import BernoulliRBM
from .sample import draw_independent_sites


class _Workspace:
    """Fields, scratch and log-weights of R replicas of M chains."""

    def __init__(self, num_replicas, num_chains, num_visibles, num_hiddens, dtype):
        shape = (num_replicas, num_chains)
        self.fields = np.empty((*shape, num_hiddens), dtype=dtype)
        self.other_fields = np.empty((*shape, num_hiddens), dtype=dtype)
        self.hidden = np.empty((*shape, num_hiddens), dtype=dtype)
        self.visible_field = np.empty((*shape, num_visibles), dtype=dtype)
        self.own = np.zeros(shape)
        self.other = np.zeros(shape)


class RBMTrajectory(TrajectoryChains):
    """Block-Gibbs chains under the models of one Bernoulli-RBM trajectory (see the module doc)."""

    record_dtype = np.uint8
    task = "rbm trajectory tempering"

    def __init__(self, models, *, base="data"):
        from .likelihood import _resolve_base_vbias, base_log_partition

        check_choice(base, "base", ("data", "uniform"))
        final = models[-1]
        if not all(isinstance(model, BernoulliRBM) for model in models):
            raise TypeError("models: expected Bernoulli RBMs")
        a0 = _resolve_base_vbias(final, None) if base == "data" else np.zeros(final.num_visibles)
        dtype, size = final.dtype, len(models) + 3  # the last two: scratch for interpolated models
        self.num_units, self.num_hiddens = final.num_visibles, final.num_hiddens
        self.weights = np.zeros((size, final.num_visibles, final.num_hiddens), dtype=dtype)
        self.vbias = np.empty((size, final.num_visibles), dtype=dtype)
        self.hbias = np.zeros((size, final.num_hiddens), dtype=dtype)
        self.vbias[0] = a0
        for t, model in enumerate(models, start=1):
            self.weights[t], self.vbias[t], self.hbias[t] = model.weight_matrix, model.vbias, model.hbias
        self.dtype = dtype
        self.log_z_base = base_log_partition(a0, final.num_hiddens)

    @property
    def num_models(self):
        return self.weights.shape[0] - 2

    @property
    def scratch_slots(self):
        return (self.num_models, self.num_models + 1)

    def interpolate(self, slot, first, second, fraction):
        for array in (self.weights, self.vbias, self.hbias):
            np.multiply(array[first], 1 - fraction, out=array[slot])
            array[slot] += fraction * array[second]

    def base_states(self, num_rows, streams):
        shape = (num_rows, self.num_units)
        return draw_independent_sites(self.vbias[0], streams, np.empty(shape, self.dtype),
                                      np.zeros(shape, self.dtype))

    def workspace(self, num_replicas, num_chains):
        return _Workspace(num_replicas, num_chains, self.num_units, self.num_hiddens, self.dtype)

    def log_weights(self, states, workspace, models, others):
        chunks = _chunks(states)
        _cpu.trajectory_fields(self.weights, self.vbias, self.hbias, models, chunks, states, workspace.fields,
                               workspace.own)
        _cpu.trajectory_fields(self.weights, self.vbias, self.hbias, others, chunks, states, workspace.other_fields,
                               workspace.other)
        return workspace.own, workspace.other

    def exchange(self, states, workspace, firsts, accept):
        fields, other = workspace.fields, workspace.other_fields
        for r, mask in zip(firsts, accept):
            if not mask.any():
                continue
            low = states[r, mask]
            states[r, mask] = states[r + 1, mask]
            states[r + 1, mask] = low
            fields[r, mask] = other[r + 1, mask]
            fields[r + 1, mask] = other[r, mask]

    def advance(self, workspace):
        workspace.fields, workspace.other_fields = workspace.other_fields, workspace.fields

    def step(self, states, workspace, models, streams, fields_ready=True):
        chunks = _chunks(states)
        if not fields_ready:
            _cpu.trajectory_fields(self.weights, self.vbias, self.hbias, models, chunks, states, workspace.fields,
                                   workspace.own)
        key0, key1 = streams.kernel_args()
        _cpu.trajectory_gibbs_step(self.weights, self.vbias, self.hbias, models, key0, key1, streams.reserve(2),
                                   chunks, workspace.fields, workspace.hidden, workspace.visible_field, states)

    def data_log_weights(self, index, data):
        rows = np.ascontiguousarray(data, dtype=self.dtype)[None]
        fields = np.empty((1, rows.shape[1], self.num_hiddens), dtype=self.dtype)
        out = np.empty((1, rows.shape[1]))
        _cpu.trajectory_fields(self.weights, self.vbias, self.hbias, np.array([index]), _chunks(rows), rows, fields,
                               out)
        return out[0]


def _chunks(states):
    """Blocks of rows per replica: enough for every thread, each calling single-threaded BLAS."""
    num_replicas, num_chains = states.shape[:2]
    return max(1, min(num_chains, -(-numba.get_num_threads() // num_replicas)))
