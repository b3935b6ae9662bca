"""Trajectory tempering and trajectory AIS against exact enumeration; fit --trajectory; the CLI on a real run."""

import json
import shutil
import warnings

import numpy as np
import pytest
from conftest import chi_square_ok, needs_two_threads, random_rbm, run_cli
from scipy.stats import norm
from test_tempering import bimodal_rbm, binary_states, class_counts, normalised, state_counts

import bmsample
from bmsample import BernoulliRBM, IsingModel
from bmsample.rbm.likelihood import exact_log_likelihood
from bmsample.rbm.model import exact_log_partition
from bmsample.trajectory import (
    Trajectory,
    TrajectoryWarning,
    extra_models_needed,
    load_trajectory,
    trajectory_log_likelihood,
    trajectory_log_partition,
    trajectory_tempering,
)


def exact_log_weights(model, states):
    """log p*(v) = a . v + sum_j softplus(b_j + (v W)_j), by its formula."""
    W, a, b = (np.asarray(x, np.float64) for x in (model.weight_matrix, model.vbias, model.hbias))
    return states @ a + np.logaddexp(0, states @ W + b).sum(1)


def scaled_trajectory(final, scales):
    """Models s W, a, s b: a path from near the independent-site law to ``final``, as training takes."""
    return [BernoulliRBM(s * final.weight_matrix, final.vbias.copy(), s * final.hbias, dtype=final.dtype)
            for s in scales]


def model_of(models, update):
    return None if update is None else models[update]


def test_every_replica_matches_its_model_where_plain_gibbs_stays_in_one_mode():
    """The bimodal RBM (modes of mass 0.87 and 0.13; plain Gibbs from noise keeps its first split, see
    test_tempering): the final model's chains and every other replica's match their exact laws."""
    final = bimodal_rbm()
    models = scaled_trajectory(final, np.linspace(0.05, 1.0, 12))
    states = binary_states(8)
    ones = states.sum(1).astype(int)
    result = trajectory_tempering(models, num_chains=2000, sweeps=300, models="all", rng=3)
    assert result.updates == [*range(11, -1, -1), None]
    base = BernoulliRBM(np.zeros((8, 2)), final.vbias, np.zeros(2), dtype="float64")  # the last replica's law
    for r, update in enumerate(result.updates):
        model = base if update is None else models[update]
        law = np.bincount(ones, weights=normalised(exact_log_weights(model, states)), minlength=9)
        stat, dof, ok = chi_square_ok(class_counts(result.replica_states[r].sum(1), 9), law)
        assert ok, (r, update, stat, dof)
    up = np.bincount(ones, weights=normalised(exact_log_weights(final, states)), minlength=9)[5:].sum()
    assert abs((result.visible.sum(1) >= 5).mean() - up) < 4 * np.sqrt(up * (1 - up) / 2000)


def test_random_tiny_trajectory_state_by_state():
    """Random models (no symmetry to hide an indexing error), state by state, at every replica."""
    final = random_rbm(4, 3, scale=1.5, seed=4, dtype="float64")
    models = scaled_trajectory(final, [0.3, 0.6, 1.0])
    models[-1].data_means = np.array([0.2, 0.7, 0.5, 0.9])  # the base law: the final model's data means
    models[1].vbias = np.array([0.5, -0.5, 1.0, 0.0])  # a model that is not on the scaling path
    states = binary_states(4)
    result = trajectory_tempering(models, num_chains=4000, sweeps=60, models=[0, 1, 2], rng=8)
    logit = np.log(models[-1].data_means / (1 - models[-1].data_means))
    base = BernoulliRBM(np.zeros((4, 3)), logit, np.zeros(3), dtype="float64")
    for r, update in enumerate(result.updates):
        model = base if update is None else models[update]
        stat, dof, ok = chi_square_ok(state_counts(result.replica_states[r], states),
                                      normalised(exact_log_weights(model, states)))
        assert ok, (r, update, stat, dof)


