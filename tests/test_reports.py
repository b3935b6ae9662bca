"""Experiment reports (bmsample.reports) with their quick settings: files, numbers, refusals."""

import json
import re

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from bmsample import theory  # noqa: E402
from bmsample.evaluation import default_times  # noqa: E402
from bmsample.tools import plots, reports  # noqa: E402
from bmsample.tools.reports._binary import equilibrium_observations, means_noise_level  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _run(tmp_path_factory, name, **settings):
    out = tmp_path_factory.mktemp(f"report-{name}") / "out"
    messages = []
    returned = reports.REPORTS[name](out, quick=True, seed=0, progress=messages.append, **settings)
    return out, returned, messages


@pytest.fixture(scope="module")
def gaussian_run(tmp_path_factory):
    return _run(tmp_path_factory, "gaussian")


@pytest.fixture(scope="module")
def ising_run(tmp_path_factory):
    return _run(tmp_path_factory, "ising")


@pytest.fixture(scope="module")
def rbm_run(tmp_path_factory):
    return _run(tmp_path_factory, "rbm")


def _check_folder(out, returned, messages, name):
    """report.md, results.json and every listed figure exist; PNGs are PNGs and linked from report.md."""
    results = json.loads((out / "results.json").read_text())
    assert results == returned
    assert results["report"] == name and results["quick"] is True and results["seed"] == 0
    markdown = (out / "report.md").read_text()
    assert markdown.startswith("# ")
    assert "## Settings" in markdown
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert set(results["figures"]) <= set(linked)
    for name_png in set(linked) | set(results["figures"]):
        path = out / name_png
        assert path.parent == out and path.suffix == ".png"
        assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert messages and all(m.startswith(f"{name}: ") for m in messages)
    assert any("done" in m for m in messages)
    return results, markdown


def test_gaussian_report_files_and_numbers(gaussian_run):
    out, returned, messages = gaussian_run
    results, markdown = _check_folder(out, returned, messages, "gaussian")
    assert {"spectrum.png", "variance_vs_time.png"} <= set(results["figures"])
    s = results["settings"]
    eps, s0_sq = s["step_size"], results["s0_sq"]
    assert s0_sq == pytest.approx(theory.init_variance(s["init"], s["init_scale"]))
    lam = np.array(results["data_variances"])
    assert [entry["k"] for entry in results["spectra"]] == s["ks"]
    for entry in results["spectra"]:
        k = entry["k"]
        # The predicted spectrum in results.json is the theory module's, for the measured data variances.
        np.testing.assert_allclose(entry["predicted"], theory.rdm_eigenvalue(lam, k, eps, s0_sq), rtol=1e-12)
        np.testing.assert_allclose(entry["ml"], 1.0 / lam, rtol=1e-12)
        np.testing.assert_allclose(entry["cd_pcd"], theory.discretised_ml_eigenvalue(lam, eps), rtol=1e-12)
        assert entry["critical_variance"] == pytest.approx(s0_sq + 2 * k * eps)
        assert entry["unbounded_predicted"] == list(lam > entry["critical_variance"])
        assert entry["diverged"] is None and len(entry["learned"]) == lam.size
        deviation = np.abs(np.array(entry["learned"]) - np.array(entry["predicted"]))
        np.testing.assert_allclose(entry["abs_deviation"], deviation, rtol=1e-12)
        assert entry["max_abs_deviation"] == pytest.approx(deviation.max())
    assert results["max_abs_deviation"] == pytest.approx(max(e["max_abs_deviation"] for e in results["spectra"]))
    # Even the quick run (300 full-batch updates) gets the largest k close: within 15 % of max(|j*|, 1) on every
    # axis (about 2 % observed), and fresh chains match the data variance at t = k within 25 % (about 6 % observed).
    largest = results["spectra"][-1]
    assert largest["max_relative_deviation"] < 0.15
    # The physics, on the learned J: its eigenvalues along the data's axes are the Rdm-k prediction (0.023
    # observed for k = 20), with negative (unbounded) modes exactly where the theory puts them, lam > s0^2 + 2 k eps.
    assert np.max(np.abs(np.array(largest["learned"]) - theory.rdm_eigenvalue(lam, largest["k"], eps, s0_sq))) < 0.05
    assert largest["unbounded_learned"] == largest["unbounded_predicted"] == list(lam > s0_sq + 2 * largest["k"] * eps)
    sampling = results["sampling"]
    assert sampling["k"] == largest["k"] and sampling["times"] == list(range(sampling["steps"] + 1))
    np.testing.assert_allclose(sampling["ratio_at_k"], 1.0, atol=0.25)
    ratio = np.array(sampling["variance_ratio"])
    assert ratio.shape == (lam.size, sampling["steps"] + 1)
    np.testing.assert_allclose(ratio[:, 0], s0_sq / lam, rtol=0.25)  # p0: uniform on [-1, 1]
    # Negative modes diverge past k, as the closed form at the learned J says.
    negative = np.array(largest["predicted"]) < 0
    assert negative.any()
    assert np.all(ratio[negative, -1] > 10)
    np.testing.assert_allclose(ratio[:, -1], sampling["learned_theory_ratio_at_last"], rtol=0.5)
    assert "Rdm-20 predicted" in markdown and "max abs deviation" in markdown


