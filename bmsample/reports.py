"""Experiment reports that reproduce the effects of non-convergent sampling at CPU scale.

Agoritsas, Catania, Decelle & Seoane (ICML 2023, arXiv 2301.09428) show that
a model trained with Rdm-k (fresh chains from a fixed p0, exactly k steps per
gradient estimate) matches the data statistics *at sampling time t = k*, not
at equilibrium (docs/theory.md).  Each report here trains small models, measures
that effect and writes a folder:

* ``report.md``: what was run with every setting, the expected effect, tables
  of the key numbers and the figures (relative links);
* PNG figures;
* ``results.json``: every number (non-finite values as ``null``).

Reports (``REPORTS`` maps the names used by the command line to them):

* ``report_gaussian``: Gaussian energy model with Langevin sampling; learned
  Rdm-k spectrum against the closed-form prediction, and variance of fresh
  chains against sampling time (crossing the data at t = k, divergence of the
  negative modes past k);
* ``report_ising``: fully connected Boltzmann machine on the bundled binarised
  digits; Rdm-k, CD-k and PCD-k errors against sampling time;
* ``report_rbm``: Bernoulli RBM on binarised MNIST; errors, AATS and sample
  grids against sampling time for the three schemes.

Each ``report_<name>(out, *, quick=False, seed=0, progress=None, overwrite=False,
**settings)`` refuses an existing non-empty ``out`` (with ``overwrite`` its files
are replaced), validates its settings (unknown names are refused), calls
``progress(message)`` at every stage, and returns the results dictionary it
wrote to ``results.json``.  The defaults take a few minutes on 2 cores;
``quick=True`` is a tiny version for tests; keyword settings (which override
the quick ones) allow bigger studies.  Figures need matplotlib (the ``plot``
extra).
"""

import json
import math
import time
import warnings
from pathlib import Path

import numpy as np

from . import metrics, theory
from ._validation import check_choice, check_dtype, check_int, check_positive_float
from ._version import __version__
from .datasets import gaussian_data, load_dataset
from .evaluation import default_times, evaluate
from .io import atomic_write
from .plots import _matplotlib, _plain_log_ticks, _save, write_sample_grid
from .sampling import sample
from .training import SCHEMES, TrainingDiverged, fit

__all__ = ["REPORTS", "report_gaussian", "report_ising", "report_rbm"]

_LABELS = {"rdm": "Rdm", "cd": "CD", "pcd": "PCD"}
_COLOURS = {"rdm": "tab:red", "cd": "tab:green", "pcd": "tab:blue"}


# --- shared helpers ------------------------------------------------------------------------------------------

def _resolve(name, defaults, quick_overrides, quick, given):
    """Defaults, then the quick overrides (``quick``), then the caller's settings; unknown names refused."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: unknown setting(s) of report_{name}; "
                         f"known: {', '.join(sorted(defaults))}")
    settings = dict(defaults)
    if quick:
        settings.update(quick_overrides)
    settings.update(given)
    return settings


def _check_ints(values, name, minimum=1):
    """A non-empty sorted list of distinct integers >= ``minimum``."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name}: expected a list of integers, got {values!r}")
    checked = sorted({check_int(v, name, minimum=minimum) for v in values})
    if not checked:
        raise ValueError(f"{name}: expected at least one integer")
    return checked


def _check_schemes(values):
    if isinstance(values, str):
        values = [values]
    checked = [check_choice(v, "schemes", SCHEMES) for v in values]
    if not checked or len(set(checked)) != len(checked):
        raise ValueError(f"schemes: expected distinct names among {', '.join(SCHEMES)}, got {values!r}")
    return [s for s in SCHEMES if s in checked]


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _check_seed(seed):
    return check_int(seed, "seed", minimum=0)


def _prepare_out(out, overwrite=False):
    """``out`` as a Path; refuse a file, or a non-empty directory unless ``overwrite`` (nothing is created here)."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise ValueError(f"out: {out} exists and is not a directory")
        if any(out.iterdir()) and not overwrite:
            raise ValueError(f"out: {out} exists and is not empty; pass --overwrite to replace it")
    return out


def _seeds(seed, count):
    """``count`` independent integer seeds derived from ``seed``."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count)]


def _announcer(progress, name):
    def say(message):
        if progress is not None:
            progress(f"{name}: {message}")
    return say


