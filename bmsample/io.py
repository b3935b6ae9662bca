"""Versioned ``.npz`` model and checkpoint files (no pickle), written atomically.

A model file holds the parameter arrays of its family (Bernoulli RBM:
``weight_matrix``, ``vbias``, ``hbias`` and optionally ``data_means``;
Gaussian model: ``coupling_matrix``, ``field`` and optionally ``data_mean``,
``data_variance``; Gaussian-Bernoulli RBM: ``weight_matrix``, ``vbias``,
``hbias``, ``sigma``, ``data_mean``, ``data_std``; Ising model:
``coupling_matrix``, ``field``, ``data_magnetisation``), optionally ``chains`` (PCD persistent chains), and
``metadata``: a 0-d string array with JSON

    {"format": "bmsample", "schema_version": 1, "family": "bernoulli_rbm",
     "dtype": "float32", "num_visibles": ..., "num_hiddens": ...,
     "training": {"scheme": "rdm", "k": 10, "init": "uniform",
                  "sampler": "block-gibbs", ...},
     "seed": 0, "package_version": "..."}

Checkpoints are model files with a ``"checkpoint"`` block (update, epoch,
random-stream, data-order and row-generator states) in the metadata and the
trainer's other state as extra entries (``bmsample.training.checkpoints``).
"""

import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import families
from ._version import __version__

SCHEMA_VERSION = 1


class ModelFileError(ValueError):
    """A file that is not a readable bmsample model."""


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Call ``write(fileobj)`` on a temporary file beside ``path``, fsync, then rename.

    A crash at any instant leaves either the old file or the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp makes 0600 files
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def check_output_file(path, name, overwrite=False):
    """Refuse an output file that could not be written, or would replace a file, before any work is done.

    Parameters
    ----------
    path : str or Path
        The file to be written.
    name : str
        The argument or option that gave it, named in the error.
    overwrite : bool
        Allow replacing an existing file (otherwise refused, naming ``--overwrite``).
    """
    path = Path(path)
    parent = path.parent
    if path.is_dir():
        raise ValueError(f"{name}: {path} is a directory, expected a file name")
    if path.exists() and not overwrite:
        raise ValueError(f"{name}: {path} exists; pass --overwrite to replace it")
    if not parent.is_dir():
        reason = "is not a directory" if parent.exists() else "does not exist"
        raise ValueError(f"{name}: cannot write {path}: {parent} {reason}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: cannot write {path}: no permission to write in {parent}")
    return path


def model_metadata(model, *, seed=None, extra=None):
    meta = {
        "format": "bmsample",
        "schema_version": SCHEMA_VERSION,
        "family": model.family,
        "dtype": model.dtype.name,
        **model.shape_metadata(),
        "training": model.process,
        "seed": seed,
        "package_version": __version__,
    }
    if extra:
        meta.update(extra)
    return meta


def save_model(path, model, *, chains=None, seed=None, extra_metadata=None, extra_arrays=None):
    """Write ``model`` (and optional persistent ``chains``) to ``path`` atomically.

    Parameters
    ----------
    path : str or Path
        Destination ``.npz`` file; replaced atomically if it exists.
    model : BernoulliRBM, GaussianModel, GaussianBernoulliRBM or IsingModel
    chains : ndarray, shape (num_chains, num_units), optional
    seed : int, optional
        Seed of the run, recorded in the metadata.
    extra_metadata : dict, optional
        Merged into the metadata (e.g. a checkpoint block).
    extra_arrays : dict of str to ndarray, optional
        Further entries (e.g. a checkpoint's trainer state).
    """
    arrays = dict(model.to_arrays())
    arrays["metadata"] = np.array(json.dumps(model_metadata(model, seed=seed, extra=extra_metadata)))
    if chains is not None:
        arrays["chains"] = np.ascontiguousarray(chains)
    arrays.update(extra_arrays or {})
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


class ModelFile:
    """A loaded model file: ``model``, ``chains`` (or None), ``metadata`` (dict) and every entry (``arrays``)."""

    def __init__(self, model, chains, metadata, arrays=None):
        self.model = model
        self.chains = chains
        self.metadata = metadata
        self.arrays = arrays or {}


