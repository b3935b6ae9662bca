"""Pictures: sample grids (no dependency) and curves (matplotlib, the ``plot`` extra).

``write_sample_grid`` writes a PNG with NumPy and zlib only, so
``bmsample sample --png`` works without matplotlib.  The other functions
import matplotlib when called and say how to install it when it is missing;
``import bmsample`` never imports it.
"""

import json
import struct
import zlib
from pathlib import Path

import numpy as np

from ..io import atomic_write


def _matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'bmsample[plot]'") from None
    return plt


def _png_bytes(image):
    """8-bit greyscale PNG of ``image`` (values in [0, 1]), shape (height, width)."""
    pixels = (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    height, width = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


#: Sample grids draw each image about this many pixels across (28 x 28 MNIST digits 3x, 8 x 8 digits 10x).
TILE_PIXELS = 80


def grid_image(samples, image_shape, *, columns=10, scale=None, low=None, high=None):
    """Tile ``samples`` (n, height * width) into one image with 1-pixel grey borders, ``scale`` x enlarged.

    Values are mapped linearly from [low, high] (default: the samples' range)
    to [0, 1]; ``scale`` defaults to about ``TILE_PIXELS`` pixels per image.
    """
    if scale is None:
        scale = max(1, round(TILE_PIXELS / max(image_shape)))
    samples = np.asarray(samples, dtype=np.float64)
    height, width = image_shape
    if samples.ndim != 2 or samples.shape[1] != height * width:
        raise ValueError(f"samples: expected shape (n, {height * width}) for images of {height} x {width}, "
                         f"got {samples.shape}")
    low = samples.min() if low is None else low
    high = samples.max() if high is None else high
    values = (samples - low) / (high - low) if high > low else np.zeros_like(samples)
    rows = -(-samples.shape[0] // columns)
    image = np.full((rows * (height + 1) + 1, columns * (width + 1) + 1), 0.5)
    for n, tile in enumerate(values):
        r, c = divmod(n, columns)
        image[1 + r * (height + 1):1 + r * (height + 1) + height,
              1 + c * (width + 1):1 + c * (width + 1) + width] = tile.reshape(height, width)
    return np.kron(image, np.ones((scale, scale)))


def write_sample_grid(path, samples, image_shape, *, columns=10, scale=None):
    """Write a PNG grid of image samples (e.g. MNIST chains); no matplotlib needed."""
    data = _png_bytes(grid_image(samples, image_shape, columns=columns, scale=scale))
    atomic_write(path, lambda handle: handle.write(data))


def plot_errors_vs_time(path, evaluation, *, title=None):
    """Moment errors (and AATS) of an ``Evaluation`` against sampling time, the model's k marked."""
    plt = _matplotlib()
    times = np.array([row["t"] for row in evaluation.rows], dtype=float)
    shown = times.copy()
    shown[shown == 0] = 0.5  # log axis: t = 0 drawn at 0.5
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("mean_rmse", "means rms error"), ("covariance_rmse", "connected correlations rms error")):
        ax.plot(shown, [row[key] for row in evaluation.rows], "o-", label=label)
    handles, top = [], ax
    if evaluation.rows and "aats" in evaluation.rows[0]:
        twin = top = ax.twinx()
        for key, style, label in (("aats", "s-", "AATS"), ("aa_truth", "^--", "AA_truth"), ("aa_syn", "v:", "AA_syn")):
            handles += twin.plot(shown, [row[key] for row in evaluation.rows], style, color="grey", ms=4, label=label)
        twin.axhline(0.5, color="grey", lw=0.5)
        twin.set_ylabel("AATS, AA_truth, AA_syn (0.5: like the data)")
        twin.set_ylim(0, 1)
    if evaluation.k:
        ax.axvline(evaluation.k, color="red", lw=1, ls=":", label=f"k = {evaluation.k}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sampling time t (steps from p0; t = 0 drawn at 0.5)")
    ax.set_ylabel("error against the data")
    # On the axes drawn last, so that no line crosses it.
    top.legend(handles=ax.get_legend_handles_labels()[0] + handles, loc="best", fontsize=7, framealpha=0.9)
    ax.set_title(title or "sample statistics vs sampling time")
    _save(fig, path, plt)


def read_training_log(log_path):
    """The records (dicts) of a run's ``log.jsonl``; a clear error for a file that is not one."""
    records = []
    for number, line in enumerate(Path(log_path).read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("update"), (int, float)):
            raise ValueError(f"log: {log_path} line {number} is not a training record (JSON with an update)")
        records.append(record)
    if not records:
        raise ValueError(f"log: {log_path} holds no records")
    return records


def plot_training_curves(path, records):
    """Every metric of the training ``records`` (from ``read_training_log``) against the update."""
    plt = _matplotlib()
    keys = [k for k in records[0] if k not in ("update", "epoch", "seconds")]
    fig, axes = plt.subplots(len(keys), 1, figsize=(6, 2 * len(keys)), sharex=True, squeeze=False)
    updates = [r["update"] for r in records]
    for ax, key in zip(axes[:, 0], keys):
        ax.plot(updates, [r.get(key, np.nan) for r in records], "-")
        ax.set_ylabel(key.replace("_", " "), fontsize=8)
        ax.set_xscale("log")
        ax.ticklabel_format(axis="y", useOffset=False)  # 29.17, not 0.0003 + 2.917e1
    axes[-1, 0].set_xlabel("update")
    _save(fig, path, plt)


def plot_gaussian_spectrum(path, prediction, learned=None):
    """Learned vs predicted (Rdm-k) vs ML eigenvalues of J against the data variances."""
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(6, 4))
    lam = prediction.data_variances
    ax.plot(lam, prediction.ml_eigenvalues, "k-", label="ML 1 / lambda")
    ax.plot(lam, prediction.discretised_ml_eigenvalues, "k--", label="CD / PCD (discretised ML)")
    ax.plot(lam, prediction.eigenvalues, "o-", label=f"Rdm-{prediction.k} prediction")
    if learned is not None:
        ax.plot(lam, learned, "x", ms=9, label="trained")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel("data variance lambda along a principal axis")
    ax.set_ylabel("eigenvalue of J")
    ax.legend(fontsize=8)
    _save(fig, path, plt)


def _plain_log_ticks(axis):
    """Plain numbers on a log axis, no minor labels (they collide on short ranges)."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())


def _save(fig, path, plt):
    fig.tight_layout()
    from io import BytesIO

    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))
