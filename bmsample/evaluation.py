"""Statistics of a model's samples as a function of sampling time, and mixing diagnostics.

``evaluate`` runs fresh chains with the model's own process (or a chosen p0 /
sampler) and, at each time t of a grid that includes the model's k, compares
the chains with a dataset: errors of the means (magnetisations) and of the
connected correlations (rms and Pearson), the mean energy, and the
adversarial accuracy (AATS).  For an Rdm-k model the errors are smallest near
t = k (docs/theory.md section 1).  ``mixing`` measures how long chains remember p0
and the integrated autocorrelation times of the energy and magnetisation.

Metrics are computed inside the sampling loop, so memory stays at one set of
chains whatever the number of times.
"""

from dataclasses import dataclass, field

import numpy as np

from . import families, metrics
from ._validation import check_int, check_memory, check_times
from .sampling import sample


def model_k(model):
    """The k of the model's training process, or None."""
    return (model.process or {}).get("k")


def default_times(k, last=None):
    """0, 1, 2, 5, 10, 20, 50, ... up to ``last`` (default max(10 k, 100)), with k included."""
    k = k or 10
    last = max(10 * k, 100) if last is None else last
    grid, decade = {0, k}, 1
    while decade <= last:
        grid.update(m * decade for m in (1, 2, 5) if m * decade <= last)
        decade *= 10
    return sorted(t for t in grid if t <= last)


def comparable_data(model, data):
    """``data`` checked and in the units the model's samples come in ({0,1}, +-1 or real)."""
    return families.of_model(model).comparable_data(model, data)


@dataclass
class Evaluation:
    """Output of ``evaluate``.

    Attributes
    ----------
    k : int or None
        The model's training k.
    rows : list of dict
        One per time: t, mean_rmse, variance_rmse, covariance_rmse,
        covariance_pearson, energy, and aats / aa_truth / aa_syn when computed.
    num_chains : int
    """

    k: int | None
    rows: list = field(default_factory=list)
    num_chains: int = 0

    def best_time(self, key="mean_rmse"):
        """The time with the smallest ``key``."""
        return min(self.rows, key=lambda row: row[key])["t"]


def evaluate(model, data, *, times=None, num_chains=1000, rng=None, aats=True, aats_samples=1000,
             **sample_options):
    """Compare fresh chains of ``model`` with ``data`` at each sampling time.

    Parameters
    ----------
    model : any bmsample model
    data : ndarray, shape (num_samples, num_units)
        Held-out data in the model's units ({0,1} for RBMs, 0/1 or +-1 for
        Ising models, real for Gaussian models and Gaussian-Bernoulli RBMs,
        in data units).
    times : iterable of int, optional
        Default: ``default_times(k)``.
    num_chains : int
    rng : None, int, SeedSequence or Generator
    aats : bool
        Compute the adversarial accuracy on min(aats_samples, chains, data) points.
    aats_samples : int
    **sample_options
        Passed to ``bmsample.sample`` (init, sampler, step_size, ...); by
        default the model's own process.

    Returns
    -------
    Evaluation
    """
    reference = comparable_data(model, data)
    times = check_times(times) if times is not None else default_times(model_k(model))
    num_chains = check_int(num_chains, "num_chains")
    aats_samples = check_int(aats_samples, "aats_samples")
    held_out = reference[:aats_samples]
    rows = []

    def measure(t, states):
        if t in wanted:
            rows.append(_row(model, reference, held_out, t, states, aats))

    wanted = set(times)
    sample(model, num_chains, times[-1], rng=rng, callback=measure, **sample_options)
    return Evaluation(model_k(model), rows, num_chains)


def _row(model, reference, held_out, t, states, aats):
    row = {"t": t, **metrics.moment_errors(states, reference), "energy": metrics.mean_energy(model, states)}
    if aats:
        n = min(len(held_out), states.shape[0])
        row.update(metrics.adversarial_accuracy(held_out[:n], states[:n]))
    return row