def test_ising_report_files_and_numbers(ising_run):
    out, returned, messages = ising_run
    results, markdown = _check_folder(out, returned, messages, "ising")
    s = results["settings"]
    k = s["k"]
    assert results["times"] == default_times(k, s["last_time"])
    assert set(results["schemes"]) == {"rdm", "cd", "pcd"}
    for scheme, entry in results["schemes"].items():
        assert entry["diverged"] is None
        assert [row["t"] for row in entry["rows"]] == results["times"]
        for row in entry["rows"]:
            assert {"mean_rmse", "covariance_rmse", "covariance_pearson", "aats"} <= set(row)
        assert entry["at_k"]["t"] == k and entry["at_last"]["t"] == results["times"][-1]
        rows = [row for row in entry["rows"] if row["t"] >= 1]
        assert entry["argmin_t_mean_rmse"] == min(rows, key=lambda row: row["mean_rmse"])["t"]
        assert results["argmin_t"][scheme]["mean_rmse"] == entry["argmin_t_mean_rmse"]
        # t = 0 is the same uniform p0 for every scheme, far from the data.
        assert entry["rows"][0]["mean_rmse"] > 0.5
    assert 0 < results["means_noise_level"] < 0.1
    assert "## Observed" in markdown and f"Rdm-{k}" in markdown


def _ising_curves(tmp_path_factory, seeds):
    """The Ising report's mean-rmse-against-t curve of each scheme, averaged over ``seeds`` (2000 updates each)."""
    curves = {}
    for seed in seeds:
        out = tmp_path_factory.mktemp(f"report-ising-{seed}") / "out"
        results = reports.REPORTS["ising"](out, quick=True, seed=seed, progress=None, updates=2000,
                                           learning_rate=0.01, batch_size=200, num_chains=200, eval_chains=2000,
                                           aats=False)
        for scheme, entry in results["schemes"].items():
            curves.setdefault(scheme, []).append([(row["t"], row["mean_rmse"]) for row in entry["rows"]])
    k = results["settings"]["k"]
    averaged = {}
    for scheme, runs in curves.items():
        times = np.array([t for t, _ in runs[0]])
        assert all(np.array_equal([t for t, _ in run], times) for run in runs)
        averaged[scheme] = (times, np.mean([[e for _, e in run] for run in runs], axis=0))
    return k, averaged


