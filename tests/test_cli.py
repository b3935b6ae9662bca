"""End-to-end tests of the ``bmsample`` command line (fit, sample, datasets, info).

Everything runs on the bundled ``digits`` set (1797 x 64) with tiny settings
and fixed seeds; every output goes under pytest's temporary directories.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import needs_two_threads

import bmsample
from bmsample.cli.main import main

SMALL = ["--hidden", "16", "--updates", "20", "--batch-size", "50", "-k", "2", "--seed", "0",
         "--threads", "1", "--quiet"]
CHECKPOINT_UPDATES = [1, 2, 5, 10, 20]  # log-spaced marks for --updates 20
LOG_KEYS = {"update", "epoch", "seconds", "magnetisation_rmse", "weight_matrix_norm"}


def make_runner():
    try:  # click < 8.2 mixes stderr into stdout unless asked not to
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2: stderr is always available separately
        return CliRunner()


def invoke(args):
    return make_runner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def fit_run(out, *extra, small=SMALL):
    result = invoke(["fit", "digits", "--out", out, *small, *extra])
    assert result.exit_code == 0, result.output
    return result


def assert_input_error(result):
    """Exit 2, nothing on stdout, exactly one 'error: ...' line on stderr."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def file_state(path):
    path = Path(path)
    return path.read_bytes(), path.stat().st_mtime_ns


def metadata_of(path):
    with np.load(path, allow_pickle=False) as archive:
        raw = archive["metadata"]
        assert raw.shape == () and raw.dtype.kind == "U"
        return json.loads(str(raw))


def arrays_of(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files if name != "metadata"}


def assert_same_arrays(path_a, path_b):
    a, b = arrays_of(path_a), arrays_of(path_b)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    # Nothing may land in the repository, even through a default output path.
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def rdm_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("rdm") / "run"
    fit_run(out)
    return out / "model.npz"


@pytest.fixture(scope="session")
def pcd_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("pcd") / "run"
    fit_run(out, "--scheme", "pcd")
    return out / "model.npz"


def sample_out(model, out, *args):
    result = invoke(["sample", model, "--out", out, "--threads", "1", *args])
    assert result.exit_code == 0, result.output
    with np.load(out, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["metadata"] = json.loads(str(arrays["metadata"]))
    return arrays


def assert_binary(array):
    assert np.isin(array, (0, 1)).all()


# --- 1. fit writes a complete run directory ----------------------------------------------

def test_fit_writes_run_directory(tmp_path):
    out = tmp_path / "run"
    result = fit_run(out)
    assert f"wrote {out / 'model.npz'}" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "config.json", "log.jsonl", "model.npz"]

    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    updates = [r["update"] for r in records]
    assert updates == sorted(set(updates)) and updates[-1] == 20
    assert set(CHECKPOINT_UPDATES) <= set(updates)  # every checkpoint is logged
    for record in records:
        assert LOG_KEYS <= record.keys()
        assert record["epoch"] == 1
        assert np.isfinite(record["magnetisation_rmse"]) and record["weight_matrix_norm"] > 0
    assert [r["seconds"] for r in records] == sorted(r["seconds"] for r in records)

    config = json.loads((out / "config.json").read_text())
    assert config["num_hiddens"] == 16 and config["k"] == 2 and config["updates"] == 20
    assert config["batch_size"] == 50 and config["seed"] == 0 and config["scheme"] == "rdm"

    checkpoints = sorted((out / "checkpoints").iterdir())
    assert [p.name for p in checkpoints] == [f"update_{u:08d}.npz" for u in CHECKPOINT_UPDATES]
    for update, path in zip(CHECKPOINT_UPDATES, checkpoints):
        assert metadata_of(path)["checkpoint"]["update"] == update
        assert bmsample.load_model(path).weight_matrix.shape == (64, 16)
    # The last checkpoint is the final model.
    np.testing.assert_array_equal(arrays_of(checkpoints[-1])["weight_matrix"],
                                  arrays_of(out / "model.npz")["weight_matrix"])


