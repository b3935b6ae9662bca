"""The Gaussian report: learned Rdm-k spectrum against the closed form, variance of fresh chains against t."""

import time

import numpy as np

from ... import theory
from ..._validation import check_choice, check_dtype, check_int, check_int_list, check_positive_float
from ..._version import __version__
from ...datasets import gaussian_data
from ...sampling import sample
from ...training import TrainingDiverged, fit
from .. import plots
from ..plots import _plain_log_ticks, _save
from ._common import (
    _announcer,
    _Capture,
    _fit_progress,
    _fmt,
    _header,
    _jsonable,
    _merge,
    _prepare_out,
    _resolve,
    _seeds,
    _settings_table,
    _table,
    _warnings_section,
    _write_json,
    _write_text,
)

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
    s["ks"] = check_int_list(s["ks"], "ks")
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
    seed = check_int(seed, "seed", minimum=0)
    out = _prepare_out(out, overwrite)
    plt = plots._matplotlib()
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
