"""Training: configuration, schemes (Rdm-k, CD-k, PCD-k), the loop, run directories and checkpoints.

``fit`` trains a model family (``bmsample.families``) by minibatch gradient
ascent on the log-likelihood.  The three schemes differ only in where the
negative chains start at every update (docs/theory.md section 1):

* ``rdm``: fresh draws from p0, run for exactly k steps (RBM: uniform bits,
  or the independent-site law of the data with ``init="bias"``; Gaussian:
  zeros, uniform on [-a, a], Gaussian of std a, or data rows);
* ``cd``: the current minibatch, run for k steps;
* ``pcd``: persistent chains, run for k more steps.

An Rdm-k model matches the data through the k-step process from p0, so the
model records its process and ``sample`` reproduces it by default.

Modules: ``config`` (``TrainingConfig``, the run length, the process
record), ``loop`` (``fit`` and the steps of a ``Run``), ``progress`` (what a
run reports), ``rundir`` (locked run directories) and ``checkpoints``
(full-state checkpoints and exact resume).  A family's trainer follows
``bmsample._ascent.Trainer``.
"""

from .._errors import TrainingDiverged, TrainingPreempted
from .config import (
    DEFAULT_EPOCHS,
    DEFAULT_MIN_UPDATES,
    SCHEMES,
    FitResult,
    TrainingConfig,
    log_spaced_updates,
    process_record,
    run_length,
)
from .loop import fit, non_finite_parameter
from .progress import format_progress, mixing_seed

__all__ = ["DEFAULT_EPOCHS", "DEFAULT_MIN_UPDATES", "SCHEMES", "FitResult", "TrainingConfig", "TrainingDiverged",
           "TrainingPreempted", "fit", "format_progress", "log_spaced_updates", "mixing_seed",
           "non_finite_parameter", "process_record", "run_length"]
