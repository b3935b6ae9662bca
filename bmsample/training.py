"""Training loop: configuration, schemes (Rdm-k, CD-k, PCD-k), logging and checkpoints.

``fit`` trains a model family (``model="rbm"``: Bernoulli RBM;
``model="gaussian"``: Gaussian energy model) by minibatch gradient ascent on
the log-likelihood.  The three schemes differ only in where the negative
chains start at every update (docs/theory.md section 1):

* ``rdm``: fresh draws from p0, run for exactly k steps (RBM: uniform bits,
  or the independent-site law of the data with ``init="bias"``; Gaussian:
  zeros, uniform on [-a, a], Gaussian of std a, or data rows);
* ``cd``: the current minibatch, run for k steps;
* ``pcd``: persistent chains, run for k more steps.

An Rdm-k model matches the data through the k-step process from p0, so the
model records its process and ``sample`` reproduces it by default.
"""

import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from . import _rundir, _steps, checkpointing, families
from ._backend import resolve_backend
from ._errors import TrainingDiverged
from ._rng import ChainStreams, fresh_seed
from ._validation import (
    check_bool,
    check_choice,
    check_dtype,
    check_int,
    check_positive_float,
)

SCHEMES = ("rdm", "cd", "pcd")
#: The default run length: this many passes over the data, but at least this many updates.
DEFAULT_EPOCHS, DEFAULT_MIN_UPDATES = 20, 5000


