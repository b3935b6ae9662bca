"""Plain gradient ascent, shared by the CPU trainers of every family."""

import numpy as np


class GradientAscent:
    """Base of the CPU trainers: the run's model, settings, streams and chain count; ``update`` and
    ``parameters_finite`` built on ``gradient``.

    Subclasses set ``PARAMETERS``, the names of the model's arrays in the
    order in which ``gradient(batch)`` returns their gradients, define
    ``gradient(batch) -> (grads, metrics)`` and call this ``__init__``.

    Parameters
    ----------
    model
        Updated in place.
    config : TrainingConfig
    streams : ChainStreams
        Random streams of the negative chains.
    """

    PARAMETERS = ()

    def __init__(self, model, config, streams):
        self.model = model
        self.config = config
        self.streams = streams
        #: Negative chains per update: one per minibatch row for CD-k, else ``num_chains``.
        self.num_chains = config.batch_size if config.scheme == "cd" else config.num_chains

    def update(self, batch, learning_rate):
        """One gradient-ascent step on ``batch``; returns the metrics of ``gradient``."""
        grads, metrics = self.gradient(batch)
        lr = self.model.dtype.type(learning_rate)
        for name, grad in zip(self.PARAMETERS, grads, strict=True):
            parameter = getattr(self.model, name)
            parameter += lr * grad
        return metrics

    def parameters_finite(self):
        """False when a parameter is NaN or inf, or so large that its sum overflows."""
        with np.errstate(over="ignore", invalid="ignore"):
            return all(bool(np.isfinite(getattr(self.model, name).sum())) for name in self.PARAMETERS)
