"""The benchmark script runs (timings themselves are never asserted)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gibbs_ratio.py"


def test_gibbs_ratio_script_measures_both_sides():
    spec = importlib.util.spec_from_file_location("gibbs_ratio", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    row = module.measure(30, 20, 40, "float32", steps=2, repeats=3)
    assert row["gemm_ms"] > 0 and row["step_ms"] > 0
    assert row["ratio_min"] <= row["ratio_median"] <= row["ratio_max"]
