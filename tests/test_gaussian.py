"""Gaussian energy model: samplers against the exact moment recursions, training, files."""

import numpy as np
import pytest
from conftest import needs_two_threads, product_rounding_bound

import bmsample
from bmsample.datasets import gaussian_data
from bmsample.gaussian.model import GaussianModel, exact_gibbs_moments, exact_langevin_moments
from bmsample.theory import init_variance

CHAINS = 100_000


def random_model(n=5, spectrum=(0.5, 1.0, 2.0, 4.0, 8.0), seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return GaussianModel(q @ np.diag(spectrum) @ q.T, rng.standard_normal(n), dtype=dtype)


def assert_moments(mean, covariance, exact_mean, exact_covariance, chains):
    """Sample mean and covariance within 5 standard errors of the exact ones (Gaussian chains).

    sd(mean_i) = sqrt(C_ii / n); sd(C_ij) = sqrt((C_ii C_jj + C_ij^2) / n).
    """
    diag = np.diag(exact_covariance)
    assert np.all(np.abs(mean - exact_mean) < 5 * np.sqrt(diag / chains))
    sd = np.sqrt((np.outer(diag, diag) + exact_covariance**2) / chains)
    assert np.all(np.abs(covariance - exact_covariance) < 5 * sd)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("init, scale", [("zeros", 1.0), ("uniform", 2.0), ("gaussian", 0.5)])
def test_langevin_moments_after_n_steps(dtype, init, scale):
    model = random_model(dtype=dtype)
    eps, times = 0.05, [0, 1, 4, 10]
    result = bmsample.sample(model, CHAINS, 10, init=init, init_scale=scale, sampler="langevin", step_size=eps,
                             rng=3, record=times, record_moments=True)
    s0 = init_variance(init, scale)
    for i, t in enumerate(times):
        mean, cov = exact_langevin_moments(model, np.zeros(5), s0 * np.eye(5), t, eps)
        if t == 0 and init == "zeros":
            assert np.all(result.covariances[i] == 0)
            continue
        assert_moments(result.means[i], result.covariances[i], mean, cov, CHAINS)


def test_langevin_temperature_scales_the_noise():
    model = random_model()
    result = bmsample.sample(model, CHAINS, 6, init="zeros", step_size=0.05, temperature=2.5, rng=4, record=[6],
                             record_moments=True)
    mean, cov = exact_langevin_moments(model, np.zeros(5), np.zeros((5, 5)), 6, 0.05, temperature=2.5)
    assert_moments(result.means[0], result.covariances[0], mean, cov, CHAINS)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_coordinate_gibbs_moments_after_sweeps(dtype):
    model = random_model(dtype=dtype)
    result = bmsample.sample(model, CHAINS, 3, init="uniform", sampler="gibbs", rng=5, record=[1, 3],
                             record_moments=True)
    for i, t in enumerate([1, 3]):
        mean, cov = exact_gibbs_moments(model, np.zeros(5), np.eye(5) / 3, t)
        assert_moments(result.means[i], result.covariances[i], mean, cov, CHAINS)


def test_long_gibbs_runs_reach_the_boltzmann_law():
    model = random_model()
    result = bmsample.sample(model, CHAINS, 200, init="zeros", sampler="gibbs", rng=6, record=[200],
                             record_moments=True)
    mean, cov = model.equilibrium_moments()
    assert_moments(result.means[0], result.covariances[0], mean, cov, CHAINS)


@needs_two_threads
def test_same_seed_same_noise_with_one_or_two_threads_and_any_chain_count():
    """The normals are the same; only BLAS's rounding of x J may differ with the threads or the rows.

    One step x' = x - eps (x J - h) + s xi is Lipschitz with constant g = 1 + eps max_i sum_j |J_ij| in
    the max norm; a step adds at most eps times the product's rounding difference plus the update's own
    five roundings in each run.  So after T steps the chains differ by at most
    sum_{t < T} g^(T-1-t) (eps d_t + 10 u m_t).
    """
    model = random_model(n=37, spectrum=np.linspace(0.5, 3, 37), dtype="float32")
    eps, steps, times = 0.05, 5, list(range(6))
    runs = []
    for threads in (1, 2, 2):
        bmsample.set_num_threads(threads)
        runs.append(bmsample.sample(model, 500, steps, init="gaussian", step_size=eps, rng=8, record=times).recorded)
    few = bmsample.sample(model, 10, steps, init="gaussian", step_size=eps, rng=8).visible
    np.testing.assert_array_equal(runs[1], runs[2])  # same threads and rows: bit-identical
    J, u = model.coupling_matrix, np.finfo(np.float32).eps / 2
    growth = 1 + eps * float(np.abs(J).astype(np.float64).sum(axis=1).max())
    bound = 0.0
    for t in range(steps):
        x = runs[0][t]
        magnitude = float(np.abs(runs[0][t:t + 2]).max() + np.sqrt(2 * eps) * 6
                          + eps * np.abs(x @ J - model.field).max())  # |xi| < 6 in 2e4 normals
        bound = bound * growth + eps * product_rounding_bound(x, J) + 10 * u * magnitude
    assert np.abs(runs[0][-1] - runs[1][-1]).max() <= bound
    assert np.abs(few - runs[0][-1][:10]).max() <= bound
    assert np.abs(runs[0][-1] - runs[0][0]).max() > 1000 * bound  # the chains did move


def test_rdm_model_samples_its_own_process_by_default():
    data, _ = gaussian_data([0.5, 1.0, 2.0], 500, rng=0)
    result = bmsample.fit(data, model="gaussian", k=7, step_size=0.02, init="gaussian", init_scale=0.3,
                          updates=5, batch_size=100, seed=0)
    samples = bmsample.sample(result.model, 10, rng=0)
    assert (samples.steps, samples.init, samples.sampler) == (7, "gaussian", "langevin")
    assert result.model.process["step_size"] == 0.02 and result.model.process["init_scale"] == 0.3


@pytest.mark.parametrize("scheme", ["rdm", "cd", "pcd"])
def test_fit_keeps_j_symmetric_and_reduces_the_moment_error(scheme):
    data, _ = gaussian_data([0.3, 1.0, 2.0, 3.0], 4000, mean=[0.5, -1.0, 0.0, 2.0], rng=1)
    result = bmsample.fit(data, model="gaussian", scheme=scheme, k=50, step_size=0.02, updates=300,
                          batch_size=500, num_chains=2000, learning_rate=0.05, seed=2, dtype="float64")
    J = result.model.coupling_matrix
    np.testing.assert_array_equal(J, J.T)
    first, last = result.history[0], result.history[-1]
    assert last["mean_rmse"] < 0.5 * first["mean_rmse"]


def test_model_file_round_trip(tmp_path):
    model = random_model(dtype="float32")
    model.process = {"scheme": "rdm", "k": 3, "init": "zeros", "sampler": "langevin", "step_size": 0.1}
    bmsample.save_model(tmp_path / "g.npz", model)
    loaded = bmsample.load_model(tmp_path / "g.npz")
    assert isinstance(loaded, GaussianModel) and loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded.coupling_matrix, model.coupling_matrix)
    assert loaded.process == model.process