def equilibrium(model, data, method="pt", *, trajectory=None, num_chains=200, sweeps=1000, samples=None, rng=None,
                aats=True, aats_samples=1000):
    """The row of ``evaluate`` at t = infinity: equilibrium samples of ``model`` against ``data``.

    Parameters
    ----------
    model : a model of a family with ``tempering`` (``method="pt"``) or ``trajectory`` (``"ptt"``)
    data : ndarray, shape (num_samples, num_units)
    method : {"pt", "ptt"}
        Parallel tempering of ``model`` (``bmsample.tempering``, auto ladder), or trajectory tempering over
        ``trajectory`` (``bmsample.trajectory``; its final model should be ``model``).
    trajectory : Trajectory or run directory, optional
        For ``"ptt"``.
    num_chains : int
        Chains per replica; their final states are the samples unless ``samples`` asks for more.
    sweeps : int
        Sweeps after the warm-up.
    samples : int, optional
        How many equilibrium samples the row is computed from (default ``num_chains``, the final states): more
        than ``num_chains`` takes the chains at evenly spaced sweeps of the second half of the run as well, so
        that the row's sampling noise can match that of ``evaluate``'s rows at no extra cost.
    rng, aats, aats_samples
        As in ``evaluate``.

    Returns
    -------
    dict
        ``row`` (as ``evaluate``'s rows, with ``t = "inf"``), ``samples`` and ``diagnostics`` of the tempering
        run.
    """
    reference = comparable_data(model, data)
    aats_samples = check_int(aats_samples, "aats_samples")
    num_chains = check_int(num_chains, "num_chains")
    sweeps = check_int(sweeps, "sweeps", minimum=0)
    samples = num_chains if samples is None else check_int(samples, "samples")
    record = _equilibrium_times(samples, num_chains, sweeps) or None
    if method == "pt":
        from .tempering import parallel_tempering

        run = parallel_tempering(model, num_chains, sweeps, rng=rng, record=record)
    elif method == "ptt":
        from .trajectory import trajectory_tempering

        if trajectory is None:
            raise ValueError("trajectory: method 'ptt' needs the run's trajectory (a run directory)")
        run = trajectory_tempering(trajectory, num_chains, sweeps, rng=rng, record=record)
    else:
        raise ValueError(f"method: expected 'pt' or 'ptt', got {method!r}")
    kept = run.recorded if record else np.asarray(run.visible)[None]
    states = np.asarray(kept, dtype=np.float64).reshape(-1, kept.shape[-1])[-samples:]
    return {"method": method, "row": _row(model, reference, reference[:aats_samples], "inf", states, aats),
            "samples": int(states.shape[0]), "diagnostics": run.diagnostics()}


def _equilibrium_times(samples, num_chains, sweeps):
    """Sweeps at which to keep the chains for ``samples`` samples: none when the final states suffice, else
    ceil(samples / num_chains) sweeps evenly spaced over the second half, the last one included."""
    count = -(-samples // num_chains)
    if count == 1:
        return []
    if count > sweeps // 2 + 1:
        raise ValueError(f"samples: {samples} samples need {count} recording times of {num_chains} chains, more "
                         f"than the {sweeps // 2 + 1} sweeps of the run's second half")
    return sorted({int(round(t)) for t in np.linspace(sweeps - sweeps // 2, sweeps, count)})


def mixing(model, *, num_chains=100, steps=1000, rng=None, threshold=0.05, **sample_options):
    """Mixing diagnostics along ``steps`` steps of ``num_chains`` chains.

    Returns
    -------
    dict
        ``energy_tau`` and ``magnetisation_tau``: integrated autocorrelation
        times (in steps) of each chain's energy and mean unit value, from the
        second half of the run; ``memory_times``, ``memory``: how much the
        chains remember their own initial state at log-spaced times, and
        ``forget_time``, the first time it falls below ``threshold``.
    """
    steps = check_int(steps, "steps", minimum=2)
    num_chains = check_int(num_chains, "num_chains")
    check_memory(2 * 8 * (steps + 1) * num_chains, f"steps: energies and magnetisations of {num_chains} chains at "
                 f"{steps + 1} times")
    energies = np.empty((steps + 1, num_chains))
    magnetisations = np.empty((steps + 1, num_chains))
    memory_times = default_times(None, steps)
    snapshots = {}

    def record(t, states):
        energies[t] = metrics.sample_energies(model, states)
        magnetisations[t] = states.mean(axis=1)
        if t in memory_times:
            snapshots[t] = np.array(states, dtype=np.float64)

    sample(model, num_chains, steps, rng=rng, callback=record, **sample_options)
    half = steps // 2
    memory = metrics.memory_of_initial_state(snapshots[0], [snapshots[t] for t in memory_times], memory_times,
                                             threshold=threshold)
    return {"energy_tau": metrics.integrated_autocorrelation_time(energies[half:]),
            "magnetisation_tau": metrics.integrated_autocorrelation_time(magnetisations[half:]),
            "memory_times": memory_times, "memory": [float(m) for m in memory["memory"]],
            "forget_time": memory["forget_time"], "num_chains": num_chains, "steps": steps}


def log_likelihood(model, data, *, method="auto", ais_chains=100, ais_betas=10_000, rng=None):
    """Mean log-likelihood of ``data`` under the model's equilibrium law.

    Parameters
    ----------
    method : {"auto", "exact", "ais"}
        "auto": exact when it is cheap (RBM: smaller layer <= 20 units;
        Ising: N <= 20; Gaussian: always, if J is positive definite;
        Gaussian-Bernoulli RBM: up to 16 hidden units), AIS for larger RBMs.

    Returns
    -------
    dict with "log_likelihood", "method" and, for AIS, "std_error" and "log_z"

    Notes
    -----
    Meaningful only for a model in the equilibrium regime: an Rdm-k model is
    a k-step generator and its equilibrium law can be far from its samples.
    """
    reference = comparable_data(model, data)
    if method not in ("auto", "exact", "ais"):
        raise ValueError(f"method: expected auto, exact or ais, got {method!r}")
    family = families.of_model(model)
    if family.log_likelihood is not None:
        return family.log_likelihood(model, reference, method, ais_chains, ais_betas, rng)
    raise ValueError(f"model: no log-likelihood for the {model.family} family yet")
