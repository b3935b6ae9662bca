"""The training loop: ``fit`` and the steps of one run (``Run``).

A run draws four child seeds of its seed: the initial parameters, the
chains' streams, the data order and the p0 rows; each step of the loop is
a method of ``Run``, in the order ``Run.train`` calls them.
"""

import time
from pathlib import Path

import numpy as np

from .. import _steps, families
from .._backend import resolve_backend
from .._errors import TrainingDiverged
from .._rng import ChainStreams
from .._validation import check_int, check_positive_float
from . import checkpoints, rundir
from .config import FitResult, log_spaced_updates, process_record, resolve_config, run_length
from .progress import Speed, mixing_record, mixing_seed, parameter_norms, trajectory_updates


def fit(data, config=None, *, out=None, overwrite=False, resume=False, checkpoint_interval=600.0, progress=None,
        data_name=None, mixing_steps=0, trajectory=0, backend="cpu", **settings):
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
        state of the run (``bmsample.training.checkpoints``).
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
    trajectory : int
        With ``out``, also save the parameters alone (no chains) of this
        many models along training, from update 0, closer together early
        (``progress.trajectory_updates``), to
        ``trajectory/update_XXXXXXXX.npz``: the dense trajectory that
        ``bmsample.trajectory`` (trajectory tempering, trajectory AIS) uses
        beside the checkpoints and the final model.
    backend : {"cpu", "cuda", "cuda:N", "auto"}
        Where training runs (every family, scheme and sampler has a CUDA
        path).  The device is not part of the run's files: a GPU run writes
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
    cfg, saved = _settings(config, settings, out, resume, overwrite)
    mixing_steps = check_int(mixing_steps, "mixing_steps", minimum=0)
    trajectory = check_int(trajectory, "trajectory", minimum=0)
    if trajectory and out is None:
        raise ValueError("trajectory: needs out, the run directory its models are saved in")
    checkpoint_interval = check_positive_float(checkpoint_interval, "checkpoint_interval", allow_zero=True)
    device = resolve_backend(backend, f"{cfg.model} {cfg.sampler} training")
    data = families.named(cfg.model).check_data(data, "data", dtype=cfg.dtype)
    if data.shape[0] < cfg.batch_size:
        raise ValueError(f"batch_size: {cfg.batch_size} is larger than the {data.shape[0]} samples")
    reporting = (progress, checkpoint_interval, mixing_steps, trajectory)
    if out is None:
        return Run(cfg, data, None, device, data_name, *reporting).train(resuming=False)
    run_dir = rundir.RunDirectory(out)  # locked from here on: one writer per run directory
    succeeded = False
    try:
        if resume and checkpoints.read_saved_config(out) != saved:
            raise ValueError(f"resume: {out} changed while this run started; try again")
        resuming = resume and _has_checkpoints(out, cfg, saved)
        if not resuming:
            run_dir.prepare(overwrite, restart=saved is not None)
        result = Run(cfg, data, run_dir, device, data_name, *reporting).train(resuming)
        succeeded = True
        return result
    finally:
        run_dir.close(succeeded)


def _settings(config, settings, out, resume, overwrite):
    """(validated config, the saved settings of a resumed run or None)."""
    if resume and out is None:
        raise ValueError("resume: needs out, the run directory to continue")
    if resume and overwrite:
        raise ValueError("resume, overwrite: give one of them, not both")
    saved = checkpoints.read_saved_config(out) if resume else None
    if saved is not None:
        checkpoints.check_same_model(saved, settings.get("model", getattr(config, "model", None)), out)
    return resolve_config(config, settings, saved), saved