def test_non_symmetric_coupling_in_a_model_file_is_refused(tmp_path):
    model = random_model()
    path = tmp_path / "g.npz"
    bmsample.save_model(path, model)
    with np.load(path, allow_pickle=False) as archive:
        arrays = dict(archive)
    arrays["coupling_matrix"] = arrays["coupling_matrix"] + np.triu(np.ones((5, 5)), 1)
    np.savez(path, **arrays)
    with pytest.raises(bmsample.ModelFileError, match="symmetric"):
        bmsample.load_model(path)


def test_unstable_step_size_warns():
    model = random_model()
    with pytest.warns(RuntimeWarning, match="largest eigenvalue"):
        bmsample.sample(model, 10, 2, init="zeros", step_size=0.2, rng=0)


def test_data_variance_below_two_eps_warns():
    data, _ = gaussian_data([0.001, 1.0], 200, rng=0)
    with pytest.warns(RuntimeWarning, match="below 2 \\* step_size"):
        bmsample.fit(data, model="gaussian", k=5, step_size=0.01, updates=2, batch_size=50, seed=0)


def test_diverging_training_is_reported():
    data, _ = gaussian_data([1.0, 2.0], 400, rng=0)
    with pytest.raises(bmsample.TrainingDiverged, match="update"):
        bmsample.fit(data, model="gaussian", k=5, step_size=0.01, updates=200, batch_size=100,
                     learning_rate=1e30, seed=0)


@pytest.mark.parametrize("kwargs, match", [
    ({"step_size": 0}, "step_size"), ({"step_size": -1}, "step_size"), ({"init": "bias"}, "init"),
    ({"sampler": "metropolis"}, "sampler"), ({"temperature": 0}, "temperature"),
])
def test_sample_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bmsample.sample(random_model(), 10, 2, **kwargs)


def test_gaussian_data_has_the_prescribed_spectrum():
    variances = np.array([0.2, 1.0, 5.0])
    data, vectors = gaussian_data(variances, 200_000, rng=3)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(3), atol=1e-12)
    projected = np.var(data @ vectors, axis=0)
    assert np.all(np.abs(projected - variances) < 5 * variances * np.sqrt(2 / 200_000))


# --- command line ------------------------------------------------------------------------

