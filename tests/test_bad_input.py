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
from conftest import permission_bound_preexec, run_cli

import bmsample
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
    ("init-noise", ["digits", "--init", "noise", *UPDATES], "init: expected one of uniform, bias, got 'noise'"),
    ("sampler-for-rbm", ["digits", "--sampler", "langevin", *UPDATES],
     "sampler: expected one of block-gibbs, got 'langevin'"),
    ("unknown-model", ["digits", "--model", "potts", *UPDATES], "model: expected one of rbm, "),
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
    ("directory-as-npy", ["{d}/folder.npy", *UPDATES], "is a directory"),
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


@pytest.mark.parametrize("args", [["--scheme", "foo"], ["-k", "two"], ["--bogus"]],
                         ids=["scheme", "k-not-int", "unknown-option"])
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
    ("directory-model", ["{m}"], "is a directory"),
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


# --- every input kind, every command that reads it ------------------------------------------

def write_hostile_files(d, digits_model):
    """Empty files of every extension, config files, run directories and model files with bad metadata."""
    for suffix in (".npy", ".npz", ".txt", ".csv", ".toml"):
        (d / f"zero_bytes{suffix}").write_bytes(b"")
    (d / "folder").mkdir()
    (d / "a_file").write_bytes(b"not a directory")
    configs = {
        "malformed": "num_hiddens = \n",
        "binary": b"\xff\xfe\x00\x01",
        "unknown_key": "num_hidens = 16\n",
        "unknown_key_in_fit": "[fit]\nlearning_rat = 0.1\n",
        "string_for_int": 'num_hiddens = "sixteen"\n',
        "float_for_int": "batch_size = 50.5\n",
        "negative_size": "num_hiddens = -16\n",
        "bool_for_float": "learning_rate = true\n",
        "string_for_bool": 'centered = "yes"\n',
        "nan_float": "learning_rate = nan\n",
        "table_for_int": "num_hiddens = { value = 16 }\n",
        "fit_not_a_table": "fit = 3\n",
        "absurd_hidden": "num_hiddens = 1_000_000_000_000\n",
    }
    for name, body in configs.items():
        path = d / f"{name}.toml"
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
    with np.load(digits_model, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays["metadata"]))

    def model_with(name, changed_metadata=None, **replaced):
        content = dict(arrays, **replaced)
        if changed_metadata is not None:
            content["metadata"] = np.array(json.dumps({**meta, **changed_metadata}))
        np.savez(d / name, **content)

    model_with("schema_next.npz", {"schema_version": 2})
    model_with("schema_true.npz", {"schema_version": True})
    model_with("schema_zero.npz", {"schema_version": 0})
    model_with("schema_missing.npz", {"schema_version": None})
    model_with("training_string.npz", {"training": "rdm-10"})
    model_with("complex_weights.npz", weight_matrix=arrays["weight_matrix"].astype(np.complex64))
    model_with("string_weights.npz", weight_matrix=np.array([["a", "b"]]))
    model_with("flat_weights.npz", weight_matrix=arrays["weight_matrix"].ravel())
    model_with("metadata_array.npz", metadata=np.zeros(3))
    (d / "garbage_log").mkdir()
    (d / "garbage_log" / "log.jsonl").write_text('{"update": 1}\nnot json\n')
    (d / "broken_model_run").mkdir()
    (d / "broken_model_run" / "log.jsonl").write_text('{"update": 1, "mean_rmse": 0.1}\n')
    (d / "broken_model_run" / "model.npz").write_bytes(b"PK\x03\x04 truncated")


@pytest.fixture
def hostile(tmp_path, digits_model):
    d = tmp_path / "hostile"
    d.mkdir()
    write_hostile_files(d, digits_model)
    return d


def assert_failed_cleanly(args, expected, watched):
    """Run the CLI; one ``error:`` line containing ``expected``; nothing under ``watched`` changed."""
    before = snapshot(watched)
    line = assert_one_error_line(invoke(args), expected)
    assert snapshot(watched) == before
    return line


HUGE = str(10**12)