def test_swap_log_weights_are_the_exact_free_energies_under_both_models():
    final = random_rbm(5, 3, scale=1.2, seed=1, dtype="float64")
    models = scaled_trajectory(final, [0.5, 1.0])
    process = Trajectory(models, [0, 1]).chains()
    states = binary_states(5)
    both = np.ascontiguousarray(np.stack([states, states[::-1]]))
    workspace = process.workspace(2, states.shape[0])
    own, other = process.log_weights(both, workspace, np.array([2, 1]), np.array([1, 2]))
    np.testing.assert_allclose(own[0], exact_log_weights(models[1], states), rtol=1e-12)
    np.testing.assert_allclose(own[1], exact_log_weights(models[0], states[::-1]), rtol=1e-12)
    np.testing.assert_allclose(other[0], exact_log_weights(models[0], states), rtol=1e-12)
    np.testing.assert_allclose(other[1], exact_log_weights(models[1], states[::-1]), rtol=1e-12)


def test_accepted_fraction_follows_the_swap_probability():
    final = bimodal_rbm()
    models = scaled_trajectory(final, np.linspace(0.05, 1.0, 6))
    result = trajectory_tempering(models, num_chains=500, sweeps=200, models="all", rng=4)
    proposals = 500 * 100  # each pair swaps on every other sweep
    tolerance = 5 * np.sqrt(result.swap_probability * (1 - result.swap_probability) / proposals) + 1e-9
    assert np.all(np.abs(result.acceptance - result.swap_probability) < tolerance)
    assert np.all(result.swap_probability > 0.05)


def test_round_trips_and_replica_history_agree():
    models = scaled_trajectory(bimodal_rbm(), np.linspace(0.05, 1.0, 4))
    result = trajectory_tempering(models, num_chains=50, sweeps=300, models="all", record_replicas=True, rng=3)
    history = result.replica_history
    top, bottom = 0, len(result.updates) - 1
    assert history.shape == (301, bottom + 1, 50)
    assert np.all(np.sort(history, axis=1) == np.arange(bottom + 1)[None, :, None])
    assert np.abs(np.diff(history.astype(int), axis=0)).max() <= 1
    trips = 0
    for walker in history.reshape(301, -1).T:
        ends = walker[np.isin(walker, (top, bottom))]
        ends = ends[np.concatenate([[True], ends[1:] != ends[:-1]])]
        if ends.size and ends[0] == bottom:
            ends = ends[1:]
        trips += max(0, (ends.size - 1) // 2)
    assert trips == result.round_trips > 0


def test_auto_ladder_keeps_fewer_models_each_pair_above_the_target():
    models = scaled_trajectory(bimodal_rbm(), np.linspace(0.02, 1.0, 60))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrajectoryWarning)
        result = trajectory_tempering(models, num_chains=1000, sweeps=400, target_acceptance=0.25, rng=5)
    assert 2 < len(result.updates) < 20
    assert result.updates[0] == 59 and result.updates[-1] is None
    assert min(result.selection["estimated_acceptance"]) >= 0.25
    assert not result.selection["shortfalls"]
    # The estimate came from approximate samples; the run's own swaps stay near it (a loose bound: 2000 swaps
    # per pair and sweep; the pilot's chains are not yet at equilibrium for the last models).
    assert np.all(result.swap_probability > 0.15)


def test_warm_up_adds_saved_models_where_the_measured_swaps_fall_short():
    """The pilot's annealed chains miss the second mode of the late models, so its estimate is optimistic for
    one pair at a target of 0.4; the warm-up measures it, adds the middle saved model and warms up again."""
    models = scaled_trajectory(bimodal_rbm(), np.linspace(0.02, 1.0, 60))
    result = trajectory_tempering(models, num_chains=1000, sweeps=50, target_acceptance=0.4, rng=5)
    selection = result.selection
    assert min(selection["estimated_acceptance"]) >= 0.4
    assert selection["refinements"] == 1 and len(result.updates) == len(selection["estimated_acceptance"]) + 2
    sd = np.sqrt(0.4 * 0.6 / (50 * 1000))  # 50 of the 100 warm-up sweeps propose each pair
    assert min(selection["warmup_acceptance"]) >= 0.4 - 3 * sd and not selection["shortfalls"]


def test_sparse_models_warn_with_the_number_missing():
    models = scaled_trajectory(bimodal_rbm(), [0.05, 1.0])
    with pytest.warns(TrajectoryWarning, match=r"too sparse .* between update 0 and update 1 .* about \d+ more"):
        result = trajectory_tempering(models, num_chains=200, sweeps=10, rng=5)
    (shortfall,) = result.selection["shortfalls"]
    assert shortfall["updates"] == [0, 1] and shortfall["acceptance"] < 0.25 and shortfall["models_missing"] >= 1


