"""The benchmark scripts run (timings themselves are never asserted)."""

import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_ising_sweeps_script_measures_both_sides():
    spec = importlib.util.spec_from_file_location("ising_sweeps", BENCHMARKS / "ising_sweeps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    row = module.measure(12, 40, "float32", sweeps=2, repeats=2)
    assert row["sweeps_per_second"] > 0 and row["speedup_min"] <= row["speedup_median"] <= row["speedup_max"]