def _fit_progress(say, label):
    """A ``fit`` progress callback that reports every 10 % of the run."""
    def callback(record):
        if record.get("live"):
            return
        total = record.get("total_updates") or 0
        if total >= 10 and record["update"] % max(1, total // 10) == 0 and record["update"] < total:
            say(f"{label}: update {record['update']}/{total}")
    return callback


def _jsonable(x):
    """Plain JSON types; NaN and inf become None."""
    if isinstance(x, dict):
        return {str(key): _jsonable(value) for key, value in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(value) for value in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    return x


def _write_json(path, results):
    text = json.dumps(_jsonable(results), indent=1, allow_nan=False) + "\n"
    atomic_write(path, lambda handle: handle.write(text.encode()))


def _write_text(path, text):
    atomic_write(path, lambda handle: handle.write(text.encode()))


def _fmt(x, digits=4):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"


def _table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _settings_table(settings):
    def show(value):
        if isinstance(value, (list, tuple)):
            return ", ".join(_fmt(v) for v in value)
        return "default" if value is None else _fmt(value, 6)
    return _table(["setting", "value"], [[f"`{key}`", show(value)] for key, value in settings.items()])


def _header(title, name, seed, quick, seconds, intro):
    call = f"bmsample.reports.report_{name}(out, seed={seed}{', quick=True' if quick else ''}, ...)"
    return [f"# {title}", "",
            f"bmsample {__version__}; seed {seed}; {'quick (tiny) settings; ' if quick else ''}"
            f"wall time {seconds:.1f} s. Made by `{call}`; every number is in `results.json`.", "",
            intro, ""]


def _warnings_section(messages):
    if not messages:
        return []
    return ["## Warnings raised during the run", ""] + [f"- {m}" for m in messages] + [""]


class _Capture:
    """Record (deduplicated) warning messages raised inside the block."""

    def __enter__(self):
        self._context = warnings.catch_warnings(record=True)
        self._records = self._context.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._context.__exit__(*exc)
        return False

    @property
    def messages(self):
        seen = []
        for record in self._records:
            text = f"{record.category.__name__}: {record.message}"
            if text not in seen:
                seen.append(text)
        return seen


def _merge(*captures):
    merged = []
    for capture in captures:
        merged += [m for m in capture.messages if m not in merged]
    return merged


def _label(scheme, k):
    return f"{_LABELS[scheme]}-{k}"


def _shown_times(times):
    """Log axes: t = 0 is drawn at 0.5."""
    shown = np.asarray(times, dtype=float)
    shown[shown == 0] = 0.5
    return shown


# --- Gaussian energy model --------------------------------------------------------------------------------------

_GAUSSIAN_DEFAULTS = {
    "num_axes": 8, "min_variance": 0.25, "max_variance": 10.0, "variances": None, "num_samples": 20000,
    "mean_scale": 0.5, "ks": (10, 30, 100), "step_size": 0.01, "init": "uniform", "init_scale": 1.0,
    "updates": 3000, "learning_rate": 0.1, "batch_size": None, "num_chains": 1000, "dtype": "float64",
    "sample_chains": 5000, "sample_steps": None,
}
_GAUSSIAN_QUICK = {"num_axes": 4, "min_variance": 0.5, "max_variance": 4.0, "num_samples": 2000, "ks": (5, 20),
                   "updates": 300, "learning_rate": 0.2, "num_chains": 500, "sample_chains": 1000}


def _gaussian_settings(quick, given):
    s = _resolve("gaussian", _GAUSSIAN_DEFAULTS, _GAUSSIAN_QUICK, quick, given)
    if s["variances"] is not None:
        variances = np.asarray(s["variances"], dtype=np.float64)
        if variances.ndim != 1 or variances.size < 1 or not np.all(np.isfinite(variances)) or np.any(variances <= 0):
            raise ValueError("variances: expected a non-empty list of positive finite numbers")
        s["variances"] = sorted(float(v) for v in variances)
    else:
        s["num_axes"] = check_int(s["num_axes"], "num_axes")
        s["min_variance"] = check_positive_float(s["min_variance"], "min_variance")
        s["max_variance"] = check_positive_float(s["max_variance"], "max_variance")
        if s["max_variance"] < s["min_variance"]:
            raise ValueError(f"max_variance: expected >= min_variance ({s['min_variance']}), got {s['max_variance']}")
    s["num_samples"] = check_int(s["num_samples"], "num_samples", minimum=2)
    s["mean_scale"] = check_positive_float(s["mean_scale"], "mean_scale", allow_zero=True)
    s["ks"] = _check_ints(s["ks"], "ks")
    s["step_size"] = check_positive_float(s["step_size"], "step_size")
    s["init"] = check_choice(s["init"], "init", theory.P0_LAWS)
    s["init_scale"] = check_positive_float(s["init_scale"], "init_scale")
    s["updates"] = check_int(s["updates"], "updates")
    s["learning_rate"] = check_positive_float(s["learning_rate"], "learning_rate")
    s["batch_size"] = s["num_samples"] if s["batch_size"] is None else check_int(s["batch_size"], "batch_size")
    if s["batch_size"] > s["num_samples"]:
        raise ValueError(f"batch_size: {s['batch_size']} is larger than num_samples ({s['num_samples']})")
    s["num_chains"] = check_int(s["num_chains"], "num_chains", minimum=2)
    s["dtype"] = check_dtype(s["dtype"]).name
    s["sample_chains"] = check_int(s["sample_chains"], "sample_chains", minimum=2)
    last_k = s["ks"][-1]
    s["sample_steps"] = 10 * last_k if s["sample_steps"] is None else check_int(s["sample_steps"], "sample_steps")
    if s["sample_steps"] < last_k:
        raise ValueError(f"sample_steps: expected >= the largest k ({last_k}), got {s['sample_steps']}")
    return s


def _first_crossing(ratio, times):
    """Per column of ``ratio`` (rows at ``times``, the first 0): the first recorded t where ratio - 1 changes
    sign from its value at t = 0, else None."""
    start = np.sign(ratio[0] - 1.0)
    out = []
    for a in range(ratio.shape[1]):
        flipped = np.nonzero(np.sign(ratio[1:, a] - 1.0) != start[a])[0]
        out.append(int(times[flipped[0] + 1]) if flipped.size and start[a] != 0 else None)
    return out


def _recorded_times(steps, k, num_axes, budget=4_000_000):
    """Every step 0..steps when the recorded covariances fit in ``budget`` numbers, else about 400
    log-spaced times (0, k and steps included)."""
    if (steps + 1) * num_axes**2 <= budget:
        return list(range(steps + 1))
    grid = np.unique(np.round(np.geomspace(1, steps, 400)).astype(int))
    return sorted({0, k, steps, *map(int, grid)})


def report_gaussian(out, *, quick=False, seed=0, progress=None, overwrite=False, **settings):
    """Gaussian energy model trained by Rdm-k with Langevin: learned vs predicted spectrum, variance vs time.

    Data: ``gaussian_data`` with ``num_axes`` principal variances log-spaced
    from ``min_variance`` to ``max_variance`` (or an explicit ``variances``
    list), ``num_samples`` rows, mean ``mean_scale * linspace(-1, 1, N)``.
    For each k in ``ks``: Rdm-k training (``fit(model="gaussian")``, Langevin
    step ``step_size``, p0 ``init`` of width ``init_scale``, ``updates``
    updates of ``learning_rate`` on minibatches of ``batch_size`` rows, default
    the whole data, with ``num_chains`` chains); the learned eigenvalue v^T J v
    along each principal axis v of the data is compared with
    ``theory.predict_gaussian_rdm``.  The model of the largest k is then
    sampled with ``sample_chains`` fresh chains for ``sample_steps`` steps
    (default 10 k) and the chain variance along each axis is recorded at
    every step.

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    s = _gaussian_settings(quick, settings)
    seed = _check_seed(seed)
    out = _prepare_out(out, overwrite)
    plt = _matplotlib()
    say = _announcer(progress, "gaussian")
    start = time.perf_counter()
    data_seed, sample_seed, *fit_seeds = _seeds(seed, 2 + len(s["ks"]))
    eps, s0_sq = s["step_size"], theory.init_variance(s["init"], s["init_scale"])

    if s["variances"] is not None:
        requested = np.asarray(s["variances"])
    else:
        requested = np.geomspace(s["min_variance"], s["max_variance"], s["num_axes"])
    num_axes = requested.size
    mean = s["mean_scale"] * (np.linspace(-1.0, 1.0, num_axes) if num_axes > 1 else np.ones(1))
    say(f"drawing {s['num_samples']} samples of a {num_axes}-d Gaussian")
    data, _ = gaussian_data(requested, s["num_samples"], mean=mean, rng=data_seed)
    predictions = {k: theory.predict_gaussian_rdm(data, k, eps, s["init"], s["init_scale"]) for k in s["ks"]}
    first = predictions[s["ks"][0]]
    lam, axes = first.data_variances, first.eigenvectors  # the same for every k
    for k, pred in predictions.items():
        top = np.nanmax(pred.eigenvalues)
        if eps * top >= 1.0:
            raise ValueError(f"step_size: {eps} times the predicted Rdm-{k} eigenvalue {top:.4g} is >= 1, where the "
                             "Langevin chain oscillates; use a smaller step_size or larger variances")
    out.mkdir(parents=True, exist_ok=True)

    spectra, models = [], {}
    with _Capture() as captured:
        for k, seed_k in zip(s["ks"], fit_seeds):
            pred = predictions[k]
            say(f"training Rdm-{k} ({s['updates']} updates, {s['num_chains']} chains)")
            t0 = time.perf_counter()
            entry = {"k": k, "critical_variance": float(theory.critical_variance(k, eps, s0_sq)),
                     "predicted": pred.eigenvalues, "ml": pred.ml_eigenvalues,
                     "cd_pcd": pred.discretised_ml_eigenvalues, "unbounded_predicted": pred.unbounded,
                     "unmatched_predicted": pred.unmatched, "fit_seed": seed_k}
            try:
                result = fit(data, model="gaussian", scheme="rdm", k=k, step_size=eps, init=s["init"],
                             init_scale=s["init_scale"], updates=s["updates"], batch_size=s["batch_size"],
                             num_chains=s["num_chains"], learning_rate=s["learning_rate"], seed=seed_k,
                             dtype=s["dtype"], data_name="gaussian_data", progress=_fit_progress(say, f"Rdm-{k}"))
            except TrainingDiverged as error:
                entry.update(diverged=str(error), learned=None, training_seconds=time.perf_counter() - t0)
                spectra.append(entry)
                say(f"Rdm-{k} diverged: {error}")
                continue
            coupling = result.model.coupling_matrix.astype(np.float64)
            rotated = axes.T @ coupling @ axes
            learned = np.diag(rotated).copy()
            off = rotated - np.diag(learned)
            deviation = np.abs(learned - pred.eigenvalues)
            entry.update(diverged=None, learned=learned, abs_deviation=deviation,
                         max_abs_deviation=float(np.nanmax(deviation)),
                         max_relative_deviation=float(np.nanmax(deviation / np.maximum(np.abs(pred.eigenvalues), 1.0))),
                         max_offdiagonal=float(np.max(np.abs(off))), unbounded_learned=learned < 0,
                         learned_field=result.model.field.astype(np.float64), predicted_field=pred.field,
                         final_log=result.history[-1] if result.history else None,
                         training_seconds=time.perf_counter() - t0)
            spectra.append(entry)
            models[k] = result.model

        sampling = None
        sampled_k = max(models) if models else None
        if sampled_k is not None:
            steps = s["sample_steps"]
            say(f"sampling the Rdm-{sampled_k} model: {s['sample_chains']} fresh chains for {steps} steps")
            t0 = time.perf_counter()
            times = _recorded_times(steps, sampled_k, num_axes)
            run = sample(models[sampled_k], num_chains=s["sample_chains"], steps=steps, rng=sample_seed,
                         record=times, record_moments=True)
            at_k = times.index(sampled_k)
            times = np.asarray(times)
            with np.errstate(over="ignore", invalid="ignore"):
                along = np.einsum("ia,tij,ja->ta", axes, run.covariances, axes)
                ratio = along / lam
                j_star = predictions[sampled_k].eigenvalues
                predicted_ratio = theory.langevin_variance(j_star[None, :], times[:, None], eps, s0_sq) / lam
                # Exact for the learned J = U diag(mu) U^T from isotropic p0: the covariance at t is
                # U diag(c_t(mu)) U^T, so an axis v picks up sum_b (v . u_b)^2 c_t(mu_b), diverging modes included.
                mu, u = np.linalg.eigh(models[sampled_k].coupling_matrix.astype(np.float64))
                overlap = (axes.T @ u) ** 2
                learned_ratio = theory.langevin_variance(mu[None, :], times[:, None], eps, s0_sq) @ overlap.T / lam
            mean_error_k = float(np.sqrt(np.mean((run.means[at_k] - data.mean(axis=0)) ** 2)))
            sampling = {
                "k": sampled_k, "num_chains": s["sample_chains"], "steps": steps, "sample_seed": sample_seed,
                "times": times, "variance_ratio": ratio.T, "predicted_ratio": predicted_ratio.T,
                "learned_theory_ratio": learned_ratio.T,
                "ratio_at_0": ratio[0], "ratio_at_k": ratio[at_k], "ratio_at_last": ratio[-1],
                "predicted_ratio_at_last": predicted_ratio[-1], "learned_theory_ratio_at_last": learned_ratio[-1],
                "first_crossing": _first_crossing(ratio, times),
                "mean_rmse_at_k": mean_error_k, "seconds": time.perf_counter() - t0,
            }
    say("writing figures")
    with _Capture() as drawing:
        _gaussian_spectrum_figure(out / "spectrum.png", plt, s, lam, spectra, s0_sq)
        figures = ["spectrum.png"]
        if sampling is not None:
            _gaussian_variance_figure(out / "variance_vs_time.png", plt, sampling, lam)
            figures.append("variance_vs_time.png")
    seconds = time.perf_counter() - start
    done = [e for e in spectra if e["learned"] is not None]
    results = {
        "report": "gaussian", "package_version": __version__, "seed": seed, "quick": bool(quick), "settings": s,
        "seconds": seconds, "s0_sq": s0_sq, "requested_variances": requested, "data_variances": lam,
        "data_mean": data.mean(axis=0), "data_axes": axes, "spectra": spectra,
        "max_abs_deviation": max((e["max_abs_deviation"] for e in done), default=None),
        "sampling": sampling, "figures": figures, "warnings": _merge(captured, drawing),
    }
    _write_json(out / "results.json", results)
    _write_text(out / "report.md", _gaussian_markdown(results, s, seed, quick))
    say(f"done in {seconds:.1f} s: {out}")
    return _jsonable(results)


def _gaussian_spectrum_figure(path, plt, s, lam, spectra, s0_sq):
    eps = s["step_size"]
    fig, ax = plt.subplots(figsize=(7, 4.8))
    grid = np.geomspace(lam.min() * 0.9, lam.max() * 1.1, 200)
    ax.plot(grid, theory.ml_eigenvalue(grid), "k-", lw=1, label="ML 1 / lambda")
    ax.plot(grid, theory.discretised_ml_eigenvalue(grid, eps), "k--", lw=1, label="CD-k / PCD-k (discretised ML)")
    cmap = plt.get_cmap("viridis")
    for i, entry in enumerate(spectra):
        colour = cmap(i / max(1, len(spectra) - 1) * 0.85)
        k = entry["k"]
        ax.plot(grid, theory.rdm_eigenvalue(grid, k, eps, s0_sq), "-", color=colour, label=f"Rdm-{k} predicted")
        if entry["learned"] is not None:
            ax.plot(lam, entry["learned"], "o", color=colour, mfc="none", ms=7, label=f"Rdm-{k} learned")
        if grid[0] < entry["critical_variance"] < grid[-1]:
            ax.axvline(entry["critical_variance"], color=colour, lw=0.8, ls=":")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel("data variance lambda along a principal axis (dotted: s0^2 + 2 k eps)")
    ax.set_ylabel("eigenvalue of J along that axis")
    ax.set_title(f"Gaussian model, Langevin eps = {eps}, p0 {s['init']}: learned vs predicted")
    ax.legend(fontsize=7, ncol=2)
    _save(fig, path, plt)


def _loggable(values, limit=1e250):
    """Values for a log axis: non-finite, non-positive or astronomically large ones become NaN (not drawn)."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(values) & (values > 0) & (values < limit), values, np.nan)


def _gaussian_variance_figure(path, plt, sampling, lam):
    fig, ax = plt.subplots(figsize=(7, 4.8))
    times = np.asarray(sampling["times"])[1:]
    cmap = plt.get_cmap("plasma")
    for a in range(lam.size):
        colour = cmap(a / max(1, lam.size - 1) * 0.9)
        ax.plot(times, _loggable(sampling["variance_ratio"][a][1:]), "-", color=colour, lw=1.5,
                label=f"lambda = {lam[a]:.3g}")
        ax.plot(times, _loggable(sampling["predicted_ratio"][a][1:]), ":", color=colour, lw=1)
    ax.axvline(sampling["k"], color="red", lw=1, ls="--", label=f"t = k = {sampling['k']}")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sampling time t (Langevin steps from p0)")
    ax.set_ylabel("chain variance / data variance along the axis")
    ax.set_title(f"Rdm-{sampling['k']} model, {sampling['num_chains']} fresh chains (dotted: theory at J*)")
    ax.legend(fontsize=7, ncol=2)
    _save(fig, path, plt)


def _gaussian_markdown(r, s, seed, quick):
    eps, s0_sq = s["step_size"], r["s0_sq"]
    lam = np.asarray(r["data_variances"])
    intro = (
        "A Gaussian energy model E(x) = x^T J x / 2 - h^T x is trained with **Rdm-k**: every gradient estimate "
        "starts fresh chains from p0 and runs exactly k unadjusted Langevin steps of size eps. The fixed point "
        "makes the k-step process match the data's mean and covariance, so J shares the eigenvectors of the data "
        "covariance and each eigenvalue j solves c_k(j) = lambda (docs/theory.md section 2), not the "
        "maximum-likelihood j = 1 / lambda. Expected: (a) the learned eigenvalues follow the predicted Rdm-k "
        "curve, which approaches ML as k eps grows and is **negative** (energy unbounded below) along axes with "
        "lambda > s0^2 + 2 k eps; (b) fresh chains of the trained model match the data variance along every axis "
        "**at t = k**: the variance crosses the data value there, and along negative modes it diverges like "
        "exp(2 |j| eps t) past k. "
        "CD-k and PCD-k would instead give the k-independent discretised ML value.")
    lines = _header("Rdm-k Gaussian energy model: learned spectrum and variance vs sampling time", "gaussian", seed,
                    quick, r["seconds"], intro)
    lines += ["## Settings", "", _settings_table(s), "",
              f"p0 variance s0^2 = {_fmt(s0_sq)}; data: {s['num_samples']} samples, principal variances (measured) "
              f"{', '.join(_fmt(v, 3) for v in lam)}; data mean {', '.join(_fmt(v, 3) for v in r['data_mean'])}. "
              "Learned eigenvalue along a data axis v: v^T J v (v from the data covariance). Training uses the "
              "whole data per update unless `batch_size` is set.", ""]
    lines += ["## (a) Learned vs predicted spectrum", "", "![learned vs predicted spectrum](spectrum.png)", ""]
    rows = []
    for a, value in enumerate(lam):
        row = [value, r["spectra"][0]["ml"][a], r["spectra"][0]["cd_pcd"][a]]
        for entry in r["spectra"]:
            row += [entry["predicted"][a], None if entry["learned"] is None else entry["learned"][a]]
        rows.append(row)
    headers = ["lambda", "ML 1/lambda", "CD/PCD"]
    for entry in r["spectra"]:
        headers += [f"Rdm-{entry['k']} predicted", f"Rdm-{entry['k']} learned"]
    lines += [_table(headers, rows), ""]
    summary = []
    for entry in r["spectra"]:
        if entry["learned"] is None:
            summary.append([entry["k"], entry["critical_variance"], int(np.sum(entry["unbounded_predicted"])),
                            "diverged", None, None, None, entry["training_seconds"]])
            continue
        summary.append([entry["k"], entry["critical_variance"], int(np.sum(entry["unbounded_predicted"])),
                        int(np.sum(entry["unbounded_learned"])), entry["max_abs_deviation"],
                        entry["max_relative_deviation"], entry["max_offdiagonal"], entry["training_seconds"]])
    lines += [_table(["k", "s0^2 + 2 k eps", "negative modes predicted", "negative modes learned",
                      "max abs deviation", "max deviation / max(abs(j*), 1)", "max abs off-diagonal of V^T J V",
                      "training s"], summary), ""]
    if r["max_abs_deviation"] is not None:
        lines += [f"Largest deviation learned vs predicted over all k and axes: **{_fmt(r['max_abs_deviation'])}** "
                  "(Monte-Carlo noise of the chains and finite training: the stiff, low-variance axes learn slowest, "
                  "at a rate ~ learning_rate / j^2, and slower still when the data mean along them is large; the "
                  "off-diagonal column measures how far J is from sharing the data's eigenvectors).", ""]
    for entry in r["spectra"]:
        if entry.get("diverged"):
            lines += [f"Rdm-{entry['k']} training diverged: {entry['diverged']}", ""]
    sampling = r["sampling"]
    if sampling is not None:
        k = sampling["k"]
        lines += [f"## (b) Variance of fresh chains vs sampling time (Rdm-{k} model)", "",
                  "![variance vs time](variance_vs_time.png)", "",
                  f"{sampling['num_chains']} fresh chains from p0, {sampling['steps']} Langevin steps, the covariance "
                  f"recorded at {len(sampling['times'])} times (every step when that fits in memory); variance along "
                  "each data axis divided by the data variance (1 = match). "
                  "Dotted lines in the figure: the closed form c_t(j*) at the predicted eigenvalues.", ""]
        rows = []
        learned = next(e["learned"] for e in r["spectra"] if e["k"] == k)
        predicted = next(e["predicted"] for e in r["spectra"] if e["k"] == k)
        for a, value in enumerate(lam):
            rows.append([value, predicted[a], learned[a], bool(predicted[a] < 0), sampling["ratio_at_0"][a],
                         sampling["ratio_at_k"][a], sampling["first_crossing"][a], sampling["ratio_at_last"][a],
                         sampling["predicted_ratio_at_last"][a], sampling["learned_theory_ratio_at_last"][a]])
        last = sampling["steps"]
        lines += [_table(["lambda", "j* predicted", "j learned", "unbounded", "ratio at t = 0", f"ratio at t = k = {k}",
                          "first crossing of 1 (t)", f"ratio at t = {last}", f"theory at J*, t = {last}",
                          f"theory at learned J, t = {last}"], rows), "",
                  "The last column uses the full eigendecomposition of the learned J: its eigenvectors differ slightly "
                  "from the data axes, so past k every axis picks up a small part of the diverging modes, and that "
                  "(not a failure of the theory) is why axes with j > 0 can also grow at long times.", ""]
        ratio_k = np.asarray(sampling["ratio_at_k"], dtype=float)
        crossings = [c for c in sampling["first_crossing"] if c is not None]
        lines += [f"Observed: at t = k = {k} the chain variance matches the data within "
                  f"{_fmt(100 * np.max(np.abs(ratio_k - 1)), 3)} % along every axis; the first crossing of the data "
                  f"value happens at t = {', '.join(map(str, sampling['first_crossing']))} (expected {k}; axes with "
                  "a shallow approach cross earlier or later by sampling noise); "
                  f"{'the median crossing time is ' + _fmt(float(np.median(crossings))) + '; ' if crossings else ''}"
                  f"rms error of the chain mean at t = k: {_fmt(sampling['mean_rmse_at_k'])}.", ""]
        negative = [a for a in range(lam.size) if predicted[a] < 0]
        if negative:
            worst = max(negative, key=lambda a: sampling["ratio_at_last"][a] or 0.0)
            lines += [f"Negative modes (lambda > s0^2 + 2 k eps = {_fmt(theory.critical_variance(k, eps, s0_sq))}): "
                      f"{len(negative)}; past k their variance diverges, e.g. lambda = {_fmt(lam[worst])} reaches "
                      f"{_fmt(sampling['ratio_at_last'][worst])} times the data variance at t = {sampling['steps']} "
                      f"(theory at J*: {_fmt(sampling['predicted_ratio_at_last'][worst])}).", ""]
    lines += _warnings_section(r["warnings"])
    return "\n".join(lines)


# --- binary models: shared train-and-evaluate ---------------------------------------------------------------------

def _train_and_evaluate(say, *, family, schemes, k, train_data, eval_data, fit_settings, seeds, eval_seed, times,
                        eval_chains, init, aats, aats_samples, data_name, after=None):
    """Train each scheme with the same settings, evaluate fresh chains from ``init`` at ``times``."""
    per_scheme = {}
    for scheme, seed_s in zip(schemes, seeds):
        label = _label(scheme, k)
        say(f"training {label}")
        t0 = time.perf_counter()
        entry = {"scheme": scheme, "label": label, "fit_seed": seed_s}
        try:
            result = fit(train_data, model=family, scheme=scheme, k=k, seed=seed_s, data_name=data_name,
                         progress=_fit_progress(say, label), **fit_settings)
        except TrainingDiverged as error:
            entry.update(diverged=str(error), training_seconds=time.perf_counter() - t0, rows=None)
            per_scheme[scheme] = entry
            say(f"{label} diverged: {error}")
            continue
        entry.update(diverged=None, training_seconds=time.perf_counter() - t0,
                     final_log=result.history[-1] if result.history else None)
        say(f"evaluating {label}: {eval_chains} fresh chains ({init}) at {len(times)} times up to t = {times[-1]}")
        t0 = time.perf_counter()
        evaluation = evaluate(result.model, eval_data, times=times, num_chains=eval_chains, rng=eval_seed, aats=aats,
                              aats_samples=aats_samples, init=init)
        rows = sorted(evaluation.rows, key=lambda row: row["t"])
        entry.update(rows=rows, evaluation_seconds=time.perf_counter() - t0, **_error_summary(rows, k))
        if after is not None:
            entry.update(after(scheme, result.model) or {})
        per_scheme[scheme] = entry
    return per_scheme


def _error_summary(rows, k):
    """The numbers the reports quote: errors at t = k and at the last t, argmin t, ratios."""
    by_t = {row["t"]: row for row in rows}
    at_k, last = by_t[k], rows[-1]
    summary = {"at_k": at_k, "at_last": last}
    for key in ("mean_rmse", "covariance_rmse"):
        late = [row for row in rows if row["t"] >= 1]
        best = min(late, key=lambda row: row[key])
        summary[f"argmin_t_{key}"] = best["t"]
        summary[f"min_{key}"] = best[key]
        summary[f"last_over_k_{key}"] = last[key] / at_k[key] if at_k[key] > 0 else float("nan")
    return summary


def _errors_figure(path, plt, per_scheme, k, title, noise_floor=None):
    keys = [("mean_rmse", "means rms error"), ("covariance_rmse", "connected correlations rms error")]
    has_aats = any(e["rows"] and "aats" in e["rows"][0] for e in per_scheme.values())
    if has_aats:
        keys.append(("aats", "AATS (solid), AA_truth (--), AA_syn (:)"))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 4))
    for ax, (key, name) in zip(np.atleast_1d(axes), keys):
        for scheme, entry in per_scheme.items():
            if not entry["rows"]:
                continue
            t = _shown_times([row["t"] for row in entry["rows"]])
            ax.plot(t, [row[key] for row in entry["rows"]], "o-", ms=4, color=_COLOURS[scheme], label=entry["label"])
            if key == "aats":  # the two accuracies AATS averages: its 0.5 means little when they disagree
                for part, style in (("aa_truth", "--"), ("aa_syn", ":")):
                    ax.plot(t, [row[part] for row in entry["rows"]], style, lw=1, color=_COLOURS[scheme])
        ax.axvline(k, color="black", lw=1, ls=":", label=f"t = k = {k}")
        if key == "mean_rmse" and noise_floor is not None:
            ax.axhline(noise_floor, color="grey", lw=0.8, ls="--", label="sampling-noise level")
        ax.set_xscale("log")
        if key != "aats":
            ax.set_yscale("log")
        else:
            ax.axhline(0.5, color="grey", lw=0.5)
        ax.set_xlabel("sampling time t (t = 0 drawn at 0.5)")
        ax.set_ylabel(name)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    _save(fig, path, plt)


