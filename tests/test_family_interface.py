"""A family defined here, registered at test time, goes through fit, sample, model files and ``bmsample sample``
with no edit to the library: what the family interface (``bmsample.families``) promises.

The toy family: N independent 0/1 units sharing one logit theta, P(x_i = 1) = sigmoid(theta).  Its sampler is
exact (independent draws, whatever the steps), so the fitted theta must be the logit of the data's mean.
"""

import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner

import bmsample
from bmsample import families
from bmsample._ascent import Estimate, GradientAscent
from bmsample._sampling import ChainProcess
from bmsample._validation import check_binary_data


class CoinModel:
    """N exchangeable coins with one logit."""

    family = "test_coins"

    def __init__(self, theta, num_units, dtype="float64"):
        self.dtype = np.dtype(dtype)
        self.theta = np.array([theta], dtype=self.dtype)
        self.num_units = int(num_units)
        self.process = None

    def to_arrays(self):
        return {"theta": self.theta}

    def shape_metadata(self):
        return {"num_units": self.num_units}

    @classmethod
    def from_arrays(cls, arrays, metadata):
        model = cls(arrays["theta"][0], metadata["num_units"], metadata["dtype"])
        model.process = metadata.get("training")
        return model

    def probability(self):
        return 1 / (1 + np.exp(-float(self.theta[0])))


def coin_draws(model, num_chains, streams):
    """Exact draws, from the run's stream (one draw index per call)."""
    rng = np.random.default_rng([*streams.key, streams.next_draw()])
    return (rng.random((num_chains, model.num_units)) < model.probability()).astype(model.dtype)


class CoinChains(ChainProcess):
    """Exact draws at t = 0, and every step draws afresh."""

    sampler, task, record_dtype = "exact", "coin sampling", np.uint8

    def __init__(self, model, *, init=None, data=None):
        self.model, self.init, self.default_steps = model, init or "uniform", 1

    def initial_states(self, num_chains, streams, generator):
        return coin_draws(self.model, num_chains, streams)

    def run(self, state, steps, streams, workspace, on_step):
        for t in range(1, steps + 1):
            state[...] = coin_draws(self.model, state.shape[0], streams)
            if on_step is not None:
                on_step(t, state)


class CoinTrainer(GradientAscent):
    PARAMETERS = ("theta",)
    chains = None

    def gradient(self, batch):
        chains = coin_draws(self.model, self.num_chains, self.streams)
        return (np.array([batch.mean() - chains.mean()], dtype=self.model.dtype),), {}


COINS = families.Family(
    name="coins", model_class=CoinModel, units="exact 0/1 values", p0_laws=("uniform",), samplers=("exact",),
    check_data=check_binary_data,
    new_model=lambda config, data, rng: CoinModel(0.0, data.shape[1], config.dtype),
    trainer=lambda model, estimate, streams, data, generator, device: CoinTrainer(model, estimate, streams),
    chains=CoinChains, label="a coin", sample_inits=("uniform",),
    default_sample_init=lambda model, chains: "uniform",
    comparable_data=lambda model, data: check_binary_data(data, "data", model.num_units, "float64"),
    process_settings=("learning_rate",))


@pytest.fixture
def coins():
    families.register(COINS)
    yield COINS
    families.unregister("coins")


@pytest.fixture
def coin_data():
    rng = np.random.default_rng(0)
    return (rng.random((400, 5)) < 0.8).astype(np.float64)  # mean 0.8: theta = logit(0.8) = 1.386