# (id, fit arguments with {h} = hostile files, expected text); the run directory --out must not appear
FIT_INPUT_CASES = [
    ("zero-byte-npy", ["{h}/zero_bytes.npy"], "zero_bytes.npy"),
    ("zero-byte-npz", ["{h}/zero_bytes.npz"], "zero_bytes.npz"),
    ("zero-byte-txt", ["{h}/zero_bytes.txt"], "empty"),
    ("zero-byte-csv", ["{h}/zero_bytes.csv"], "empty"),
    ("directory-data", ["{h}/folder"], "is a directory"),
    ("absurd-hidden", ["digits", "--hidden", HUGE], "num_hiddens: a 64 x 1000000000000 float32 weight matrix"),
    ("absurd-chains", ["digits", "--chains", HUGE], "num_chains: 1000000000000 chains"),
    ("absurd-ising-chains", ["digits", "--model", "ising", "--chains", HUGE], "num_chains: 1000000000000 chains"),
    ("absurd-gaussian-chains", ["wine", "--model", "gaussian", "--chains", HUGE],
     "num_chains: 1000000000000 chains"),
    ("absurd-grbm-hidden", ["wine", "--model", "gaussian-rbm", "--hidden", HUGE], "num_hiddens:"),
    ("config-zero-bytes", ["digits", "--config", "{h}/zero_bytes.toml", "--hidden", HUGE], "num_hiddens"),
    ("config-malformed", ["digits", "--config", "{h}/malformed.toml"], "malformed.toml is not valid TOML"),
    ("config-binary", ["digits", "--config", "{h}/binary.toml"], "binary.toml is not valid TOML"),
    ("config-unknown-key", ["digits", "--config", "{h}/unknown_key.toml"], "unknown setting(s) num_hidens"),
    ("config-unknown-key-in-fit", ["digits", "--config", "{h}/unknown_key_in_fit.toml"], "learning_rat"),
    ("config-string-for-int", ["digits", "--config", "{h}/string_for_int.toml"],
     "num_hiddens: expected an integer, got 'sixteen'"),
    ("config-float-for-int", ["digits", "--config", "{h}/float_for_int.toml"], "batch_size: expected an integer"),
    ("config-negative-size", ["digits", "--config", "{h}/negative_size.toml"], "num_hiddens: expected an integer >= 1"),
    ("config-bool-for-float", ["digits", "--config", "{h}/bool_for_float.toml"], "learning_rate: expected a number"),
    ("config-string-for-bool", ["digits", "--config", "{h}/string_for_bool.toml"], "centered: expected true or false"),
    ("config-nan", ["digits", "--config", "{h}/nan_float.toml"], "learning_rate: expected a finite number"),
    ("config-table-for-int", ["digits", "--config", "{h}/table_for_int.toml"], "num_hiddens: expected an integer"),
    ("config-fit-not-a-table", ["digits", "--config", "{h}/fit_not_a_table.toml"], "'fit' must be a table"),
    ("config-absurd-hidden", ["digits", "--config", "{h}/absurd_hidden.toml"], "would need"),
    ("config-is-a-directory", ["digits", "--config", "{h}/folder"], "Is a directory"),
]


@pytest.mark.parametrize("case, args, expected", FIT_INPUT_CASES, ids=[c[0] for c in FIT_INPUT_CASES])
def test_fit_refuses_input_before_creating_the_run(case, args, expected, hostile, tmp_path):
    out = tmp_path / "new_runs" / "run"
    args = [a.format(h=hostile) for a in args]
    # No size flags here: they would override the config file's bad settings.
    assert_failed_cleanly(["fit", args[0], "--out", out, "--quiet", "--threads", "1", *UPDATES, *args[1:]],
                          expected, hostile)
    assert not (tmp_path / "new_runs").exists()


def test_memory_error_says_what_is_needed_and_what_the_machine_has(hostile, tmp_path):
    from bmsample._validation import format_bytes, physical_memory

    line = assert_failed_cleanly(["fit", "digits", "--hidden", HUGE, "--out", tmp_path / "run", *UPDATES],
                                 None, hostile)
    need = 64 * 10**12 * (8 + 4)  # drawn in float64, kept in float32
    assert f"would need {format_bytes(need)} of memory; this machine has {format_bytes(physical_memory())}" in line


def test_sample_recording_beyond_memory(hostile, digits_model, tmp_path):
    """Chains that fit, recorded at so many times that the recording cannot: refused before it is allocated."""
    from bmsample._validation import physical_memory

    times = 10_001
    chains = physical_memory() // (64 * (times - 1)) + 1  # uint8 states of 64 units: > memory, chains themselves small
    record = ",".join(map(str, range(times)))
    assert_failed_cleanly(["sample", digits_model, "--out", tmp_path / "s.npz", "--chains", chains, "--steps",
                           times - 1, "--record", record], f"record: {chains} chains of 64 units at {times} times "
                          "would need", hostile)
    assert not (tmp_path / "s.npz").exists()


def test_fit_out_below_a_file(hostile, tmp_path):
    assert_failed_cleanly(["fit", "digits", "--out", hostile / "a_file" / "run", *SMALL, *UPDATES],
                          "Not a directory", hostile)