def read_model_file(path):
    """Load a model file, checking that it is a bmsample model.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ModelFileError
        The file is not an ``.npz`` archive, is corrupt, holds pickled data,
        or is not a bmsample model of a known family and schema.
    """
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"model: {path} is a directory, expected a model file (.npz)")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with open(path, "rb") as handle, _npz(handle, path) as archive:  # our handle: closed however np.load fails
            if "metadata" not in archive.files:
                raise ModelFileError(f"{path}: not a bmsample model file (no metadata entry)")
            metadata = json.loads(str(archive["metadata"]))
            if not isinstance(metadata, dict) or metadata.get("format") != "bmsample":
                raise ModelFileError(f"{path}: not a bmsample model file (foreign metadata)")
            version = metadata.get("schema_version")
            if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
                raise ModelFileError(f"{path}: schema version {version!r} is not supported by "
                                     f"bmsample {__version__} (supports <= {SCHEMA_VERSION})")
            family = families.model_classes().get(metadata.get("family"))
            if family is None:
                raise ModelFileError(f"{path}: unknown model family {metadata.get('family')!r}")
            if not isinstance(metadata.get("training") or {}, dict):
                raise ModelFileError(f"{path}: the metadata's training entry is not a JSON object")
            arrays = {name: archive[name] for name in archive.files if name != "metadata"}
    except ModelFileError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not a readable bmsample model file ({exc})") from None
    for name, array in arrays.items():
        if array.dtype.kind not in "biuf":
            raise ModelFileError(f"{path}: {name} holds {array.dtype} values, expected real numbers")
    try:
        model = family.from_arrays(arrays, metadata)
    except KeyError as exc:
        raise ModelFileError(f"{path}: model file lacks {exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: inconsistent model file ({exc})") from None
    for name, array in model.to_arrays().items():
        if not np.all(np.isfinite(array)):
            raise ModelFileError(f"{path}: {name} contains NaN or inf")
    return ModelFile(model, arrays.get("chains"), metadata, arrays)


@contextmanager
def _npz(handle, path):
    """The ``.npz`` archive read from ``handle`` (pickles refused), or ModelFileError for another file type."""
    if handle.read(4) != b"PK\x03\x04":  # np.load would try other formats, pickles among them
        raise ModelFileError(f"{path}: not a readable bmsample model file (not an .npz archive)")
    handle.seek(0)
    loaded = np.load(handle, allow_pickle=False)
    with loaded as archive:
        yield archive


def load_model(path):
    """Load the model stored at ``path`` (see ``read_model_file``)."""
    return read_model_file(path).model


def sample_arrays(result):
    """The arrays of a samples file for ``result`` (a ``SampleResult``): ``visible`` and what it recorded.

    The chain means of +-1 spins (a result with ``correlations``) are stored as ``magnetisations``.
    """
    arrays = {"visible": result.visible}
    first_moment = "magnetisations" if result.correlations is not None else "means"
    for name, value in (("recorded", result.recorded), ("visible_means", result.visible_means),
                        (first_moment, result.means), ("covariances", result.covariances),
                        ("correlations", result.correlations)):
        if value is not None:
            arrays[name] = value
    if result.times:
        arrays["times"] = np.asarray(result.times)
    return arrays


def save_samples(path, result, log_weights=None, **metadata):
    """Write ``result`` (a ``SampleResult``) to the ``.npz`` samples file ``path``, atomically.

    The file holds ``sample_arrays(result)``, ``log_weights`` where given (importance weights of the chains,
    one per row of ``visible``) and a JSON ``metadata`` entry: ``init``, ``steps``, ``num_chains``,
    ``package_version`` and the given ``metadata`` (``bmsample sample`` adds ``model``, ``family`` and
    ``seed``).
    """
    arrays = sample_arrays(result)
    if log_weights is not None:
        arrays["log_weights"] = np.asarray(log_weights, dtype=np.float64)
    meta = {**metadata, "init": result.init, "steps": result.steps, "num_chains": int(result.visible.shape[0]),
            "package_version": __version__}
    arrays["metadata"] = np.array(json.dumps(meta))
    atomic_write(path, lambda handle: np.savez(handle, **arrays))
