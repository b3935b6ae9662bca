"""Importance weights of persistent chains under changing parameters: Jarzynski-weighted training
(Carbone et al. 2023; docs/theory.md section 5), the part every family's trainer shares."""

import numpy as np

from ._rng import reference_uniforms


class JarzynskiWeights:
    """The log-weights of a trainer's persistent chains, their reweighting and resampling.

    A trainer calls ``log_p_star_before`` before it changes the parameters and ``reweight`` after, then takes
    ``normalised()`` as the weights of its next negative term (after the chains' k steps under the new model).

    Parameters
    ----------
    chains : ndarray, shape (num_chains, num_units)
        The trainer's persistent chains, resampled in place.
    log_p_star : callable
        ``log_p_star(states)`` -> float64 (num_chains,): log of the current model's unnormalised probability.
    log_p0 : callable
        ``log_p0(states)`` -> float64 (num_chains,): log p0 up to a constant.
    redraw_p0 : callable
        ``redraw_p0()`` fills ``chains`` with fresh p0 draws.
    streams : ChainStreams
        The chains' streams (systematic resampling takes one uniform of stream 0).
    estimate : Estimate
        ``ess_threshold`` and ``resampling``.

    Attributes
    ----------
    log_weights : ndarray, shape (num_chains,), float64
        Updated in place (checkpoints copy it in and out).
    """

    def __init__(self, chains, log_p_star, log_p0, redraw_p0, streams, estimate):
        self.chains, self.log_p_star, self.log_p0, self.redraw_p0 = chains, log_p_star, log_p0, redraw_p0
        self.streams, self.threshold, self.resampling = streams, estimate.ess_threshold, estimate.resampling
        self.log_weights = self._from_p0()

    def _from_p0(self):
        """Importance log-weights of chains drawn from p0 for the current model: log p*(x) - log p0(x) + const."""
        return self.log_p_star(self.chains) - self.log_p0(self.chains)

    def normalised(self):
        """The normalised weights, float64 (num_chains,)."""
        w = np.exp(self.log_weights - self.log_weights.max())
        return w / w.sum()

    def log_p_star_before(self):
        """log p*(chains) under the parameters about to change."""
        return self.log_p_star(self.chains)

    def reweight(self, before):
        """Each log-weight grows by log p*_new(x) - log p*_old(x); resample below the ESS threshold.

        Returns
        -------
        dict
            ``ess``, the effective sample size as a fraction of the chains (NaN when a weight is not finite),
            and ``resampled``.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            self.log_weights += self.log_p_star(self.chains) - before
        if not np.all(np.isfinite(self.log_weights)):
            return {"ess": float("nan"), "resampled": False}
        w = self.normalised()
        ess = float(1.0 / np.sum(w**2)) / w.size
        resampled = ess < self.threshold
        if resampled:
            self._resample(w)
        return {"ess": ess, "resampled": resampled}

    def _resample(self, weights):
        if self.resampling == "restart":
            self.redraw_p0()
            self.log_weights[:] = self._from_p0()
            return
        # Systematic: M evenly spaced points from one uniform of the chains' streams (stream 0, the next draw).
        u = reference_uniforms(self.streams.key, self.streams.next_draw(), [0], 1, np.float64)[0, 0]
        cumulative = np.cumsum(weights)
        cumulative[-1] = 1.0
        rows = np.searchsorted(cumulative, (u + np.arange(weights.size)) / weights.size, side="right")
        self.chains[...] = self.chains[np.minimum(rows, weights.size - 1)]
        self.log_weights[:] = 0.0