# (id, sample arguments with {h} = hostile files and {model}, expected text)
SAMPLE_INPUT_CASES = [
    ("zero-byte-model", ["{h}/zero_bytes.npz"], "not a readable bmsample model"),
    ("newer-schema", ["{h}/schema_next.npz"], "schema version 2 is not supported"),
    ("schema-true", ["{h}/schema_true.npz"], "schema version True"),
    ("schema-zero", ["{h}/schema_zero.npz"], "schema version 0"),
    ("schema-missing", ["{h}/schema_missing.npz"], "schema version None"),
    ("training-not-an-object", ["{h}/training_string.npz"], "training entry is not a JSON object"),
    ("complex-weights", ["{h}/complex_weights.npz"], "weight_matrix holds complex64 values"),
    ("string-weights", ["{h}/string_weights.npz"], "weight_matrix holds <U1 values"),
    ("1-d-weights", ["{h}/flat_weights.npz"], "weight_matrix: expected a 2-d array"),
    ("metadata-not-a-string", ["{h}/metadata_array.npz"], "not a readable bmsample model"),
    ("absurd-chains", ["{model}", "--chains", HUGE], "num_chains: 1000000000000 chains of an RBM"),
    ("out-in-missing-directory", ["{model}", "--out", "{h}/absent/s.npz"], "absent does not exist"),
    ("out-below-a-file", ["{model}", "--out", "{h}/a_file/s.npz"], "a_file is not a directory"),
    ("out-is-a-directory", ["{model}", "--out", "{h}/folder", "--overwrite"], "folder is a directory"),
    ("png-in-missing-directory", ["{model}", "--out", "{h}/s.npz", "--png", "{h}/absent/s.png"],
     "png: cannot write"),
    ("png-is-a-directory", ["{model}", "--out", "{h}/s.npz", "--png", "{h}/folder"], "png:"),
]


@pytest.mark.parametrize("case, args, expected", SAMPLE_INPUT_CASES, ids=[c[0] for c in SAMPLE_INPUT_CASES])
def test_sample_refuses_input_without_writing(case, args, expected, hostile, digits_model, tmp_path):
    args = [a.format(h=hostile, model=digits_model) for a in args]
    out = [] if "--out" in args else ["--out", tmp_path / "s.npz"]
    assert_failed_cleanly(["sample", args[0], *out, "--chains", "5", "--seed", "1", *args[1:]], expected, hostile)
    assert not (tmp_path / "s.npz").exists()


# (id, eval arguments after MODEL DATA are substituted, expected text)
EVAL_CASES = [
    ("future-model", ["{h}/schema_next.npz", "digits"], "schema version 2"),
    ("directory-model", ["{h}/folder", "digits"], "is a directory"),
    ("pickled-model", ["{m}/pickled_weights.npz", "digits"], "not a readable bmsample model"),
    ("data-wrong-columns", ["{model}", "{d}/cols10.npy"], "expected 64 columns"),
    ("data-not-binary", ["{model}", "{d}/half.npy"], "0/1 values"),
    ("data-nan", ["{model}", "{d}/nan.npy"], "NaN or inf"),
    ("data-1-d", ["{model}", "{d}/vector.npy"], "2-d"),
    ("data-zero-bytes", ["{model}", "{h}/zero_bytes.npy"], "zero_bytes.npy"),
    ("data-directory", ["{model}", "{h}/folder"], "is a directory"),
    ("data-pickled", ["{model}", "{d}/objects.npy"], "cannot read"),
    ("data-other-dataset", ["{model}", "wine"], "expected 64 columns"),
    ("absurd-chains", ["{model}", "digits", "--chains", HUGE], "num_chains: 1000000000000 chains"),
    ("json-in-missing-directory", ["{model}", "digits", "--json", "{h}/absent/e.json"], "json: cannot write"),
    ("json-is-a-directory", ["{model}", "digits", "--json", "{h}/folder"], "json:"),
    ("png-below-a-file", ["{model}", "digits", "--png", "{h}/a_file/e.png"], "png: cannot write"),
]


@pytest.mark.parametrize("case, args, expected", EVAL_CASES, ids=[c[0] for c in EVAL_CASES])
def test_eval_refuses_input(case, args, expected, hostile, inputs, models, digits_model):
    args = [a.format(h=hostile, d=inputs, m=models, model=digits_model) for a in args]
    assert_failed_cleanly(["eval", *args[:2], "--chains", "20", "--times", "0,1", "--no-aats", "--seed", "0",
                           *args[2:]], expected, hostile)
    assert sorted(p.name for p in models.glob("unpickled_*")) == []
    assert not (inputs / "unpickled_npy").exists()


@pytest.mark.parametrize("option, expected", [
    ("--mixing", "steps: energies and magnetisations of 100 chains at 1000000000001 times would need"),
    ("--ais-betas", "num_betas: 1000000000000 inverse temperatures would need"),
], ids=["mixing", "ais-betas"])
def test_eval_absurd_run_lengths(option, expected, hostile, digits_model):
    extra = ["--log-likelihood", "ais"] if option == "--ais-betas" else []
    before = snapshot(hostile)
    result = invoke(["eval", digits_model, "digits", "--chains", "20", "--times", "0,1", "--no-aats", "--seed", "0",
                     "--json", hostile / "e.json", option, HUGE, *extra])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert snapshot(hostile) == before


