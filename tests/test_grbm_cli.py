"""Gaussian-Bernoulli RBM through fit / sample and the command line."""

import numpy as np
import pytest
from click.testing import CliRunner

import bmsample
from bmsample.cli.main import main


def run_cli(args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("grbm") / "run"
    result = run_cli(["fit", "wine", "--model", "gaussian-rbm", "--hidden", "8", "-k", "5", "--updates", "200",
                      "--batch-size", "50", "--seed", "0", "--out", out, "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def test_fit_records_the_standardisation_and_the_process(wine_run):
    loaded = bmsample.read_model_file(wine_run / "model.npz")
    model, data = loaded.model, bmsample.load_dataset("wine", dtype="float64").data
    assert isinstance(model, bmsample.GaussianBernoulliRBM) and loaded.metadata["family"] == "gaussian_bernoulli_rbm"
    np.testing.assert_allclose(model.data_mean, data.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(model.data_std, data.std(axis=0), rtol=1e-6)
    assert (model.process["scheme"], model.process["k"], model.process["init"]) == ("rdm", 5, "gaussian")


def test_samples_come_back_in_data_units(wine_run, tmp_path):
    out = tmp_path / "s.npz"
    result = run_cli(["sample", wine_run / "model.npz", "--chains", "4000", "--seed", "1", "--out", out])
    assert result.exit_code == 0, result.output
    with np.load(out, allow_pickle=False) as f:
        samples = f["visible"]
    data = bmsample.load_dataset("wine", dtype="float64").data
    # After 200 updates the model is rough, but its samples live on the data's scale (proline ~ 750, ash ~ 2.4):
    # means within one data std of the data means, column by column.
    assert samples.shape == (4000, 13)
    assert np.all(np.abs(samples.mean(axis=0) - data.mean(axis=0)) < data.std(axis=0))


@pytest.mark.parametrize("args, message", [
    (["--init", "uniform"], "--init uniform"), (["--means"], "--means"), (["--step-size", "0.1"], "--step-size"),
    (["--init", "chains"], "--init chains"),
])
def test_sample_refuses_options_of_other_families(wine_run, tmp_path, args, message):
    result = run_cli(["sample", wine_run / "model.npz", "--out", tmp_path / "s.npz", *args])
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "s.npz").exists()


def test_fit_refuses_bad_input(tmp_path):
    data = np.random.default_rng(0).standard_normal((40, 3))
    data[0, 0] = np.inf
    np.save(tmp_path / "x.npy", data)
    result = run_cli(["fit", tmp_path / "x.npy", "--model", "gaussian-rbm", "--out", tmp_path / "run"])
    assert result.exit_code == 2 and "NaN or inf" in result.stderr
    result = run_cli(["fit", "wine", "--model", "gaussian-rbm", "--init", "bias", "--out", tmp_path / "run"])
    assert result.exit_code == 2 and "init" in result.stderr


def test_sigma_is_used_and_recorded(tmp_path):
    result = run_cli(["fit", "wine", "--model", "gaussian-rbm", "--hidden", "4", "--updates", "3", "--batch-size",
                      "50", "--sigma", "0.4", "--seed", "0", "--out", tmp_path / "run", "--quiet"])
    assert result.exit_code == 0, result.output
    model = bmsample.load_model(tmp_path / "run" / "model.npz")
    np.testing.assert_allclose(model.sigma, 0.4, rtol=1e-6)
    assert model.process["sigma"] == 0.4
    bad = run_cli(["fit", "wine", "--model", "gaussian-rbm", "--sigma", "0", "--out", tmp_path / "bad"])
    assert bad.exit_code == 2 and "sigma" in bad.stderr
