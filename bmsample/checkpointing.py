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
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import io
from ._errors import TrainingPreempted  # noqa: F401 (raised as checkpointing.TrainingPreempted)

LATEST = "latest.npz"
#: Trainer attributes holding arrays that change during training (besides the model and the chains).
TRAINER_ARRAYS = ("hidden_offset",)
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
    if hasattr(trainer, "restore_device"):  # a device trainer: parameters, chains and state live on the GPU
        trainer.restore_device(loaded.chains)
    elif trainer.chains is not None:
        np.copyto(trainer.chains, loaded.chains)
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


def config_differences(cfg, saved):
    """Names of the settings of ``cfg`` (TrainingConfig) that differ from ``saved``, with both values."""
    return [f"{name} (run {saved.get(name)!r}, now {value!r})" for name, value in asdict(cfg).items()
            if saved.get(name) != value]


def last_checkpoint(run_dir):
    """The checkpoint of ``run_dir`` with the highest update, as (path, ModelFile), or None.

    Raises
    ------
    ValueError
        A checkpoint file is unreadable or lacks its checkpoint block.
    """
    folder = Path(run_dir) / "checkpoints"
    best = None
    for path in sorted(folder.glob("update_*.npz")) + sorted(folder.glob(LATEST)):
        try:
            loaded = io.read_model_file(path)
        except (OSError, io.ModelFileError) as exc:
            raise ValueError(f"resume: {exc}") from None
        block = loaded.metadata.get("checkpoint")
        if not isinstance(block, dict) or "order" not in block:
            raise ValueError(f"resume: {path} holds no resumable checkpoint state")
        if best is None or block["update"] > best[1].metadata["checkpoint"]["update"]:
            best = (path, loaded)
    return best


def remove_stray_temporaries(run_dir):
    """Delete temporary files that an atomic write killed mid-way left behind (never a finished file)."""
    run_dir = Path(run_dir)
    for folder in (run_dir, run_dir / "checkpoints"):
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

    def final(self, model, chains):
        io.save_model(self.dir / "model.npz", model, chains=chains, seed=self.cfg.seed)


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
        if trainer.config.scheme == "pcd":
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

    def restore(self):
        """Put the remembered state back (the update in progress is dropped)."""
        trainer = self.trainer
        trainer.streams.key, trainer.streams.draw = self.streams
        if self.rows is not None:
            trainer.generator.bit_generator.state = self.rows
        if self.chains is not None:
            _copy_into(self._persistent(), self.chains)


def _copy_into(target, source):
    """Copy ``source`` into ``target``: both host arrays, or both device arrays."""
    if hasattr(target, "copy_to_device"):
        target.copy_to_device(source)
    else:
        np.copyto(target, source)