def _scheme_tables(per_scheme, k, times, keys):
    lines = []
    done = {s: e for s, e in per_scheme.items() if e["rows"]}
    summary = []
    for entry in per_scheme.values():
        if not entry["rows"]:
            summary.append([entry["label"], "diverged"] + [None] * 8)
            continue
        summary.append([entry["label"], entry["at_k"]["mean_rmse"], entry["at_last"]["mean_rmse"],
                        entry["argmin_t_mean_rmse"], entry["at_k"]["covariance_rmse"],
                        entry["at_last"]["covariance_rmse"], entry["argmin_t_covariance_rmse"],
                        entry["at_k"].get("covariance_pearson"), _aats_cell(entry["at_k"]),
                        _aats_cell(entry["at_last"])])
    last = times[-1]
    lines += [_table(["scheme", f"means rmse t = k = {k}", f"means rmse t = {last}", "argmin t (means)",
                      "corr rmse t = k", f"corr rmse t = {last}", "argmin t (corr)", "corr Pearson t = k",
                      "AATS t = k", f"AATS t = {last}"], summary), ""]
    if any(metrics.aa_disagree(row) for e in done.values() for row in e["rows"] if "aats" in row):
        lines += [f"*disagree*: AA_truth and AA_syn differ by more than {metrics.AA_DISAGREEMENT}; there AATS near "
                  "0.5 does not mean indistinguishable (samples of noise give AA_truth 1, AA_syn 0, AATS 0.5).", ""]
    for key, name in keys:
        if not done or key not in next(iter(done.values()))["rows"][0]:
            continue
        rows = [[t] + [next(row[key] for row in e["rows"] if row["t"] == t) for e in done.values()] for t in times]
        lines += [f"{name} at every sampling time:", "",
                  _table(["t"] + [e["label"] for e in done.values()], rows), ""]
    return lines


