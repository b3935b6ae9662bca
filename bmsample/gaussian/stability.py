"""Warnings about Langevin step sizes, shared by the CPU and device trainers of the Gaussian model."""

import warnings

import numpy as np


def data_variance_warning(data, step_size):
    """Warn when a data variance (eigenvalue of the covariance) is below 2 eps: Langevin cannot reach it."""
    variances = np.linalg.eigvalsh(np.cov(np.asarray(data, dtype=np.float64), rowvar=False, bias=True).reshape(
        data.shape[1], data.shape[1]))
    low = int(np.sum(variances < 2.0 * step_size))
    if low:
        warnings.warn(f"{low} data variance(s) below 2 * step_size = {2 * step_size:.3g} (smallest "
                      f"{variances[0]:.3g}): every Langevin step adds 2 eps of variance, so they cannot be "
                      "matched", RuntimeWarning, stacklevel=3)


#: eps * (largest eigenvalue of J) from which Langevin chains grow without bound.
UNSTABLE_STEP = 2.0


def langevin_instability_warning(model, step_size):
    """Warn when eps * largest eigenvalue of J reached 1; return whether it warned."""
    top = np.linalg.eigvalsh(model.coupling_matrix.astype(np.float64))[-1]
    if step_size * top < 1.0:
        return False
    warnings.warn(f"step_size * largest eigenvalue of J reached {step_size * top:.3g} >= 1: "
                  "the Langevin chains oscillate and become unstable past 2; lower --step-size",
                  RuntimeWarning, stacklevel=4)
    return True