def test_models_missing_follows_the_gaussian_rule():
    """Acceptance 2 Phi(-s / 2) for a log swap ratio N(-s^2 / 2, s^2); n steps divide s by n."""
    assert extra_models_needed(2 * norm.cdf(-2.0), 2 * norm.cdf(-0.5)) == 3
    assert extra_models_needed(2 * norm.cdf(-2.0), 2 * norm.cdf(-0.49)) == 4
    assert extra_models_needed(0.3, 0.25) == 0
    # The rule itself, by Monte Carlo: E min(1, e^X) for X ~ N(-s^2 / 2, s^2).
    s = 1.7
    x = np.random.default_rng(0).normal(-s * s / 2, s, 400_000)
    assert abs(np.minimum(1, np.exp(x)).mean() - 2 * norm.cdf(-s / 2)) < 0.005


def test_same_seed_same_chains_and_bad_ladders():
    models = scaled_trajectory(random_rbm(6, 4, scale=1.0, seed=3, dtype="float32"), [0.2, 0.6, 1.0])
    first = trajectory_tempering(models, num_chains=30, sweeps=20, rng=9)
    again = trajectory_tempering(models, num_chains=30, sweeps=20, rng=9)
    np.testing.assert_array_equal(first.replica_states, again.replica_states)
    for ladder, message in (([0, 2, 1], "increase"), ([0, 1], "final model"), ([0, 5], "increase"),
                            ("some", "'auto', 'all'"), ([[0, 2]], "1-d")):
        with pytest.raises(ValueError, match=message):
            trajectory_tempering(models, num_chains=10, sweeps=1, models=ladder)
    with pytest.raises(ValueError, match="target_acceptance"):
        trajectory_tempering(models, num_chains=10, sweeps=1, target_acceptance=1.5)


@needs_two_threads
def test_same_chains_with_one_or_two_threads():
    models = scaled_trajectory(random_rbm(6, 4, scale=1.0, seed=3, dtype="float32"), [0.2, 0.6, 1.0])
    runs = []
    for threads in (1, 2):
        bmsample.set_num_threads(threads)
        runs.append(trajectory_tempering(models, num_chains=40, sweeps=30, rng=6))
    bmsample.set_num_threads(2)
    np.testing.assert_array_equal(runs[0].replica_states, runs[1].replica_states)
    assert runs[0].updates == runs[1].updates


def test_trajectories_of_mixed_models_are_refused():
    rbm = random_rbm(4, 3, seed=1)
    with pytest.raises(ValueError, match="another shape"):
        Trajectory([random_rbm(4, 2, seed=1), rbm], [0, 1])
    with pytest.raises(ValueError, match="an Ising model|Ising"):
        Trajectory([IsingModel(np.zeros((4, 4)), np.zeros(4)), rbm], [0, 1])
    with pytest.raises(ValueError, match="increasing"):
        Trajectory([rbm, rbm], [3, 3])
    with pytest.raises(ValueError, match="not available"):
        Trajectory([IsingModel(np.zeros((4, 4)), np.zeros(4))] * 2, [0, 1]).chains()


# --- a real run: fit --trajectory, trajectory AIS against exact log Z, the CLI -----------------------------------

