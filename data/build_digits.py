#!/usr/bin/env python3
"""Build the bundled binarised scikit-learn digits file ``digits.npz``.

Source
------
scikit-learn ships the UCI "Optical Recognition of Handwritten Digits" data
(the 1797-image test part) as ``sklearn/datasets/data/digits.csv.gz`` inside
its wheel.  Obtain a wheel with only the pip client, run in any scratch
directory (nothing is installed)::

    pip download scikit-learn==1.9.1 --no-deps -d .

The bundled file was built from the scikit-learn 1.9.1 wheel, whose
``digits.csv.gz`` has sha256::

    09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22

(other releases are expected to carry the same file; compare the hash the
script prints/records).  The CSV has 1797 rows of 65 integers: 64 pixel
values in 0..16 (8x8 image, row-major) followed by the label 0..9.

Usage
-----
::

    python data/build_digits.py scikit_learn-*.whl    [--out DIR]
    python data/build_digits.py digits.csv.gz         [--out DIR]

writes ``digits.npz`` into DIR (default: the directory of this script).  The
wheel is read with ``zipfile``; nothing is installed.  ``sha256_source`` in
the metadata is the sha256 of ``digits.csv.gz`` itself (identical across
wheels of the same release), and when a wheel is given its file name and
sha256 are recorded as well.  No hash is enforced.

Processing
----------
Values are binarised as ``value >= 8 -> 1``, else 0.  Rows stay in the order
of the CSV.  The ``.npz`` is written with ``np.savez_compressed`` and contains

* ``packed``   uint8, ``np.packbits(X, axis=1)`` of the (1797, 64) 0/1 matrix
* ``shape``    int64, ``[n_samples, n_features]``
* ``labels``   uint8, (n_samples,)
* ``metadata`` 0-d unicode array holding a JSON document

and loads with ``np.load(path, allow_pickle=False)``.  The arrays are a pure
function of the input CSV. ``np.savez_compressed`` gives
zip members a fixed 1980 date, so the .npz bytes were reproducible too
(checked with numpy 2.4 / Python 3.11).

Only numpy and the Python standard library are used.
"""

import argparse
import gzip
import hashlib
import json
import os
import zipfile

import numpy as np

MEMBER = "sklearn/datasets/data/digits.csv.gz"
THRESHOLD = 8
N_SAMPLES = 1797
N_FEATURES = 64

LICENCE = "CC BY 4.0"
ATTRIBUTION = (
    "Optical Recognition of Handwritten Digits, E. Alpaydin and C. Kaynak "
    "(1998), UCI Machine Learning Repository, licensed CC BY 4.0; as "
    "redistributed by scikit-learn (sklearn/datasets/data/digits.csv.gz). "
    "Modified: values binarised (value >= 8 -> 1, else 0) and bit-packed. "
    "See LICENSE-digits."
)


def load_source(path):
    """Return (csv.gz bytes, info dict) from a wheel or a digits.csv.gz file."""
    with open(path, "rb") as f:
        raw = f.read()
    info = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            gz = z.read(MEMBER)
        info["source_archive"] = os.path.basename(path)
        info["source_archive_sha256"] = hashlib.sha256(raw).hexdigest()
    else:
        gz = raw
    return gz, info


def parse_csv(gz):
    text = gzip.decompress(gz).decode("ascii")
    rows = [line.split(",") for line in text.splitlines() if line.strip()]
    data = np.array(rows, dtype=np.int64)
    if data.shape != (N_SAMPLES, N_FEATURES + 1):
        raise ValueError(f"unexpected CSV shape {data.shape}")
    pixels, labels = data[:, :-1], data[:, -1]
    if pixels.min() < 0 or pixels.max() > 16:
        raise ValueError("pixel value out of range 0..16")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError("label out of range 0..9")
    return pixels, labels.astype(np.uint8)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", help="scikit-learn wheel (.whl) or digits.csv.gz")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="output directory (default: directory of this script)")
    args = ap.parse_args(argv)

    gz, info = load_source(args.source)
    digest = hashlib.sha256(gz).hexdigest()
    pixels, labels = parse_csv(gz)
    X = (pixels >= THRESHOLD).astype(np.uint8)

    meta = {
        "name": "digits",
        "source": f"scikit-learn {MEMBER} (UCI optdigits test set, 8x8 counts 0..16)",
        "licence": LICENCE,
        "attribution": ATTRIBUTION,
        "threshold": f"value >= {THRESHOLD}",
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "sha256_source": digest,
        "image_shape": [8, 8],
    }
    meta.update(info)

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "digits.npz")
    np.savez_compressed(
        path,
        packed=np.packbits(X, axis=1),
        shape=np.array(X.shape, dtype=np.int64),
        labels=labels,
        metadata=np.array(json.dumps(meta, sort_keys=True), dtype=np.str_),
    )
    print(f"wrote {path}: {X.shape}, ones fraction {X.mean():.4f}, sha256(digits.csv.gz) {digest}")


if __name__ == "__main__":
    main()