def test_ising_report_shows_the_rdm_k_minimum_at_t_equal_k(tmp_path_factory):
    """The physics of the Ising report (three seeds of 2000 updates, about 15 s): the Rdm-k model's error is
    smallest at t = k and grows past it (an out-of-equilibrium memory of the k-step process), while CD-k and
    PCD-k, trained towards equilibrium, have no minimum before k and stay near their best.

    One seed is too noisy for this: over seeds 0-11, single runs put the Rdm-5 minimum at t = 10 once, and a
    PCD-5 run grows by 1.28 from t = 5 to t = 100.  Averaged over three seeds (groups 0-2, 3-5, 6-8, 9-11),
    the Rdm-5 curve grows by 1.53-2.15 from t = k to t = 100 and CD-5 and PCD-5 by 0.81-1.24; the noise floor
    of 2000 chains is about 0.02 in each run.
    """
    k, curves = _ising_curves(tmp_path_factory, seeds=(0, 1, 2))
    growth = {}
    for scheme, (times, errors) in curves.items():
        at_k = errors[np.flatnonzero(times == k)[0]]
        growth[scheme] = errors[-1] / at_k
        if scheme == "rdm":
            assert times[np.argmin(errors)] == k
        else:
            assert times[np.argmin(errors)] >= k, scheme
    assert growth["rdm"] > 1.4, growth
    assert growth["cd"] < 1.3 and growth["pcd"] < 1.3, growth


def test_rbm_report_files_and_numbers(rbm_run):
    out, returned, messages = rbm_run
    results, markdown = _check_folder(out, returned, messages, "rbm")
    s = results["settings"]
    k = s["k"]
    assert s["grid_times"] == [1, k, 10 * k]  # quick: last_time = 100
    assert len(results["data"]["train_rows"]) == s["train_size"]
    assert len(set(results["data"]["train_rows"])) == s["train_size"]
    for scheme, entry in results["schemes"].items():
        assert sorted(int(t) for t in entry["grids"]) == s["grid_times"]
        for name in entry["grids"].values():
            assert (out / name).read_bytes()[:8] == PNG_SIGNATURE
        at_k = results["errors_at_k"][scheme]
        assert at_k["mean_rmse"] == entry["at_k"]["mean_rmse"]
        assert 0 <= at_k["aats"] <= 1 and at_k["mean_rmse"] > 0
    assert len(results["figures"]) == 1 + 3 * len(s["grid_times"])
    for entry in results["schemes"].values():
        found = entry["equilibrium"]
        assert found["method"] == "pt" and found["row"]["t"] == "inf"
        assert found["diagnostics"]["chains_per_replica"] == s["equilibrium_chains"]
        assert found["diagnostics"]["sweeps"] == s["equilibrium_sweeps"]
        assert found["samples"] == s["eval_chains"]  # the other rows' sampling noise
        assert 0 < found["row"]["mean_rmse"] < 0.5 and 0 <= found["row"]["aats"] <= 1
    assert "## Equilibrium" in markdown and markdown.count("| inf (PT) |") == 5
    assert f"Do chains from noise reach PCD-{k}'s equilibrium" in markdown
    assert f"Rdm-{k}'s equilibrium against the data" in markdown


def test_means_noise_level_is_the_expected_means_rmse_of_samples_of_the_data_law():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.98, 64)
    squares, levels = [], []
    for _ in range(300):
        data = (rng.random((500, 64)) < p).astype(np.float64)
        samples = (rng.random((80, 64)) < p).astype(np.float64)
        squares.append(np.mean((samples.mean(axis=0) - data.mean(axis=0)) ** 2))
        levels.append(means_noise_level(data, 80) ** 2)
    # mean of 300 means of 64 squared Gaussians: relative sd sqrt(2 / 64 / 300) = 0.01
    assert np.mean(squares) == pytest.approx(np.mean(levels), rel=0.04)


def _entry(label, at_k, at_last, at_inf):
    row = {"mean_rmse": at_inf, "covariance_rmse": 0.01}
    return {"label": label, "rows": [{}], "at_k": {"mean_rmse": at_k, "covariance_rmse": 0.01},
            "at_last": {"mean_rmse": at_last}, "equilibrium": {
                "row": row, "diagnostics": {"replicas": 9, "round_trips": 4, "sweeps": 100}}}


@pytest.mark.parametrize("at_last, at_inf, verdict", [
    (0.05, 0.05, "yes"), (0.05, 0.052, "yes"), (0.05, 0.2, "no: the chains at t = 1000 are closer to"),
    (0.2, 0.05, "no: the chains at t = 1000 are farther from")])
