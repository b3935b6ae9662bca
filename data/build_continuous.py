#!/usr/bin/env python3
"""Build the bundled continuous datasets ``wine.npz`` and ``breast-cancer.npz``.

Source
------
scikit-learn ships two small real-valued UCI tables inside its wheel:

* ``sklearn/datasets/data/wine_data.csv``     -- UCI "Wine" (178 x 13, 3 classes)
* ``sklearn/datasets/data/breast_cancer.csv`` -- UCI "Breast Cancer Wisconsin
  (Diagnostic)" (569 x 30, 2 classes)

Obtain a wheel with only the pip client, run in any scratch directory
(nothing is installed)::

    pip download scikit-learn==1.9.1 --no-deps -d .

The bundled files were built from the scikit-learn 1.9.1 wheel, whose CSV
files have sha256::

    wine_data.csv      10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede
    breast_cancer.csv  fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed

(other releases are expected to carry the same files; compare the hashes the
script prints/records).  Each CSV starts with a header line
``n_samples,n_features,<class names...>``, followed by rows of
``n_features`` decimal numbers and an integer class label.

The feature names are not in the CSV files.  They are read from the
scikit-learn loader source ``sklearn/datasets/_base.py`` (the
``feature_names`` list in ``load_wine`` / ``load_breast_cancer``), parsed
with ``ast`` -- never imported or executed.

Usage
-----
::

    python data/build_continuous.py scikit_learn-*.whl              [--out DIR] [--only NAME]
    python data/build_continuous.py wine_data.csv --base-py _base.py [--out DIR]

With a wheel, both files are written (or only ``--only wine`` /
``--only breast-cancer``); the wheel is read with ``zipfile``.  With a bare
CSV, the dataset is recognised from its header, and ``--base-py`` must name
the ``sklearn/datasets/_base.py`` file of the same scikit-learn release (for
the feature names).  Output goes into DIR (default: the directory of this
script).  ``sha256_source`` in the metadata is the sha256 of the CSV file
itself (identical across wheels of the same release); when a wheel is given,
its file name and sha256 are recorded as well.  No hash is enforced.

Processing
----------
None beyond parsing: every value is parsed with Python's ``float`` (the same
correctly rounded conversion scikit-learn's ``load_csv_data`` uses) into
float64; no standardisation, no reordering.  Labels are kept as scikit-learn
encodes them (wine: 0, 1, 2 for class_0..class_2; breast cancer: 0 =
malignant, 1 = benign) and stored as uint8.  Each ``.npz`` is written with
``np.savez_compressed`` and contains

* ``data``          float64, (n_samples, n_features)
* ``labels``        uint8, (n_samples,)
* ``feature_names`` 1-d unicode array, (n_features,)
* ``metadata``      0-d unicode array holding a JSON document

and loads with ``np.load(path, allow_pickle=False)``.  The arrays are a pure
function of the input; ``np.savez_compressed`` gives zip members a fixed
1980 date, so the .npz bytes are reproducible too (checked with numpy 2.4 /
Python 3.11).

Only numpy and the Python standard library are used.
"""

import argparse
import ast
import csv
import hashlib
import io
import json
import os
import zipfile

import numpy as np

BASE_PY = "sklearn/datasets/_base.py"

DATASETS = {
    "wine": {
        "member": "sklearn/datasets/data/wine_data.csv",
        "loader": "load_wine",
        "n_samples": 178,
        "n_features": 13,
        "class_names": ["class_0", "class_1", "class_2"],
        "class_counts": [59, 71, 48],
        "licence": "CC BY 4.0",
        "source": (
            "scikit-learn sklearn/datasets/data/wine_data.csv (UCI Wine: "
            "chemical analysis of wines from three cultivars in one region "
            "of Italy); feature names from sklearn/datasets/_base.py load_wine"
        ),
        "attribution": (
            "Wine, UCI Machine Learning Repository, licensed CC BY 4.0. "
            "Original owners: Forina, M. et al., PARVUS - An Extendable "
            "Package of Programs for Data Exploration, Classification and "
            "Correlation, Institute of Pharmaceutical and Food Analysis and "
            "Technologies, Genoa, Italy. As redistributed by scikit-learn "
            "(sklearn/datasets/data/wine_data.csv, class labels 1..3 recoded "
            "0..2 by scikit-learn). Values unchanged; converted to NumPy .npz. "
            "See LICENSE-wine."
        ),
    },
    "breast-cancer": {
        "member": "sklearn/datasets/data/breast_cancer.csv",
        "loader": "load_breast_cancer",
        "n_samples": 569,
        "n_features": 30,
        "class_names": ["malignant", "benign"],
        "class_counts": [212, 357],
        "licence": "CC BY 4.0",
        "source": (
            "scikit-learn sklearn/datasets/data/breast_cancer.csv (UCI Breast "
            "Cancer Wisconsin (Diagnostic), WDBC); feature names from "
            "sklearn/datasets/_base.py load_breast_cancer"
        ),
        "attribution": (
            "Breast Cancer Wisconsin (Diagnostic), W. H. Wolberg, W. N. Street "
            "and O. L. Mangasarian (1995), UCI Machine Learning Repository, "
            "licensed CC BY 4.0. As redistributed by scikit-learn "
            "(sklearn/datasets/data/breast_cancer.csv: ID column dropped, "
            "diagnosis recoded 0 = malignant, 1 = benign by scikit-learn). "
            "Values unchanged; converted to NumPy .npz. "
            "See LICENSE-breast-cancer."
        ),
    },
}


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def feature_names_from_base_py(source, loader):
    """Return the literal ``feature_names`` list assigned in function ``loader``.

    ``source`` is the text of ``sklearn/datasets/_base.py``.  The value may be
    a list literal or ``np.array([...])``; it is evaluated with
    ``ast.literal_eval`` only.
    """
    tree = ast.parse(source)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == loader]
    if len(funcs) != 1:
        raise ValueError(f"function {loader} not found in {BASE_PY}")
    found = []
    for node in ast.walk(funcs[0]):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "feature_names"):
            value = node.value
            if isinstance(value, ast.Call) and value.args:  # np.array([...])
                value = value.args[0]
            found.append(ast.literal_eval(value))
    if len(found) != 1:
        raise ValueError(f"expected one feature_names assignment in {loader}, found {len(found)}")
    names = found[0]
    if not (isinstance(names, list) and all(isinstance(s, str) for s in names)):
        raise ValueError(f"feature_names in {loader} is not a list of strings")
    return names


