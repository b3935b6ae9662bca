"""Run directories that survive preemption: full-state checkpoints, exact resume, signals.

A checkpoint holds everything the next update depends on, so that a run
resumed from it continues bit for bit like the uninterrupted run:

* the model parameters and the persistent chains (entry ``chains``);
* the rest of the trainer's mutable state: the centred RBM's running hidden
  offset (entry ``trainer_hidden_offset``), the chains' Philox streams
  (metadata ``streams``) and the generator that picks the p0 rows of
  ``init="data"`` (metadata ``rows``).  Training is plain SGD, so there is no
  other optimiser state;
* the position in the data order: the update count and the state of the
  order generator before the permutation of the epoch in progress (metadata
  ``order``).

Checkpoints at log-spaced updates (``checkpoints/update_XXXXXXXX.npz``) are
never overwritten; ``checkpoints/latest.npz`` is replaced atomically every
``checkpoint_interval`` seconds and when a signal stops the run.
"""

import hashlib
import json
import shutil
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from .. import io
from .._errors import TrainingPreempted  # noqa: F401 (raised as checkpoints.TrainingPreempted)

LATEST = "latest.npz"
#: Trainer attributes holding arrays that change during training (besides the model and the chains).
TRAINER_ARRAYS = ("hidden_offset", "log_weights")
#: Files of a run directory that ``fit`` writes (and may replace with ``overwrite``).
RUN_FILES = ("model.npz", "log.jsonl", "config.json")


def data_fingerprint(data):
    """sha256 of the training data's shape, dtype and bytes (hex)."""
    digest = hashlib.sha256(f"{data.shape} {data.dtype.str}".encode())
    digest.update(np.ascontiguousarray(data).data)
    return digest.hexdigest()


def trainer_state(trainer):
    """(arrays, metadata) of a trainer's mutable state other than its model.

    Returns
    -------
    arrays : dict of str to ndarray
        ``trainer_<name>`` for every array of ``TRAINER_ARRAYS`` the trainer has.
    metadata : dict
        ``streams`` (Philox key and draw) and ``rows`` (bit-generator state of
        the p0 row generator, or None), all JSON-serialisable.
    """
    arrays = {f"trainer_{name}": getattr(trainer, name) for name in TRAINER_ARRAYS
              if getattr(trainer, name, None) is not None}
    generator = getattr(trainer, "generator", None)
    rows = generator.bit_generator.state if generator is not None else None
    return arrays, {"streams": trainer.streams.state(), "rows": rows}


def restore_trainer_state(trainer, loaded):
    """Put the model parameters, chains and trainer state of checkpoint ``loaded`` into ``trainer``.

    The trainer's model and arrays are overwritten in place, so every
    reference to them (workspaces, the caller's model) sees the restored values.
    """
    for name, array in loaded.model.to_arrays().items():
        np.copyto(getattr(trainer.model, name), array)
    for name in TRAINER_ARRAYS:
        if getattr(trainer, name, None) is not None:
            np.copyto(getattr(trainer, name), loaded.arrays[f"trainer_{name}"])
    trainer.restore(loaded.chains)  # a device trainer uploads parameters, chains and state
    block = loaded.metadata["checkpoint"]
    trainer.streams.key = tuple(block["streams"]["key"])
    trainer.streams.draw = block["streams"]["draw"]
    if block.get("rows") is not None:
        trainer.generator.bit_generator.state = block["rows"]