def test_equilibrium_observations_judge_pcd_against_its_noise_level(at_last, at_inf, verdict):
    lines = equilibrium_observations({"pcd": _entry("PCD-10", 0.1, at_last, at_inf),
                                      "rdm": _entry("Rdm-10", 0.03, 0.2, 0.3)}, 10, 1000, 0.02)
    judged = next(line for line in lines if line.startswith("- Do chains"))
    assert f": {verdict}" in judged, judged
    rdm = next(line for line in lines if line.startswith("- Rdm-10's equilibrium"))
    # biases without noise: sqrt(0.3^2 - 0.02^2) / sqrt(0.03^2 - 0.02^2)
    assert f"ratio {np.sqrt(0.3**2 - 0.02**2) / np.sqrt(0.03**2 - 0.02**2):.3g}" in rdm
    assert "not at equilibrium" in rdm


@pytest.mark.parametrize("name", sorted(reports.REPORTS))
def test_report_refuses_a_non_empty_out(tmp_path, name):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="taken"):
        reports.REPORTS[name](out, quick=True)
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"
    afile = tmp_path / "a-file"
    afile.write_text("x")
    with pytest.raises(ValueError, match="a-file"):
        reports.REPORTS[name](afile, quick=True)


@pytest.mark.parametrize("name, settings, error", [
    ("gaussian", {"no_such_setting": 1}, ValueError),
    ("gaussian", {"ks": []}, ValueError),
    ("gaussian", {"init": "data"}, ValueError),
    ("gaussian", {"sample_steps": 3}, ValueError),
    ("gaussian", {"min_variance": 2.0, "max_variance": 1.0}, ValueError),
    ("ising", {"k": 0}, ValueError),
    ("ising", {"schemes": ["rdm", "sgd"]}, ValueError),
    ("ising", {"last_time": 2}, ValueError),
    ("ising", {"aats": "yes"}, TypeError),
    ("rbm", {"train_size": 70000}, ValueError),
    ("rbm", {"grid_times": [1, 5000]}, ValueError),
    ("rbm", {"learning_rate": -1.0}, ValueError),
])
def test_report_validates_settings_before_writing(tmp_path, name, settings, error):
    out = tmp_path / "new"
    with pytest.raises(error):
        reports.REPORTS[name](out, quick=True, **settings)
    assert not out.exists()


def test_reports_mapping():
    assert reports.REPORTS == {"gaussian": reports.report_gaussian, "ising": reports.report_ising,
                               "rbm": reports.report_rbm}


def test_diverged_training_is_reported_not_raised(tmp_path):
    out = tmp_path / "diverged"
    results = reports.report_ising(out, quick=True, schemes=["rdm"], learning_rate=1000.0)
    entry = results["schemes"]["rdm"]
    assert "diverged" in entry["diverged"] and entry["rows"] is None
    assert results["argmin_t"]["rdm"]["mean_rmse"] is None
    assert "training diverged" in (out / "report.md").read_text()
    assert (out / "errors_vs_time.png").read_bytes()[:8] == PNG_SIGNATURE


def test_missing_matplotlib_gives_the_install_hint_before_writing(tmp_path, monkeypatch):
    def missing():
        raise ImportError("plots need matplotlib: pip install 'bmsample[plot]'")

    monkeypatch.setattr(plots, "_matplotlib", missing)
    for name in reports.REPORTS:
        out = tmp_path / name
        with pytest.raises(ImportError, match=r"bmsample\[plot\]"):
            reports.REPORTS[name](out, quick=True)
        assert not out.exists()


def test_gaussian_recorded_times_stay_bounded():
    assert reports.gaussian._recorded_times(200, 20, 4) == list(range(201))
    sparse = reports.gaussian._recorded_times(100_000, 700, 50)
    assert sparse[0] == 0 and sparse[-1] == 100_000 and 700 in sparse and len(sparse) < 500
    assert sparse == sorted(set(sparse))


def test_report_command_line(tmp_path):
    from click.testing import CliRunner

    from bmsample.cli.main import main

    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["report", "ising", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.md").is_file() and (out / "results.json").is_file()
    again = CliRunner().invoke(main, ["report", "ising", "--quick", "--out", str(out)])
    assert again.exit_code == 2 and "out" in again.stderr
