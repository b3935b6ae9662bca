"""What a run reports as it goes: parameter norms, mixing diagnostics, speed and the progress line."""

import numpy as np

from .. import _steps


def mixing_seed(seed, update):
    """The seed of the mixing diagnostics logged at ``update``: a child of the run's seed, keyed by the update
    (after the four children that ``_train`` spawns), independent of every other stream of the run."""
    return np.random.SeedSequence(seed, spawn_key=(4, update))


def mixing_record(model, steps, seed):
    """Mixing diagnostics of the current model for the log (fresh chains, own stream)."""
    import warnings

    from ..evaluation import mixing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # short runs: tau is a rough estimate, logged as such
        result = mixing(model, num_chains=50, steps=steps, rng=seed)
    return {key: (float(result[key]) if np.isfinite(result[key]) else None)  # JSON has no NaN
            for key in ("energy_tau", "magnetisation_tau", "forget_time")}


def parameter_norms(model):
    """Norm of every parameter array, e.g. ``weight_matrix_norm``."""
    with np.errstate(over="ignore"):  # huge but finite parameters give inf norms, not warnings
        return {f"{name}_norm": float(np.linalg.norm(array)) for name, array in model.to_arrays().items()
                if not name.startswith("data_")}


class Speed:
    """Updates per second since the end of this process's first update (which may include compiling)."""

    def __init__(self):
        self.first = None  # (update, seconds) at the end of the first update

    def after_update(self, update, seconds):
        """The rate after ``update`` ended at ``seconds``, or None while only one update was timed."""
        if self.first is None:
            self.first = (update, seconds)
            return None
        done, spent = update - self.first[0], seconds - self.first[1]
        return done / spent if spent > 0 else None


def format_progress(record):
    """One human-readable progress line for a ``fit`` progress record."""
    total = record.get("total_updates")
    pct = f" ({100 * record['update'] / total:.0f}%)" if total else ""
    rate = record.get("updates_per_second")
    speed = ""
    if rate:
        speed = f"  {rate:.1f} updates/s"
        if total:
            speed += f", {_steps.format_duration((total - record['update']) / rate)} left"
    metric = next((key for key in ("magnetisation_rmse", "mean_rmse") if key in record), None)
    shown = f"  {metric.replace('_', ' ')} {record[metric]:.4f}" if metric else ""
    if "ess" in record:
        shown += f"  ess {record['ess']:.2f}" + (" (resampled)" if record.get("resampled") else "")
    return f"epoch {record['epoch']}  update {record['update']}/{total}{pct}{speed}{shown}"


def trajectory_updates(total, count):
    """The updates after which ``fit(trajectory=count)`` saves a model: u_i = total (i / count)^2 for
    i = 0 ... count - 1, each at least one past the one before: closer together early, where the model changes
    fastest (on MNIST, 2 to 25 updates apart around update 500 of 12 000 with count = 200).

    Returns
    -------
    list of int, increasing from 0, ``min(count, total)`` of them
    """
    updates = []
    for i in range(min(count, total)):
        quadratic = int(round(total * (i / count) ** 2))
        updates.append(max(quadratic, updates[-1] + 1) if updates else 0)
    return updates
