"""Gradient estimation and updates of a fully connected Boltzmann machine under Rdm-k, CD-k and PCD-k."""

import numpy as np

from .._ascent import GradientAscent
from .._chains import update_start
from .sample import IsingWorkspace, initial_spins, run_sweeps

#: |h_i| or |J_ij| beyond this is reported as a runaway parameter: sigmoid(2 * 20)
#: is 1 to within 4e-18, so a larger value can only mean a statistic the
#: chains cannot reach.
RUNAWAY = 20.0


class IsingTrainer(GradientAscent):
    """Negative-phase chains and updates of one training run of an ``IsingModel``.

    Parameters
    ----------
    model : IsingModel
        Updated in place.
    config : TrainingConfig
        Uses scheme, k, init ("uniform" or "bias"), sampler, batch_size, num_chains.
    streams : ChainStreams
    data : ndarray, shape (num_samples, N)
        +-1 spins.

    Notes
    -----
    dL/dh = <s>_data - <s>_chains and dL/dJ_ij = <s_i s_j>_data - <s_i s_j>_chains
    (i != j; J stays symmetric with zero diagonal, and zero for independent spins).
    """

    PARAMETERS = ("coupling_matrix", "field")

    def __init__(self, model, config, streams, data):
        super().__init__(model, config, streams)
        self.data = data
        self.workspace = IsingWorkspace(model, self.num_chains)
        self.chains = self._draw_p0() if config.scheme == "pcd" else None

    def _draw_p0(self):
        return initial_spins(self.model, self.num_chains, self.config.init, self.streams, None)

    def negative_chains(self, batch):
        chains = update_start(self.config.scheme, self._draw_p0, batch, self.chains)
        run_sweeps(self.model, chains, self.config.k, self.streams, self.workspace, sampler=self.config.sampler)
        return chains

    def gradient(self, batch):
        """((grad_J, grad_h), metrics) on ``batch`` (batch_size, N) of +-1 spins."""
        chains = self.negative_chains(batch)
        dt = self.model.dtype.type
        m_data, m_chains = batch.mean(axis=0), chains.mean(axis=0)
        if self.model.independent:
            grad_j = np.zeros_like(self.model.coupling_matrix)
        else:
            grad_j = (batch.T @ batch) * dt(1.0 / batch.shape[0])
            grad_j -= (chains.T @ chains) * dt(1.0 / chains.shape[0])
            np.fill_diagonal(grad_j, 0)
        metrics = {"magnetisation_rmse": float(np.sqrt(np.mean((m_chains - m_data) ** 2)))}
        if not self.model.independent:
            metrics["correlation_rmse"] = float(np.sqrt(np.mean(grad_j**2)))
        return (grad_j, m_data - m_chains), metrics

    def divergence(self):
        """A message naming the runaway parameters (|value| > RUNAWAY), or None."""
        return runaway_parameters(self.model, self.config)


def runaway_parameters(model, config):
    """A message naming the parameters of ``model`` past |RUNAWAY| and why they ran away, or None."""
    fields = np.flatnonzero(np.abs(model.field) > RUNAWAY)
    couplings = np.argwhere(np.triu(np.abs(model.coupling_matrix) > RUNAWAY, 1))
    if fields.size == 0 and len(couplings) == 0:
        return None
    parts = []
    for i in fields[:5]:
        target = ("" if model.data_magnetisation is None
                  else f" (data magnetisation {model.data_magnetisation[i]:.4f})")
        parts.append(f"field h[{i}] = {model.field[i]:.3g}{target}")
    parts += [f"coupling J[{i},{j}] = {model.coupling_matrix[i, j]:.3g}" for i, j in couplings[:5]]
    more = fields.size + len(couplings) - len(parts)
    tail = f" and {more} more" if more > 0 else ""
    return (f"{', '.join(parts)}{tail} ran away past |{RUNAWAY:g}|: the data statistics cannot be reached in "
            f"{config.k} {config.sampler} sweeps from p0")
