"""The model families, each declared once: what ``fit``, ``sample`` and the model files look up.

A ``Family`` says, for one ``fit(model=NAME)``: its model class (whose
``family`` attribute is the name in model files), its units, its p0 laws and
samplers (the first of each is the default), how it checks data, starts a
model, builds its trainer (CPU, or the device twin imported only when a GPU
runs), which settings its process record keeps, and how its chains run (a
``ChainProcess``, which the one sampling driver runs for every family).  The
training loop, ``sample`` and ``io`` look families up here instead of
branching on them, so a family registered with ``register`` (e.g. in a
test, or by a user package) trains, samples and saves like the built-in
ones.

Built-in families are declared in ``bmsample.<family>.family`` and
registered on first lookup.
"""

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Family:
    """One model family of ``fit(model=name)``.

    Attributes
    ----------
    name : str
        ``fit``'s ``model`` and the CLI's ``--model``.
    model_class : type
        Its models' class: ``family`` (the name in model files), ``from_arrays``, ``to_arrays``, ``dtype``,
        ``process``.
    units : str
        The values of a data row, in words (e.g. "exact 0/1 values").
    p0_laws, samplers : tuple of str
        ``init`` and ``sampler`` choices of its training; the first of each is the default.
    check_data : callable(data, name, dtype) -> ndarray
        The checked training data (raises ValueError naming ``name``).
    new_model : callable(config, data, rng) -> model
        The initial model for checked ``data`` (``rng`` draws random initial parameters).
    trainer : callable(model, estimate, streams, data, generator, device, **settings) -> trainer
        Its trainer (``bmsample._ascent.Trainer``) on ``device`` (a resolved backend), making each gradient
        estimate as ``estimate`` (a ``bmsample._ascent.Estimate``) says; ``generator`` picks data rows where
        p0 uses them; ``settings`` are the values of its ``trainer_settings``.
    chains : callable(model, **options) -> ChainProcess
        How its chains run on ``model`` under its sampler's options (``bmsample._sampling``): what
        ``sample`` runs, and ``bench`` times.
    label : str
        Its models in an error message ("a Bernoulli RBM").
    sample_inits : tuple of str
        The ``init`` choices of its sampler.
    default_sample_init : callable(model, saved_chains) -> str
        The ``init`` that reproduces the model's training process.
    sample_options : tuple of str
        The keyword options of its sampler beyond ``init``, ``data``, ``rng`` and ``record``, among
        ``init_scale``, ``sampler``, ``step_size``, ``temperature``, ``record_moments``, ``chains`` and
        ``return_means`` (the command line refuses the others for its models).
    comparable_data : callable(model, data) -> ndarray
        ``data`` checked against the model's width and in the units of its samples, as float64.
    log_likelihood : callable(model, data, method, ais_chains, ais_betas, rng) -> dict, or None
        Mean log-likelihood of checked ``data`` under the equilibrium law (``evaluation.log_likelihood``):
        its exact tools, and AIS where it has one; None where the family has none.
    process_settings : tuple of str
        ``TrainingConfig`` fields its process record keeps beside the common ones.
    trainer_settings : tuple of str
        ``TrainingConfig`` fields its trainer takes as keyword values beside the ``Estimate``.
    training_data : callable(model, data) -> ndarray
        The rows its trainer sees (default: ``data``; the Gaussian-Bernoulli RBM standardises them).
    image_values : callable(states) -> ndarray, or None
        Its samples as grey levels in [0, 1] for a sample grid of image data (``bmsample plot``); None where
        its samples are not images of the data.
    predicted_spectrum : callable(model, data) -> (prediction, learned), or None
        A closed-form prediction of the trained model for ``data`` and the model's values to set beside it
        (``bmsample plot``'s spectrum figure); None where the family has none.
    random_model : callable(num_units, num_hiddens, dtype, rng) -> model, or None
        A model of that size with small random parameters (``bench``'s synthetic models; families without
        hidden units ignore ``num_hiddens``); None where the family has none.
    tempering : callable(model, base) -> TemperedChains, or None
        Its chains at any inverse temperature (``bmsample.tempering``); None where it has no tempering.
    schemes : tuple of str
        The training schemes its trainer has (default: rdm, cd, pcd).
    trajectory : callable(models, base) -> TrajectoryChains, or None
        Its chains under the models saved along a run (``bmsample.trajectory``); None where it has none.
    """

    name: str
    model_class: type
    units: str
    p0_laws: tuple
    samplers: tuple
    check_data: Callable
    new_model: Callable
    trainer: Callable
    chains: Callable
    label: str
    sample_inits: tuple
    default_sample_init: Callable
    comparable_data: Callable
    sample_options: tuple = ()
    log_likelihood: Callable | None = None
    process_settings: tuple = ()
    trainer_settings: tuple = ()
    training_data: Callable = field(default=lambda model, data: data)
    image_values: Callable | None = None
    predicted_spectrum: Callable | None = None
    random_model: Callable | None = None
    tempering: Callable | None = None
    trajectory: Callable | None = None
    schemes: tuple = ("rdm", "cd", "pcd")

    def __post_init__(self):
        if not self.p0_laws or not self.samplers:
            raise ValueError(f"family {self.name}: needs at least one p0 law and one sampler")

    def sample(self, model, num_chains=None, steps=None, *, rng=None, record=None, callback=None, backend="cpu",
               **options):
        """Sample ``model`` with the sampling driver (``bmsample.sample``); ``options`` go to ``chains``."""
        from ._sampling import run

        return run(self.chains(model, **options), num_chains, steps, rng=rng, record=record, callback=callback,
                   backend=backend)


_REGISTRY: dict[str, Family] = {}
_BUILT_IN = ("rbm", "gaussian", "grbm", "ising")


def register(family):
    """Add ``family`` (a ``Family``) under ``family.name``; a name already taken is refused."""
    _load_built_in()
    if family.name in _REGISTRY and _REGISTRY[family.name] is not family:
        raise ValueError(f"family: {family.name!r} is already registered")
    _REGISTRY[family.name] = family
    return family


def unregister(name):
    """Remove a registered family (tests that register their own)."""
    _REGISTRY.pop(name, None)


def _load_built_in():
    if not _REGISTRY:
        for package in _BUILT_IN:
            for family in importlib.import_module(f"bmsample.{package}.family").FAMILIES:
                _REGISTRY[family.name] = family


def names():
    """The registered ``fit(model=...)`` names, built-in ones first."""
    _load_built_in()
    return tuple(_REGISTRY)


def named(name):
    """The ``Family`` called ``name`` (KeyError if none)."""
    _load_built_in()
    return _REGISTRY[name]


def of_model(model):
    """The first registered family whose model class ``model`` is (TypeError if none)."""
    _load_built_in()
    for family in _REGISTRY.values():
        if isinstance(model, family.model_class):
            return family
    raise TypeError(f"model: expected a bmsample model, got {type(model).__name__}")


def model_classes():
    """{name in model files: model class} of every registered family."""
    _load_built_in()
    return {family.model_class.family: family.model_class for family in _REGISTRY.values()}


def lazy(target):
    """A callable that imports ``"module:attribute"`` on its first call and calls it (device code, samplers)."""
    module_name, attribute = target.split(":")
    found: dict[str, Any] = {}

    def call(*args, **kwargs):
        if "value" not in found:
            found["value"] = getattr(importlib.import_module(module_name), attribute)
        return found["value"](*args, **kwargs)

    call.__name__ = attribute
    call.__qualname__ = target
    return call
