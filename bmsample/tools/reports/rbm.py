"""The RBM report: errors, AATS and sample grids against sampling time on binarised MNIST."""

import time

import numpy as np

from ..._validation import check_bool, check_choice, check_dtype, check_int, check_int_list, check_positive_float
from ..._version import __version__
from ...datasets import load_dataset
from ...evaluation import default_times
from ...sampling import sample
from .. import plots
from ..plots import write_sample_grid
from ._binary import (
    _errors_figure,
    _observations,
    _scheme_tables,
    _train_and_evaluate,
    equilibrium_observations,
    means_noise_level,
)
from ._common import (
    _announcer,
    _Capture,
    _check_schemes,
    _fmt,
    _header,
    _jsonable,
    _label,
    _merge,
    _prepare_out,
    _resolve,
    _seeds,
    _settings_table,
    _warnings_section,
    _write_json,
    _write_text,
)

_RBM_DEFAULTS = {
    "train_size": 10000, "eval_size": None, "num_hiddens": 200, "k": 10, "schemes": ("rdm", "cd", "pcd"),
    "epochs": 20, "learning_rate": 0.01, "batch_size": 100, "num_chains": None, "init": "uniform",
    "eval_chains": 1000, "last_time": 1000, "grid_times": None, "grid_chains": 50, "aats": True, "aats_samples": 1000,
    "dtype": "float32", "equilibrium": True, "equilibrium_chains": 200, "equilibrium_sweeps": 1000,
}
_RBM_QUICK = {"train_size": 1000, "eval_size": 500, "num_hiddens": 20, "epochs": 2, "eval_chains": 200,
              "last_time": 100, "grid_chains": 20, "aats_samples": 200,
              "equilibrium_chains": 50, "equilibrium_sweeps": 100}


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
        s["grid_times"] = check_int_list(s["grid_times"], "grid_times", minimum=0)
        if s["grid_times"][-1] > s["last_time"]:
            raise ValueError(f"grid_times: expected times <= last_time ({s['last_time']}), got {s['grid_times'][-1]}")
    s["grid_chains"] = check_int(s["grid_chains"], "grid_chains")
    s["aats"] = check_bool(s["aats"], "aats")
    s["aats_samples"] = check_int(s["aats_samples"], "aats_samples", minimum=2)
    s["dtype"] = check_dtype(s["dtype"]).name
    s["equilibrium"] = check_bool(s["equilibrium"], "equilibrium")
    s["equilibrium_chains"] = check_int(s["equilibrium_chains"], "equilibrium_chains", minimum=2)
    s["equilibrium_sweeps"] = check_int(s["equilibrium_sweeps"], "equilibrium_sweeps")
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
    ``grid_times`` (default 1, k, 10 k, 100 k up to ``last_time``).  With
    ``equilibrium`` (default), each model also gets a t = inf row from
    ``eval_chains`` equilibrium samples: the ``equilibrium_chains`` chains per
    replica of a parallel-tempering run of ``equilibrium_sweeps`` sweeps
    (after an auto-ladder warm-up) at evenly spaced sweeps of its second half
    (``evaluation.equilibrium``).  The report says from it whether the PCD
    model's chains from noise are at equilibrium by ``last_time`` and how far
    the Rdm model's equilibrium is from the data.

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    s = _rbm_settings(quick, settings)
    seed = check_int(seed, "seed", minimum=0)
    out = _prepare_out(out, overwrite)
    plt = plots._matplotlib()
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
                                         data_name=f"mnist ({s['train_size']} random rows)", after=grids,
                                         equilibrium=({"num_chains": s["equilibrium_chains"],
                                                       "sweeps": s["equilibrium_sweeps"]} if s["equilibrium"] else
                                                      None))
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
               "means_noise_level": means_noise_level(test, s["eval_chains"]),
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
    if s["equilibrium"]:
        noise = r["means_noise_level"]
        lines += ["## Equilibrium", "",
                  f"Row t = inf (PT) of the tables: {s['eval_chains']} equilibrium samples of each model, as many "
                  "as the other rows have chains, so the rows share their sampling noise: the states of "
                  f"{s['equilibrium_chains']} chains per replica of a parallel-tempering run "
                  f"({s['equilibrium_sweeps']} sweeps after an auto-ladder warm-up) at evenly spaced sweeps of its "
                  "second half (`bmsample eval MODEL DATA --equilibrium pt` gives the same row). Dash-dotted lines "
                  "in the figure. Means-rmse sampling-noise level of the rows: "
                  f"{_fmt(noise)}.", ""]
        lines += equilibrium_observations(r["schemes"], k, last, noise) + [""]
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