@dataclass
class TrainingConfig:
    """Hyperparameters of a training run.

    Parameters
    ----------
    model : {"rbm", "gaussian", "gaussian-rbm", "ising", "independent"}
        Model family: Bernoulli RBM, Gaussian energy model,
        Gaussian-Bernoulli RBM (real visible units, trained on standardised
        data; the standardisation is recorded in the model), fully connected
        Boltzmann machine on +-1 spins, or independent spins (its J = 0 case).
    num_hiddens : int
        RBM hidden units.
    scheme : {"rdm", "cd", "pcd"}
    k : int
        Sampler steps per gradient estimate (RBM: block-Gibbs steps;
        Gaussian: Langevin steps or coordinate-Gibbs sweeps).
    init : str or None
        p0 of the Rdm-k chains (and of the initial PCD chains): RBM
        {"uniform", "bias"}; Gaussian {"uniform", "zeros", "gaussian",
        "data"}; Gaussian-Bernoulli RBM {"gaussian", "zeros", "data"}
        (standardised units).  Default: the first of the family's list.
    init_scale : float
        Width of a real p0: half-width a of uniform [-a, a], or std.
    sampler : str or None
        RBM "block-gibbs"; Gaussian "langevin" (default) or "gibbs"; Ising
        "heat-bath" (sequential, default), "random-site" or "metropolis"
        (one step = one sweep of N site updates).
    step_size : float
        Langevin step eps (Gaussian).
    temperature : float
        Langevin / Gibbs temperature (Gaussian).
    sigma : float
        Gaussian-Bernoulli RBM visible standard deviation, in standardised
        units (fixed, not learned; below 1 lets the model fit clusters
        tighter than the data's overall spread).
    learning_rate : float
    batch_size : int
    num_chains : int or None
        Negative chains for Rdm-k and PCD-k (default: ``batch_size``); CD-k
        runs one chain per minibatch row.
    epochs, updates : int or None
        Length of the run; give at most one.  Default: ``DEFAULT_EPOCHS``
        epochs, and at least ``DEFAULT_MIN_UPDATES`` updates (20 epochs of
        the 1797 digits are 340 updates, which learn nothing; see
        ``run_length``).
    l2 : float
        Weight decay on ``weight_matrix``.
    centered : bool
        Use the centred gradient.
    centering_rate : float
        Rate of the running hidden-mean offset of the centred gradient.
    dtype : {"float32", "float64"}
    seed : int or None
        None draws fresh entropy (recorded in the model).
    weight_scale : float
        Standard deviation of the initial weights.
    """

    model: str = "rbm"
    num_hiddens: int = 500
    scheme: str = "rdm"
    k: int = 10
    init: str | None = None
    init_scale: float = 1.0
    sampler: str | None = None
    step_size: float = 0.01
    temperature: float = 1.0
    sigma: float = 1.0
    learning_rate: float = 0.01
    batch_size: int = 100
    num_chains: int | None = None
    epochs: int | None = None
    updates: int | None = None
    l2: float = 0.0
    centered: bool = False
    centering_rate: float = 0.01
    dtype: str = "float32"
    seed: int | None = None
    weight_scale: float = 0.01

    def validated(self):
        """A checked copy with defaults resolved."""
        cfg = TrainingConfig(**asdict(self))
        check_choice(cfg.model, "model", families.names())
        family = families.named(cfg.model)
        cfg.num_hiddens = check_int(cfg.num_hiddens, "num_hiddens")
        check_choice(cfg.scheme, "scheme", SCHEMES)
        cfg.k = check_int(cfg.k, "k")
        cfg.init = family.p0_laws[0] if cfg.init is None else cfg.init
        check_choice(cfg.init, "init", family.p0_laws)
        cfg.init_scale = check_positive_float(cfg.init_scale, "init_scale")
        cfg.sampler = family.samplers[0] if cfg.sampler is None else cfg.sampler
        check_choice(cfg.sampler, "sampler", family.samplers)
        cfg.step_size = check_positive_float(cfg.step_size, "step_size")
        cfg.temperature = check_positive_float(cfg.temperature, "temperature")
        cfg.sigma = check_positive_float(cfg.sigma, "sigma")
        cfg.learning_rate = check_positive_float(cfg.learning_rate, "learning_rate")
        cfg.batch_size = check_int(cfg.batch_size, "batch_size")
        cfg.num_chains = cfg.batch_size if cfg.num_chains is None else check_int(cfg.num_chains, "num_chains")
        if cfg.epochs is not None and cfg.updates is not None:
            raise ValueError("epochs, updates: give one of them, not both")
        if cfg.updates is not None:
            cfg.updates = check_int(cfg.updates, "updates")
        if cfg.epochs is not None:
            cfg.epochs = check_int(cfg.epochs, "epochs")
        cfg.l2 = check_positive_float(cfg.l2, "l2", allow_zero=True)
        cfg.centered = check_bool(cfg.centered, "centered")
        cfg.centering_rate = check_positive_float(cfg.centering_rate, "centering_rate")
        cfg.dtype = check_dtype(cfg.dtype).name
        if cfg.seed is None:
            cfg.seed = fresh_seed()
        cfg.seed = check_int(cfg.seed, "seed", minimum=0)
        cfg.weight_scale = check_positive_float(cfg.weight_scale, "weight_scale")
        return cfg

    @classmethod
    def from_mapping(cls, mapping, source="config"):
        """Build from a dict (e.g. a TOML table), refusing unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = set(mapping) - known
        if unknown:
            raise ValueError(f"{source}: unknown setting(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(known))}")
        return cls(**mapping)


@dataclass
class FitResult:
    """Output of ``fit``: the trained ``model`` (of the configured family), PCD
    ``chains`` (or None), the logged ``history`` (list of dicts), the resolved
    ``config`` and, for a resumed run, the update it resumed from
    (``resumed_from``)."""

    model: object
    chains: np.ndarray | None
    history: list = field(default_factory=list)
    config: TrainingConfig | None = None
    resumed_from: int | None = None


def run_length(cfg, num_rows):
    """(total updates, updates per epoch) of a run of ``cfg`` on ``num_rows`` rows.

    ``updates`` if given, else ``epochs`` passes; by default ``DEFAULT_EPOCHS``
    passes but at least ``DEFAULT_MIN_UPDATES`` updates, so that the defaults
    learn on small datasets too (an RBM on the 1797 digits: correlations'
    Pearson at t = k 0.05 after 340 updates, 0.78 after 2000, 0.92 after 5000).
    """
    per_epoch = num_rows // cfg.batch_size
    if cfg.updates is not None:
        return cfg.updates, per_epoch
    if cfg.epochs is not None:
        return cfg.epochs * per_epoch, per_epoch
    return max(DEFAULT_EPOCHS * per_epoch, DEFAULT_MIN_UPDATES), per_epoch


def log_spaced_updates(total):
    """1, 2, 5, 10, 20, 50, ... up to ``total``, plus ``total``."""
    marks, decade = set(), 1
    while decade <= total:
        marks.update(m * decade for m in (1, 2, 5) if m * decade <= total)
        decade *= 10
    marks.add(total)
    return marks


def process_record(cfg, data_name, total_updates):
    """The generation process the model remembers (see ``BernoulliRBM.process``); the family adds its own
    settings (``Family.process_settings``)."""
    record = {"scheme": cfg.scheme, "k": cfg.k, "init": cfg.init, "sampler": cfg.sampler,
              "learning_rate": cfg.learning_rate, "batch_size": cfg.batch_size,
              "num_chains": cfg.num_chains if cfg.scheme != "cd" else cfg.batch_size,
              "epochs": cfg.epochs, "updates": cfg.updates, "total_updates": total_updates, "data": data_name}
    record.update({name: getattr(cfg, name) for name in families.named(cfg.model).process_settings})
    return record


def _start(cfg, data, init_seed, chain_seed, rows_seed, device):
    """(model, trainer, streams, rows) of the configured family, from the checked data.

    ``init_seed`` draws the initial parameters, ``chain_seed`` keys the
    chains' streams and ``rows_seed`` picks the p0 rows of ``init="data"``;
    ``device`` is the resolved backend.  ``rows`` are the training rows as
    the trainer sees them (``Family.training_data``).
    """
    family = families.named(cfg.model)
    streams = ChainStreams.from_seed_sequence(chain_seed)
    model = family.new_model(cfg, data, np.random.default_rng(init_seed))
    rows = family.training_data(model, data)
    trainer = family.trainer(model, cfg, streams, rows, np.random.default_rng(rows_seed), device)
    return model, trainer, streams, rows


def fit(data, config=None, *, out=None, overwrite=False, resume=False, checkpoint_interval=600.0, progress=None,
        data_name=None, mixing_steps=0, backend="cpu", **settings):
    """Train a model on ``data``.

    Parameters
    ----------
    data : array_like, shape (num_samples, num_units)
        Exact 0/1 values for the RBM; finite reals for the Gaussian model.
    config : TrainingConfig, optional
        Settings; keyword ``settings`` override its fields (e.g. ``k=20``).
        With ``resume`` and neither, the run's saved settings.
    out : str or Path, optional
        Run directory: ``model.npz``, ``checkpoints/update_XXXXXXXX.npz`` at
        log-spaced updates (1, 2, 5, 10, 20, ...), ``checkpoints/latest.npz``
        (see ``checkpoint_interval``), ``log.jsonl`` (those updates and every
        1 % of the run) and ``config.json``.  Every checkpoint holds the full
        state of the run (``bmsample.checkpointing``).
    overwrite : bool
        Replace a previous run in ``out``.
    resume : bool
        Continue the run in ``out`` from its last checkpoint; the result is
        bit-identical to the uninterrupted run.  The settings must equal the
        run's (a seed of None means the run's seed).  A run without
        checkpoints (or no run at all) starts afresh; a finished run is
        returned as it is.
    checkpoint_interval : float
        Seconds between rewrites of ``checkpoints/latest.npz`` (0: after every update).
    progress : callable(dict), optional
        Called with every logged record and, about twice a second, with a
        live record (``"live": True``).
    data_name : str, optional
        Name recorded in the model (a bundled dataset name or a path).
    mixing_steps : int
        If positive, at every checkpoint run 50 chains for this many steps
        of the model's process and log ``energy_tau``, ``magnetisation_tau``
        and ``forget_time`` (``bmsample.evaluation.mixing``).
    backend : {"cpu", "cuda", "cuda:N", "auto"}
        Where training runs (the RBM and Gaussian Langevin training have CUDA
        paths).  The device is not part of the run's files: a GPU run writes
        the same files as a CPU run.

    Returns
    -------
    FitResult

    Raises
    ------
    TrainingDiverged
        Parameters became NaN or inf or ran away, or the sampler became
        unstable; the last good checkpoint stays on disk.
    TrainingPreempted
        SIGTERM or SIGINT arrived (only with ``out``): the update in progress
        was finished and checkpointed; resume with ``resume=True``.
    """
    if resume and out is None:
        raise ValueError("resume: needs out, the run directory to continue")
    if resume and overwrite:
        raise ValueError("resume, overwrite: give one of them, not both")
    saved = checkpointing.read_saved_config(out) if resume else None
    if saved is not None:
        checkpointing.check_same_model(saved, settings.get("model", getattr(config, "model", None)), out)
    cfg = _resolve_config(config, settings, saved)
    mixing_steps = check_int(mixing_steps, "mixing_steps", minimum=0)
    checkpoint_interval = check_positive_float(checkpoint_interval, "checkpoint_interval", allow_zero=True)
    device = resolve_backend(backend, f"{cfg.model} {cfg.sampler} training")
    data = families.named(cfg.model).check_data(data, "data", dtype=cfg.dtype)
    if data.shape[0] < cfg.batch_size:
        raise ValueError(f"batch_size: {cfg.batch_size} is larger than the {data.shape[0]} samples")
    if out is None:
        return _train(cfg, data, None, None, device, data_name, progress, checkpoint_interval, mixing_steps)
    run_dir = _rundir.RunDirectory(out)  # locked from here on: one writer per run directory
    succeeded = False
    try:
        if resume and checkpointing.read_saved_config(out) != saved:
            raise ValueError(f"resume: {out} changed while this run started; try again")
        resuming = resume and _has_checkpoints(out, cfg, saved)
        if not resuming:
            run_dir.prepare(overwrite, restart=saved is not None)
        result = _train(cfg, data, run_dir, resuming, device, data_name, progress, checkpoint_interval,
                        mixing_steps)
        succeeded = True
        return result
    finally:
        run_dir.close(succeeded)


def _train(cfg, data, run_dir, resuming, device, data_name, progress, checkpoint_interval, mixing_steps):
    """The training loop of ``fit`` (``run_dir``: a locked ``RunDirectory`` or None; ``resuming``: continue from
    its newest valid checkpoint)."""
    out = None if run_dir is None else run_dir.path
    fingerprint = checkpointing.data_fingerprint(data) if out is not None else None

    init_seed, chain_seed, order_seed, rows_seed = np.random.SeedSequence(cfg.seed).spawn(4)
    model, trainer, streams, data = _start(cfg, data, init_seed, chain_seed, rows_seed, device)
    model.process = process_record(cfg, data_name, run_length(cfg, data.shape[0])[0])
    order = np.random.default_rng(order_seed)

    total, batches_per_epoch = run_length(cfg, data.shape[0])
    marks = log_spaced_updates(total)
    log_interval = max(1, total // 100)
    update, elapsed, last_checkpoint, resumed_from = 0, 0.0, None, None
    if resuming:
        expected = checkpointing.expected_checkpoint(trainer, total, batches_per_epoch)
        last_checkpoint, loaded = checkpointing.last_checkpoint(out, expected)
        block = loaded.metadata["checkpoint"]
        if block.get("data_sha256") != fingerprint:
            raise ValueError(f"data: not the data of the run in {out} (its checkpoints record another sha256)")
        checkpointing.restore_trainer_state(trainer, loaded)
        update = resumed_from = block["update"]
        elapsed = block.get("seconds", 0.0)
        order.bit_generator.state = block["order"]
    if update == total and (Path(out) / "model.npz").is_file():
        history = checkpointing.RunWriter(run_dir, cfg, resumed_update=update).history
        return FitResult(model, trainer.chains, history, cfg, resumed_from=update)
    writer = checkpointing.RunWriter(run_dir, cfg, resumed_from) if out is not None else None
    history = writer.history if writer is not None else []
    epoch_order_state = order.bit_generator.state  # before the permutation of the epoch in progress
    if update % batches_per_epoch:
        permutation = order.permutation(data.shape[0])
    start, last_live, last_save = time.perf_counter() - elapsed, 0.0, time.monotonic()
    speed = _Speed()
    # A device trainer's divergence check waits for the device: it runs every few updates, and always before
    # the model is logged, saved or returned (``verify``).
    check_interval = trainer.runaway_check_interval
    verified = update

    def verify():
        """TrainingDiverged if an update up to ``update`` diverged (checked once per update)."""
        nonlocal verified
        if verified != update:
            _raise_if_diverged(trainer, update, batches_per_epoch, last_checkpoint)
            verified = update

    def save(path, abandoned=False):
        """Checkpoint after ``update``; ``abandoned``: the next update had begun (its epoch's order is drawn)."""
        nonlocal last_save
        verify()
        at_epoch_end = update % batches_per_epoch == 0 and not abandoned
        block = {"update": update, "epoch": (update - 1) // batches_per_epoch + 1 if update else 0,
                 "seconds": round(time.perf_counter() - start, 4),
                 "order": order.bit_generator.state if at_epoch_end else epoch_order_state,
                 "data_sha256": fingerprint}
        last_save = time.monotonic()
        trainer.download()
        return writer.checkpoint(path, model, trainer, block)

    snapshot = checkpointing.UpdateSnapshot(trainer) if writer is not None else None
    with _steps.PreemptionGuard(active=writer is not None) as guard:
        while update < total:
            position = update % batches_per_epoch
            if position == 0:
                epoch_order_state = order.bit_generator.state
                permutation = order.permutation(data.shape[0])
            rows = np.sort(permutation[position * cfg.batch_size:(position + 1) * cfg.batch_size])
            batch = trainer.minibatch(data, rows)
            if snapshot is not None:
                snapshot.take()
            try:
                with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked just below
                    metrics = trainer.update(batch, cfg.learning_rate)
            except _steps.StepsInterrupted:  # a signal came while sampling: drop this update, keep the last one
                if snapshot is None:
                    raise
                snapshot.restore()
                last_checkpoint = save(writer.latest_path, abandoned=True)
                raise checkpointing.TrainingPreempted(guard.requested, update, last_checkpoint) from None
            update += 1
            epoch = (update - 1) // batches_per_epoch + 1
            if update % check_interval == 0 or update == total:
                verify()
            now = time.perf_counter() - start
            rate = speed.after_update(update, now)
            if update in marks or update % log_interval == 0:
                verify()
                trainer.download()
                record = {"update": update, "epoch": epoch, "seconds": round(now, 4), **metrics,
                          **_norms(model)}
                trainer.check_stability()
                history.append(record)
                if mixing_steps and update in marks and not guard.requested:
                    try:
                        record.update(_mixing_record(model, mixing_steps, mixing_seed(cfg.seed, update)))
                    except _steps.StepsInterrupted:  # stopping: checkpoint this update without the diagnostics
                        pass
                if writer is not None:  # log first: a resume drops log lines past its checkpoint
                    writer.log(record)
                    if update in marks:
                        last_checkpoint = save(writer.log_spaced_path(update))
                if progress is not None:
                    progress({**record, "total_updates": total, "updates_per_second": rate})
            elif progress is not None and now - last_live > 0.5:
                last_live = now
                progress({"live": True, "update": update, "epoch": epoch, "seconds": now,
                          "total_updates": total, "updates_per_second": rate, **metrics})
            if writer is not None and update not in marks and (
                    guard.requested or time.monotonic() - last_save >= checkpoint_interval):
                last_checkpoint = save(writer.latest_path)
            if guard.requested:
                raise checkpointing.TrainingPreempted(guard.requested, update, last_checkpoint)
    verify()
    trainer.download()
    chains = trainer.chains
    if writer is not None:
        writer.final(model, chains)
    return FitResult(model, chains, history, cfg, resumed_from=resumed_from)


def _resolve_config(config, settings, saved):
    """The validated settings of a run; with ``saved`` (a resumed run's) they default to it."""
    if saved is not None and config is None and not settings:
        return TrainingConfig.from_mapping(saved, source="config.json").validated()
    cfg = config or TrainingConfig()
    if settings:
        cfg = TrainingConfig(**{**asdict(cfg), **settings})
    if saved is not None and cfg.seed is None:
        cfg = TrainingConfig(**{**asdict(cfg), "seed": saved.get("seed")})
    return cfg.validated()


def _has_checkpoints(out, cfg, saved):
    """Whether ``out`` holds checkpoints of this run to resume from (False: start afresh).

    Refuses a run whose settings differ from ``cfg``, and a non-empty
    directory that is not a run.
    """
    checkpointing.remove_stray_temporaries(out)
    if saved is None:
        if _rundir.run_contents(out):
            raise ValueError(f"resume: {out} is not a bmsample run directory (no config.json)")
        return None
    differences = checkpointing.config_differences(cfg, saved)
    if differences:
        raise ValueError(f"resume: the settings differ from the run in {out}: {'; '.join(differences)}")
    folder = Path(out) / "checkpoints"
    return folder.is_dir() and any(folder.glob("*.npz"))


def _raise_if_diverged(trainer, update, batches_per_epoch, last_checkpoint):
    """TrainingDiverged naming the update, the offending quantity and the last good checkpoint.

    A device trainer flags its first runaway update on the device and keeps that update's parameters; the
    check, run every few updates, names that update.
    """
    lag = trainer.updates_since_runaway()
    if lag is None:
        return
    trainer.download()  # a device trainer: name the entry from the host copy
    problem = (non_finite_parameter(trainer.model) or trainer.divergence()
               or "parameters became NaN, inf or too large to sum")
    diverged = update - lag
    epoch = (diverged - 1) // batches_per_epoch + 1
    where = f"; the last good checkpoint is {last_checkpoint}" if last_checkpoint else ""
    raise TrainingDiverged(f"training diverged at update {diverged} (epoch {epoch}): {problem}{where}")


def non_finite_parameter(model):
    """A message naming the first NaN or inf parameter entry (or the array whose sum overflows), or None."""
    for name, array in model.to_arrays().items():
        bad = np.argwhere(~np.isfinite(array))
        if len(bad):
            index = ", ".join(str(int(i)) for i in bad[0])
            return (f"parameter {name}[{index}] = {array[tuple(bad[0])]} ({len(bad)} NaN or inf entries); "
                    "try a smaller learning rate")
        with np.errstate(over="ignore"):
            if not np.isfinite(array.sum()):
                return (f"parameter {name} holds values so large that its sum overflows (largest "
                        f"|{name}| = {np.abs(array).max():.3g}); try a smaller learning rate")
    return None


def mixing_seed(seed, update):
    """The seed of the mixing diagnostics logged at ``update``: a child of the run's seed, keyed by the update
    (after the four children that ``_train`` spawns), independent of every other stream of the run."""
    return np.random.SeedSequence(seed, spawn_key=(4, update))


def _mixing_record(model, steps, seed):
    """Mixing diagnostics of the current model for the log (fresh chains, own stream)."""
    import warnings

    from .evaluation import mixing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # short runs: tau is a rough estimate, logged as such
        result = mixing(model, num_chains=50, steps=steps, rng=seed)
    return {key: (float(result[key]) if np.isfinite(result[key]) else None)  # JSON has no NaN
            for key in ("energy_tau", "magnetisation_tau", "forget_time")}


def _norms(model):
    """Norm of every parameter array, e.g. ``weight_matrix_norm``."""
    with np.errstate(over="ignore"):  # huge but finite parameters give inf norms, not warnings
        return {f"{name}_norm": float(np.linalg.norm(array)) for name, array in model.to_arrays().items()
                if not name.startswith("data_")}


class _Speed:
    """Updates per second since the end of this process's first update (which may include compiling)."""

    def __init__(self):
        self.first = None  # (update, seconds) at the end of the first update

    def after_update(self, update, seconds):
        """The rate after ``update`` ended at ``seconds``, or None while only one update was timed."""
        if self.first is None:
            self.first = (update, seconds)
            return None
        done, spent = update - self.first[0], seconds - self.first[1]
        return done / spent if spent > 0 else None


def format_progress(record):
    """One human-readable progress line for a ``fit`` progress record."""
    total = record.get("total_updates")
    pct = f" ({100 * record['update'] / total:.0f}%)" if total else ""
    rate = record.get("updates_per_second")
    speed = ""
    if rate:
        speed = f"  {rate:.1f} updates/s"
        if total:
            speed += f", {_steps.format_duration((total - record['update']) / rate)} left"
    metric = next((key for key in ("magnetisation_rmse", "mean_rmse") if key in record), None)
    shown = f"  {metric.replace('_', ' ')} {record[metric]:.4f}" if metric else ""
    return f"epoch {record['epoch']}  update {record['update']}/{total}{pct}{speed}{shown}"
