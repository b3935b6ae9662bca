"""Fully connected Boltzmann machine and independent spins: samplers against exact
enumeration, training against exact moments and the closed forms (docs/theory.md sections 1, 3)."""

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import chi_square_ok, needs_two_threads

import bmsample
from bmsample import theory
from bmsample.cli.main import main
from bmsample.ising import exact
from bmsample.ising.model import IsingModel, to_spins
from bmsample.rbm.model import state_index

SAMPLERS = ["heat-bath", "random-site", "metropolis"]
CHAINS = 100_000


def random_ising(num_spins=4, scale=0.8, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    J = np.triu(rng.standard_normal((num_spins, num_spins)) * scale, 1)
    return IsingModel(J + J.T, rng.standard_normal(num_spins) * 0.5, dtype=dtype)


def spin_index(spins):
    return state_index((np.asarray(spins) + 1) // 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_distribution_after_t_sweeps_equals_the_exact_one(sampler, dtype):
    model = random_ising(dtype=dtype)
    J, h = model.coupling_matrix.astype(np.float64), model.field.astype(np.float64)
    times = [1, 2, 5]
    result = bmsample.sample(model, CHAINS, 5, init="uniform", sampler=sampler, rng=0, record=times)
    for i, t in enumerate(times):
        law = exact.distribution_after(exact.uniform_distribution(4), J, h, t, sampler)
        stat, dof, ok = chi_square_ok(np.bincount(spin_index(result.recorded[i]), minlength=16), law)
        assert ok, f"{sampler} t={t}: chi2 {stat:.1f} with {dof} dof"


def test_long_runs_reach_equilibrium():
    model = random_ising(num_spins=5, seed=1)
    law = exact.equilibrium_distribution(model.coupling_matrix, model.field)
    result = bmsample.sample(model, CHAINS, 60, init="uniform", sampler="metropolis", rng=1)
    stat, dof, ok = chi_square_ok(np.bincount(spin_index(result.visible), minlength=32), law)
    assert ok, f"chi2 {stat:.1f} with {dof} dof"


@needs_two_threads
def test_same_seed_same_chains_with_one_or_two_threads():
    model = random_ising(num_spins=40, scale=0.2, seed=2, dtype="float32")
    runs = []
    for threads in (1, 2):
        bmsample.set_num_threads(threads)
        runs.append([bmsample.sample(model, 300, 4, init="uniform", sampler=s, rng=3).visible for s in SAMPLERS])
    bmsample.set_num_threads(2)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_recorded_moments_match_the_recorded_chains():
    model = random_ising(num_spins=6, seed=3)
    chains = bmsample.sample(model, 500, 3, init="uniform", rng=4, record=[3]).recorded[0].astype(np.float64)
    moments = bmsample.sample(model, 500, 3, init="uniform", rng=4, record=[3], record_moments=True)
    np.testing.assert_allclose(moments.magnetisations[0], chains.mean(0))
    np.testing.assert_allclose(moments.correlations[0], chains.T @ chains / 500)


def exact_rdm_training(data_law, num_spins, k, sampler, steps=2000, learning_rate=0.3, momentum=0.8):
    """Heavy-ball gradient ascent with the exact Rdm-k gradient (no sampling noise)."""
    J, h = np.zeros((num_spins, num_spins)), np.zeros(num_spins)
    vJ, vh = np.zeros_like(J), np.zeros_like(h)
    p0 = exact.uniform_distribution(num_spins)
    for _ in range(steps):
        gJ, gh = exact.exact_gradient(J, h, data_law, exact.distribution_after(p0, J, h, k, sampler))
        vJ, vh = momentum * vJ + learning_rate * gJ, momentum * vh + learning_rate * gh
        J, h = J + vJ, h + vh
    return J, h


def moment_error(J, h, data_law, chain_law):
    gJ, gh = exact.exact_gradient(J, h, data_law, chain_law)
    return max(np.abs(gJ).max(), np.abs(gh).max())


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_exact_rdm_training_matches_the_data_at_k_to_machine_precision(sampler):
    teacher = random_ising(num_spins=4, scale=0.6, seed=4)
    p0 = exact.uniform_distribution(4)
    data_law = exact.distribution_after(p0, teacher.coupling_matrix, teacher.field, 2, sampler)
    J, h = exact_rdm_training(data_law, 4, 2, sampler, steps=1500)
    at_k = moment_error(J, h, data_law, exact.distribution_after(p0, J, h, 2, sampler))
    at_equilibrium = moment_error(J, h, data_law, exact.equilibrium_distribution(J, h))
    assert at_k < 1e-12  # measured 2e-16 .. 5e-16
    assert at_equilibrium > 0.03  # measured 0.07 .. 0.30


@pytest.mark.parametrize("sampler", ["heat-bath", "metropolis"])
def test_larger_k_moves_the_equilibrium_towards_maximum_likelihood(sampler):
    teacher = random_ising(num_spins=4, scale=0.4, seed=1)
    data_law = exact.equilibrium_distribution(teacher.coupling_matrix, teacher.field)  # ML = the teacher
    errors = []
    for k in (1, 2, 4, 8):
        J, h = exact_rdm_training(data_law, 4, k, sampler, steps=800)
        errors.append(moment_error(J, h, data_law, exact.equilibrium_distribution(J, h)))
    assert all(a > b for a, b in zip(errors, errors[1:])), errors


def test_pcd_with_a_small_learning_rate_approaches_maximum_likelihood():
    teacher = random_ising(num_spins=4, scale=0.5, seed=5)
    law = exact.equilibrium_distribution(teacher.coupling_matrix, teacher.field)
    rows = np.random.default_rng(0).choice(16, size=20_000, p=law)
    data = exact.all_spin_states(4)[rows]
    result = bmsample.fit(data, model="ising", scheme="pcd", k=1, updates=3000, batch_size=2000, num_chains=2000,
                          learning_rate=0.02, seed=0, dtype="float64")
    empirical = np.bincount(rows, minlength=16) / rows.size
    J, h = result.model.coupling_matrix, result.model.field
    # ML for the empirical law: its moments equal the equilibrium moments of the fitted model.
    # Per update the chain statistics have sd <= 1 / sqrt(2000) = 0.022; lr 0.02 averages ~50 updates.
    assert moment_error(J, h, empirical, exact.equilibrium_distribution(J, h)) < 0.02


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_independent_spins_magnetisation_after_k_sweeps_matches_the_closed_form(sampler):
    h = np.array([0.3, -0.8, 1.5, 0.0, 2.0])
    model = IsingModel(np.zeros((5, 5)), h, independent=True)
    result = bmsample.sample(model, CHAINS, 3, init="uniform", sampler=sampler, rng=5, record=[1, 2, 3],
                             record_moments=True)
    for i, k in enumerate([1, 2, 3]):
        expected = theory.independent_magnetisation(h, k, sampler, num_spins=5)
        assert np.all(np.abs(result.magnetisations[i] - expected) < 5 * np.sqrt((1 - expected**2) / CHAINS))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_independent_rdm_training_learns_the_closed_form_fields(sampler):
    m_data = np.array([0.5, -0.3, 0.1, 0.6])
    rng = np.random.default_rng(6)
    data = np.where(rng.random((8000, 4)) < (1 + m_data) / 2, 1.0, -1.0)
    m_empirical = data.mean(0)
    result = bmsample.fit(data, model="independent", scheme="rdm", k=2, sampler=sampler, updates=400,
                          batch_size=8000, num_chains=8000, learning_rate=0.2, seed=1, dtype="float64")
    expected = theory.independent_rdm_field(m_empirical, 2, sampler, num_spins=4)
    assert np.all(result.model.coupling_matrix == 0)
    # Chain magnetisations have sd ~ 1 / sqrt(8000) = 0.011 per update; lr 0.2 averages ~5 updates
    # (sd ~ 0.005), and dh/dm = 1 / (1 - m^2) <= 1.6 here. Measured over seeds 0-2: <= 0.007.
    np.testing.assert_allclose(result.model.field, expected, atol=0.02)


def test_unreachable_magnetisation_is_reported_as_divergent():
    # Random-site heat-bath, k = 1, N = 2: q = (1 - 1/2)^2 = 0.25, so |m| >= 0.75 is unreachable.
    assert theory.independent_divergence_threshold(1, "random-site", num_spins=2) == pytest.approx(0.75)
    data = np.ones((100, 2))
    data[:5, 0] = -1  # m = (0.9, 1.0)
    with pytest.raises(bmsample.TrainingDiverged, match=r"field h\[\d\].*ran away.*random-site"):
        bmsample.fit(data, model="independent", scheme="rdm", k=1, sampler="random-site", updates=3000,
                     batch_size=100, num_chains=1000, learning_rate=0.5, seed=0)


def test_spin_conversion_and_validation():
    np.testing.assert_array_equal(to_spins(np.array([[0, 1], [1, 1]])), [[-1, 1], [1, 1]])
    np.testing.assert_array_equal(to_spins(np.array([[-1, 1]])), [[-1, 1]])
    for bad in (np.array([[0, 2]]), np.array([[-1, 0, 1]]), np.array([[0.5, 1]])):
        with pytest.raises(ValueError, match="spins"):
            to_spins(bad)
    with pytest.raises(ValueError, match="symmetric"):
        IsingModel(np.array([[0, 1.0], [0.5, 0]]), np.zeros(2))
    with pytest.raises(ValueError, match="diagonal"):
        IsingModel(np.eye(2), np.zeros(2))


def run_cli(args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_fit_and_sample_reproduce_the_process(tmp_path):
    out = tmp_path / "run"
    result = run_cli(["fit", "digits", "--model", "ising", "--sampler", "metropolis", "-k", "3", "--updates", "20",
                      "--batch-size", "100", "--seed", "0", "--out", out, "--quiet"])
    assert result.exit_code == 0, result.output
    loaded = bmsample.read_model_file(out / "model.npz")
    assert loaded.metadata["family"] == "ising" and loaded.model.num_units == 64
    assert (loaded.model.process["sampler"], loaded.model.process["k"]) == ("metropolis", 3)
    samples = tmp_path / "s.npz"
    result = run_cli(["sample", out / "model.npz", "--chains", "50", "--seed", "1", "--out", samples,
                      "--record", "0,3", "--record-moments"])
    assert result.exit_code == 0, result.output
    assert "3 steps from uniform" in result.stdout
    with np.load(samples, allow_pickle=False) as f:
        assert set(np.unique(f["visible"])) <= {-1.0, 1.0}
        assert f["magnetisations"].shape == (2, 64) and f["correlations"].shape == (2, 64, 64)


@pytest.mark.parametrize("args, message", [
    (["--sampler", "langevin"], "sampler"), (["--init", "zeros"], "init"), (["-k", "0"], "k:"),
])
def test_cli_fit_bad_options(tmp_path, args, message):
    result = run_cli(["fit", "digits", "--model", "ising", "--out", tmp_path / "run", "--updates", "2", *args])
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "run").exists()


def test_cli_fit_refuses_non_spin_data(tmp_path):
    np.save(tmp_path / "x.npy", np.array([[0, 1, 2], [1, 0, 1]]))
    result = run_cli(["fit", tmp_path / "x.npy", "--model", "ising", "--out", tmp_path / "run"])
    assert result.exit_code == 2 and "spins must be" in result.stderr


@pytest.mark.parametrize("sampler", ["heat-bath", "metropolis"])
def test_site_major_and_per_chain_paths_give_the_same_chains(sampler):
    """The two layouts of the sequential kernels are the same dynamics, bit for bit."""
    from bmsample.ising import _cpu

    model = random_ising(num_spins=20, scale=0.3, seed=7, dtype="float32")
    assert model.num_units <= _cpu.SITE_MAJOR_MAX_UNITS
    blocked = bmsample.sample(model, 37, 5, init="uniform", sampler=sampler, rng=8).visible
    # Embed the 20 spins in a model too wide for the site-major path, the extra spins uncoupled:
    # site i draws the same uniforms in both, so the first 20 spins must follow the same chains.
    wide = _cpu.SITE_MAJOR_MAX_UNITS + 20
    J = np.zeros((wide, wide), dtype=np.float32)
    J[:20, :20] = model.coupling_matrix
    field = np.zeros(wide, dtype=np.float32)
    field[:20] = model.field
    embedded = IsingModel(J, field, dtype="float32")
    per_chain = bmsample.sample(embedded, 37, 5, init="uniform", sampler=sampler, rng=8).visible
    np.testing.assert_array_equal(per_chain[:, :20], blocked)
