"""The benchmark script runs (timings themselves are never asserted)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "sampler_ratio.py"


def test_sampler_ratio_script_measures_both_sides():
    spec = importlib.util.spec_from_file_location("sampler_ratio", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    row = module.measure(30, 20, 40, "float32", steps=2, repeats=3)
    assert row["gemm_ms"] > 0 and row["step_ms"] > 0
    assert row["ratio_min"] <= row["ratio_median"] <= row["ratio_max"]
    row = module.measure(30, None, 40, "float64", steps=2, repeats=3, model="gaussian")
    assert row["model"] == "gaussian" and row["step_ms"] > 0


def test_ising_sweeps_script_measures_both_sides():
    path = SCRIPT.parent / "ising_sweeps.py"
    spec = importlib.util.spec_from_file_location("ising_sweeps", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    row = module.measure(12, 40, "float32", sweeps=2, repeats=2)
    assert row["sweeps_per_second"] > 0 and row["speedup_min"] <= row["speedup_median"] <= row["speedup_max"]