def _aats_cell(row):
    """AATS with AA_truth and AA_syn, for a table cell (None without AATS)."""
    return metrics.format_aats(row) if "aats" in row else None


def _observations(per_scheme, k, last):
    """Plain statements of what was measured, and whether it matches the expectation."""
    out = []
    for entry in per_scheme.values():
        if not entry["rows"]:
            out.append(f"- {entry['label']}: training diverged ({entry['diverged']}).")
            continue
        out.append(f"- {entry['label']}: means error smallest at t = {entry['argmin_t_mean_rmse']} "
                   f"({_fmt(entry['min_mean_rmse'])}), correlations error smallest at "
                   f"t = {entry['argmin_t_covariance_rmse']} ({_fmt(entry['min_covariance_rmse'])}); from t = k to "
                   f"t = {last} the means error changes by a factor {_fmt(entry['last_over_k_mean_rmse'], 3)} and "
                   f"the correlations error by {_fmt(entry['last_over_k_covariance_rmse'], 3)}.")
    rdm = per_scheme.get("rdm")
    if rdm and rdm["rows"]:
        near = [t for t in (rdm["argmin_t_mean_rmse"], rdm["argmin_t_covariance_rmse"]) if k / 2 <= t <= 2 * k]
        grows = rdm["last_over_k_mean_rmse"] > 1.2 or rdm["last_over_k_covariance_rmse"] > 1.2
        verdict = ("as expected" if near and grows else
                   "only partly as expected" if near or grows else "not as expected")
        out.append(f"- Expectation for Rdm-{k} (smallest error near t = k, larger after): {verdict} "
                   f"({len(near)} of the 2 minima within [k/2, 2k]; error grows by more than 20 % after k: "
                   f"{'yes' if grows else 'no'}).")
    pcd = per_scheme.get("pcd")
    if pcd and pcd["rows"]:
        flat = pcd["last_over_k_mean_rmse"] <= 1.2 and pcd["last_over_k_covariance_rmse"] <= 1.2
        out.append(f"- Expectation for PCD-{k} (equilibrium model: error keeps decreasing or stays flat past k): "
                   f"{'as expected' if flat else 'not as expected'} (error at t = {last} over error at t = k: "
                   f"means {_fmt(pcd['last_over_k_mean_rmse'], 3)}, correlations "
                   f"{_fmt(pcd['last_over_k_covariance_rmse'], 3)}).")
    if rdm and pcd and rdm["rows"] and pcd["rows"]:
        out.append(f"- At t = {last}: Rdm means error / PCD means error = "
                   f"{_fmt(rdm['at_last']['mean_rmse'] / pcd['at_last']['mean_rmse'], 3)}; at t = k: "
                   f"{_fmt(rdm['at_k']['mean_rmse'] / pcd['at_k']['mean_rmse'], 3)}.")
    out.append("- Single runs with one seed: differences of the size of the sampling-noise level are not "
               "significant.")
    return out


