"""Bundled datasets and loaders for data files.

Bundled sets (shipped in the package, nothing is downloaded):

* ``mnist``: binarised MNIST training set, 60000 x 784 (pixel >= 128);
* ``mnist-test``: binarised MNIST test set, 10000 x 784;
* ``digits``: binarised scikit-learn digits, 1797 x 64 (value >= 8);
* ``wine``: UCI wine, 178 x 13 real features;
* ``breast-cancer``: UCI breast cancer Wisconsin (diagnostic), 569 x 30 real features.

``gaussian_data`` draws Gaussian data with a prescribed spectrum.

Files: ``.npy``; ``.npz`` with one array or a key ``X`` or ``data``;
``.txt`` (whitespace separated) and ``.csv`` (comma separated).
"""

import json
import warnings
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

BUNDLED = {"mnist": "mnist.npz", "mnist-test": "mnist-test.npz", "digits": "digits.npz",
           "wine": "wine.npz", "breast-cancer": "breast-cancer.npz"}
FILE_SUFFIXES = (".npy", ".npz", ".txt", ".csv")


@dataclass
class Dataset:
    """A loaded dataset.

    Attributes
    ----------
    data : ndarray, shape (num_samples, num_features)
    name : str
        Bundled name or file path.
    labels : ndarray or None
    image_shape : tuple or None
        (height, width) for image data.
    metadata : dict
    """

    data: np.ndarray
    name: str
    labels: np.ndarray | None = None
    image_shape: tuple | None = None
    metadata: dict | None = None


def _bundled_path(filename):
    try:
        path = resources.files("bmsample.data") / filename
        if path.is_file():
            return path
    except ModuleNotFoundError:
        pass
    # Running from a source checkout: the package maps data/ to bmsample.data.
    return Path(__file__).resolve().parent.parent / "data" / filename


def _load_bundled(name, dtype):
    with resources.as_file(_bundled_path(BUNDLED[name])) as path:
        with np.load(path, allow_pickle=False) as archive:
            if "packed" in archive.files:  # binary sets are bit-packed
                _, d = (int(x) for x in archive["shape"])
                values = np.unpackbits(archive["packed"], axis=1, count=d)
            else:
                values = archive["data"]
            labels = archive["labels"]
            meta = json.loads(str(archive["metadata"]))
    image = meta.get("image_shape")
    return Dataset(values.astype(dtype), name, labels, tuple(image) if image else None, meta)


def _load_file(path, dtype):
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"data: {path} is a directory, expected a data file ({', '.join(FILE_SUFFIXES)})")
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise ValueError(f"data: unknown file type {suffix!r} for {path}; "
                         f"expected one of {', '.join(FILE_SUFFIXES)} or a bundled name "
                         f"({', '.join(BUNDLED)})")
    if not path.is_file():
        raise FileNotFoundError(f"data: file not found: {path}")
    try:
        if suffix in BINARY_MAGIC:
            array = _load_binary(path, suffix)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an empty file is reported below, not warned about
                # utf-8-sig: a byte-order mark (as spreadsheet programs write) is not part of the first number
                array = np.loadtxt(path, delimiter="," if suffix == ".csv" else None, ndmin=2, encoding="utf-8-sig")
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        message = str(exc)
        if message.startswith("data:"):
            raise
        reason = message.splitlines()[0] if message else type(exc).__name__
        raise ValueError(f"data: cannot read {path}: {reason}") from None
    if array.dtype == object:
        raise ValueError(f"data: {path} holds an object array")
    return Dataset(array, str(path), metadata={"source": str(path)})


#: How a NumPy file starts: without it np.load would try other formats (pickles among them).
BINARY_MAGIC = {".npy": (b"\x93NUMPY", "NumPy header"), ".npz": (b"PK\x03\x04", "zip archive")}