def parse_csv(raw, spec):
    """Parse a scikit-learn dataset CSV; return (data float64, labels uint8)."""
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    header, body = rows[0], [r for r in rows[1:] if r]
    n, d = spec["n_samples"], spec["n_features"]
    if [int(header[0]), int(header[1])] != [n, d] or header[2:] != spec["class_names"]:
        raise ValueError(f"unexpected header {header}")
    if len(body) != n or any(len(r) != d + 1 for r in body):
        raise ValueError("unexpected number of rows or columns")
    data = np.array([[float(v) for v in r[:-1]] for r in body], dtype=np.float64)
    labels = np.array([int(r[-1]) for r in body], dtype=np.int64)
    if not np.all(np.isfinite(data)):
        raise ValueError("non-finite value in data")
    k = len(spec["class_names"])
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"label out of range 0..{k - 1}")
    counts = np.bincount(labels, minlength=k).tolist()
    if counts != spec["class_counts"]:
        raise ValueError(f"class counts {counts} != expected {spec['class_counts']}")
    return data, labels.astype(np.uint8)


def identify(raw):
    """Name of the dataset whose header matches the CSV bytes ``raw``."""
    header = raw.split(b"\n", 1)[0].decode("utf-8").strip().split(",")
    for name, spec in DATASETS.items():
        if header == [str(spec["n_samples"]), str(spec["n_features"])] + spec["class_names"]:
            return name
    raise ValueError(f"CSV header {header} matches no known dataset")


def build(name, raw, base_py_text, info, out_dir):
    spec = DATASETS[name]
    data, labels = parse_csv(raw, spec)
    names = feature_names_from_base_py(base_py_text, spec["loader"])
    if len(names) != spec["n_features"]:
        raise ValueError(f"{len(names)} feature names for {spec['n_features']} features")
    digest = sha256(raw)
    meta = {
        "name": name,
        "kind": "continuous",
        "source": spec["source"],
        "licence": spec["licence"],
        "attribution": spec["attribution"],
        "n_samples": int(data.shape[0]),
        "n_features": int(data.shape[1]),
        "class_names": spec["class_names"],
        "sha256_source": digest,
    }
    meta.update(info)
    path = os.path.join(out_dir, f"{name}.npz")
    np.savez_compressed(
        path,
        data=data,
        labels=labels,
        feature_names=np.array(names, dtype=np.str_),
        metadata=np.array(json.dumps(meta, sort_keys=True), dtype=np.str_),
    )
    print(f"wrote {path}: {data.shape}, class counts "
          f"{np.bincount(labels).tolist()}, sha256({os.path.basename(spec['member'])}) {digest}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", help="scikit-learn wheel (.whl), or wine_data.csv / breast_cancer.csv")
    ap.add_argument("--base-py", help=f"{BASE_PY} of the same release (needed with a bare CSV)")
    ap.add_argument("--only", choices=sorted(DATASETS), help="build only this dataset (wheel input)")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="output directory (default: directory of this script)")
    args = ap.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    if zipfile.is_zipfile(args.source):
        if args.base_py:
            ap.error("--base-py is only for a bare CSV; a wheel supplies its own")
        with open(args.source, "rb") as f:
            archive_digest = sha256(f.read())
        info = {"source_archive": os.path.basename(args.source),
                "source_archive_sha256": archive_digest}
        names = [args.only] if args.only else list(DATASETS)
        with zipfile.ZipFile(args.source) as z:
            base_py_text = z.read(BASE_PY).decode("utf-8")
            for name in names:
                build(name, z.read(DATASETS[name]["member"]), base_py_text, info, args.out)
    else:
        if not args.base_py:
            ap.error(f"a bare CSV needs --base-py (the {BASE_PY} of the same release)")
        with open(args.source, "rb") as f:
            raw = f.read()
        with open(args.base_py, encoding="utf-8") as f:
            base_py_text = f.read()
        name = identify(raw)
        if args.only and args.only != name:
            ap.error(f"{args.source} is the {name} CSV, not {args.only}")
        build(name, raw, base_py_text, {}, args.out)


if __name__ == "__main__":
    main()
