"""bmsample bench: structure and honesty of the measurement (timings themselves are never asserted)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import needs_two_threads

import bmsample
from bmsample.cli.main import main
from bmsample.tools import bench


@pytest.mark.parametrize("family, hiddens", [("rbm", 12), ("gaussian-rbm", 12), ("gaussian", None), ("ising", None)])
def test_rows_hold_both_sides_of_the_ratio(family, hiddens):
    rows = bench.run(family, 30, hiddens, chains=(20, 40), dtypes=("float32", "float64"), steps=2, repeats=3)
    assert [(r.chains, r.dtype) for r in rows] == [(20, "float32"), (40, "float32"), (20, "float64"),
                                                    (40, "float64")]
    for r in rows:
        assert r.family == family and r.step_ms > 0 and r.gemm_ms > 0
        assert r.ratio_min <= r.ratio_median <= r.ratio_max
        assert r.chain_updates_per_second == pytest.approx(r.chains * r.steps_per_second)
        assert r.kernel == ("blocks" if family == "rbm" else None)  # a small model: the block kernel


@needs_two_threads
def test_rbm_rows_name_the_kernel_that_ran(monkeypatch):
    """The row says which kernel "auto" ran, and the sampler timed is that kernel."""
    from bmsample.rbm import sample

    ran = []
    monkeypatch.setattr(sample, "_parallel_kernel_steps", lambda kernel, *args: ran.append(kernel))
    bmsample.set_num_threads(2)
    rows = bench.run("rbm", 512, 512, chains=(10, 400), steps=1, repeats=1)  # 2**18 weights
    assert [r.kernel for r in rows] == ["units", "blocks"] and sorted(set(ran)) == ["blocks", "units"]
    assert ran == ["units"] * ran.count("units") + ["blocks"] * ran.count("blocks")
    assert bench.format_rows(rows).splitlines()[1].endswith("  units")


@needs_two_threads
def test_cli_bench_table_and_json(tmp_path):
    result = CliRunner().invoke(main, ["bench", "--visibles", "20", "--hiddens", "10", "--chains", "16,32",
                                       "--steps", "2", "--repeats", "2", "--json", str(tmp_path / "b.json"),
                                       "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "ratio" in result.stdout.splitlines()[0] and len(result.stdout.splitlines()) == 3
    rows = json.loads((tmp_path / "b.json").read_text())
    assert [r["chains"] for r in rows] == [16, 32] and all("gemm_ms" in r and "ratio_median" in r for r in rows)
    bmsample.set_num_threads(2)


def test_cli_bench_saved_model_and_bad_input(tmp_path):
    model = bench.synthetic_model("gaussian", 12, dtype="float64")
    bmsample.save_model(tmp_path / "g.npz", model)
    result = CliRunner().invoke(main, ["bench", "--model-file", str(tmp_path / "g.npz"), "--chains", "8",
                                       "--steps", "2", "--repeats", "2", "--dtype", "float64"])
    assert result.exit_code == 0, result.output
    assert "N=12" in result.stdout
    bad = CliRunner().invoke(main, ["bench", "--chains", "ten"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: chains:")
    bad = CliRunner().invoke(main, ["bench", "--dtype", "float16", "--visibles", "8", "--hiddens", "4"])
    assert bad.exit_code == 2 and "dtype" in bad.stderr
    bad = CliRunner().invoke(main, ["bench", "--model", "potts", "--visibles", "8"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: model: expected one of rbm, gaussian, gaussian-rbm, ")


def test_bench_takes_grbm_for_the_gaussian_rbm_family():
    rows = bench.run("grbm", 10, 4, chains=(8,), steps=1, repeats=1)
    assert rows[0].family == "gaussian-rbm" and rows[0].hiddens == 4


@pytest.mark.parametrize("family, size", [("gaussian-rbm", "12x6"), ("ising", "N=12")])
def test_cli_bench_every_family_and_saved_models(tmp_path, family, size):
    args = ["--visibles", "12", "--hiddens", "6", "--chains", "8", "--steps", "2", "--repeats", "2"]
    result = CliRunner().invoke(main, ["bench", "--model", family, *args])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split()[:3] == [family, size, "8"]
    bmsample.save_model(tmp_path / "m.npz", bench.synthetic_model(family, 12, 6, dtype="float64"))
    result = CliRunner().invoke(main, ["bench", "--model-file", str(tmp_path / "m.npz"), "--chains", "8",
                                       "--steps", "2", "--repeats", "2", "--dtype", "float32,float64"])
    assert result.exit_code == 0, result.output
    assert [line.split()[3] for line in result.stdout.splitlines()[1:]] == ["float32", "float64"]
    refused = CliRunner().invoke(main, ["bench", "--model", family, "--epoch", *args])
    assert refused.exit_code == 2 and refused.stderr.startswith("error: epoch:")


def test_epoch_row_times_an_epoch_and_its_gemm_floor():
    data = (np.random.default_rng(0).random((60, 20)) < 0.4).astype(np.float32)
    row = bench.measure_epoch(data, 8, scheme="pcd", k=2, batch_size=20, num_chains=10, repeats=2)
    assert (row.updates, row.chains, row.samples, row.batch_size) == (3, 10, 60, 20)
    assert row.epoch_s > 0 and row.floor_s > 0
    assert row.ratio_min <= row.ratio_median <= row.ratio_max


@needs_two_threads
def test_cli_bench_epoch(tmp_path):
    result = CliRunner().invoke(main, ["bench", "--visibles", "20", "--hiddens", "10", "--chains", "16",
                                       "--steps", "2", "--repeats", "2", "--epoch", "--epoch-data", "digits",
                                       "--epoch-samples", "200", "--schemes", "rdm,cd", "-k", "2",
                                       "--batch-size", "50", "--json", str(tmp_path / "b.json"), "--threads", "1"])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "b.json").read_text())
    assert [r["kind"] for r in rows] == ["step", "epoch", "epoch"]
    assert [(r["scheme"], r["updates"]) for r in rows[1:]] == [("rdm", 4), ("cd", 4)]
    assert "rdm-2" in result.stdout and "cd-2" in result.stdout
    bad = CliRunner().invoke(main, ["bench", "--epoch", "--schemes", "rdm,xx"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: schemes:")
    bmsample.set_num_threads(2)


@pytest.mark.gpu
@pytest.mark.parametrize("family, hiddens", [("rbm", 6), ("gaussian-rbm", 6), ("gaussian", None), ("ising", None)])
def test_device_rows_time_the_device_steps_against_the_device_product(family, hiddens):
    pytest.importorskip("numba_cuda")
    rows = bench.run(family, 8, hiddens, chains=(4,), dtypes=("float32",), steps=1, repeats=2, backend="cuda")
    assert len(rows) == 1 and rows[0].backend.startswith("cuda:0") and rows[0].family == family
    assert rows[0].step_ms > 0 and rows[0].gemm_ms > 0 and rows[0].ratio_min <= rows[0].ratio_max


@pytest.mark.gpu
def test_cli_bench_device(tmp_path):
    pytest.importorskip("numba_cuda")
    args = ["bench", "--visibles", "8", "--hiddens", "4", "--chains", "4", "--steps", "1", "--repeats", "2"]
    result = CliRunner().invoke(main, [*args, "--device", "cuda", "--json", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    assert "cuda:0" in result.stdout.splitlines()[1]
    assert json.loads((tmp_path / "b.json").read_text())[0]["backend"].startswith("cuda:0")
    refused = CliRunner().invoke(main, [*args, "--device", "cuda", "--epoch"])
    assert refused.exit_code == 2 and refused.stderr.startswith("error: epoch: training epochs are timed on the CPU")
    bad = CliRunner().invoke(main, [*args, "--device", "gpu"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: backend: expected")
