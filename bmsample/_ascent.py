"""Plain gradient ascent, shared by the CPU trainers of every family."""

import numpy as np


class GradientAscent:
    """Base of the CPU trainers: ``update`` and ``parameters_finite`` built on ``gradient``.

    Subclasses set ``PARAMETERS``, the names of the model's arrays in the
    order in which ``gradient(batch)`` returns their gradients, and define
    ``gradient(batch) -> (grads, metrics)``.
    """

    PARAMETERS = ()

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
