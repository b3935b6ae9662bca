"""The benchmark scripts run (timings themselves are never asserted)."""

import importlib.util
from pathlib import Path

from conftest import needs_two_threads

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_ising_sweeps_script_measures_both_sides():
    spec = importlib.util.spec_from_file_location("ising_sweeps", BENCHMARKS / "ising_sweeps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    row = module.measure(12, 40, "float32", sweeps=2, repeats=2)
    assert row["sweeps_per_second"] > 0 and row["speedup_min"] <= row["speedup_median"] <= row["speedup_max"]


@needs_two_threads
def test_cost_table_script_prints_a_markdown_row_per_case(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("cost_table", BENCHMARKS / "cost_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr("sys.argv", ["cost_table.py", "--quick", "--threads", "1"])
    module.main()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + len(module.cases(quick=True))
    assert all(line.count("|") == 7 for line in lines) and all(line.startswith("| ") for line in lines[2:])
    import bmsample

    bmsample.set_num_threads(2)