# --- fully connected Boltzmann machine on the digits -----------------------------------------------------------------

_ISING_DEFAULTS = {
    "k": 5, "schemes": ("rdm", "cd", "pcd"), "updates": 4000, "learning_rate": 0.01, "batch_size": 500,
    "num_chains": 500, "sampler": "heat-bath", "init": "uniform", "eval_chains": 5000, "last_time": 1000,
    "aats": True, "aats_samples": 1000, "dtype": "float32",
}
_ISING_QUICK = {"updates": 150, "batch_size": 200, "num_chains": 200, "eval_chains": 500, "last_time": 100,
                "aats_samples": 300}


def _ising_settings(quick, given):
    s = _resolve("ising", _ISING_DEFAULTS, _ISING_QUICK, quick, given)
    s["k"] = check_int(s["k"], "k")
    s["schemes"] = _check_schemes(s["schemes"])
    s["updates"] = check_int(s["updates"], "updates")
    s["learning_rate"] = check_positive_float(s["learning_rate"], "learning_rate")
    s["batch_size"] = check_int(s["batch_size"], "batch_size")
    s["num_chains"] = check_int(s["num_chains"], "num_chains")
    s["sampler"] = check_choice(s["sampler"], "sampler", ("heat-bath", "random-site", "metropolis"))
    s["init"] = check_choice(s["init"], "init", ("uniform", "bias"))
    s["eval_chains"] = check_int(s["eval_chains"], "eval_chains", minimum=2)
    s["last_time"] = check_int(s["last_time"], "last_time")
    if s["last_time"] < s["k"]:
        raise ValueError(f"last_time: expected >= k ({s['k']}), got {s['last_time']}")
    s["aats"] = _check_bool(s["aats"], "aats")
    s["aats_samples"] = check_int(s["aats_samples"], "aats_samples", minimum=2)
    s["dtype"] = check_dtype(s["dtype"]).name
    return s


