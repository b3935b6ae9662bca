"""Parallel tempering of +-1 spins (``bmsample.tempering``): sweeps at any inverse temperature.

    log p*_beta(s) = -beta E(s) + (1 - beta) h0 . s,

p_0 the independent spins of field h0 (``base="data"``: atanh of the
training data's magnetisations when the model records them, else 0;
``base="uniform"``: 0, a plain temperature ladder).  A site at beta feels the
field beta H_i + (1 - beta) h0_i with H = h + s J the local fields the
kernel keeps up to date, so -E(s) = s . (H + h) / 2 costs O(N) per chain.
"""

import numpy as np

from .._validation import check_choice
from ..rbm.sample import independent_site_chains
from ..tempering import TemperedChains
from . import _cpu
from .model import IsingModel
from .sample import SAMPLERS, IsingWorkspace


def base_field(model, base):
    """h0 of the beta = 0 law: atanh of the data magnetisations (clipped as p0 "bias" is), or zeros."""
    check_choice(base, "base", ("data", "uniform"))
    if base == "uniform" or model.data_magnetisation is None:
        return np.zeros(model.num_units)
    return np.arctanh(np.clip(model.data_magnetisation, -1 + 2e-3, 1 - 2e-3))


class IsingTempered(TemperedChains):
    """Sweeps of the model's sampler (heat-bath by default, as trained) at the rows' inverse temperatures."""

    record_dtype = np.int8

    def __init__(self, model, *, base="data", sampler=None):
        if not isinstance(model, IsingModel):
            raise TypeError(f"model: expected an IsingModel, got {type(model).__name__}")
        self.model = model
        self.base64 = base_field(model, base)
        self.base = self.base64.astype(model.dtype)
        self.sampler = check_choice((model.process or {}).get("sampler", "heat-bath") if sampler is None else sampler,
                                    "sampler", tuple(SAMPLERS))
        self.task = f"ising {self.sampler} tempering"
        self.field64 = model.field.astype(np.float64)
        self._row_betas = self._betas_in_dtype = None

    def base_states(self, num_rows, streams):
        up = 1.0 / (1.0 + np.exp(-2.0 * self.base64))
        return 2 * independent_site_chains(up, num_rows, streams, self.model.dtype) - 1

    def workspace(self, num_rows):
        return IsingWorkspace(self.model, num_rows)

    def prepare(self, state, workspace, fresh, betas, new_betas):
        if fresh:
            np.matmul(state, self.model.coupling_matrix, out=workspace.local_field)
            workspace.local_field += self.model.field
        s = state.astype(np.float64)
        minus_energy = 0.5 * np.einsum("ij,ij->i", s, workspace.local_field + self.field64)
        return (new_betas - betas) * (minus_energy - s @ self.base64)

    def on_device(self, backend):
        from .device import DeviceIsingTempered

        return DeviceIsingTempered(self)

    def step(self, state, workspace, row_betas, streams):
        if row_betas is not self._row_betas:
            self._row_betas, self._betas_in_dtype = row_betas, row_betas.astype(self.model.dtype)
        key0, key1 = streams.kernel_args()
        _cpu.sweeps(self.model.coupling_matrix, SAMPLERS[self.sampler], 1, key0, key1, streams.reserve(1), 0, state,
                    *workspace.scratch(), self._betas_in_dtype, self.base)