RUN = ["fit", "digits", "--hidden", "16", "--updates", "400", "--batch-size", "50", "-k", "5", "--scheme", "pcd",
       "--learning-rate", "0.1", "--seed", "2", "--trajectory", "20", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("trajectory") / "run"
    done = run_cli(*RUN, "--out", out)
    assert done.returncode == 0, done.stderr
    return out


def test_fit_saves_parameter_only_models_that_are_the_models_of_those_updates(run_dir):
    files = sorted((run_dir / "trajectory").glob("*.npz"))
    spacing = [0, 1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121, 144, 169, 196, 225, 256, 289, 324, 361]  # 400 (i / 20)^2
    assert [f.name for f in files] == [f"update_{u:08d}.npz" for u in spacing]
    for path in files:
        saved = bmsample.read_model_file(path)
        assert saved.chains is None and saved.metadata["trajectory"]["models"] == 20
    # Where a checkpoint (full state) was written at the same update, the parameters are the same.
    for update in (1, 100):
        a = bmsample.read_model_file(run_dir / "trajectory" / f"update_{update:08d}.npz").model
        b = bmsample.read_model_file(run_dir / "checkpoints" / f"update_{update:08d}.npz").model
        for name, array in a.to_arrays().items():
            np.testing.assert_array_equal(array, b.to_arrays()[name])
    trajectory = load_trajectory(run_dir)
    assert trajectory.updates == sorted({*spacing, 1, 2, 5, 10, 20, 50, 100, 200, 400})


def test_trajectory_ais_agrees_with_exact_log_z_at_every_model(run_dir):
    trajectory = load_trajectory(run_dir)
    """26 models of a PCD run (16 hidden units: exact log Z), 4 interpolated between each pair; observed max |z|
    1.7-2.7 over seeds 0-3 with 17 models, standard errors about 0.025."""
    trajectory = load_trajectory(run_dir)
    result = trajectory_log_partition(trajectory, num_chains=1000, steps=1, between=4, rng=0)
    exact = np.array([exact_log_partition(model) for model in trajectory.models])
    z = (result.log_z - exact) / result.log_z_std_error
    assert np.all(np.abs(z) < 4), z
    assert np.all(result.log_z_std_error < 0.05)
    data = bmsample.load_dataset("digits", dtype="float64").data
    ll = trajectory_log_likelihood(trajectory, data, num_chains=1000, steps=1, between=4, rng=0)
    exact_ll = np.array([exact_log_likelihood(model, data) for model in trajectory.models])
    assert np.all(np.abs(np.array(ll["log_likelihood"]) - exact_ll) < 4 * np.array(ll["std_error"]))
    # The model moved far from its start: its log-likelihood rose by much more than the error bars.
    assert exact_ll[-1] - exact_ll[0] > 50 * ll["std_error"][-1]


def test_sample_run_dir_with_ptt_writes_the_final_models_samples(run_dir, tmp_path):
    out = tmp_path / "ptt.npz"
    done = run_cli("sample", run_dir, "--tempering", "ptt", "--chains", "50", "--steps", "100", "--seed", "1",
                   "--out", out)
    assert done.returncode == 0, done.stderr
    assert "models (updates): 400 " in done.stdout and "round trips" in done.stdout
    with np.load(out, allow_pickle=False) as saved:
        assert saved["visible"].shape == (50, 64)
        metadata = json.loads(str(saved["metadata"]))
    assert metadata["tempering"]["method"] == "ptt" and metadata["tempering"]["updates"][0] == 400


def test_eval_run_dir_prints_and_writes_the_log_likelihood_of_every_model(run_dir, tmp_path):
    report = tmp_path / "eval.json"
    done = run_cli("eval", run_dir, "digits", "--log-likelihood", "trajectory", "--ais-chains", "500",
                   "--trajectory-steps", "2", "--times", "0,5", "--no-aats", "--seed", "0", "--json", report)
    assert done.returncode == 0, done.stderr
    ll = json.loads(report.read_text())["log_likelihood"]
    assert ll["method"] == "trajectory" and ll["updates"] == load_trajectory(run_dir).updates
    final = bmsample.load_model(run_dir / "model.npz")
    exact = exact_log_likelihood(final, bmsample.load_dataset("digits", dtype="float64").data)
    assert abs(ll["log_likelihood"][-1] - exact) < 4 * ll["std_error"][-1]
    assert f"{400:>8} " in done.stdout


def test_eval_of_a_run_directory_with_only_its_final_model(run_dir, tmp_path):
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(run_dir / "model.npz", lone / "model.npz")
    done = run_cli("eval", lone, "digits", "--times", "0,2", "--chains", "50", "--no-aats", "--seed", "0")
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()[2:]] == ["0", "2"]