def _means_noise_level(data01, num_chains):
    """rms sd of (chain mean - data mean) from sampling alone, in spin units (+-1)."""
    m = 2.0 * np.asarray(data01, dtype=np.float64).mean(axis=0) - 1.0
    return float(np.sqrt(np.mean(1.0 - m**2) * (1.0 / num_chains + 1.0 / data01.shape[0])))


def report_ising(out, *, quick=False, seed=0, progress=None, overwrite=False, **settings):
    """Fully connected Boltzmann machine on the bundled binarised digits: Rdm-k vs CD-k vs PCD-k.

    Each scheme in ``schemes`` is trained with the same k, ``updates``,
    ``learning_rate``, ``batch_size``, ``num_chains``, ``sampler`` (sweeps)
    and p0 ``init``; every model is then evaluated
    (``evaluation.evaluate``) on the digits with ``eval_chains`` fresh chains
    from the same p0 at ``default_times(k, last_time)``.

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    s = _ising_settings(quick, settings)
    seed = _check_seed(seed)
    out = _prepare_out(out, overwrite)
    plt = _matplotlib()
    say = _announcer(progress, "ising")
    start = time.perf_counter()
    dataset = load_dataset("digits")
    data = dataset.data
    if s["batch_size"] > data.shape[0]:
        raise ValueError(f"batch_size: {s['batch_size']} is larger than the {data.shape[0]} digits")
    out.mkdir(parents=True, exist_ok=True)
    eval_seed, *fit_seeds = _seeds(seed, 1 + len(s["schemes"]))
    times = default_times(s["k"], s["last_time"])
    fit_settings = {key: s[key] for key in ("updates", "learning_rate", "batch_size", "num_chains", "sampler", "init",
                                            "dtype")}
    with _Capture() as captured:
        per_scheme = _train_and_evaluate(say, family="ising", schemes=s["schemes"], k=s["k"], train_data=data,
                                         eval_data=data, fit_settings=fit_settings, seeds=fit_seeds,
                                         eval_seed=eval_seed, times=times, eval_chains=s["eval_chains"],
                                         init=s["init"], aats=s["aats"], aats_samples=s["aats_samples"],
                                         data_name="digits")
    noise = _means_noise_level(data, s["eval_chains"])
    say("writing figures")
    with _Capture() as drawing:
        _errors_figure(out / "errors_vs_time.png", plt, per_scheme, s["k"],
                       f"Boltzmann machine on digits (64 spins), {s['sampler']} sweeps, k = {s['k']}: "
                       f"{s['eval_chains']} fresh chains from p0 {s['init']}", noise)
    seconds = time.perf_counter() - start
    results = {"report": "ising", "package_version": __version__, "seed": seed, "quick": bool(quick), "settings": s,
               "seconds": seconds, "data": {"name": "digits", "shape": list(data.shape)}, "times": times,
               "eval_seed": eval_seed, "means_noise_level": noise, "schemes": per_scheme,
               "argmin_t": {sc: {"mean_rmse": e.get("argmin_t_mean_rmse"),
                                 "covariance_rmse": e.get("argmin_t_covariance_rmse")}
                            for sc, e in per_scheme.items()},
               "figures": ["errors_vs_time.png"], "warnings": _merge(captured, drawing)}
    _write_json(out / "results.json", results)
    _write_text(out / "report.md", _ising_markdown(results, s, seed, quick))
    say(f"done in {seconds:.1f} s: {out}")
    return _jsonable(results)


def _ising_markdown(r, s, seed, quick):
    k, last = s["k"], r["times"][-1]
    intro = (
        "A fully connected Boltzmann machine on +-1 spins (E = -sum h_i s_i - sum J_ij s_i s_j) is trained on the "
        "1797 binarised 8x8 digits (64 spins) with three schemes that differ only in where the negative chains "
        f"start at each update: **Rdm-{k}** (fresh p0 draws, {k} sweeps), **CD-{k}** (the minibatch) and "
        f"**PCD-{k}** (persistent chains). Each model is then sampled with fresh chains from the same p0 and the "
        "means and connected correlations of the chains are compared with the data's at every sampling time t. "
        f"Expected (docs/theory.md section 1): the Rdm-{k} model matches the data statistics exactly at t = k, so its "
        "error is smallest near t = k and grows towards that of its (different) equilibrium measure after; PCD "
        "targets the equilibrium, so its error decreases with t and stays low; CD lies in between. The effect is "
        "large only when k is short compared with the mixing time of the trained model: with 64 spins and "
        "sequential heat-bath sweeps the chains of these models mix within tens of sweeps, which is why the "
        "default k is 5 (with k = 10 the same settings give a visibly weaker effect).")
    lines = _header(f"Boltzmann machine on digits: Rdm-{k} vs CD-{k} vs PCD-{k}", "ising", seed, quick, r["seconds"],
                    intro)
    lines += ["## Settings", "", _settings_table(s), "",
              f"Every scheme: the same seed-derived settings; evaluation with {s['eval_chains']} fresh chains from "
              f"p0 `{s['init']}` for every scheme (so PCD is not continued from its persistent chains), on the "
              "training data (the statistics the fixed point matches). Sampling-noise level of the means rmse "
              f"(sd of a chain mean against the data mean, rms over spins): {_fmt(r['means_noise_level'])}.", "",
              "## Errors against sampling time", "", "![errors vs time](errors_vs_time.png)", ""]
    lines += _scheme_tables(r["schemes"], k, r["times"], [("mean_rmse", "Means rmse"),
                                                          ("covariance_rmse", "Connected correlations rmse"),
                                                          ("aats", "AATS"), ("aa_truth", "AA_truth"),
                                                          ("aa_syn", "AA_syn")])
    lines += ["## Observed", ""] + _observations(r["schemes"], k, last) + [""]
    lines += _warnings_section(r["warnings"])
    return "\n".join(lines)


# --- Bernoulli RBM on MNIST --------------------------------------------------------------------------------------

_RBM_DEFAULTS = {
    "train_size": 10000, "eval_size": None, "num_hiddens": 200, "k": 10, "schemes": ("rdm", "cd", "pcd"),
    "epochs": 20, "learning_rate": 0.01, "batch_size": 100, "num_chains": None, "init": "uniform",
    "eval_chains": 1000, "last_time": 1000, "grid_times": None, "grid_chains": 50, "aats": True, "aats_samples": 1000,
    "dtype": "float32",
}
_RBM_QUICK = {"train_size": 1000, "eval_size": 500, "num_hiddens": 20, "epochs": 2, "eval_chains": 200,
              "last_time": 100, "grid_chains": 20, "aats_samples": 200}


def _rbm_settings(quick, given):
    s = _resolve("rbm", _RBM_DEFAULTS, _RBM_QUICK, quick, given)
    s["train_size"] = check_int(s["train_size"], "train_size")
    if s["train_size"] > 60000:
        raise ValueError(f"train_size: MNIST has 60000 training images, got {s['train_size']}")
    if s["eval_size"] is not None:
        s["eval_size"] = check_int(s["eval_size"], "eval_size", minimum=2)
        if s["eval_size"] > 10000:
            raise ValueError(f"eval_size: mnist-test has 10000 images, got {s['eval_size']}")
    s["num_hiddens"] = check_int(s["num_hiddens"], "num_hiddens")
    s["k"] = check_int(s["k"], "k")
    s["schemes"] = _check_schemes(s["schemes"])
    s["epochs"] = check_int(s["epochs"], "epochs")
    s["learning_rate"] = check_positive_float(s["learning_rate"], "learning_rate")
    s["batch_size"] = check_int(s["batch_size"], "batch_size")
    if s["batch_size"] > s["train_size"]:
        raise ValueError(f"batch_size: {s['batch_size']} is larger than train_size ({s['train_size']})")
    s["num_chains"] = s["batch_size"] if s["num_chains"] is None else check_int(s["num_chains"], "num_chains")
    s["init"] = check_choice(s["init"], "init", ("uniform", "bias"))
    s["eval_chains"] = check_int(s["eval_chains"], "eval_chains", minimum=2)
    s["last_time"] = check_int(s["last_time"], "last_time")
    if s["last_time"] < s["k"]:
        raise ValueError(f"last_time: expected >= k ({s['k']}), got {s['last_time']}")
    if s["grid_times"] is None:
        s["grid_times"] = sorted({t for t in (1, s["k"], 10 * s["k"], 100 * s["k"]) if t <= s["last_time"]})
    else:
        s["grid_times"] = _check_ints(s["grid_times"], "grid_times", minimum=0)
        if s["grid_times"][-1] > s["last_time"]:
            raise ValueError(f"grid_times: expected times <= last_time ({s['last_time']}), got {s['grid_times'][-1]}")
    s["grid_chains"] = check_int(s["grid_chains"], "grid_chains")
    s["aats"] = _check_bool(s["aats"], "aats")
    s["aats_samples"] = check_int(s["aats_samples"], "aats_samples", minimum=2)
    s["dtype"] = check_dtype(s["dtype"]).name
    return s


def report_rbm(out, *, quick=False, seed=0, progress=None, overwrite=False, **settings):
    """Bernoulli RBM on binarised MNIST: Rdm-k vs CD-k vs PCD-k errors, AATS and sample grids vs sampling time.

    Training: ``train_size`` random images of ``mnist``, ``num_hiddens``
    hidden units, ``epochs`` epochs of ``learning_rate`` on minibatches of
    ``batch_size`` with ``num_chains`` negative chains (default: the batch
    size) and p0 ``init``, the same for every scheme.  Evaluation: fresh chains
    from the same p0 for every model against ``mnist-test`` (its first
    ``eval_size`` images, default all) at ``default_times(k, last_time)``;
    sample grids of the first ``grid_chains`` of those chains at
    ``grid_times`` (default 1, k, 10 k, 100 k up to ``last_time``).

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    s = _rbm_settings(quick, settings)
    seed = _check_seed(seed)
    out = _prepare_out(out, overwrite)
    plt = _matplotlib()
    say = _announcer(progress, "rbm")
    start = time.perf_counter()
    subset_seed, eval_seed, *fit_seeds = _seeds(seed, 2 + len(s["schemes"]))
    say("loading mnist and mnist-test")
    train_set, test_set = load_dataset("mnist"), load_dataset("mnist-test")
    rows = np.sort(np.random.default_rng(subset_seed).choice(train_set.data.shape[0], s["train_size"], replace=False))
    train = train_set.data[rows]
    test = test_set.data if s["eval_size"] is None else test_set.data[:s["eval_size"]]
    image_shape = train_set.image_shape or (28, 28)
    out.mkdir(parents=True, exist_ok=True)
    times = sorted(set(default_times(s["k"], s["last_time"])) | set(s["grid_times"]))
    fit_settings = {key: s[key] for key in ("num_hiddens", "epochs", "learning_rate", "batch_size", "num_chains",
                                            "init", "dtype")}

    def grids(scheme, model):
        say(f"sample grids of {_label(scheme, s['k'])} at t = {', '.join(map(str, s['grid_times']))}")
        run = sample(model, num_chains=s["grid_chains"], steps=s["grid_times"][-1], init=s["init"], rng=eval_seed,
                     record=s["grid_times"])
        files = {}
        for t, states in zip(run.times, run.recorded):
            name = f"samples_{scheme}_t{t}.png"
            write_sample_grid(out / name, states, image_shape, columns=10)
            files[t] = name
        return {"grids": files}

    with _Capture() as captured:
        per_scheme = _train_and_evaluate(say, family="rbm", schemes=s["schemes"], k=s["k"], train_data=train,
                                         eval_data=test, fit_settings=fit_settings, seeds=fit_seeds,
                                         eval_seed=eval_seed, times=times, eval_chains=s["eval_chains"],
                                         init=s["init"], aats=s["aats"], aats_samples=s["aats_samples"],
                                         data_name=f"mnist ({s['train_size']} random rows)", after=grids)
    say("writing figures")
    with _Capture() as drawing:
        _errors_figure(out / "errors_vs_time.png", plt, per_scheme, s["k"],
                       f"Bernoulli RBM on MNIST ({s['num_hiddens']} hidden), k = {s['k']}: {s['eval_chains']} "
                       f"fresh chains from p0 {s['init']} against mnist-test")
    seconds = time.perf_counter() - start
    figures = ["errors_vs_time.png"] + [name for e in per_scheme.values() for name in e.get("grids", {}).values()]
    results = {"report": "rbm", "package_version": __version__, "seed": seed, "quick": bool(quick), "settings": s,
               "seconds": seconds, "data": {"train": "mnist", "train_rows": rows, "eval": "mnist-test",
                                            "eval_rows": int(test.shape[0])},
               "times": times, "eval_seed": eval_seed, "schemes": per_scheme,
               "errors_at_k": {sc: (None if not e["rows"] else
                                    {key: e["at_k"].get(key) for key in ("mean_rmse", "covariance_rmse",
                                                                         "covariance_pearson", "aats")})
                               for sc, e in per_scheme.items()},
               "figures": figures, "warnings": _merge(captured, drawing)}
    _write_json(out / "results.json", results)
    _write_text(out / "report.md", _rbm_markdown(results, s, seed, quick))
    say(f"done in {seconds:.1f} s: {out}")
    return _jsonable(results)