def run_cli(args):
    from click.testing import CliRunner

    from bmsample.cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def gaussian_run(tmp_path):
    data, _ = gaussian_data([0.3, 1.0, 2.0], 600, rng=0)
    np.save(tmp_path / "g.npy", data)
    out = tmp_path / "run"
    result = run_cli(["fit", tmp_path / "g.npy", "--model", "gaussian", "-k", "20", "--step-size", "0.02",
                      "--init", "gaussian", "--init-scale", "0.5", "--updates", "30", "--batch-size", "100",
                      "--seed", "0", "--out", out, "--quiet"])
    assert result.exit_code == 0, result.output
    return tmp_path, out / "model.npz"


def test_cli_fit_and_sample_a_gaussian_model(gaussian_run):
    tmp_path, model_path = gaussian_run
    meta = bmsample.read_model_file(model_path).metadata
    assert meta["family"] == "gaussian" and meta["num_units"] == 3
    training = meta["training"]
    assert (training["k"], training["sampler"], training["init"]) == (20, "langevin", "gaussian")
    out = tmp_path / "s.npz"
    result = run_cli(["sample", model_path, "--chains", "40", "--seed", "1", "--out", out, "--record", "0,20",
                      "--record-moments"])
    assert result.exit_code == 0, result.output
    with np.load(out, allow_pickle=False) as f:
        assert f["visible"].shape == (40, 3) and f["means"].shape == (2, 3) and f["covariances"].shape == (2, 3, 3)
        assert list(f["times"]) == [0, 20]


@pytest.mark.parametrize("args, message", [
    (["--means"], "--means"),
    (["--init", "bias"], "--init bias"),
    (["--step-size", "0"], "step_size"),
    (["--sampler", "gibbs", "--temperature", "-1"], "temperature"),
])
def test_cli_gaussian_sample_bad_options(gaussian_run, args, message):
    tmp_path, model_path = gaussian_run
    result = run_cli(["sample", model_path, "--out", tmp_path / "s.npz", *args])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["--step-size", "0"], "step_size"),
    (["--step-size", "-0.1"], "step_size"),
    (["--init", "bias"], "init"),
    (["--sampler", "block-gibbs"], "sampler"),
])
def test_cli_gaussian_fit_bad_options(tmp_path, args, message):
    np.save(tmp_path / "g.npy", np.random.default_rng(0).standard_normal((50, 3)))
    result = run_cli(["fit", tmp_path / "g.npy", "--model", "gaussian", "--out", tmp_path / "run", "--updates", "2",
                      "--batch-size", "10", *args])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_cli_gaussian_fit_refuses_nan_data(tmp_path):
    data = np.random.default_rng(0).standard_normal((50, 3))
    data[3, 1] = np.nan
    np.save(tmp_path / "g.npy", data)
    result = run_cli(["fit", tmp_path / "g.npy", "--model", "gaussian", "--out", tmp_path / "run"])
    assert result.exit_code == 2 and "NaN" in result.stderr


def test_cli_warnings_are_one_line(tmp_path):
    data, _ = gaussian_data([0.001, 1.0], 200, rng=0)
    np.save(tmp_path / "g.npy", data)
    result = run_cli(["fit", tmp_path / "g.npy", "--model", "gaussian", "--out", tmp_path / "run", "--updates", "2",
                      "--batch-size", "50", "--quiet"])
    assert result.exit_code == 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning:") and "2 * step_size" in lines[0]


def test_cd_model_samples_from_the_data_by_default(tmp_path):
    data, _ = gaussian_data([0.5, 1.0], 300, mean=[5.0, -5.0], rng=0)
    np.save(tmp_path / "g.npy", data)
    result = run_cli(["fit", tmp_path / "g.npy", "--model", "gaussian", "--scheme", "cd", "-k", "1", "--updates", "2",
                      "--batch-size", "50", "--out", tmp_path / "run", "--quiet", "--seed", "0"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "s.npz"
    result = run_cli(["sample", tmp_path / "run" / "model.npz", "--steps", "0", "--chains", "20", "--out", out])
    assert result.exit_code == 0, result.output
    with np.load(out, allow_pickle=False) as f:
        rows = {tuple(r) for r in f["visible"].astype(np.float64).round(4)}
    assert rows <= {tuple(r) for r in data.astype(np.float32).astype(np.float64).round(4)}


def test_cli_gaussian_sample_refuses_data_of_the_wrong_width(gaussian_run):
    tmp_path, model_path = gaussian_run
    np.save(tmp_path / "wide.npy", np.zeros((10, 4)))
    result = run_cli(["sample", model_path, "--init", "data", "--data", tmp_path / "wide.npy", "--out",
                      tmp_path / "s.npz"])
    assert result.exit_code == 2 and "expected 3 columns" in result.stderr
    assert not (tmp_path / "s.npz").exists()