def read_saved_config(run_dir):
    """The settings in ``run_dir/config.json`` as a dict, or None when there is no such file."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"resume: {path} is not readable ({exc})") from None
    if not isinstance(saved, dict):
        raise ValueError(f"resume: {path} is not a bmsample run configuration")
    return saved


def check_same_model(saved, model, run_dir):
    """Refuse to resume a run of ``saved`` settings as another model family (before other settings clash)."""
    trained = (saved or {}).get("model", "rbm")
    if model is not None and model != trained:
        raise ValueError(f"resume: the run in {run_dir} was trained as --model {trained}, not {model}; resume it "
                         "without --model, or train the new model in another out")


def config_differences(cfg, saved):
    """Names of the settings of ``cfg`` (TrainingConfig) that differ from ``saved``, with both values; a setting
    that ``saved`` lacks (a run from before it existed) has its default there."""
    defaults = {f.name: f.default for f in fields(cfg)}
    return [f"{name} (run {saved.get(name, defaults[name])!r}, now {value!r})" for name, value in asdict(cfg).items()
            if saved.get(name, defaults[name]) != value]


class CheckpointError(ValueError):
    """A checkpoint file that cannot be resumed from (the message names the file and the entry)."""


class CheckpointWarning(UserWarning):
    """An invalid checkpoint was passed over for an older one."""


#: Values the persistent chains of each family hold (None: any finite real).
CHAIN_VALUES = {"bernoulli_rbm": (0, 1), "ising": (-1, 1)}


def expected_checkpoint(trainer, total, batches_per_epoch):
    """What a checkpoint of this run must hold, for ``validate_checkpoint``: the fresh trainer's shapes."""
    model, chains = trainer.model, trainer.chains
    return {"family": model.family, "dtype": model.dtype.name, "total": total, "batches_per_epoch": batches_per_epoch,
            "arrays": {name: (array.shape, array.dtype) for name, array in model.to_arrays().items()},
            "chains": None if chains is None else chains.shape,
            "trainer_arrays": {f"trainer_{name}": (getattr(trainer, name).shape, getattr(trainer, name).dtype)
                               for name in TRAINER_ARRAYS if getattr(trainer, name, None) is not None},
            "rows": getattr(trainer, "generator", None) is not None}


def _check_generator_state(state, entry):
    try:
        np.random.PCG64().state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"entry {entry}: not a PCG64 generator state ({exc})") from None


