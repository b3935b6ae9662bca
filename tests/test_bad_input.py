"""Bad input on the ``bmsample`` command line: exit status 2, one line on stderr
("error: ..."), no traceback, and nothing already in the output location changes.

``fit`` cases write into a copy of a finished run with ``--overwrite``, so the
only thing that can stop them is the bad input; ``sample`` cases likewise
target an existing output file with ``--overwrite``.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bmsample.cli.main import main

SMALL = ["--hidden", "16", "--batch-size", "50", "-k", "2", "--seed", "0", "--threads", "1", "--quiet"]
UPDATES = ["--updates", "20"]
PREVIOUS_SAMPLES = b"previous samples file"


def make_runner():
    try:  # click < 8.2 mixes stderr into stdout unless asked not to
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2: stderr is always available separately
        return CliRunner()


def invoke(args):
    return make_runner().invoke(main, [str(a) for a in args])


def snapshot(directory):
    """Every file under ``directory``: relative path -> (bytes, mtime_ns)."""
    directory = Path(directory)
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns) if p.is_file() else None
            for p in sorted(directory.rglob("*"))}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    result = invoke(["fit", "digits", "--out", out, *SMALL, *UPDATES])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def digits_model(finished_run):
    return finished_run / "model.npz"


# --- input files -------------------------------------------------------------------------

def binary_rows(rows=100, cols=64, dtype=np.float32):
    return (np.random.default_rng(0).random((rows, cols)) < 0.3).astype(dtype)


def with_value(value, dtype=np.float32):
    array = binary_rows(dtype=dtype)
    array[3, 5] = value
    return array


class Tripwire:
    """Unpickling this creates a marker file: proof that a file was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def write_inputs(d):
    """Create the bad (and a few good) input files in directory ``d``."""
    np.save(d / "two.npy", with_value(2, np.int64))
    np.save(d / "half.npy", with_value(0.5))
    np.save(d / "minus.npy", with_value(-1))
    np.save(d / "nan.npy", with_value(np.nan))
    np.save(d / "inf.npy", with_value(np.inf))
    np.save(d / "empty.npy", np.zeros((0, 64), np.float32))
    np.save(d / "no_columns.npy", np.zeros((100, 0), np.float32))
    np.save(d / "cols10.npy", binary_rows(cols=10))
    np.save(d / "vector.npy", binary_rows(rows=1, cols=64)[0])
    np.save(d / "cube.npy", binary_rows().reshape(100, 8, 8))
    np.save(d / "strings.npy", np.array([["0", "1"], ["1", "0"]]))
    np.save(d / "objects.npy", np.array([[Tripwire(d / "unpickled_npy")]], dtype=object), allow_pickle=True)
    np.savez(d / "several.npz", a=binary_rows(), b=binary_rows())
    np.savez(d / "nan_x.npz", X=with_value(np.nan), other=binary_rows())
    (d / "random.npy").write_bytes(np.random.default_rng(1).bytes(4096))
    (d / "random.npz").write_bytes(np.random.default_rng(2).bytes(4096))
    good = d / "good.npz"
    np.savez(good, X=binary_rows())
    (d / "truncated.npz").write_bytes(good.read_bytes()[:300])
    (d / "nonnumeric.csv").write_text("0,1,0\n1,x,0\n0,0,1\n")
    (d / "ragged.csv").write_text("0,1,0\n1,0\n0,0,1\n")
    (d / "twos.txt").write_text("0 1 2\n1 0 0\n")
    (d / "empty.csv").write_text("")
    (d / "data.dat").write_bytes(b"0 1\n")
    (d / "folder.npy").mkdir()


