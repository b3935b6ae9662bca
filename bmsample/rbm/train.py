"""Gradient estimation and parameter updates of a Bernoulli RBM under the
Rdm-k, CD-k and PCD-k schemes (see ``bmsample.training`` for the loop)."""

import numpy as np

from .._chains import update_start
from . import _cpu
from .sample import GibbsWorkspace, bias_init_probabilities, gibbs_steps, independent_site_chains


class RBMTrainer:
    """Holds the negative-phase chains and workspaces of one training run.

    Parameters
    ----------
    model : BernoulliRBM
        Updated in place.
    config : TrainingConfig
    streams : ChainStreams
        Random streams of the negative chains.

    Notes
    -----
    Gradient ascent on the log-likelihood with P(h|v) on both phases:

        dW = <v P(h|v)^T>_data - <v P(h|v)^T>_chains - l2 W
        da = <v>_data - <v>_chains,   db = <P(h|v)>_data - <P(h|v)>_chains

    where the chains are, at every update, fresh draws from p0 run for k
    steps (Rdm-k), the minibatch run for k steps (CD-k), or the persistent
    chains run for k more steps (PCD-k).  With ``centered`` the gradient is
    that of the centred RBM (Melchior et al. 2016) mapped back to the
    uncentred parameters, with offsets mu = data means and lambda = running
    mean of P(h|v) on the data.
    """

    def __init__(self, model, config, streams, chains=None):
        self.model = model
        self.config = config
        self.streams = streams
        self.num_chains = config.batch_size if config.scheme == "cd" else config.num_chains
        self.workspace = GibbsWorkspace(model, self.num_chains)
        self.chain_hidden = np.empty((self.num_chains, model.num_hiddens), dtype=model.dtype)
        self.batch_hidden = np.empty((config.batch_size, model.num_hiddens), dtype=model.dtype)
        self.init_probabilities = (np.full(model.num_visibles, 0.5) if config.init == "uniform"
                                   else bias_init_probabilities(model))
        self.chains = chains
        if config.scheme == "pcd" and self.chains is None:
            self.chains = self._draw_p0()
        self.visible_offset = model.data_means.astype(model.dtype) if config.centered else None
        self.hidden_offset = np.full(model.num_hiddens, 0.5, dtype=model.dtype) if config.centered else None

    def _draw_p0(self):
        return independent_site_chains(self.init_probabilities, self.num_chains, self.streams, self.model.dtype)

    def negative_chains(self, batch):
        """The chains of this update's negative phase, after k steps, shape (num_chains, num_visibles)."""
        chains = update_start(self.config.scheme, self._draw_p0, batch, self.chains)
        gibbs_steps(self.model, chains, self.config.k, self.streams, self.workspace)
        return chains

    def _hidden_means(self, visible, out):
        np.matmul(visible, self.model.weight_matrix, out=out)
        _cpu.bernoulli_means(out, self.model.hbias, out)
        return out

    def gradient(self, batch):
        """Estimate the log-likelihood gradient on ``batch`` (batch_size, num_visibles).

        Returns
        -------
        grads : tuple (grad_w, grad_a, grad_b)
            Shapes (num_visibles, num_hiddens), (num_visibles,), (num_hiddens,).
        metrics : dict
            Cheap diagnostics: rms error of the chains' visible means against the batch.
        """
        model, cfg = self.model, self.config
        chains = self.negative_chains(batch)
        batch_hidden = self._hidden_means(batch, self.batch_hidden[:batch.shape[0]])
        chain_hidden = self._hidden_means(chains, self.chain_hidden)
        v_data, v_model = batch.mean(axis=0), chains.mean(axis=0)
        h_data, h_model = batch_hidden.mean(axis=0), chain_hidden.mean(axis=0)
        inv_b = model.dtype.type(1.0 / batch.shape[0])
        inv_m = model.dtype.type(-1.0 / chains.shape[0])
        if cfg.centered:
            mu, lam = self.visible_offset, self.hidden_offset
            grad_w = ((batch - mu).T @ (batch_hidden - lam)) * inv_b
            grad_w += ((chains - mu).T @ (chain_hidden - lam)) * inv_m
            grad_a = v_data - v_model - grad_w @ lam
            grad_b = h_data - h_model - mu @ grad_w
            lam *= model.dtype.type(1.0 - cfg.centering_rate)
            lam += model.dtype.type(cfg.centering_rate) * h_data
        else:
            grad_w = (batch.T @ batch_hidden) * inv_b
            grad_w += (chains.T @ chain_hidden) * inv_m
            grad_a = v_data - v_model
            grad_b = h_data - h_model
        if cfg.l2:
            grad_w -= model.dtype.type(cfg.l2) * model.weight_matrix
        metrics = {"magnetisation_rmse": float(np.sqrt(np.mean((v_model - v_data) ** 2)))}
        return (grad_w, grad_a, grad_b), metrics

    def update(self, batch, learning_rate):
        """One gradient-ascent step on ``batch``; returns the metrics of ``gradient``."""
        (grad_w, grad_a, grad_b), metrics = self.gradient(batch)
        lr = self.model.dtype.type(learning_rate)
        self.model.weight_matrix += lr * grad_w
        self.model.vbias += lr * grad_a
        self.model.hbias += lr * grad_b
        return metrics

    def parameters_finite(self):
        """False when a parameter is NaN or inf, or so large that its sum overflows."""
        m = self.model
        with np.errstate(over="ignore", invalid="ignore"):
            return bool(np.isfinite(m.weight_matrix.sum()) and np.isfinite(m.vbias.sum())
                        and np.isfinite(m.hbias.sum()))
