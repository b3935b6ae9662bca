"""What the reports on binary models share: train every scheme alike, evaluate, tabulate, plot the errors."""

import time

import numpy as np

from ... import metrics
from ...evaluation import equilibrium as equilibrium_row
from ...evaluation import evaluate
from ...training import TrainingDiverged, fit
from ..plots import _save
from ._common import _COLOURS, _fit_progress, _fmt, _label, _shown_times, _table


def _train_and_evaluate(say, *, family, schemes, k, train_data, eval_data, fit_settings, seeds, eval_seed, times,
                        eval_chains, init, aats, aats_samples, data_name, after=None, equilibrium=None):
    """Train each scheme with the same settings, evaluate fresh chains from ``init`` at ``times``.

    ``equilibrium``, a dict with ``num_chains`` and ``sweeps``, adds each model's t = inf row: ``eval_chains``
    equilibrium samples by parallel tempering (``evaluation.equilibrium``), the sampling noise of the other rows."""
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
        if equilibrium is not None:
            say(f"equilibrium of {label}: parallel tempering, {equilibrium['num_chains']} chains per replica, "
                f"{equilibrium['sweeps']} sweeps after an auto-ladder warm-up")
            t0 = time.perf_counter()
            entry["equilibrium"] = equilibrium_row(result.model, eval_data, "pt", samples=eval_chains, rng=eval_seed,
                                                   aats=aats, aats_samples=aats_samples, **equilibrium)
            entry["equilibrium_seconds"] = time.perf_counter() - t0
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
            if entry.get("equilibrium"):
                ax.axhline(entry["equilibrium"]["row"][key], color=_COLOURS[scheme], lw=1, ls="-.",
                           label=f"{entry['label']} at equilibrium (PT)" if key != "aats" else None)
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
        if any(e.get("equilibrium") for e in done.values()):
            rows.append(["inf (PT)"] + [e["equilibrium"]["row"][key] if e.get("equilibrium") else None
                                        for e in done.values()])
        lines += [f"{name} at every sampling time:", "",
                  _table(["t"] + [e["label"] for e in done.values()], rows), ""]
    return lines


def _aats_cell(row):
    """AATS with AA_truth and AA_syn, for a table cell (None without AATS)."""
    return metrics.format_aats(row) if "aats" in row else None


def means_noise_level(data, num_chains):
    """rms sd of (mean of ``num_chains`` samples - mean of ``data``) from sampling alone, in ``data``'s units.

    The expected means rmse of samples of the data's own law; an error of this size is not a measured bias."""
    data = np.asarray(data, dtype=np.float64)
    return float(np.sqrt(np.mean(data.var(axis=0)) * (1.0 / num_chains + 1.0 / data.shape[0])))


def _bias(rmse, noise):
    """The part of a means rmse that sampling noise does not explain: sqrt(max(rmse^2 - noise^2, 0))."""
    return float(np.sqrt(max(rmse**2 - noise**2, 0.0)))


def equilibrium_observations(per_scheme, k, last, noise):
    """What the t = inf rows say: is PCD at equilibrium at t = ``last``, how far is Rdm's equilibrium from the data.

    ``noise``: ``means_noise_level`` of the rows (as many equilibrium samples as evaluated chains); the means
    errors are compared after taking it out (``_bias``), and agree when they differ by less than it."""
    out = []
    for entry in per_scheme.values():
        found = entry.get("equilibrium")
        if not found:
            continue
        row, d = found["row"], found["diagnostics"]
        aats = f", AATS {metrics.format_aats(row)}" if "aats" in row else ""
        out.append(f"- {entry['label']} at equilibrium (parallel tempering, {d['replicas']} replicas, "
                   f"{d['round_trips']} round trips in {d['sweeps']} sweeps): means rmse {_fmt(row['mean_rmse'])}, "
                   f"correlations rmse {_fmt(row['covariance_rmse'])}{aats}."
                   + ("" if d["round_trips"] else " No walker crossed the ladder: this row may not be the "
                                                  "equilibrium."))
    pcd, rdm = per_scheme.get("pcd"), per_scheme.get("rdm")
    if pcd and pcd.get("equilibrium"):
        at_last = _bias(pcd["at_last"]["mean_rmse"], noise)
        at_inf = _bias(pcd["equilibrium"]["row"]["mean_rmse"], noise)
        same = abs(at_last - at_inf) <= noise
        verdict = ("yes: the two agree within the sampling-noise level" if same else
                   f"no: the chains at t = {last} are {'closer to' if at_last < at_inf else 'farther from'} the "
                   "data than the equilibrium")
        out.append(f"- Do chains from noise reach PCD-{k}'s equilibrium by t = {last}? Means error without its "
                   f"sampling-noise part: {_fmt(at_last)} at t = {last}, {_fmt(at_inf)} at equilibrium (noise level "
                   f"{_fmt(noise)}): {verdict}.")
    if rdm and rdm.get("equilibrium"):
        at_k = _bias(rdm["at_k"]["mean_rmse"], noise)
        at_inf = _bias(rdm["equilibrium"]["row"]["mean_rmse"], noise)
        ratio = at_inf / at_k if at_k > 0 else float("inf")
        out.append(f"- Rdm-{k}'s equilibrium against the data: means error without its sampling-noise part "
                   f"{_fmt(at_inf)}, against {_fmt(at_k)} at t = k (ratio {_fmt(ratio, 3)}); correlations rmse "
                   f"{_fmt(rdm['equilibrium']['row']['covariance_rmse'])} against "
                   f"{_fmt(rdm['at_k']['covariance_rmse'])} at t = k."
                   + (" The model matches the data through its k-step process, not at equilibrium." if ratio > 1.5
                      else ""))
    return out


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