@pytest.mark.parametrize("args, message", [
    (["sample", "{model}", "--tempering", "ptt"], "expected a run directory"),
    (["sample", "{run}", "--tempering", "ptt", "--replicas", "3"], "only with --tempering pt"),
    (["sample", "{model}", "--target-acceptance", "0.3"], "only with --tempering ptt"),
    (["sample", "{empty}", "--tempering", "ptt"], "holds 0 saved model"),
    (["eval", "{model}", "digits", "--log-likelihood", "trajectory"], "expected a run directory"),
    (["eval", "{empty}", "digits"], "is a directory without a model.npz"),
    (["fit", "digits", "--trajectory", "-1", "--updates", "2"], "trajectory"),
])
def test_bad_trajectory_input_gets_one_line(run_dir, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    names = {"model": run_dir / "model.npz", "run": run_dir, "empty": tmp_path / "empty"}
    args = [a.format(**names) if "{" in a else a for a in args]
    out = {"sample": ["--out", tmp_path / "x.npz"], "fit": ["--out", tmp_path / "x"]}.get(args[0], [])
    done = run_cli(*args, *out)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_sample_with_pt_writes_beta_one_chains_and_refuses_bad_ladders(run_dir, tmp_path):
    out = tmp_path / "pt.npz"
    done = run_cli("sample", run_dir / "model.npz", "--tempering", "pt", "--replicas", "4", "--chains", "40",
                   "--steps", "50", "--warmup", "32", "--seed", "1", "--out", out)
    assert done.returncode == 0, done.stderr
    assert "swap acceptance per pair" in done.stdout
    with np.load(out, allow_pickle=False) as saved:
        assert saved["visible"].shape == (40, 64)
        assert len(json.loads(str(saved["metadata"]))["tempering"]["betas"]) == 4
    bad = tmp_path / "betas.txt"
    bad.write_text("1 0.5 0.7")
    for extra, message in ((["--betas", bad], "strictly decreasing"), (["--init", "uniform"], "--init"),
                           (["--betas", tmp_path / "none.txt"], "not a file")):
        refused = run_cli("sample", run_dir / "model.npz", "--tempering", "pt", *extra, "--out", tmp_path / "y.npz")
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        assert not (tmp_path / "y.npz").exists()


@pytest.mark.parametrize("method", ["pt", "ptt"])
def test_eval_adds_the_equilibrium_row(run_dir, tmp_path, method):
    report = tmp_path / "eval.json"
    target = run_dir if method == "ptt" else run_dir / "model.npz"
    done = run_cli("eval", target, "digits", "--equilibrium", method, "--equilibrium-chains", "100",
                   "--equilibrium-sweeps", "50", "--times", "0,5", "--chains", "200", "--seed", "0", "--json", report)
    assert done.returncode == 0, done.stderr
    line = [text for text in done.stdout.splitlines() if text.lstrip().startswith("inf")]
    assert len(line) == 1 and f"<- equilibrium ({method}," in line[0]
    found = json.loads(report.read_text())["equilibrium"]
    assert found["method"] == method and found["row"]["t"] == "inf"
    assert 0 < found["row"]["mean_rmse"] < 0.2 and 0 <= found["row"]["aats"] <= 1
    assert found["diagnostics"]["round_trips"] > 0


def test_eval_equilibrium_ptt_needs_a_run_directory(run_dir):
    done = run_cli("eval", run_dir / "model.npz", "digits", "--equilibrium", "ptt")
    assert done.returncode == 2 and "--equilibrium ptt: expected a run directory" in done.stderr, done.stderr


def test_equilibrium_row_takes_its_samples_from_the_second_half_of_the_run():
    """samples = 4 x chains: the beta = 1 chains at sweeps 20, 27, 33 and 40 of a 40-sweep run, the final ones
    last; more than the second half holds is refused."""
    from bmsample import evaluation, metrics
    from bmsample.tempering import parallel_tempering

    model = bimodal_rbm()
    data = (np.random.default_rng(0).random((300, 8)) < 0.8).astype(np.float64)
    found = evaluation.equilibrium(model, data, "pt", num_chains=50, sweeps=40, samples=200, rng=3, aats=False)
    run = parallel_tempering(model, 50, 40, rng=3, record=[20, 27, 33, 40])
    states = run.recorded.reshape(-1, 8).astype(np.float64)
    np.testing.assert_array_equal(run.recorded[-1], run.visible)
    assert found["samples"] == 200
    assert found["row"]["mean_rmse"] == metrics.moment_errors(states, data)["mean_rmse"]
    final = evaluation.equilibrium(model, data, "pt", num_chains=50, sweeps=40, rng=3, aats=False)
    assert final["samples"] == 50
    assert final["row"]["mean_rmse"] == metrics.moment_errors(run.visible.astype(np.float64), data)["mean_rmse"]
    with pytest.raises(ValueError, match="samples: 1100 samples need 22 recording times"):
        evaluation.equilibrium(model, data, "pt", num_chains=50, sweeps=40, samples=1100, rng=3, aats=False)