def write_models(d, digits_model):
    """Files given as MODEL to ``sample``."""
    np.savez(d / "foreign.npz", x=np.arange(5))
    # A pickled object array under "metadata" and under a weight name: must never be unpickled.
    np.savez(d / "pickled_meta.npz", metadata=np.array([Tripwire(d / "unpickled_meta")], dtype=object))
    with np.load(digits_model, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    pickled = dict(arrays, weight_matrix=np.array([[Tripwire(d / "unpickled_weights")]], dtype=object))
    np.savez(d / "pickled_weights.npz", **pickled)
    with open(d / "pickle.npz", "wb") as handle:
        pickle.dump(Tripwire(d / "unpickled_raw"), handle)
    with open(d / "plain_array.npz", "wb") as handle:  # an .npy payload named .npz
        np.save(handle, np.zeros((3, 3)))
    (d / "text.npz").write_text("this is not a model\n")
    (d / "model.txt").write_text("weight_matrix = 1\n")
    (d / "random_model.npz").write_bytes(np.random.default_rng(3).bytes(4096))
    (d / "truncated_model.npz").write_bytes(digits_model.read_bytes()[:500])
    (d / "empty_model.npz").write_bytes(b"")
    bad_meta = dict(arrays, metadata=np.array(json.dumps({"format": "bmsample", "schema_version": 99,
                                                          "family": "bernoulli_rbm"})))
    np.savez(d / "future_model.npz", **bad_meta)
    family = dict(arrays, metadata=np.array(json.dumps({"format": "bmsample", "schema_version": 1,
                                                        "family": "gaussian_rbm"})))
    np.savez(d / "family_model.npz", **family)
    broken = dict(arrays, vbias=np.zeros(3, np.float32))
    np.savez(d / "inconsistent_model.npz", **broken)
    nan_weights = dict(arrays, weight_matrix=np.full_like(arrays["weight_matrix"], np.nan))
    np.savez(d / "nan_model.npz", **nan_weights)
    missing = {k: v for k, v in arrays.items() if k != "hbias"}
    np.savez(d / "missing_model.npz", **missing)
    not_json = dict(arrays, metadata=np.array("{not json"))
    np.savez(d / "notjson_model.npz", **not_json)


# --- the battery -------------------------------------------------------------------------

# (id, fit arguments after the DATA argument is substituted, expected text in the error line)
FIT_CASES = [
    ("values-2", ["{d}/two.npy", *UPDATES], "0/1 values"),
    ("values-0.5", ["{d}/half.npy", *UPDATES], "0/1 values"),
    ("values-minus-1", ["{d}/minus.npy", *UPDATES], "0/1 values"),
    ("txt-value-2", ["{d}/twos.txt", "--batch-size", "1", *UPDATES], "0/1 values"),
    ("nan", ["{d}/nan.npy", *UPDATES], "NaN or inf"),
    ("nan-in-npz-X", ["{d}/nan_x.npz", *UPDATES], "NaN or inf"),
    ("inf", ["{d}/inf.npy", *UPDATES], "NaN or inf"),
    ("empty-rows", ["{d}/empty.npy", *UPDATES], "empty"),
    ("empty-columns", ["{d}/no_columns.npy", *UPDATES], "empty"),
    ("empty-csv", ["{d}/empty.csv", *UPDATES], "data"),
    ("missing-npy", ["{d}/absent.npy", *UPDATES], "not found"),
    ("missing-csv", ["{d}/absent.csv", *UPDATES], "not found"),
    ("directory-as-npy", ["{d}/folder.npy", *UPDATES], "not found"),
    ("unknown-suffix", ["{d}/data.dat", *UPDATES], "unknown file type"),
    ("random-bytes-npy", ["{d}/random.npy", *UPDATES], "cannot read"),
    ("random-bytes-npz", ["{d}/random.npz", *UPDATES], "cannot read"),
    ("truncated-npz", ["{d}/truncated.npz", *UPDATES], "cannot read"),
    ("pickled-npy", ["{d}/objects.npy", *UPDATES], "cannot read"),
    ("string-npy", ["{d}/strings.npy", "--batch-size", "1", *UPDATES], "numeric"),
    ("several-arrays-npz", ["{d}/several.npz", *UPDATES], "holds 2 arrays"),
    ("3-d-npy", ["{d}/cube.npy", *UPDATES], "2-d"),
    ("1-d-npy", ["{d}/vector.npy", "--batch-size", "1", *UPDATES], "2-d"),
    ("1-d-npy-batch", ["{d}/vector.npy", *UPDATES], "2-d"),
    ("csv-non-numeric", ["{d}/nonnumeric.csv", *UPDATES], "cannot read"),
    ("csv-ragged", ["{d}/ragged.csv", *UPDATES], "cannot read"),
    ("unknown-dataset", ["digitz", *UPDATES], "unknown dataset"),
    ("k-0", ["digits", *UPDATES, "-k", "0"], "k:"),
    ("rbm-init-data", ["digits", *UPDATES, "--init", "data"], "init:"),
    ("rbm-sampler-langevin", ["digits", *UPDATES, "--sampler", "langevin"], "sampler:"),
    ("k-negative", ["digits", *UPDATES, "--steps=-3"], "k:"),
    ("hidden-0", ["digits", *UPDATES, "--hidden", "0"], "num_hiddens"),
    ("chains-0", ["digits", *UPDATES, "--chains", "0"], "num_chains"),
    ("chains-0-cd", ["digits", *UPDATES, "--chains", "0", "--scheme", "cd"], "num_chains"),
    ("learning-rate-0", ["digits", *UPDATES, "--learning-rate", "0"], "learning_rate"),
    ("learning-rate-negative", ["digits", *UPDATES, "--learning-rate=-1"], "learning_rate"),
    ("learning-rate-nan", ["digits", *UPDATES, "--learning-rate", "nan"], "learning_rate"),
    ("learning-rate-inf", ["digits", *UPDATES, "--learning-rate", "inf"], "learning_rate"),
    ("l2-negative", ["digits", *UPDATES, "--l2=-0.1"], "l2"),
    ("dtype-float16", ["digits", *UPDATES, "--dtype", "float16"], "dtype"),
    ("dtype-foo", ["digits", *UPDATES, "--dtype", "foo"], "dtype"),
    ("dtype-int32", ["digits", *UPDATES, "--dtype", "int32"], "dtype"),
    ("batch-size-above-data", ["digits", *UPDATES, "--batch-size", "1798"], "batch_size"),
    ("batch-size-0", ["digits", *UPDATES, "--batch-size", "0"], "batch_size"),
    ("epochs-0", ["digits", "--epochs", "0"], "epochs"),
    ("updates-0", ["digits", "--updates", "0"], "updates"),
    ("epochs-and-updates", ["digits", "--epochs", "1", *UPDATES], "epochs, updates"),
    ("seed-negative", ["digits", *UPDATES, "--seed=-1"], "seed"),
    ("threads-0", ["digits", *UPDATES, "--threads", "0"], "threads"),
    ("threads-too-many", ["digits", *UPDATES, "--threads", "100000"], "threads"),
    ("missing-config", ["digits", *UPDATES, "--config", "{d}/absent.toml"], "absent.toml"),
]


@pytest.fixture
def inputs(tmp_path):
    d = tmp_path / "inputs"
    d.mkdir()
    write_inputs(d)
    return d


@pytest.fixture
def previous_run(tmp_path, finished_run):
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    return out


def assert_one_error_line(result, expected=None):
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    if expected is not None:
        assert expected in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("case, args, expected", FIT_CASES, ids=[
    (c.values if hasattr(c, "values") else c)[0] for c in FIT_CASES])
def test_fit_bad_input(case, args, expected, inputs, previous_run):
    before = snapshot(previous_run)
    args = [a.format(d=inputs) for a in args]
    result = invoke(["fit", args[0], "--out", previous_run, "--overwrite", *SMALL, *args[1:]])
    assert_one_error_line(result, expected)
    assert snapshot(previous_run) == before
    assert not (inputs / "unpickled_npy").exists()


@pytest.mark.parametrize("args", [["--scheme", "foo"], ["-k", "two"], ["--init", "noise"], ["--bogus"]],
                         ids=["scheme", "k-not-int", "init-noise", "unknown-option"])
def test_fit_usage_error(args, previous_run):
    before = snapshot(previous_run)
    result = invoke(["fit", "digits", "--out", previous_run, "--overwrite", *SMALL, *UPDATES, *args])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Error:" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(previous_run) == before


def test_fit_without_data_argument(tmp_path):
    result = invoke(["fit"])
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


def test_fit_out_is_a_file(tmp_path):
    out = tmp_path / "run"
    out.write_bytes(b"a file")
    assert_one_error_line(invoke(["fit", "digits", "--out", out, *SMALL, *UPDATES]), "not a directory")
    assert out.read_bytes() == b"a file"


def test_fit_bad_input_without_overwrite_leaves_run(inputs, previous_run):
    before = snapshot(previous_run)
    assert_one_error_line(invoke(["fit", inputs / "half.npy", "--out", previous_run, *SMALL, *UPDATES]),
                          "0/1 values")
    assert snapshot(previous_run) == before


# (id, sample arguments with {d} = inputs and {m} = models, expected text)
SAMPLE_CASES = [
    ("missing-model", ["{m}/absent.npz"], "not found"),
    ("directory-model", ["{m}"], "not found"),
    ("foreign-npz", ["{m}/foreign.npz"], "not a bmsample model file"),
    ("plain-npy-as-model", ["{m}/plain_array.npz"], "not an .npz archive"),
    ("text-model", ["{m}/text.npz"], "not a readable bmsample model"),
    ("text-model-txt", ["{m}/model.txt"], "not a readable bmsample model"),
    ("random-bytes-model", ["{m}/random_model.npz"], "not a readable bmsample model"),
    ("truncated-model", ["{m}/truncated_model.npz"], "not a readable bmsample model"),
    ("empty-model", ["{m}/empty_model.npz"], "not a readable bmsample model"),
    ("future-schema", ["{m}/future_model.npz"], "schema version 99"),
    ("unknown-family", ["{m}/family_model.npz"], "gaussian_rbm"),
    ("inconsistent-model", ["{m}/inconsistent_model.npz"], "vbias"),
    ("nan-model", ["{m}/nan_model.npz"], "NaN or inf"),
    ("missing-array", ["{m}/missing_model.npz"], "hbias"),
    ("metadata-not-json", ["{m}/notjson_model.npz"], "not a readable bmsample model"),
    ("chains-0", ["{model}", "--chains", "0"], "num_chains"),
    ("chains-negative", ["{model}", "--chains=-5"], "num_chains"),
    ("steps-negative", ["{model}", "--steps=-1"], "steps"),
    ("means-0-steps", ["{model}", "--steps", "0", "--means"], "return_means"),
    ("record-beyond-steps", ["{model}", "--steps", "2", "--record", "0,3"], "record"),
    ("record-not-int", ["{model}", "--record", "0,a"], "record"),
    ("record-negative", ["{model}", "--record=-1,0"], "record"),
    ("seed-negative", ["{model}", "--seed=-1"], "seed"),
    ("threads-0", ["{model}", "--threads", "0"], "threads"),
    ("init-chains-without-chains", ["{model}", "--init", "chains"], "chains"),
    ("init-data-wrong-columns", ["{model}", "--init", "data", "--data", "{d}/cols10.npy"], "expected 64 columns"),
    ("init-data-values", ["{model}", "--init", "data", "--data", "{d}/half.npy"], "0/1 values"),
    ("init-data-nan", ["{model}", "--init", "data", "--data", "{d}/nan.npy"], "NaN or inf"),
    ("init-data-empty", ["{model}", "--init", "data", "--data", "{d}/empty.npy"], "empty"),
    ("init-data-missing", ["{model}", "--init", "data", "--data", "{d}/absent.npy"], "not found"),
    ("init-data-unknown-name", ["{model}", "--init", "data", "--data", "digitz"], "unknown dataset"),
    ("init-data-mnist", ["{model}", "--init", "data", "--data", "mnist-test"], "expected 64 columns"),
]
PICKLE_MODELS = ["pickled_meta.npz", "pickled_weights.npz", "pickle.npz"]


@pytest.fixture
def models(tmp_path, digits_model):
    d = tmp_path / "models"
    d.mkdir()
    write_models(d, digits_model)
    return d


@pytest.fixture
def previous_samples(tmp_path):
    out = tmp_path / "samples" / "s.npz"
    out.parent.mkdir()
    out.write_bytes(PREVIOUS_SAMPLES)
    return out


@pytest.mark.parametrize("case, args, expected", SAMPLE_CASES, ids=[c[0] for c in SAMPLE_CASES])
def test_sample_bad_input(case, args, expected, inputs, models, digits_model, previous_samples):
    before = snapshot(previous_samples.parent)
    args = [a.format(d=inputs, m=models, model=digits_model) for a in args]
    result = invoke(["sample", args[0], "--out", previous_samples, "--overwrite", "--chains", "5",
                     "--seed", "1", "--threads", "1", *args[1:]])
    assert_one_error_line(result, expected)
    assert snapshot(previous_samples.parent) == before


@pytest.mark.parametrize("name", PICKLE_MODELS)
def test_sample_refuses_pickled_model_without_unpickling(name, models, previous_samples):
    before = snapshot(previous_samples.parent)
    # Sanity check of the tripwire itself: unpickling really would create the marker.
    probe = models / "probe"
    pickle.loads(pickle.dumps(Tripwire(probe)))
    assert probe.exists()

    result = invoke(["sample", models / name, "--out", previous_samples, "--overwrite", "--chains", "5"])
    assert_one_error_line(result, "not a readable bmsample model")
    assert sorted(p.name for p in models.glob("unpickled_*")) == []
    assert snapshot(previous_samples.parent) == before


def test_sample_npy_payload_as_model_message(models, previous_samples):
    path = models / "plain_array.npz"
    line = assert_one_error_line(invoke(["sample", path, "--out", previous_samples, "--overwrite"]))
    assert str(path) in line and "not an .npz archive" in line


def test_sample_existing_output_checked_before_model(models, previous_samples):
    before = snapshot(previous_samples.parent)
    assert_one_error_line(invoke(["sample", models / "foreign.npz", "--out", previous_samples]), "--overwrite")
    assert snapshot(previous_samples.parent) == before


def test_sample_pcd_more_chains_than_saved(tmp_path, previous_samples):
    out = tmp_path / "pcd"
    result = invoke(["fit", "digits", "--out", out, "--scheme", "pcd", *SMALL, "--updates", "2"])
    assert result.exit_code == 0, result.output
    before = snapshot(previous_samples.parent)
    assert_one_error_line(invoke(["sample", out / "model.npz", "--chains", "51", "--out", previous_samples,
                                  "--overwrite"]), "num_chains")
    assert snapshot(previous_samples.parent) == before


# --- real processes ------------------------------------------------------------------------

def entry_point():
    found = shutil.which("bmsample") or shutil.which("bmsample", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "bmsample.cli.main"]


@pytest.mark.parametrize("command", ["entry-point", "module"])
def test_process_bad_input_one_stderr_line(command, tmp_path, inputs, previous_run):
    before = snapshot(previous_run)
    prefix = entry_point() if command == "entry-point" else [sys.executable, "-m", "bmsample.cli.main"]
    proc = subprocess.run([*prefix, "fit", str(inputs / "nan.npy"), "--out", str(previous_run), "--overwrite",
                           *SMALL, *UPDATES], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "default"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: data: ") and "NaN or inf" in lines[0]
    assert snapshot(previous_run) == before


def test_process_truncated_npz_one_stderr_line(tmp_path, inputs):
    proc = subprocess.run([sys.executable, "-m", "bmsample.cli.main", "fit", str(inputs / "truncated.npz"),
                           "--out", str(tmp_path / "run"), *SMALL, *UPDATES],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1


def test_process_empty_csv_one_stderr_line(tmp_path, inputs):
    proc = subprocess.run([sys.executable, "-m", "bmsample.cli.main", "fit", str(inputs / "empty.csv"),
                           "--out", str(tmp_path / "run"), *SMALL, *UPDATES],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_process_import():
    proc = subprocess.run([sys.executable, "-c", "import bmsample; print(bmsample.__version__)"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    import bmsample

    assert proc.stdout.strip() == bmsample.__version__