def _load_binary(path, suffix):
    """The array of a ``.npy`` file, or of an ``.npz`` with one array or a key ``X`` / ``data``."""
    magic, what = BINARY_MAGIC[suffix]
    with open(path, "rb") as handle:
        if handle.read(len(magic)) != magic:
            raise ValueError(f"data: cannot read {path}: not a valid {suffix} file (it does not start with a {what})")
        handle.seek(0)
        if suffix == ".npy":
            return np.load(handle, allow_pickle=False)
        with np.load(handle, allow_pickle=False) as archive:
            keys = archive.files
            key = next((k for k in ("X", "data") if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise ValueError(f"data: {path} holds {len(keys)} arrays ({', '.join(keys)}); "
                                 "expected one array or a key 'X' or 'data'")
            return archive[key]


def load_dataset(name_or_path, dtype="float32"):
    """Load a bundled dataset by name, or a data file.

    Parameters
    ----------
    name_or_path : str or Path
        ``"mnist"``, ``"mnist-test"``, ``"digits"``, or a path to a ``.npy``,
        ``.npz``, ``.txt`` or ``.csv`` file.
    dtype : str
        dtype of the returned bundled data (files keep their own dtype until
        validated by the model).

    Returns
    -------
    Dataset
    """
    key = str(name_or_path)
    if key in BUNDLED:
        return _load_bundled(key, np.dtype(dtype))
    if Path(key).suffix.lower() in FILE_SUFFIXES or Path(key).exists():
        return _load_file(key, dtype)
    raise ValueError(f"data: unknown dataset {key!r}; bundled datasets are {', '.join(BUNDLED)}, "
                     f"or give a file ({', '.join(FILE_SUFFIXES)})")


def list_datasets():
    """Bundled datasets: list of dicts with name, shape, licence, attribution, binarisation."""
    out = []
    for name, filename in BUNDLED.items():
        with resources.as_file(_bundled_path(filename)) as path:
            with np.load(path, allow_pickle=False) as archive:
                meta = json.loads(str(archive["metadata"]))
        shape = (int(meta["n_samples"]), int(meta["n_features"]))
        out.append({"name": name, "shape": shape, "licence": meta.get("licence"),
                    "attribution": meta.get("attribution"), "values": meta.get("threshold", "real")})
    return out


def gaussian_data(variances, num_samples, *, mean=None, rotate=True, rng=None, dtype="float64"):
    """Samples of N(mean, V diag(variances) V^T) with a prescribed spectrum.

    Parameters
    ----------
    variances : array_like, shape (N,)
        Eigenvalues of the covariance (positive).
    num_samples : int
    mean : array_like, shape (N,), optional
        Zero by default.
    rotate : bool
        Random orthogonal eigenvectors V (Haar); identity when False.
    rng : None, int, SeedSequence or Generator
    dtype : str

    Returns
    -------
    data : ndarray, shape (num_samples, N)
    eigenvectors : ndarray, shape (N, N)
        Columns are the principal axes, in the order of ``variances``.
    """
    from ._rng import seed_sequence
    from ._validation import check_dtype, check_int

    variances = np.asarray(variances, dtype=np.float64)
    if variances.ndim != 1 or variances.size == 0 or not np.all(np.isfinite(variances)) or np.any(variances <= 0):
        raise ValueError("variances: expected a non-empty 1-d array of positive finite numbers")
    num_samples = check_int(num_samples, "num_samples")
    n = variances.size
    gen = np.random.default_rng(seed_sequence(rng))
    if rotate:
        q, r = np.linalg.qr(gen.standard_normal((n, n)))
        eigenvectors = q * np.sign(np.diag(r))
    else:
        eigenvectors = np.eye(n)
    mean = np.zeros(n) if mean is None else np.asarray(mean, dtype=np.float64)
    data = (gen.standard_normal((num_samples, n)) * np.sqrt(variances)) @ eigenvectors.T + mean
    return data.astype(check_dtype(dtype)), eigenvectors