def _check_count(value, entry, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CheckpointError(f"entry {entry}: expected an integer in [{low}, {high}], got {value!r}")
    return value


def _check_array(arrays, name, shape, dtype, values=None):
    if name not in arrays:
        raise CheckpointError(f"entry {name}: missing")
    array = arrays[name]
    if array.shape != tuple(shape) or array.dtype != np.dtype(dtype):
        raise CheckpointError(f"entry {name}: expected {dtype} of shape {tuple(shape)}, got {array.dtype} of shape "
                              f"{array.shape}")
    if not np.all(np.isfinite(array)):
        raise CheckpointError(f"entry {name}: contains NaN or inf")
    if values is not None and not np.isin(array, values).all():
        bad = array[~np.isin(array, values)].flat[0]
        raise CheckpointError(f"entry {name}: expected states in {set(values)}, got {bad!r}")


def validate_checkpoint(path, loaded, expected):
    """Check every entry of a loaded checkpoint against ``expected_checkpoint`` before it is used.

    Raises
    ------
    CheckpointError
        Naming the file and the first bad entry: missing, of another shape or
        dtype, non-binary chains, counters out of range, generator states that
        are not one.
    """
    try:
        _validate(Path(path), loaded, expected)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def _validate(path, loaded, expected):
    meta = loaded.metadata
    if meta.get("family") != expected["family"]:
        raise CheckpointError(f"entry metadata.family: the run is a {expected['family']}, the checkpoint a "
                              f"{meta.get('family')}")
    if meta.get("dtype") != expected["dtype"]:
        raise CheckpointError(f"entry metadata.dtype: expected {expected['dtype']}, got {meta.get('dtype')!r}")
    for name, (shape, dtype) in expected["arrays"].items():
        _check_array(loaded.arrays, name, shape, dtype)
    if expected["chains"] is None:
        if "chains" in loaded.arrays:
            raise CheckpointError("entry chains: this run keeps no persistent chains")
    else:
        _check_array(loaded.arrays, "chains", expected["chains"], expected["dtype"],
                     CHAIN_VALUES.get(expected["family"]))
    for name, (shape, dtype) in expected["trainer_arrays"].items():
        _check_array(loaded.arrays, name, shape, dtype)
    block = meta.get("checkpoint")
    if not isinstance(block, dict):
        raise CheckpointError("entry metadata.checkpoint: missing (not a resumable checkpoint)")
    for key in ("update", "epoch", "order", "streams", "data_sha256"):
        if key not in block:
            raise CheckpointError(f"entry metadata.checkpoint.{key}: missing")
    update = _check_count(block["update"], "metadata.checkpoint.update", 0, expected["total"])
    if path.name != LATEST and path.stem != f"update_{update:08d}":
        raise CheckpointError(f"entry metadata.checkpoint.update: {update} in a file named for another update")
    epoch = (update - 1) // expected["batches_per_epoch"] + 1 if update else 0
    _check_count(block["epoch"], "metadata.checkpoint.epoch", epoch, epoch)
    seconds = block.get("seconds", 0.0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < float("inf"):
        raise CheckpointError(f"entry metadata.checkpoint.seconds: expected a duration, got {seconds!r}")
    _check_generator_state(block["order"], "metadata.checkpoint.order")
    streams = block["streams"]
    if not isinstance(streams, dict) or not isinstance(streams.get("key"), list) or len(streams["key"]) != 2:
        raise CheckpointError(f"entry metadata.checkpoint.streams: expected a key of two words and a draw, got "
                              f"{streams!r}")
    for word in streams["key"]:
        _check_count(word, "metadata.checkpoint.streams.key", 0, 2**32 - 1)
    _check_count(streams.get("draw"), "metadata.checkpoint.streams.draw", 0, 2**63 - 1)
    if expected["rows"]:
        _check_generator_state(block.get("rows"), "metadata.checkpoint.rows")
    if not isinstance(block["data_sha256"], str):
        raise CheckpointError("entry metadata.checkpoint.data_sha256: expected a hex digest")


def last_checkpoint(run_dir, expected):
    """The valid checkpoint of ``run_dir`` with the highest update, as (path, ModelFile), or None if it has none.

    Each file is checked whole (``validate_checkpoint``).  An invalid one is
    passed over with a warning naming it and the checkpoint used instead.

    Raises
    ------
    CheckpointError
        There are checkpoints and none of them is valid (the newest's problem).
    """
    import warnings

    folder = Path(run_dir) / "checkpoints"
    valid, invalid = [], []
    for path in sorted(folder.glob(LATEST)) + sorted(folder.glob("update_*.npz"), reverse=True):
        try:
            loaded = io.read_model_file(path)
            validate_checkpoint(path, loaded, expected)
        except (OSError, io.ModelFileError, CheckpointError) as exc:
            invalid.append(str(exc))
            continue
        valid.append((path, loaded))
    if not valid:
        if invalid:
            raise CheckpointError(f"resume: {invalid[0]}")
        return None
    best = max(valid, key=lambda item: item[1].metadata["checkpoint"]["update"])
    for problem in invalid:
        warnings.warn(f"resume: {problem}; resuming from {best[0]} instead", CheckpointWarning, stacklevel=3)
    return best


def remove_stray_temporaries(run_dir):
    """Delete temporary files that an atomic write killed mid-way left behind (never a finished file)."""
    run_dir = Path(run_dir)
    for folder in (run_dir, run_dir / "checkpoints", run_dir / "trajectory"):
        for path in folder.glob(".*.tmp"):
            path.unlink(missing_ok=True)


class RunWriter:
    """Writes a run directory: config, log lines, checkpoints and the final model.

    Parameters
    ----------
    run_dir : RunDirectory
        Locked; the files go to its ``writing_dir``, and its ``commit`` is
        called after the first checkpoint (a run that replaces another then
        moves into place).
    cfg : TrainingConfig
    resumed_update : int, optional
        Continue the run in ``run_dir`` from this update: keep its files and
        drop the log lines after it (they are logged again).  Default: start
        afresh, removing a previous run's files.
    """

    def __init__(self, run_dir, cfg, resumed_update=None):
        self.run_dir = run_dir
        self.cfg = cfg
        if resumed_update is None:
            for name in RUN_FILES:
                (self.dir / name).unlink(missing_ok=True)
            shutil.rmtree(self.dir / "checkpoints", ignore_errors=True)
            shutil.rmtree(self.dir / "trajectory", ignore_errors=True)
            io.atomic_write(self.dir / "config.json",
                            lambda h: h.write(json.dumps(asdict(cfg), indent=2).encode() + b"\n"))
            self.history = []
        else:
            self.history = [record for record in self._read_log() if record["update"] <= resumed_update]
        lines = "".join(json.dumps(record) + "\n" for record in self.history)
        io.atomic_write(self.log_path, lambda h: h.write(lines.encode()))

    @property
    def dir(self):
        return self.run_dir.writing_dir

    @property
    def log_path(self):
        return self.dir / "log.jsonl"

    def _read_log(self):
        if not self.log_path.is_file():
            return []
        records = []
        for line in self.log_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:  # a line cut short by a kill
                break
        return records

    def log(self, record):
        with open(self.log_path, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def log_spaced_path(self, update):
        return self.dir / "checkpoints" / f"update_{update:08d}.npz"

    @property
    def latest_path(self):
        return self.dir / "checkpoints" / LATEST

    def checkpoint(self, path, model, trainer, block):
        """Write a checkpoint of ``model`` and ``trainer`` to ``path`` (in ``dir``); ``block`` holds update, epoch
        and order.  Returns the checkpoint's path, in the run's final place."""
        relative = Path(path).relative_to(self.dir)
        arrays, state = trainer_state(trainer)
        io.save_model(path, model, chains=trainer.chains, seed=self.cfg.seed,
                      extra_metadata={"checkpoint": {**block, **state}}, extra_arrays=arrays)
        self.run_dir.commit()
        return self.dir / relative

    def trajectory_model(self, update, model, total):
        """Write the parameters alone of ``model`` after ``update`` to ``trajectory/update_XXXXXXXX.npz`` (one of
        the ``total`` models of ``fit(trajectory=total)``)."""
        from ..trajectory import trajectory_metadata

        io.save_model(self.dir / "trajectory" / f"update_{update:08d}.npz", model, seed=self.cfg.seed,
                      extra_metadata=trajectory_metadata(update, total))

    def final(self, model, chains, log_weights=None):
        """``model.npz``: the model, its persistent chains and (Jarzynski) their log-weights."""
        extra = None if log_weights is None else {"chain_log_weights": log_weights}
        io.save_model(self.dir / "model.npz", model, chains=chains, seed=self.cfg.seed, extra_arrays=extra)


class UpdateSnapshot:
    """What an update changes before its parameter step, kept so that an interrupted update can be abandoned.

    The random streams, the p0 row generator and the persistent chains (PCD-k,
    on the host or the device; copied into a buffer allocated once).  The
    parameters and the centred gradient's offset change only after the
    sampling, which is the part a signal interrupts (``bmsample._steps``).
    """

    def __init__(self, trainer):
        self.trainer = trainer
        self.chains = None
        self.log_weights = None
        if getattr(trainer, "log_weights", None) is not None:
            self.log_weights = np.empty_like(trainer.log_weights)
        if trainer.estimate.persistent:
            persistent = self._persistent()
            if hasattr(persistent, "copy_to_device"):
                from numba import cuda

                self.chains = cuda.device_array_like(persistent)
            else:
                self.chains = np.empty_like(persistent)
        self.take()

    def _persistent(self):
        """The trainer's persistent chains themselves (a device trainer's ``chains`` is a host copy)."""
        device = getattr(self.trainer, "device_chains", None)
        return self.trainer.chains if device is None else device

    def take(self):
        """Remember the state before an update (cheap: two integers, a generator state, one chain copy)."""
        trainer = self.trainer
        self.streams = (trainer.streams.key, trainer.streams.draw)
        generator = getattr(trainer, "generator", None)
        self.rows = generator.bit_generator.state if generator is not None else None
        if self.chains is not None:
            _copy_into(self.chains, self._persistent())
        if self.log_weights is not None:
            np.copyto(self.log_weights, trainer.log_weights)

    def restore(self):
        """Put the remembered state back (the update in progress is dropped)."""
        trainer = self.trainer
        trainer.streams.key, trainer.streams.draw = self.streams
        if self.rows is not None:
            trainer.generator.bit_generator.state = self.rows
        if self.chains is not None:
            _copy_into(self._persistent(), self.chains)
        if self.log_weights is not None:
            np.copyto(trainer.log_weights, self.log_weights)


def _copy_into(target, source):
    """Copy ``source`` into ``target``: both host arrays, or both device arrays."""
    if hasattr(target, "copy_to_device"):
        target.copy_to_device(source)
    else:
        np.copyto(target, source)
