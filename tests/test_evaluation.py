"""Evaluation against sampling time, log-likelihood dispatch, mixing, plots and the eval / plot CLI."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import random_rbm

import bmsample
from bmsample import evaluation
from bmsample.cli.main import main
from bmsample.datasets import gaussian_data
from bmsample.gaussian.model import GaussianModel, exact_langevin_moments
from bmsample.ising import exact as ising_exact
from bmsample.rbm.model import exact_process_distribution


def test_default_times_include_k_and_the_log_grid():
    assert evaluation.default_times(10) == [0, 1, 2, 5, 10, 20, 50, 100]
    assert 7 in evaluation.default_times(7)
    assert evaluation.default_times(None, 30) == [0, 1, 2, 5, 10, 20]


def test_evaluate_rbm_means_error_matches_the_exact_process():
    model = random_rbm(4, 3, scale=1.5, seed=4)
    model.process = {"scheme": "rdm", "k": 3, "init": "uniform"}
    data = (np.random.default_rng(0).random((5000, 4)) < 0.7).astype(float)
    chains = 50_000
    result = evaluation.evaluate(model, data, times=[0, 3, 6], num_chains=chains, rng=1, aats=False)
    assert [row["t"] for row in result.rows] == [0, 3, 6] and result.k == 3
    from bmsample.rbm.model import all_binary_states

    for row in result.rows:
        exact = exact_process_distribution(model, np.full(16, 1 / 16), row["t"]) @ all_binary_states(4)
        expected = np.sqrt(np.mean((exact - data.mean(0)) ** 2))
        # Each chain mean has sd <= 0.5 / sqrt(chains); the rms error moves by at most that.
        assert abs(row["mean_rmse"] - expected) < 5 * 0.5 / np.sqrt(chains)


def test_evaluate_gaussian_variance_error_is_smallest_at_k():
    data, _ = gaussian_data([0.3, 1.0, 3.0], 20_000, rng=0)
    fitted = bmsample.fit(data, model="gaussian", k=40, step_size=0.02, updates=400, batch_size=2000,
                          num_chains=2000, learning_rate=0.2, seed=0, dtype="float64")
    result = evaluation.evaluate(fitted.model, data, times=[10, 40, 160], num_chains=4000, rng=2, aats=False)
    errors = {row["t"]: row["variance_rmse"] for row in result.rows}
    assert errors[40] < errors[10] and errors[40] < errors[160]
    assert result.best_time("variance_rmse") == 40


def test_evaluate_aats_is_near_one_half_at_equilibrium_for_data_from_the_model():
    model = random_rbm(6, 4, scale=0.8, seed=5)
    data = bmsample.sample(model, 2000, 200, init="uniform", rng=7).visible
    result = evaluation.evaluate(model, data, times=[200], num_chains=2000, rng=8, aats_samples=2000)
    # 2000 + 2000 points from the same law: AA within ~4 * sqrt(0.25 / 2000) = 0.045 of 0.5, and
    # with only 64 states ties are frequent, which the tie rule splits evenly.
    assert abs(result.rows[0]["aats"] - 0.5) < 0.05


def test_log_likelihood_dispatch_is_exact_for_small_models():
    from bmsample.rbm.likelihood import exact_log_likelihood

    rbm = random_rbm(5, 3, seed=6)
    data = (np.random.default_rng(0).random((50, 5)) < 0.5).astype(float)
    assert evaluation.log_likelihood(rbm, data)["log_likelihood"] == pytest.approx(exact_log_likelihood(rbm, data))
    rng = np.random.default_rng(1)
    J = np.triu(rng.standard_normal((4, 4)), 1)
    ising = bmsample.IsingModel(J + J.T, rng.standard_normal(4))
    spins = np.where(rng.random((30, 4)) < 0.5, -1.0, 1.0)
    probabilities = ising_exact.equilibrium_distribution(ising.coupling_matrix, ising.field)
    index = ((spins + 1) // 2).astype(int) @ (1 << np.arange(3, -1, -1))
    expected = np.mean(np.log(probabilities[index]))
    assert evaluation.log_likelihood(ising, spins)["log_likelihood"] == pytest.approx(expected, abs=1e-10)
    gaussian = GaussianModel(np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([0.3, -0.2]))
    x = rng.standard_normal((40, 2))
    mean, cov = gaussian.equilibrium_moments()
    from scipy.stats import multivariate_normal

    expected = multivariate_normal(mean, cov).logpdf(x).mean()
    assert evaluation.log_likelihood(gaussian, x)["log_likelihood"] == pytest.approx(expected, abs=1e-10)


def test_mixing_of_uncoupled_gaussian_chains():
    # J = j I: each coordinate is an AR(1) chain with a = 1 - eps j, tau_int = (1 + a) / (1 - a).
    eps, j = 0.05, 2.0
    model = GaussianModel(j * np.eye(20), np.zeros(20), dtype="float64",
                          process={"k": 1, "init": "gaussian", "init_scale": 1.0, "sampler": "langevin",
                                   "step_size": eps})
    result = evaluation.mixing(model, num_chains=400, steps=2000, rng=3)
    a = 1 - eps * j
    # The magnetisation (mean over 20 coordinates) is itself AR(1) with the same a.
    assert result["magnetisation_tau"] == pytest.approx((1 + a) / (1 - a), rel=0.15)
    # Memory of p0 is corr(x_t, x_0) = a^t sd(x_0) / sd(x_t), sd from the exact moments; on the
    # grid it is 0.17 at t = 20 and 0.007 at t = 50, so p0 is forgotten at 50.
    exact_memory = {}
    for t in result["memory_times"]:
        _, cov = exact_langevin_moments(model, np.zeros(20), np.eye(20), t, eps)
        exact_memory[t] = a**t / np.sqrt(cov[0, 0])
    for t, found in zip(result["memory_times"], result["memory"]):
        assert found == pytest.approx(exact_memory[t], abs=5 / np.sqrt(400 * 20))
    assert result["forget_time"] == min(t for t in result["memory_times"] if exact_memory[t] < 0.05) == 50


def run_cli(args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "run"
    result = run_cli(["fit", "digits", "--hidden", "16", "-k", "5", "--updates", "60", "--batch-size", "50",
                      "--seed", "0", "--out", out, "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def test_cli_eval_table_json_png(digits_run, tmp_path):
    result = run_cli(["eval", digits_run / "model.npz", "digits", "--times", "0,5,20", "--chains", "300",
                      "--seed", "0", "--json", tmp_path / "e.json", "--png", tmp_path / "e.png",
                      "--log-likelihood", "exact", "--mixing", "60"])
    assert result.exit_code == 0, result.output
    assert "<- k" in result.stdout and "log-likelihood (exact)" in result.stdout and "mixing over 60" in result.stdout
    document = json.loads((tmp_path / "e.json").read_text())
    assert [row["t"] for row in document["rows"]] == [0, 5, 20] and document["k"] == 5
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_sample_png_and_plot(digits_run, tmp_path):
    result = run_cli(["sample", digits_run / "model.npz", "--chains", "30", "--png", tmp_path / "g.png",
                      "--out", tmp_path / "s.npz", "--seed", "0"])
    assert result.exit_code == 0, result.output
    png = (tmp_path / "g.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (10 * (10 * 9 + 1), 10 * (3 * 9 + 1))  # 10 x 3 tiles of 8 x 8 plus borders, x10
    result = run_cli(["plot", digits_run])
    assert result.exit_code == 0, result.output
    assert (digits_run / "plots" / "training.png").is_file() and (digits_run / "plots" / "samples.png").is_file()


def test_cli_eval_bad_input(digits_run, tmp_path):
    result = run_cli(["eval", digits_run / "model.npz", "mnist-test", "--chains", "10"])
    assert result.exit_code == 2 and "expected 64 columns" in result.stderr
    result = run_cli(["plot", tmp_path])
    assert result.exit_code == 2 and "neither model.npz nor log.jsonl" in result.stderr


def test_fit_logs_mixing_at_checkpoints(tmp_path):
    result = run_cli(["fit", "digits", "--hidden", "8", "-k", "2", "--updates", "5", "--batch-size", "50",
                      "--seed", "0", "--out", tmp_path / "run", "--quiet", "--log-mixing", "20"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    checkpoints = [r for r in records if r["update"] in (1, 2, 5)]
    assert checkpoints and all("energy_tau" in r and "forget_time" in r for r in checkpoints)


def test_gaussian_bernoulli_log_likelihood_in_data_units():
    # W = 0: the model is N(mean + std * a, (std * sigma)^2) per unit in data units.
    model = bmsample.GaussianBernoulliRBM(np.zeros((2, 3)), np.array([0.5, -1.0]), np.zeros(3),
                                          sigma=np.array([1.0, 0.5]), data_mean=np.array([10.0, -2.0]),
                                          data_std=np.array([2.0, 3.0]), dtype="float64")
    x = np.random.default_rng(0).standard_normal((25, 2)) * 3 + np.array([10.0, -2.0])
    from scipy.stats import norm

    loc = np.array([10.0, -2.0]) + np.array([2.0, 3.0]) * np.array([0.5, -1.0])
    scale = np.array([2.0, 3.0]) * np.array([1.0, 0.5])
    expected = norm(loc, scale).logpdf(x).sum(axis=1).mean()
    assert evaluation.log_likelihood(model, x)["log_likelihood"] == pytest.approx(expected, abs=1e-9)
