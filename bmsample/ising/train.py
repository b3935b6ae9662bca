"""Gradient estimation and updates of a fully connected Boltzmann machine under Rdm-k, CD-k and PCD-k."""

import numpy as np

from .._ascent import GradientAscent
from .._chains import update_start
from .._jarzynski import JarzynskiWeights
from .model import runaway_parameters, up_probabilities
from .sample import IsingWorkspace, initial_spins, run_sweeps


class IsingTrainer(GradientAscent):
    """Negative-phase chains and updates of one training run of an ``IsingModel``.

    Parameters
    ----------
    model : IsingModel
        Updated in place.
    estimate : bmsample._ascent.Estimate
        ``init``: "uniform" or "bias"; ``sampler``: a sweep of ``ising.sample``.
    streams : ChainStreams
    data : ndarray, shape (num_samples, N)
        +-1 spins.

    Notes
    -----
    dL/dh = <s>_data - <s>_chains and dL/dJ_ij = <s_i s_j>_data - <s_i s_j>_chains
    (i != j; J stays symmetric with zero diagonal, and zero for independent spins).  Jarzynski: the chain
    averages are weighted by the chains' importance weights (``bmsample._jarzynski``).
    """

    PARAMETERS = ("coupling_matrix", "field")

    def __init__(self, model, estimate, streams, data):
        super().__init__(model, estimate, streams)
        self.data = data
        self.workspace = IsingWorkspace(model, self.num_chains)
        self.chains = self._draw_p0() if estimate.persistent else None
        if estimate.scheme == "jarzynski":
            up = up_probabilities(model, estimate.init)
            half_logits = 0.5 * (np.log(up) - np.log1p(-up))  # log p0(s) = s . half_logits + const
            self.jarzynski = JarzynskiWeights(self.chains, self._log_p_star, lambda spins: spins @ half_logits,
                                              lambda: np.copyto(self.chains, self._draw_p0()), streams, estimate)

    def _draw_p0(self):
        return initial_spins(self.model, self.num_chains, self.estimate.init, self.streams, None)

    def _log_p_star(self, spins):
        """-E(s) of each row under the current model, float64."""
        return -self.model.energy(spins)

    def negative_chains(self, batch):
        chains = update_start(self.estimate.scheme, self._draw_p0, batch, self.chains)
        run_sweeps(self.model, chains, self.estimate.k, self.streams, self.workspace, sampler=self.estimate.sampler)
        return chains

    def gradient(self, batch):
        """((grad_J, grad_h), metrics) on ``batch`` (batch_size, N) of +-1 spins."""
        chains = self.negative_chains(batch)
        dt = self.model.dtype.type
        weights = self.chain_weights()
        if weights is not None:
            weights = weights.astype(self.model.dtype)
        m_data = batch.mean(axis=0)
        m_chains = chains.mean(axis=0) if weights is None else weights @ chains
        if self.model.independent:
            grad_j = np.zeros_like(self.model.coupling_matrix)
        else:
            grad_j = (batch.T @ batch) * dt(1.0 / batch.shape[0])
            if weights is None:
                grad_j -= (chains.T @ chains) * dt(1.0 / chains.shape[0])
            else:
                grad_j -= chains.T @ (chains * weights[:, None])
            np.fill_diagonal(grad_j, 0)
        metrics = {"magnetisation_rmse": float(np.sqrt(np.mean((m_chains - m_data) ** 2)))}
        if not self.model.independent:
            metrics["correlation_rmse"] = float(np.sqrt(np.mean(grad_j**2)))
        return (grad_j, m_data - m_chains), metrics

    def divergence(self):
        """A message naming the runaway parameters (|value| > RUNAWAY), or None."""
        return runaway_parameters(self.model, self.estimate)