class Run:
    """One training run of ``fit``: the model, its trainer, the data order and what has been written.

    Parameters
    ----------
    cfg : TrainingConfig
        Validated.
    data : ndarray
        The checked training data.
    run_dir : RunDirectory or None
        Locked; None trains without files.
    device : a resolved backend
    data_name : str or None
    progress : callable(dict) or None
    checkpoint_interval : float
    mixing_steps : int
    trajectory : int
        Parameter-only models to save along training (``fit``'s ``trajectory``).
    """

    def __init__(self, cfg, data, run_dir, device, data_name, progress, checkpoint_interval, mixing_steps,
                 trajectory):
        self.cfg, self.run_dir, self.progress = cfg, run_dir, progress
        self.checkpoint_interval, self.mixing_steps = checkpoint_interval, mixing_steps
        self.trajectory = trajectory
        self.out = None if run_dir is None else run_dir.path
        self.fingerprint = checkpoints.data_fingerprint(data) if self.out is not None else None
        init_seed, chain_seed, order_seed, rows_seed = np.random.SeedSequence(cfg.seed).spawn(4)
        self.model, self.trainer, self.streams, self.data = _start(cfg, data, init_seed, chain_seed, rows_seed,
                                                                   device)
        self.total, self.batches_per_epoch = run_length(cfg, self.data.shape[0])
        self.model.process = process_record(cfg, data_name, self.total)
        self.order = np.random.default_rng(order_seed)
        self.marks = log_spaced_updates(self.total)
        self.trajectory_marks = set(trajectory_updates(self.total, trajectory))
        self.log_interval = max(1, self.total // 100)
        self.update, self.elapsed, self.last_checkpoint, self.resumed_from = 0, 0.0, None, None

    def train(self, resuming):
        """Run the updates left (all, or those after the newest checkpoint); the ``FitResult``."""
        if resuming:
            self.restore()
        if self.update == self.total and (Path(self.out) / "model.npz").is_file():
            history = checkpoints.RunWriter(self.run_dir, self.cfg, resumed_update=self.update).history
            return FitResult(self.model, self.trainer.chains, history, self.cfg, resumed_from=self.update)
        self.writer = checkpoints.RunWriter(self.run_dir, self.cfg, self.resumed_from) if self.out else None
        self.history = self.writer.history if self.writer is not None else []
        self.epoch_order_state = self.order.bit_generator.state  # before the permutation of the epoch in progress
        if self.update % self.batches_per_epoch:
            self.permutation = self.order.permutation(self.data.shape[0])
        self.start = time.perf_counter() - self.elapsed
        self.last_live, self.last_save, self.speed = 0.0, time.monotonic(), Speed()
        self.verified = self.update
        self.snapshot = checkpoints.UpdateSnapshot(self.trainer) if self.writer is not None else None
        self.keep_trajectory()
        with _steps.PreemptionGuard(active=self.writer is not None) as self.guard:
            while self.update < self.total:
                metrics = self.step(self.next_batch())
                now = time.perf_counter() - self.start
                self.report(metrics, now, self.speed.after_update(self.update, now))
                self.keep_trajectory()
                self.keep_latest()
                if self.guard.requested:
                    raise checkpoints.TrainingPreempted(self.guard.requested, self.update, self.last_checkpoint)
        return self.finish()

    def restore(self):
        """Continue from the newest valid checkpoint of the run directory (refusing other data)."""
        expected = checkpoints.expected_checkpoint(self.trainer, self.total, self.batches_per_epoch)
        self.last_checkpoint, loaded = checkpoints.last_checkpoint(self.out, expected)
        block = loaded.metadata["checkpoint"]
        if block.get("data_sha256") != self.fingerprint:
            raise ValueError(f"data: not the data of the run in {self.out} (its checkpoints record another sha256)")
        checkpoints.restore_trainer_state(self.trainer, loaded)
        self.update = self.resumed_from = block["update"]
        self.elapsed = block.get("seconds", 0.0)
        self.order.bit_generator.state = block["order"]

    def next_batch(self):
        """The next minibatch, as the trainer holds it: sorted rows of this epoch's permutation."""
        position = self.update % self.batches_per_epoch
        if position == 0:
            self.epoch_order_state = self.order.bit_generator.state
            self.permutation = self.order.permutation(self.data.shape[0])
        size = self.cfg.batch_size
        rows = np.sort(self.permutation[position * size:(position + 1) * size])
        return self.trainer.minibatch(self.data, rows)

    def step(self, batch):
        """One update on ``batch``; its metrics.  A signal while sampling drops the update, checkpoints the last
        one and raises TrainingPreempted.  A device trainer's divergence check waits for the device: it runs
        every ``runaway_check_interval`` updates, and always before the model is logged, saved or returned."""
        if self.snapshot is not None:
            self.snapshot.take()
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked by ``verify``
                metrics = self.trainer.update(batch, self.cfg.learning_rate)
        except _steps.StepsInterrupted:
            if self.snapshot is None:
                raise
            self.snapshot.restore()
            self.last_checkpoint = self.save(self.writer.latest_path, abandoned=True)
            raise checkpoints.TrainingPreempted(self.guard.requested, self.update, self.last_checkpoint) from None
        self.update += 1
        if self.update % self.trainer.runaway_check_interval == 0 or self.update == self.total:
            self.verify()
        return metrics

    def report(self, metrics, now, rate):
        """Log (and checkpoint at the log-spaced marks) a logged update; else a live progress record."""
        update, epoch = self.update, self.epoch()
        if update in self.marks or update % self.log_interval == 0:
            self.verify()
            self.trainer.download()
            record = {"update": update, "epoch": epoch, "seconds": round(now, 4), **metrics,
                      **parameter_norms(self.model)}
            self.trainer.check_stability()
            self.history.append(record)
            if self.mixing_steps and update in self.marks and not self.guard.requested:
                try:
                    record.update(mixing_record(self.model, self.mixing_steps, mixing_seed(self.cfg.seed, update)))
                except _steps.StepsInterrupted:  # stopping: checkpoint this update without the diagnostics
                    pass
            if self.writer is not None:  # log first: a resume drops log lines past its checkpoint
                self.writer.log(record)
                if update in self.marks:
                    self.last_checkpoint = self.save(self.writer.log_spaced_path(update))
            if self.progress is not None:
                self.progress({**record, "total_updates": self.total, "updates_per_second": rate})
        elif self.progress is not None and now - self.last_live > 0.5:
            self.last_live = now
            self.progress({"live": True, "update": update, "epoch": epoch, "seconds": now,
                           "total_updates": self.total, "updates_per_second": rate, **metrics})

    def keep_trajectory(self):
        """Save the parameters of the model after this update if it is one of the trajectory's."""
        if self.writer is not None and self.update in self.trajectory_marks:
            self.verify()
            self.trainer.download()
            self.writer.trajectory_model(self.update, self.model, self.trajectory)

    def keep_latest(self):
        """Rewrite ``checkpoints/latest.npz`` every ``checkpoint_interval`` seconds, and when a signal came."""
        if self.writer is not None and self.update not in self.marks and (
                self.guard.requested or time.monotonic() - self.last_save >= self.checkpoint_interval):
            self.last_checkpoint = self.save(self.writer.latest_path)

    def epoch(self):
        """The epoch of the last update (1-based; 0 before the first)."""
        return (self.update - 1) // self.batches_per_epoch + 1 if self.update else 0

    def verify(self):
        """TrainingDiverged if an update up to ``update`` diverged (checked once per update)."""
        if self.verified != self.update:
            _raise_if_diverged(self.trainer, self.update, self.batches_per_epoch, self.last_checkpoint)
            self.verified = self.update

    def save(self, path, abandoned=False):
        """Checkpoint after ``update``; ``abandoned``: the next update had begun (its epoch's order is drawn)."""
        self.verify()
        at_epoch_end = self.update % self.batches_per_epoch == 0 and not abandoned
        block = {"update": self.update, "epoch": self.epoch(), "seconds": round(time.perf_counter() - self.start, 4),
                 "order": self.order.bit_generator.state if at_epoch_end else self.epoch_order_state,
                 "data_sha256": self.fingerprint}
        self.last_save = time.monotonic()
        self.trainer.download()
        return self.writer.checkpoint(path, self.model, self.trainer, block)

    def finish(self):
        """The checked final model, written to ``model.npz``; the ``FitResult``."""
        self.verify()
        self.trainer.download()
        chains = self.trainer.chains
        if self.writer is not None:
            self.writer.final(self.model, chains, getattr(self.trainer, "log_weights", None))
        return FitResult(self.model, chains, self.history, self.cfg, resumed_from=self.resumed_from)


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
    settings = {name: getattr(cfg, name) for name in family.trainer_settings}
    trainer = family.trainer(model, cfg.estimate(), streams, rows, np.random.default_rng(rows_seed), device,
                             **settings)
    return model, trainer, streams, rows


def _has_checkpoints(out, cfg, saved):
    """Whether ``out`` holds checkpoints of this run to resume from (False: start afresh).

    Refuses a run whose settings differ from ``cfg``, and a non-empty
    directory that is not a run.
    """
    checkpoints.remove_stray_temporaries(out)
    if saved is None:
        if rundir.run_contents(out):
            raise ValueError(f"resume: {out} is not a bmsample run directory (no config.json)")
        return None
    differences = checkpoints.config_differences(cfg, saved)
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