def _rbm_markdown(r, s, seed, quick):
    k, last = s["k"], r["times"][-1]
    intro = (
        f"A Bernoulli RBM ({s['num_hiddens']} hidden units) is trained on {s['train_size']} random binarised MNIST "
        f"images with **Rdm-{k}** (fresh p0 chains, {k} block-Gibbs steps), **CD-{k}** (chains start at the "
        f"minibatch) and **PCD-{k}** (persistent chains), with the same settings. Fresh chains from the same p0 are "
        "then compared with mnist-test at every sampling time t: rms error of the pixel means, of the connected "
        "correlations, and the adversarial accuracy AATS with the two accuracies it averages, AA_truth and AA_syn "
        "(all three near 0.5: samples indistinguishable from the data by nearest neighbours; near 1: poor samples; "
        "AA_truth and AA_syn far apart: AATS alone misleads). Expected (Agoritsas et al. 2023, Decelle et al. "
        f"2021): the Rdm-{k} model is a k-step generator, best at t = k and degrading after (the chains drift to its "
        "equilibrium, which is far from the data); short-run CD and PCD models give poor samples at t = k from "
        "noise and better ones after a long run, PCD approaching its equilibrium.")
    lines = _header(f"Bernoulli RBM on MNIST: Rdm-{k} vs CD-{k} vs PCD-{k}", "rbm", seed, quick, r["seconds"], intro)
    lines += ["## Settings", "", _settings_table(s), "",
              f"Evaluation: {s['eval_chains']} fresh chains from p0 `{s['init']}` for every model (PCD not continued "
              f"from its persistent chains) against {r['data']['eval_rows']} mnist-test images; AATS on "
              f"{min(s['aats_samples'], s['eval_chains'], r['data']['eval_rows'])} of each.", "",
              "## Errors and AATS against sampling time", "", "![errors vs time](errors_vs_time.png)", ""]
    lines += _scheme_tables(r["schemes"], k, r["times"], [("mean_rmse", "Means rmse"),
                                                          ("covariance_rmse", "Connected correlations rmse"),
                                                          ("aats", "AATS"), ("aa_truth", "AA_truth"),
                                                          ("aa_syn", "AA_syn")])
    lines += ["## Observed", ""] + _observations(r["schemes"], k, last) + [""]
    done = [e for e in r["schemes"].values() if e.get("grids")]
    if done:
        grid_times = s["grid_times"]
        lines += ["## Samples against sampling time", "",
                  f"The first {s['grid_chains']} of the evaluated chains (binary states) at each time, one PNG per "
                  "scheme and time.", "",
                  "| scheme | " + " | ".join(f"t = {t}" for t in grid_times) + " |",
                  "|---|" + "|".join("---" for _ in grid_times) + "|"]
        for entry in done:
            cells = [f"![{entry['label']} t = {t}]({entry['grids'][t]})" for t in grid_times]
            lines.append(f"| {entry['label']} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _warnings_section(r["warnings"])
    return "\n".join(lines)


#: Report functions by name, for the command line.
REPORTS = {"gaussian": report_gaussian, "ising": report_ising, "rbm": report_rbm}
