"""What the training loop asks of a trainer (``Trainer``), what a trainer is told (``Estimate``), and plain
gradient ascent, the base of the CPU trainers of every family."""

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """How each gradient estimate makes its model term: the values a family's trainer gets from ``fit``.

    Its own settings (an RBM's ``l2``, a Gaussian's ``step_size``) come beside it as keyword values
    (``Family.trainer_settings``); no trainer sees the whole ``TrainingConfig``.

    Attributes
    ----------
    scheme : {"rdm", "cd", "pcd", "jarzynski"}
        Where the chains of an update start: p0 (Rdm-k), the minibatch (CD-k), where the last update left
        them (PCD-k; Jarzynski, with importance weights).
    k : int
        Sampler steps per estimate.
    batch_size : int
        Rows of a full minibatch.
    num_chains : int
        Chains of an update's model term (CD-k: ``batch_size``, one per row).
    init : str
        The p0 law of the chains.
    init_scale : float
        Width of a real p0 (half-width of a uniform law, or a standard deviation).
    sampler : str
        The family's sampler.
    ess_threshold : float
        Jarzynski: the fraction of the chains below which their effective sample size triggers resampling.
    resampling : {"systematic", "restart"}
        Jarzynski: how the chains are resampled.
    """

    scheme: str
    k: int
    batch_size: int
    num_chains: int
    init: str
    init_scale: float
    sampler: str
    ess_threshold: float = 0.5
    resampling: str = "systematic"

    @property
    def persistent(self):
        """Whether the chains carry over from one update to the next (PCD-k, Jarzynski)."""
        return self.scheme in ("pcd", "jarzynski")


class Trainer(Protocol):
    """A family's trainer, as ``fit``'s loop and the checkpoints use it (CPU: ``GradientAscent``; device:
    ``bmsample._device_training.DeviceTrainer``).

    Attributes: ``model`` (updated in place, or refreshed by ``download``), ``estimate``, ``streams`` (the
    chains' ``ChainStreams``), ``chains`` (PCD-k chains on the host, or None), ``num_chains``, ``generator``
    (the p0 row generator, or None) and ``runaway_check_interval`` (updates between divergence checks).
    """

    model: object
    estimate: Estimate
    streams: object
    chains: object
    num_chains: int
    generator: object
    runaway_check_interval: int

    def minibatch(self, data, rows):
        """The minibatch ``data[rows]`` (``rows`` sorted), where the trainer wants it."""

    def update(self, batch, learning_rate):
        """One gradient-ascent step; returns the update's metrics (a mapping)."""

    def download(self):
        """Bring ``model`` (and host state) up to date: before logging, checkpoints and the end of a run."""

    def updates_since_runaway(self):
        """None, or how many updates ago the parameters diverged (0: the last one)."""

    def divergence(self):
        """A message naming runaway parameters the family recognises, or None."""

    def check_stability(self):
        """Warn (once) about an unstable sampler, at log points."""

    def restore(self, chains):
        """After a checkpoint's arrays were copied into ``model``: put back ``chains`` (PCD-k) and whatever
        the trainer keeps elsewhere (a device)."""


class GradientAscent:
    """Base of the CPU trainers: the run's model, settings, streams and chain count; ``update`` and
    ``parameters_finite`` built on ``gradient``, and the rest of ``Trainer`` for a trainer whose state is on
    the host.

    Subclasses set ``PARAMETERS``, the names of the model's arrays in the
    order in which ``gradient(batch)`` returns their gradients, define
    ``gradient(batch) -> (grads, metrics)`` and call this ``__init__``.

    Parameters
    ----------
    model
        Updated in place.
    estimate : Estimate
    streams : ChainStreams
        Random streams of the negative chains.
    """

    PARAMETERS = ()
    chains = None
    generator = None
    #: Jarzynski: the chains' ``JarzynskiWeights``, set by a trainer that has the scheme.
    jarzynski = None
    #: The divergence check is cheap on the host: after every update.
    runaway_check_interval = 1

    def __init__(self, model, estimate, streams):
        self.model = model
        self.estimate = estimate
        self.streams = streams
        self.num_chains = estimate.num_chains

    def minibatch(self, data, rows):
        return data[rows]

    @property
    def log_weights(self):
        """Jarzynski: the chains' log-weights, float64 (num_chains,), updated in place; None for other schemes."""
        return None if self.jarzynski is None else self.jarzynski.log_weights

    def chain_weights(self):
        """Jarzynski: the chains' normalised importance weights, float64 (num_chains,); None for other schemes."""
        return None if self.jarzynski is None else self.jarzynski.normalised()

    def update(self, batch, learning_rate):
        """One gradient-ascent step on ``batch``; returns the metrics of ``gradient`` (Jarzynski: and ``ess``,
        the chains' effective sample size as a fraction of them, and ``resampled``)."""
        grads, metrics = self.gradient(batch)
        before = self.jarzynski.log_p_star_before() if self.jarzynski is not None else None
        self.apply(grads, self.model.dtype.type(learning_rate))
        if before is not None:
            metrics.update(self.jarzynski.reweight(before))
        return metrics

    def apply(self, grads, learning_rate):
        """parameter += learning_rate * gradient, in ``PARAMETERS`` order."""
        for name, grad in zip(self.PARAMETERS, grads, strict=True):
            parameter = getattr(self.model, name)
            parameter += learning_rate * grad

    def download(self):
        """Nothing to do: the model is updated in place."""

    def parameters_finite(self):
        """False when a parameter is NaN or inf, or so large that its sum overflows."""
        with np.errstate(over="ignore", invalid="ignore"):
            return all(bool(np.isfinite(getattr(self.model, name).sum())) for name in self.PARAMETERS)

    def updates_since_runaway(self):
        """0 when the last update left non-finite parameters or ones that ``divergence`` names, else None."""
        return None if self.parameters_finite() and self.divergence() is None else 0

    def divergence(self):
        return None

    def check_stability(self):
        return None

    def restore(self, chains):
        if self.chains is not None:
            np.copyto(self.chains, chains)