def test_fit_model_file_format(rdm_model):
    model = bmsample.load_model(rdm_model)
    assert model.weight_matrix.shape == (64, 16)
    assert model.vbias.shape == (64,) and model.hbias.shape == (16,)

    arrays = arrays_of(rdm_model)
    assert {"weight_matrix", "vbias", "hbias"} <= arrays.keys()
    np.testing.assert_array_equal(arrays["weight_matrix"], model.weight_matrix)

    meta = metadata_of(rdm_model)
    assert meta["format"] == "bmsample"
    assert meta["family"] == "bernoulli_rbm"
    assert meta["schema_version"] == 1
    assert meta["dtype"] == "float32"
    assert meta["num_visibles"] == 64 and meta["num_hiddens"] == 16
    assert meta["seed"] == 0
    training = meta["training"]
    assert training["scheme"] == "rdm"
    assert training["k"] == 2
    assert training["init"] == "uniform"
    assert training["sampler"] == "block-gibbs"
    assert training["data"] == "digits"


# --- 2. existing run directory ---------------------------------------------------------

def test_fit_refuses_non_empty_directory_without_overwrite(tmp_path):
    out = tmp_path / "run"
    fit_run(out)
    before = file_state(out / "model.npz")
    listing = sorted(p.relative_to(out) for p in out.rglob("*"))

    line = assert_input_error(invoke(["fit", "digits", "--out", out, *SMALL, "--seed", "1"]))
    assert "--overwrite" in line
    assert file_state(out / "model.npz") == before
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == listing

    fit_run(out, "--seed", "1", "--overwrite")
    assert metadata_of(out / "model.npz")["seed"] == 1
    assert (out / "model.npz").read_bytes() != before[0]


