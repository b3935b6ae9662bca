"""Gradient estimation and parameter updates of a Gaussian-Bernoulli RBM under the
Rdm-k, CD-k and PCD-k schemes (see ``bmsample.training`` for the loop).

Everything here is in standardised units: the loop standardises the data once
with the model's ``data_mean`` / ``data_std`` (``model.standardise``) and hands
over standardised minibatches.
"""

import numpy as np

from .._ascent import GradientAscent
from .._chains import update_start
from . import _cpu
from .sample import GRBMWorkspace, gibbs_steps, initial_states, scaled_weights


class GRBMTrainer(GradientAscent):
    """Holds the negative-phase chains and workspaces of one training run.

    Parameters
    ----------
    model : GaussianBernoulliRBM
        Updated in place (W, vbias, hbias; sigma, data_mean and data_std are fixed).
    estimate : bmsample._ascent.Estimate
        ``init``: "zeros", "gaussian" or "data"; ``init_scale`` in standardised units.
    streams : ChainStreams
        Random streams of the negative chains.
    data : ndarray, shape (num_samples, num_visibles)
        The STANDARDISED training data (model dtype), source of the p0 rows for ``init="data"``.
    generator : numpy Generator
        Picks the p0 rows for ``init="data"``.
    l2 : float
        Weight decay on ``weight_matrix``.
    chains : ndarray, shape (num_chains, num_visibles), optional
        Persistent chains to resume a PCD run (standardised units); default: fresh p0 draws.

    Notes
    -----
    Gradient ascent on the log-likelihood with P(h|z) on both phases and sigma fixed:

        dW = <(z/sigma) P(h|z)^T>_data - <(z/sigma) P(h|z)^T>_chains - l2 W
        da = <(z - a)/sigma^2>_data - <(z - a)/sigma^2>_chains = (<z>_data - <z>_chains) / sigma^2
        db = <P(h|z)>_data - <P(h|z)>_chains

    where the chains are, at every update, fresh draws from p0 run for k
    block-Gibbs steps (Rdm-k), the minibatch run for k steps (CD-k), or the
    persistent chains run for k more steps (PCD-k).  ``chains`` holds the PCD
    chains in standardised units (None for the other schemes).
    """

    PARAMETERS = ("weight_matrix", "vbias", "hbias")

    def __init__(self, model, estimate, streams, data, generator, *, l2=0.0, chains=None):
        super().__init__(model, estimate, streams)
        self.l2 = l2
        self.data = data
        self.generator = generator
        self.workspace = GRBMWorkspace(model, self.num_chains)
        self.chain_hidden = np.empty((self.num_chains, model.num_hiddens), dtype=model.dtype)
        self.batch_hidden = np.empty((estimate.batch_size, model.num_hiddens), dtype=model.dtype)
        self.chains = chains
        if estimate.scheme == "pcd" and self.chains is None:
            self.chains = self._draw_p0()

    def _draw_p0(self):
        estimate = self.estimate
        return initial_states(self.model, self.num_chains, estimate.init, estimate.init_scale, self.streams,
                              self.generator, data=self.data)

    def negative_chains(self, batch):
        """The chains of this update's negative phase after k steps, shape (num_chains, num_visibles)."""
        chains = update_start(self.estimate.scheme, self._draw_p0, batch, self.chains)
        gibbs_steps(self.model, chains, self.estimate.k, self.streams, self.workspace)
        return chains

    def _hidden_means(self, visible, out):
        """P(h = 1 | z) = sigmoid(z @ (W / sigma) + b) into ``out``."""
        np.matmul(visible, self.workspace.scaled_weights, out=out)
        _cpu.bernoulli_means(out, self.model.hbias, out)
        return out

    def gradient(self, batch):
        """Estimate the log-likelihood gradient on the standardised ``batch`` (batch_size, num_visibles).

        Returns
        -------
        grads : tuple (grad_w, grad_a, grad_b)
            Shapes (num_visibles, num_hiddens), (num_visibles,), (num_hiddens,), model dtype.
        metrics : dict
            "mean_rmse": rms error of the chains' visible means against the batch's;
            "variance_rmse": the same for the per-unit variances (standardised units).
        """
        model = self.model
        dt = model.dtype.type
        chains = self.negative_chains(batch)
        scaled_weights(model, self.workspace.scaled_weights)
        batch_hidden = self._hidden_means(batch, self.batch_hidden[:batch.shape[0]])
        chain_hidden = self._hidden_means(chains, self.chain_hidden)
        inv_sigma = dt(1) / model.sigma
        # (z / sigma)^T P: the 1/sigma row scaling is applied once to the (num_visibles, num_hiddens) result.
        grad_w = (batch.T @ batch_hidden) * dt(1.0 / batch.shape[0])
        grad_w += (chains.T @ chain_hidden) * dt(-1.0 / chains.shape[0])
        grad_w *= inv_sigma[:, None]
        mean_data, mean_chains = batch.mean(axis=0), chains.mean(axis=0)
        grad_a = (mean_data - mean_chains) * inv_sigma * inv_sigma
        grad_b = batch_hidden.mean(axis=0) - chain_hidden.mean(axis=0)
        if self.l2:
            grad_w -= dt(self.l2) * model.weight_matrix
        metrics = {"mean_rmse": float(np.sqrt(np.mean((mean_chains - mean_data) ** 2))),
                   "variance_rmse": float(np.sqrt(np.mean((chains.var(axis=0) - batch.var(axis=0)) ** 2)))}
        return (grad_w, grad_a, grad_b), metrics
