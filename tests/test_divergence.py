"""Divergence reports: the update, the offending quantity and the last good checkpoint, which stays."""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import bmsample
from bmsample._rng import ChainStreams
from bmsample.gaussian.model import GaussianModel
from bmsample.gaussian.train import GaussianTrainer
from bmsample.rbm.model import BernoulliRBM
from bmsample.training import TrainingConfig, non_finite_parameter


def diverge(data, out, **settings):
    with pytest.raises(bmsample.TrainingDiverged) as caught:
        bmsample.fit(data, out=out, seed=0, **settings)
    return str(caught.value)


def assert_last_good_checkpoint(message, out):
    """The message names the newest checkpoint, which holds finite parameters; no final model was written."""
    checkpoints = sorted((out / "checkpoints").glob("update_*.npz"))
    assert message.endswith(f"; the last good checkpoint is {checkpoints[-1]}")
    model = bmsample.load_model(checkpoints[-1])  # refuses NaN or inf
    assert all(np.all(np.isfinite(array)) for array in model.to_arrays().values())
    assert not (out / "model.npz").exists()
    return int(re.search(r"at update (\d+)", message).group(1))


def test_non_finite_parameters_name_the_array(tmp_path):
    data = (np.random.default_rng(0).random((40, 4)) < 0.5).astype(float)
    message = diverge(data, tmp_path, num_hiddens=3, batch_size=10, updates=50, learning_rate=1e38)
    assert re.match(r"training diverged at update \d+ \(epoch 1\): parameter weight_matrix", message)
    assert assert_last_good_checkpoint(message, tmp_path) > 1


def test_non_finite_parameter_names_the_first_bad_entry():
    model = BernoulliRBM(np.zeros((3, 2)), np.zeros(3), np.zeros(2), dtype="float64")
    assert non_finite_parameter(model) is None
    model.weight_matrix[1, 0] = np.nan
    model.weight_matrix[2, 1] = np.inf
    assert non_finite_parameter(model).startswith("parameter weight_matrix[1, 0] = nan (2 NaN or inf entries)")


def test_runaway_ising_field_names_the_parameter(tmp_path):
    data = np.ones((40, 2))
    data[:20, 1] = 0  # spin 0 always up: m = 1 is out of reach of random-site sweeps from p0
    message = diverge(data, tmp_path, model="independent", sampler="random-site", k=1, learning_rate=1.0,
                      batch_size=20, updates=400)
    assert re.search(r"at update \d+ \(epoch \d+\): field h\[0\] = 20\.\d* .*ran away past \|20\|", message)
    assert assert_last_good_checkpoint(message, tmp_path) > 20


def unreachable_variance_data():
    """Variance 0.01 along one axis: below 2 eps = 0.2, out of reach of Langevin with eps = 0.1."""
    return np.random.default_rng(0).standard_normal((400, 2)) * np.sqrt([0.01, 1.0])


LANGEVIN = {"model": "gaussian", "k": 5, "step_size": 0.1, "learning_rate": 2.0, "batch_size": 100,
            "updates": 2000}


def test_unstable_langevin_sampler_is_reported_with_its_eigenvalue(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the data-variance and eps * j >= 1 warnings
        message = diverge(unreachable_variance_data(), tmp_path, **LANGEVIN)
    found = re.search(r"Langevin sampler unstable: step_size \* largest eigenvalue of J = 0\.1 \* ([\d.]+) = "
                      r"([\d.]+) >= 2", message)
    assert found and float(found.group(2)) >= 2
    update = assert_last_good_checkpoint(message, tmp_path)
    # Stable one update earlier: the last checkpoint before the reported update passes the check.
    before = bmsample.load_model(sorted((tmp_path / "checkpoints").glob("update_*.npz"))[-1])
    assert 0.1 * np.linalg.eigvalsh(before.coupling_matrix.astype(np.float64))[-1] < 2
    assert update > 1


@pytest.mark.parametrize("step_size, unstable", [(0.12, False), (0.1334, True)])
def test_langevin_check_uses_the_largest_eigenvalue_not_its_row_sum_bound(step_size, unstable):
    """J with eigenvalues 0, 15, 15 and absolute row sums 20: unstable from eps = 2 / 15, not 2 / 20."""
    coupling = np.array([[10.0, 5.0, 5.0], [5.0, 10.0, -5.0], [5.0, -5.0, 10.0]])
    cfg = TrainingConfig(model="gaussian", step_size=step_size, batch_size=10).validated()
    trainer = GaussianTrainer(GaussianModel(coupling, np.zeros(3), dtype="float64"), cfg.estimate(),
                              ChainStreams((0, 0)), 3 * np.random.default_rng(0).standard_normal((10, 3)),
                              np.random.default_rng(0), step_size=step_size)
    message = trainer.divergence()
    assert (message is not None) == unstable
    if unstable:
        assert f"= {step_size:g} * 15 = 2 >= 2" in message


def test_cli_exits_3_naming_the_unstable_sampler(tmp_path):
    data = tmp_path / "narrow.npy"
    np.save(data, unreachable_variance_data())
    out = tmp_path / "run"
    args = ["fit", str(data), "--model", "gaussian", "-k", "5", "--step-size", "0.1", "--learning-rate", "2",
            "--batch-size", "100", "--updates", "2000", "--seed", "0", "--out", str(out), "--quiet"]
    proc = subprocess.run([sys.executable, "-m", "bmsample.cli.main", *args], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 3
    assert proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if not line.startswith("warning:")]
    assert len(errors) == 1 and errors[0].startswith("error: training diverged at update ")
    assert "Langevin sampler unstable" in errors[0]
    assert_last_good_checkpoint(errors[0], out)
