"""bmsample bench: structure and honesty of the measurement (timings themselves are never asserted)."""

import json

import pytest
from click.testing import CliRunner

import bmsample
from bmsample import bench
from bmsample.cli.main import main


@pytest.mark.parametrize("family, hiddens", [("rbm", 12), ("gaussian", None)])
def test_rows_hold_both_sides_of_the_ratio(family, hiddens):
    rows = bench.run(family, 30, hiddens, chains=(20, 40), dtypes=("float32", "float64"), steps=2, repeats=3)
    assert [(r.chains, r.dtype) for r in rows] == [(20, "float32"), (40, "float32"), (20, "float64"),
                                                    (40, "float64")]
    for r in rows:
        assert r.family == family and r.step_ms > 0 and r.gemm_ms > 0
        assert r.ratio_min <= r.ratio_median <= r.ratio_max
        assert r.chain_updates_per_second == pytest.approx(r.chains * r.steps_per_second)


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
