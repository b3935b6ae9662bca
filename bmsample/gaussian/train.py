"""Gradient estimation and updates of a Gaussian energy model under Rdm-k, CD-k and PCD-k."""

import numpy as np

from .._ascent import GradientAscent
from .._chains import update_start
from .sample import GaussianWorkspace, initial_states, run_sampler
from .stability import UNSTABLE_STEP, data_variance_warning, langevin_instability_warning


class GaussianTrainer(GradientAscent):
    """Negative-phase chains and updates of one Gaussian training run.

    Parameters
    ----------
    model : GaussianModel
        Updated in place.
    estimate : bmsample._ascent.Estimate
        ``sampler``: "langevin" or "gibbs" (coordinate Gibbs sweeps).
    streams : ChainStreams
    data : ndarray, shape (num_samples, N)
        Source of p0 rows for ``init="data"``.
    generator : numpy Generator
        Picks the p0 rows for ``init="data"``.
    step_size : float
        Langevin step eps.
    temperature : float
        Temperature of the sampler.

    Notes
    -----
    With the log-likelihood gradient dL/dJ = -1/2 (<x x^T>_data - <x x^T>_chains)
    and dL/dh = <x>_data - <x>_chains, J stays symmetric.  The chains are fresh
    p0 draws run for k steps (Rdm-k), the minibatch run for k steps (CD-k) or
    persistent chains (PCD-k).
    """

    PARAMETERS = ("coupling_matrix", "field")

    def __init__(self, model, estimate, streams, data, generator, *, step_size=0.01, temperature=1.0):
        super().__init__(model, estimate, streams)
        self.step_size, self.temperature = step_size, temperature
        self.data = data
        self.generator = generator
        self.workspace = GaussianWorkspace(model, self.num_chains)
        self.chains = self._draw_p0() if estimate.scheme == "pcd" else None
        self._stability_warned = False
        if estimate.sampler == "langevin":
            data_variance_warning(data, step_size)

    def _draw_p0(self):
        estimate = self.estimate
        return initial_states(self.num_chains, self.model.num_units, estimate.init, estimate.init_scale, self.streams,
                              self.generator, self.model.dtype, data=self.data)

    def negative_chains(self, batch):
        estimate = self.estimate
        chains = update_start(estimate.scheme, self._draw_p0, batch, self.chains)
        run_sampler(self.model, chains, estimate.k, self.streams, self.workspace, sampler=estimate.sampler,
                    step_size=self.step_size, temperature=self.temperature)
        return chains

    def gradient(self, batch):
        """((grad_J, grad_h), metrics) on ``batch`` (batch_size, N)."""
        chains = self.negative_chains(batch)
        dt = self.model.dtype.type
        second = (batch.T @ batch) * dt(-0.5 / batch.shape[0])
        second += (chains.T @ chains) * dt(0.5 / chains.shape[0])
        mean_data, mean_chains = batch.mean(axis=0), chains.mean(axis=0)
        metrics = {"mean_rmse": float(np.sqrt(np.mean((mean_chains - mean_data) ** 2))),
                   "variance_rmse": float(np.sqrt(np.mean((chains.var(axis=0) - batch.var(axis=0)) ** 2)))}
        return (second, mean_data - mean_chains), metrics

    def divergence(self):
        """A message naming the Langevin instability (eps * largest eigenvalue of J >= 2), or None.

        One Langevin step multiplies the component of a chain along an
        eigenvector of J (eigenvalue j) by 1 - eps j; past eps j = 2 that
        factor exceeds 1 in magnitude and the chains' spread grows without
        bound.  The row-sum bound max_i sum_j |J_ij| >= largest eigenvalue
        spares the eigendecomposition while it is below 2 / eps.
        """
        if self.estimate.sampler != "langevin":
            return None
        eps = self.step_size
        coupling = self.model.coupling_matrix.astype(np.float64)
        if eps * np.abs(coupling).sum(axis=1).max() < UNSTABLE_STEP:
            return None
        top = np.linalg.eigvalsh(coupling)[-1]
        if eps * top < UNSTABLE_STEP:
            return None
        return (f"Langevin sampler unstable: step_size * largest eigenvalue of J = {eps:g} * {top:.4g} = "
                f"{eps * top:.3g} >= {UNSTABLE_STEP:g}, so every step multiplies the chains along that mode by "
                f"{1 - eps * top:.3g}; lower --step-size")

    def check_stability(self):
        """Warn once when eps * largest eigenvalue of J reaches 1 (called at log points)."""
        if self.estimate.sampler != "langevin" or self._stability_warned:
            return
        self._stability_warned = langevin_instability_warning(self.model, self.step_size)