def test_a_registered_family_fits_samples_saves_and_loads(coins, coin_data, tmp_path):
    result = bmsample.fit(coin_data, model="coins", updates=400, batch_size=400, num_chains=20_000,
                          learning_rate=2.0, dtype="float64", seed=1, out=tmp_path / "run")
    mean = coin_data.mean()
    # Gradient ascent on mean(data) - p with 20 000 x 5 draws: p ends within a few 1e-3 of the data mean.
    assert abs(result.model.probability() - mean) < 5e-3
    assert result.model.process["scheme"] == "rdm" and result.model.process["learning_rate"] == 2.0
    loaded = bmsample.load_model(tmp_path / "run" / "model.npz")
    assert isinstance(loaded, CoinModel) and loaded.theta[0] == result.model.theta[0]
    samples = bmsample.sample(loaded, 1000, 2, rng=3, record=[0, 2])
    assert samples.visible.shape == (1000, 5) and abs(samples.visible.mean() - mean) < 0.03
    # The one sampling driver records for any family: t = 0 is the initial draw, t = 2 the result.
    assert samples.recorded.shape == (2, 1000, 5) and np.array_equal(samples.recorded[1], samples.visible)
    assert not np.array_equal(samples.recorded[0], samples.recorded[1])
    assert samples.sampler == "exact" and samples.init == "uniform"
    bmsample.save_model(tmp_path / "copy.npz", loaded)
    assert bmsample.load_model(tmp_path / "copy.npz").theta[0] == loaded.theta[0]
    with pytest.raises(ValueError, match="no log-likelihood for the test_coins family"):
        bmsample.evaluation.log_likelihood(loaded, coin_data)


def test_the_sample_command_runs_a_registered_family(coins, coin_data, tmp_path):
    from bmsample.cli.main import main

    model = CoinModel(np.log(4.0), 6)  # p = 0.8
    bmsample.save_model(tmp_path / "coins.npz", model)
    runner = CliRunner()
    result = runner.invoke(main, ["sample", str(tmp_path / "coins.npz"), "--chains", "500", "--steps", "1",
                                  "--seed", "2", "--out", str(tmp_path / "s.npz")])
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "s.npz") as saved:
        assert saved["visible"].shape == (500, 6) and abs(saved["visible"].mean() - 0.8) < 0.03
    refused = runner.invoke(main, ["sample", str(tmp_path / "coins.npz"), "--sampler", "gibbs", "--out",
                                   str(tmp_path / "t.npz")])
    assert refused.exit_code == 2 and "--sampler: does not apply to a coin model" in refused.output


def test_the_fit_command_trains_a_registered_family(coins, coin_data, tmp_path):
    from bmsample.cli.main import main

    np.save(tmp_path / "coins.npy", coin_data)
    runner = CliRunner()
    result = runner.invoke(main, ["fit", str(tmp_path / "coins.npy"), "--model", "coins", "--updates", "200",
                                  "--batch-size", "400", "--chains", "20000", "--learning-rate", "2",
                                  "--dtype", "float64", "--seed", "1", "--quiet", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    model = bmsample.load_model(tmp_path / "run" / "model.npz")
    assert isinstance(model, CoinModel) and abs(model.probability() - coin_data.mean()) < 5e-3
    refused = runner.invoke(main, ["fit", str(tmp_path / "coins.npy"), "--model", "coins", "--init", "bias",
                                   "--out", str(tmp_path / "other")])
    assert refused.exit_code == 2 and refused.stderr.startswith("error: init: expected one of uniform, got 'bias'")


def test_unknown_and_duplicate_families_are_refused(coins):
    with pytest.raises(ValueError, match="already registered"):
        families.register(families.Family(**{**COINS.__dict__}))
    with pytest.raises(ValueError, match="^model: "):
        bmsample.TrainingConfig(model="no-such-family").validated()
    families.unregister("coins")
    with pytest.raises(ValueError, match="^model: "):
        bmsample.TrainingConfig(model="coins").validated()
    families.register(COINS)


def test_a_trainer_gets_values_and_its_own_settings_not_the_config(coin_data):
    """``fit`` hands a trainer an ``Estimate`` (CD-k resolved to one chain per minibatch row) and the values of
    its family's ``trainer_settings``, nothing else of the ``TrainingConfig``."""
    seen = []

    def trainer(model, estimate, streams, data, generator, device, **settings):
        seen.append((estimate, settings))
        return CoinTrainer(model, estimate, streams)

    families.register(dataclasses.replace(COINS, name="coins-cd", trainer=trainer, trainer_settings=("l2",)))
    try:
        bmsample.fit(coin_data, model="coins-cd", scheme="cd", k=3, updates=2, batch_size=40, num_chains=7,
                     l2=0.5, init_scale=0.3, dtype="float64", seed=1)
    finally:
        families.unregister("coins-cd")
    assert seen == [(Estimate(scheme="cd", k=3, batch_size=40, num_chains=40, init="uniform", init_scale=0.3,
                              sampler="exact"), {"l2": 0.5})]
