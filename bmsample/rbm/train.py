"""Gradient estimation and parameter updates of a Bernoulli RBM under the
Rdm-k, CD-k and PCD-k schemes (see ``bmsample.training`` for the loop)."""

import numpy as np

from .._ascent import GradientAscent
from .._jarzynski import JarzynskiWeights
from . import _cpu
from .model import bias_init_probabilities
from .sample import GibbsWorkspace, draw_independent_sites, gibbs_steps, site_logits


class RBMTrainer(GradientAscent):
    """Holds the negative-phase chains and workspaces of one training run.

    Parameters
    ----------
    model : BernoulliRBM
        Updated in place.
    estimate : bmsample._ascent.Estimate
        ``init``: "uniform" or "bias" (p0 of independent sites at the visible biases' rates).
    streams : ChainStreams
        Random streams of the negative chains.
    l2 : float
        Weight decay on ``weight_matrix``.
    centered : bool
        Use the centred gradient.
    centering_rate : float
        Rate of the running hidden-mean offset of the centred gradient.
    chains : ndarray, shape (num_chains, num_visibles), optional
        Initial PCD-k chains (default: a p0 draw).

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

    PARAMETERS = ("weight_matrix", "vbias", "hbias")

    def __init__(self, model, estimate, streams, *, l2=0.0, centered=False, centering_rate=0.01, chains=None):
        super().__init__(model, estimate, streams)
        self.l2, self.centering_rate = l2, centering_rate
        self.workspace = GibbsWorkspace(model, self.num_chains)
        dtype, B, M = model.dtype, estimate.batch_size, self.num_chains
        # Minibatch rows [B - b, B) and chains [B, B + M) of one array, so that
        # the hidden means and the weight gradient of both phases are one GEMM each.
        self._visible = np.empty((B + M, model.num_visibles), dtype=dtype)
        self._hidden = np.empty((B + M, model.num_hiddens), dtype=dtype)
        self._negative = self._visible[B:]
        self.grad_w = np.empty_like(model.weight_matrix)
        probabilities = (np.full(model.num_visibles, 0.5) if estimate.init == "uniform"
                         else bias_init_probabilities(model))
        self.p0_logits = site_logits(probabilities, dtype)
        self.chains = None
        if estimate.persistent:
            self.chains = self._negative
            if chains is None:
                self._draw_p0()
            else:
                np.copyto(self.chains, chains)
        if estimate.scheme == "jarzynski":
            p0_logits = self.p0_logits.astype(np.float64)
            self.jarzynski = JarzynskiWeights(self.chains, self._log_p_star, lambda states: states @ p0_logits,
                                              self._draw_p0, streams, estimate)
        self.visible_offset = model.data_means.astype(dtype) if centered else None
        self.hidden_offset = np.full(model.num_hiddens, 0.5, dtype=dtype) if centered else None

    def _draw_p0(self):
        zero_field = self.workspace.visible_field
        zero_field.fill(0)
        return draw_independent_sites(self.p0_logits, self.streams, self._negative, zero_field)

    def _log_p_star(self, states):
        """log p*(v) = a . v + sum_j softplus(b_j + (v W)_j) of each row under the current model, float64."""
        model = self.model
        field = states @ model.weight_matrix.astype(np.float64) + model.hbias.astype(np.float64)
        return states @ model.vbias.astype(np.float64) + np.logaddexp(0.0, field).sum(axis=1)

    def negative_chains(self, batch):
        """The chains of this update's negative phase after k steps, shape (num_chains, num_visibles).

        A view of the trainer's buffer: valid until the next call.
        """
        scheme = self.estimate.scheme
        if scheme == "rdm":
            self._draw_p0()
        elif scheme == "cd":
            np.copyto(self._negative, batch)
        gibbs_steps(self.model, self._negative, self.estimate.k, self.streams, self.workspace)
        return self._negative

    def gradient(self, batch):
        """Estimate the log-likelihood gradient on ``batch`` (at most batch_size rows, num_visibles).

        Returns
        -------
        grads : tuple (grad_w, grad_a, grad_b)
            Shapes (num_visibles, num_hiddens), (num_visibles,), (num_hiddens,);
            ``grad_w`` is the trainer's buffer, valid until the next call.
        metrics : dict
            Cheap diagnostics: rms error of the chains' visible means against the batch.
        """
        model = self.model
        B, b = self.estimate.batch_size, batch.shape[0]
        visible, hidden = self._visible[B - b:], self._hidden[B - b:]
        np.copyto(visible[:b], batch)
        chains = self.negative_chains(batch)
        np.matmul(visible, model.weight_matrix, out=hidden)
        _cpu.bernoulli_means(hidden, model.hbias, hidden)
        # Rows weighted 1/b (data) and -1/M (chains; Jarzynski: minus the normalised weights): one product gives
        # <v h>_data - <v h>_chains.
        hidden[:b] *= model.dtype.type(1.0 / b)
        weights = self.chain_weights()
        if weights is None:
            hidden[b:] *= model.dtype.type(-1.0 / chains.shape[0])
            v_model = chains.mean(axis=0)
        else:
            hidden[b:] *= -weights.astype(model.dtype)[:, None]
            v_model = (weights @ chains).astype(model.dtype)
        np.matmul(visible.T, hidden, out=self.grad_w)
        grad_b = hidden.sum(axis=0)
        v_data = visible[:b].mean(axis=0)
        grad_a = v_data - v_model
        if self.hidden_offset is not None:
            # sum_r s_r (v_r - mu)(h_r - lam)^T with sum_r s_r = 0 is the product above
            # minus mu (grad_b)^T and grad_a lam^T.
            mu, lam = self.visible_offset, self.hidden_offset
            _cpu.subtract_outer_pair(self.grad_w, mu, grad_b, grad_a, lam)
            h_data = hidden[:b].sum(axis=0)
            grad_a -= self.grad_w @ lam
            grad_b -= mu @ self.grad_w
            lam *= model.dtype.type(1.0 - self.centering_rate)
            lam += model.dtype.type(self.centering_rate) * h_data
        if self.l2:
            _cpu.add_scaled(self.grad_w, model.weight_matrix, model.dtype.type(-self.l2))
        metrics = {"magnetisation_rmse": float(np.sqrt(np.mean((v_model - v_data) ** 2)))}
        return (self.grad_w, grad_a, grad_b), metrics

    def apply(self, grads, learning_rate):
        grad_w, grad_a, grad_b = grads
        _cpu.add_scaled(self.model.weight_matrix, grad_w, learning_rate)
        self.model.vbias += learning_rate * grad_a
        self.model.hbias += learning_rate * grad_b