def test_fit_refuses_directory_with_foreign_file(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert_input_error(invoke(["fit", "digits", "--out", out, *SMALL]))
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_fit_overwrite_replaces_previous_checkpoints(tmp_path):
    out = tmp_path / "run"
    fit_run(out)
    small = [a if a != "20" else "5" for a in SMALL]  # --updates 5
    fit_run(out, "--overwrite", small=small)
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names == [f"update_{u:08d}.npz" for u in (1, 2, 5)]
    updates = [json.loads(line)["update"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert updates[0] == 1 and updates[-1] == 5 and updates == sorted(set(updates))  # old log replaced


# --- 3. --config FILE.toml ---------------------------------------------------------------

CONFIG_BODY = 'num_hiddens = 8\nk = 3\nscheme = "cd"\nbatch_size = 50\nupdates = 5\nseed = 4\n'


@pytest.mark.parametrize("header", ["", "[fit]\n"], ids=["top-level", "fit-table"])
def test_fit_config_file(tmp_path, header):
    config = tmp_path / "settings.toml"
    config.write_text(header + CONFIG_BODY)
    out = tmp_path / "run"
    result = invoke(["fit", "digits", "--out", out, "--config", config, "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    meta = metadata_of(out / "model.npz")
    assert meta["num_hiddens"] == 8
    assert meta["seed"] == 4
    assert meta["training"]["k"] == 3
    assert meta["training"]["scheme"] == "cd"
    assert meta["training"]["updates"] == 5


def test_fit_flags_override_config_file(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text("[fit]\n" + CONFIG_BODY)
    out = tmp_path / "run"
    result = invoke(["fit", "digits", "--out", out, "--config", config, "-k", "2", "--hidden", "12",
                     "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    meta = metadata_of(out / "model.npz")
    assert meta["training"]["k"] == 2
    assert meta["num_hiddens"] == 12
    assert meta["training"]["scheme"] == "cd"  # not overridden: from the file
    assert json.loads((out / "config.json").read_text())["k"] == 2


@pytest.mark.parametrize("body", [
    CONFIG_BODY + "hiden = 10\n",
    "[fit]\n" + CONFIG_BODY + "learning_rat = 0.1\n",
    "num_hiddens = \n",          # not TOML
    'k = "three"\nupdates = 5\n',  # wrong type
], ids=["unknown-key", "unknown-key-in-fit", "invalid-toml", "wrong-type"])
def test_fit_bad_config_file(tmp_path, body):
    config = tmp_path / "settings.toml"
    config.write_text(body)
    out = tmp_path / "run"
    assert_input_error(invoke(["fit", "digits", "--out", out, "--config", config, "--quiet"]))
    assert not out.exists()


def test_fit_unknown_config_key_is_named(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text(CONFIG_BODY + "hiden = 10\n")
    line = assert_input_error(invoke(["fit", "digits", "--out", tmp_path / "run", "--config", config]))
    assert "hiden" in line


def test_fit_missing_config_file(tmp_path):
    line = assert_input_error(invoke(["fit", "digits", "--out", tmp_path / "run",
                                      "--config", tmp_path / "absent.toml"]))
    assert "absent.toml" in line


# --- 4. thread-count independence -------------------------------------------------------

@pytest.mark.parametrize("scheme", ["rdm", "cd", "pcd"])
def test_fit_same_seed_same_model_for_any_thread_count(tmp_path, scheme):
    small = [a for a in SMALL]
    small[small.index("--threads") + 1] = "1"
    fit_run(tmp_path / "one", "--scheme", scheme, small=small)
    small[small.index("--threads") + 1] = "2"
    fit_run(tmp_path / "two", "--scheme", scheme, small=small)
    one, two = tmp_path / "one" / "model.npz", tmp_path / "two" / "model.npz"
    assert_same_arrays(one, two)
    assert ("chains" in arrays_of(one)) == (scheme == "pcd")
    # The seed matters: another seed gives other weights.
    fit_run(tmp_path / "other", "--scheme", scheme, "--seed", "1")
    assert not np.array_equal(arrays_of(one)["weight_matrix"],
                              arrays_of(tmp_path / "other" / "model.npz")["weight_matrix"])


# --- 5. dtype ----------------------------------------------------------------------------

def test_fit_dtype(tmp_path, rdm_model):
    for name in ("weight_matrix", "vbias", "hbias"):
        assert arrays_of(rdm_model)[name].dtype == np.float32
    fit_run(tmp_path / "run", "--dtype", "float64")
    path = tmp_path / "run" / "model.npz"
    arrays = arrays_of(path)
    for name in ("weight_matrix", "vbias", "hbias"):
        assert arrays[name].dtype == np.float64, name
    assert metadata_of(path)["dtype"] == "float64"
    assert bmsample.load_model(path).dtype == np.float64
    assert json.loads((tmp_path / "run" / "config.json").read_text())["dtype"] == "float64"


# --- 6. sample -------------------------------------------------------------------------

def test_sample_reproduces_rdm_process(tmp_path, rdm_model):
    result = invoke(["sample", rdm_model, "--chains", "30", "--seed", "1", "--threads", "1",
                     "--out", tmp_path / "s.npz"])
    assert result.exit_code == 0, result.output
    assert "30 chains x 64 units, 2 steps from uniform" in result.stdout
    with np.load(tmp_path / "s.npz", allow_pickle=False) as archive:
        visible = archive["visible"]
        meta = json.loads(str(archive["metadata"]))
        assert set(archive.files) == {"visible", "metadata"}
    assert visible.shape == (30, 64)
    assert_binary(visible)
    assert 0 < visible.mean() < 1
    assert meta["init"] == "uniform"
    assert meta["steps"] == 2
    assert meta["seed"] == 1
    assert meta["num_chains"] == 30


def test_sample_steps_and_bias_init(tmp_path, rdm_model):
    s = sample_out(rdm_model, tmp_path / "s.npz", "--chains", "30", "--seed", "1",
                   "--steps", "5", "--init", "bias")
    assert s["visible"].shape == (30, 64)
    assert_binary(s["visible"])
    assert s["metadata"]["init"] == "bias" and s["metadata"]["steps"] == 5


def test_sample_record(tmp_path, rdm_model):
    s = sample_out(rdm_model, tmp_path / "s.npz", "--chains", "30", "--seed", "1",
                   "--record", "0,1,5", "--steps", "5")
    assert s["recorded"].shape == (3, 30, 64)
    assert s["times"].tolist() == [0, 1, 5]
    assert_binary(s["recorded"])
    np.testing.assert_array_equal(s["recorded"][-1], s["visible"])  # time 5 is the final state
    assert not np.array_equal(s["recorded"][0], s["recorded"][1])
    # Recording does not change the chains.
    plain = sample_out(rdm_model, tmp_path / "plain.npz", "--chains", "30", "--seed", "1", "--steps", "5")
    np.testing.assert_array_equal(plain["visible"], s["visible"])


def test_sample_record_time_beyond_steps(tmp_path, rdm_model):
    line = assert_input_error(invoke(["sample", rdm_model, "--chains", "3", "--record", "0,9",
                                      "--steps", "5", "--out", tmp_path / "s.npz"]))
    assert "record" in line
    assert not (tmp_path / "s.npz").exists()


def test_sample_means(tmp_path, rdm_model):
    s = sample_out(rdm_model, tmp_path / "s.npz", "--chains", "30", "--seed", "1", "--means")
    means = s["visible_means"]
    assert means.shape == (30, 64) and means.dtype == np.float32
    assert np.all((means >= 0) & (means <= 1))
    assert not np.isin(means, (0, 1)).all()  # probabilities, not states


def test_sample_pcd_model_continues_saved_chains(tmp_path, pcd_model):
    saved = arrays_of(pcd_model)["chains"]
    s = sample_out(pcd_model, tmp_path / "s.npz", "--chains", "30", "--seed", "1")
    assert s["metadata"]["init"] == "chains" and s["metadata"]["steps"] == 2
    assert s["visible"].shape == (30, 64)
    assert_binary(s["visible"])
    # Zero steps returns the saved chains themselves.
    s0 = sample_out(pcd_model, tmp_path / "s0.npz", "--chains", "30", "--seed", "1", "--steps", "0")
    np.testing.assert_array_equal(s0["visible"], saved[:30])
    # Without --chains: all saved chains.
    s_all = sample_out(pcd_model, tmp_path / "all.npz", "--seed", "1")
    assert s_all["visible"].shape == saved.shape == (50, 64)


def test_sample_init_data(tmp_path, rdm_model):
    s = sample_out(rdm_model, tmp_path / "s.npz", "--chains", "30", "--seed", "1",
                   "--init", "data", "--data", "digits")
    assert s["metadata"]["init"] == "data"
    assert s["visible"].shape == (30, 64)
    assert_binary(s["visible"])
    # With zero steps the chains are rows of the data set.
    s0 = sample_out(rdm_model, tmp_path / "s0.npz", "--chains", "30", "--seed", "1",
                    "--init", "data", "--data", "digits", "--steps", "0")
    digits = {row.tobytes() for row in bmsample.load_dataset("digits").data.astype(np.float32)}
    assert all(row.astype(np.float32).tobytes() in digits for row in s0["visible"])


def test_sample_init_data_defaults_to_training_data(tmp_path, rdm_model):
    s = sample_out(rdm_model, tmp_path / "s.npz", "--chains", "5", "--seed", "1", "--init", "data",
                   "--steps", "0")
    digits = {row.tobytes() for row in bmsample.load_dataset("digits").data.astype(np.float32)}
    assert all(row.astype(np.float32).tobytes() in digits for row in s["visible"])


@needs_two_threads
def test_sample_seeds(tmp_path, rdm_model):
    args = ["--chains", "30", "--steps", "3"]
    a = sample_out(rdm_model, tmp_path / "a.npz", *args, "--seed", "1")["visible"]
    b = sample_out(rdm_model, tmp_path / "b.npz", *args, "--seed", "1")["visible"]
    c = sample_out(rdm_model, tmp_path / "c.npz", *args, "--seed", "2")["visible"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Chain c does not depend on the number of chains or of threads.
    few = sample_out(rdm_model, tmp_path / "few.npz", "--chains", "10", "--steps", "3", "--seed", "1")
    np.testing.assert_array_equal(few["visible"], a[:10])
    result = invoke(["sample", rdm_model, "--out", tmp_path / "t2.npz", "--threads", "2", *args, "--seed", "1"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(arrays_of(tmp_path / "t2.npz")["visible"], a)


def test_sample_existing_output(tmp_path, rdm_model):
    out = tmp_path / "s.npz"
    sample_out(rdm_model, out, "--chains", "30", "--seed", "1")
    before = file_state(out)
    line = assert_input_error(invoke(["sample", rdm_model, "--chains", "30", "--seed", "2", "--out", out]))
    assert "--overwrite" in line
    assert file_state(out) == before
    after = sample_out(rdm_model, out, "--chains", "30", "--seed", "2", "--overwrite")
    assert after["metadata"]["seed"] == 2
    assert out.read_bytes() != before[0]


def test_sample_default_output_in_working_directory(tmp_path, rdm_model):
    result = invoke(["sample", rdm_model, "--chains", "4", "--seed", "1", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "samples.npz").is_file()  # the autouse fixture made tmp_path the cwd


# --- 7. datasets, info, help ----------------------------------------------------------------

def test_datasets_command():
    result = invoke(["datasets"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert list(rows) == ["mnist", "mnist-test", "digits", "wine", "breast-cancer"]
    assert "60000 x 784" in rows["mnist"]
    assert "10000 x 784" in rows["mnist-test"]
    assert "1797 x 64" in rows["digits"]
    assert "178 x 13" in rows["wine"] and "real" in rows["wine"]
    assert "569 x 30" in rows["breast-cancer"]


def test_info_command():
    result = invoke(["info"])
    assert result.exit_code == 0, result.output
    assert f"bmsample {bmsample.__version__}" in result.stdout
    assert "numba" in result.stdout
    assert "threads" in result.stdout


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["fit", "--help"], ["sample", "--help"],
                                  ["datasets", "--help"], ["info", "--help"]])
def test_help(args):
    result = invoke(args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ")


def test_help_lists_options():
    assert "--overwrite" in invoke(["fit", "--help"]).stdout
    assert "--record" in invoke(["sample", "--help"]).stdout
    commands = invoke(["--help"]).stdout
    for command in ("fit", "sample", "datasets", "info"):
        assert command in commands


def test_version():
    result = invoke(["--version"])
    assert result.exit_code == 0
    assert bmsample.__version__ in result.stdout


# --- real processes ------------------------------------------------------------------------

def entry_point():
    found = shutil.which("bmsample") or shutil.which("bmsample", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "bmsample.cli.main"]


def run_process(command, cwd):
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def test_process_fit_and_sample(tmp_path):
    out = tmp_path / "run"
    fit = run_process([*entry_point(), "fit", "digits", "--out", str(out), *SMALL], tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert "Traceback" not in fit.stderr
    assert (out / "model.npz").is_file()
    sample = run_process([sys.executable, "-m", "bmsample.cli.main", "sample", str(out / "model.npz"),
                          "--chains", "7", "--seed", "1", "--out", str(tmp_path / "s.npz")], tmp_path)
    assert sample.returncode == 0, sample.stderr
    assert arrays_of(tmp_path / "s.npz")["visible"].shape == (7, 64)


def test_process_existing_run_directory(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.npz").write_bytes(b"previous")
    proc = run_process([*entry_point(), "fit", "digits", "--out", str(out), *SMALL], tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: out: ")
    assert (out / "model.npz").read_bytes() == b"previous"


def test_divergent_training_exits_3_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path):
    out = tmp_path / "run"
    data = tmp_path / "eye.npy"
    np.save(data, np.eye(4)[[0, 1, 2, 3] * 10])
    proc = subprocess.run([sys.executable, "-m", "bmsample.cli.main", "fit", str(data), "--out", str(out),
                           "--hidden", "3", "--batch-size", "10", "--updates", "50", "--learning-rate", "1e38",
                           "--seed", "0", "--quiet"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 3
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: training diverged") and "update" in lines[0]
    assert not (out / "model.npz").exists()
    checkpoints = sorted((out / "checkpoints").glob("update_*.npz"))
    if checkpoints:
        assert str(checkpoints[-1]) in lines[0]
        assert np.all(np.isfinite(bmsample.load_model(checkpoints[-1]).weight_matrix))


OUTPUT_CASES = {  # command line (EXISTING: the file that is there already) and the option named in the error
    "sample --out": (["sample", "{model}", "--chains", "5", "--out", "EXISTING"], "out"),
    "sample --png": (["sample", "{model}", "--chains", "5", "--out", "new.npz", "--png", "EXISTING"], "png"),
    "eval --json": (["eval", "{model}", "digits", "--chains", "20", "--times", "0,1", "--json", "EXISTING"], "json"),
    "eval --png": (["eval", "{model}", "digits", "--chains", "20", "--times", "0,1", "--png", "EXISTING"], "png"),
    "bench --json": (["bench", "--visibles", "8", "--hiddens", "4", "--chains", "10", "--repeats", "1",
                      "--json", "EXISTING"], "json"),
    "theory --json": (["theory", "gaussian", "wine", "-k", "10", "--step-size", "0.001", "--json", "EXISTING"],
                      "json"),
}


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=list(OUTPUT_CASES))
def test_every_output_file_refuses_an_existing_file_unless_overwrite(tmp_path, rdm_model, case):
    args, option = OUTPUT_CASES[case]
    existing = tmp_path / "existing.out"
    existing.write_bytes(b"the user's file")
    args = [str(existing) if a == "EXISTING" else a.format(model=rdm_model) for a in args]
    line = assert_input_error(invoke(args))
    assert line == f"error: {option}: {existing} exists; pass --overwrite to replace it"
    assert existing.read_bytes() == b"the user's file" and not (tmp_path / "new.npz").exists()
    result = invoke([*args, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert existing.read_bytes() != b"the user's file"


def test_plot_and_report_refuse_to_replace_their_folders_files(tmp_path, rdm_model):
    run = tmp_path / "run"
    shutil.copytree(rdm_model.parent, run)
    (run / "plots").mkdir()
    (run / "plots" / "samples.png").write_bytes(b"mine")
    line = assert_input_error(invoke(["plot", run]))
    assert line == f"error: plot: {run / 'plots' / 'samples.png'} exists; pass --overwrite to replace it"
    assert sorted(p.name for p in (run / "plots").iterdir()) == ["samples.png"]
    assert (run / "plots" / "samples.png").read_bytes() == b"mine"
    report = tmp_path / "report"
    report.mkdir()
    (report / "notes.md").write_text("mine")
    line = assert_input_error(invoke(["report", "gaussian", "--quick", "--out", report]))
    assert line == f"error: out: {report} exists and is not empty; pass --overwrite to replace it"
    assert [p.name for p in report.iterdir()] == ["notes.md"]


def test_the_defaults_learn_the_digits(tmp_path):
    """``bmsample fit digits`` with no settings gives a model whose k-step samples carry the data's correlations.

    Before the minimum run length, the defaults made 340 updates and a Pearson coefficient of about 0.05
    at every t; ``benchmarks/default_runs.py`` gives 0.92 for seeds 0 and 1 (5000 updates).
    """
    out = tmp_path / "run"
    fit_run(out, small=["--seed", "0", "--quiet"])
    assert metadata_of(out / "model.npz")["training"]["total_updates"] == 5000
    result = invoke(["eval", out / "model.npz", "digits", "--times", "0,10", "--chains", "1000", "--seed", "0",
                     "--no-aats", "--json", tmp_path / "eval.json"])
    assert result.exit_code == 0, result.output
    rows = {row["t"]: row for row in json.loads((tmp_path / "eval.json").read_text())["rows"]}
    assert rows[10]["covariance_pearson"] > 0.85 and abs(rows[0]["covariance_pearson"]) < 0.1


def test_eval_shows_aa_truth_and_aa_syn_and_flags_when_they_disagree(tmp_path):
    """Samples of the pixel marginals of MNIST score AATS ~ 0.5 although they look like noise."""
    data = bmsample.load_dataset("mnist-test").data
    model = bmsample.BernoulliRBM.from_data(data, 4, rng=0, weight_scale=0.0)
    model.process = {"scheme": "rdm", "k": 1, "init": "bias"}
    bmsample.save_model(tmp_path / "marginals.npz", model)
    result = invoke(["eval", tmp_path / "marginals.npz", "mnist-test", "--times", "0,1", "--chains", "400",
                     "--aats-samples", "400", "--seed", "0"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["t", "means", "rmse", "corr", "rmse", "corr", "pearson", "energy", "aats", "aa_truth",
                                "aa_syn"]
    for line in lines[2:4]:
        cells = line.split()
        aats, truth, syn = map(float, cells[5:8])
        assert abs(aats - 0.5) < 0.05 and truth > 0.95 and syn < 0.05 and cells[8] == "!"
    assert lines[4].startswith("! AA_truth and AA_syn differ by more than 0.2")


def test_a_missing_optional_extra_is_one_line_naming_it(tmp_path, monkeypatch):
    from bmsample.tools import plots

    def no_matplotlib():
        raise ImportError("plots need matplotlib: pip install 'bmsample[plot]'")

    monkeypatch.setattr(plots, "_matplotlib", no_matplotlib)
    line = assert_input_error(invoke(["report", "gaussian", "--quick", "--out", tmp_path / "r"]))
    assert line == "error: plots need matplotlib: pip install 'bmsample[plot]'"


def test_help_texts_say_that_every_family_runs_on_a_gpu():
    top = invoke(["--help"]).output
    assert "on the CPU." not in top and "CUDA GPU" in top
    for command in ("fit", "sample", "bench"):  # --device is declared once, for every command that takes it
        text = " ".join(invoke([command, "--help"]).output.split())
        assert "every family, sampler and trainer runs on a GPU" in text and "CPU only" not in text


def test_the_shared_options_are_declared_once():
    """--seed, --threads, --device, --chains, --dtype, --json, --out and --overwrite: one declaration each
    (``cli/options.py``), so one default and one help text, whatever the command."""
    import re

    from bmsample.cli import options

    shared = ("--seed", "--threads", "--device", "--chains", "--dtype", "--json", "--out", "--overwrite")
    for path in Path(options.__file__).parent.glob("*.py"):
        declared = re.findall(r'click\.option\(\s*"(--[\w-]+)"', path.read_text())
        inside = [flag for flag in declared if flag in shared]
        assert inside == (list(shared) if path.name == "options.py" else []), path.name
    for command in ("fit", "sample", "eval", "bench"):
        text = " ".join(invoke([command, "--help"]).output.split())
        assert "Threads for kernels and BLAS [CPUs available to this process]." in text