PLOT_CASES = [
    ("missing", "{h}/absent", "does not exist"),
    ("a-file", "{h}/a_file", "is not a directory"),
    ("empty-directory", "{h}/folder", "holds neither model.npz nor log.jsonl"),
    ("garbage-log", "{h}/garbage_log", "line 2 is not a training record"),
    ("broken-model", "{h}/broken_model_run", "not a readable bmsample model"),
]


@pytest.mark.parametrize("case, run_dir, expected", PLOT_CASES, ids=[c[0] for c in PLOT_CASES])
def test_plot_refuses_run_directory_without_writing(case, run_dir, expected, hostile):
    assert_failed_cleanly(["plot", run_dir.format(h=hostile)], expected, hostile)
    assert not list(hostile.rglob("plots"))


def test_bench_refuses_absurd_sizes(hostile):
    assert_failed_cleanly(["bench", "--hiddens", HUGE, "--chains", "10", "--json", hostile / "b.json"],
                          "hiddens: a 784 x 1000000000000", hostile)
    assert_failed_cleanly(["bench", "--chains", "10", "--json", hostile / "absent" / "b.json"], "json:", hostile)


def test_outputs_in_unwritable_directory(hostile, digits_model, tmp_path):
    """A real process to which the folder's permissions apply (for root, one without the capabilities that
    override them): one error line, exit 2, nothing written."""
    preexec = permission_bound_preexec()
    locked = hostile / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        for args, expected in (
                (["sample", digits_model, "--chains", "5", "--out", locked / "s.npz"], "no permission to write"),
                (["eval", digits_model, "digits", "--chains", "20", "--times", "0,1", "--no-aats", "--json",
                  locked / "e.json"], "no permission to write"),
                (["fit", "digits", "--out", locked / "run", *SMALL, *UPDATES], "Permission denied")):
            before = snapshot(hostile)
            proc = run_cli(*args, preexec_fn=preexec)
            lines = proc.stderr.strip().splitlines()
            assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr, proc.stderr
            assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr
            assert snapshot(hostile) == before
    finally:
        locked.chmod(0o700)


def test_npz_object_arrays_are_refused_through_the_api(models):
    """The Python API gives the same errors: nothing pickled is loaded, by any loader."""
    import bmsample
    from bmsample.io import ModelFileError

    for name in PICKLE_MODELS:
        with pytest.raises(ModelFileError, match="not a readable bmsample model"):
            bmsample.read_model_file(models / name)
        with pytest.raises(ValueError, match="^data: "):
            bmsample.load_dataset(models / name)
    assert sorted(p.name for p in models.glob("unpickled_*")) == []


@pytest.mark.parametrize("args, expected", [
    (["sample", "{h}/schema_next.npz", "--out", "{h}/s.npz"], "error: {h}/schema_next.npz: schema version 2"),
    (["fit", "digits", "--config", "{h}/unknown_key.toml", "--out", "{h}/run"], "error: {h}/unknown_key.toml: unknown"),
    (["fit", "digits", "--hidden", HUGE, "--out", "{h}/run", "--updates", "1"], "error: num_hiddens: a 64 x"),
    (["plot", "{h}/garbage_log"], "error: log: {h}/garbage_log/log.jsonl line 2"),
], ids=["newer-schema", "config-unknown-key", "absurd-hidden", "garbage-log"])
def test_process_hostile_input_one_stderr_line(args, expected, hostile, tmp_path):
    before = snapshot(hostile)
    proc = subprocess.run([*entry_point(), *[a.format(h=hostile) for a in args]], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [proc.stderr.strip()], proc.stderr
    assert proc.stderr.startswith(expected.format(h=hostile)), proc.stderr
    assert snapshot(hostile) == before


def test_a_csv_with_a_utf8_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf0,1,1\n1,0,1\n")  # as spreadsheet programs save "CSV UTF-8"
    np.testing.assert_array_equal(bmsample.load_dataset(path).data, [[0, 1, 1], [1, 0, 1]])


@pytest.mark.parametrize("suffix, what", [(".npy", "NumPy header"), (".npz", "zip archive")])
def test_a_text_file_named_as_numpy_data_is_not_a_valid_file_and_nothing_suggests_unpickling(tmp_path, suffix,
                                                                                            what):
    path = tmp_path / f"table{suffix}"
    path.write_text("0 1 1\n1 0 1\n")
    result = CliRunner().invoke(main, ["fit", str(path), "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 2
    assert result.stderr == (f"error: data: cannot read {path}: not a valid {suffix} file (it does not start with a "
                             f"{what})\n")
    assert "pickle" not in result.stderr
