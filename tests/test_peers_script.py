"""benchmarks/peers.py runs, and its baselines sample the right law (timings themselves are never asserted)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "peers.py"


def load_peers():
    spec = importlib.util.spec_from_file_location("peers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_quick_run_with_numpy_as_only_peer_reports_every_case(tmp_path):
    out = tmp_path / "peers.json"
    result = run_script("--quick", "--peers", "numpy", "--threads", "1", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["threads"] == 1 and report["notes"] == []
    gibbs = {(r["dtype"], r["contender"]): r for r in report["gibbs"]}
    assert set(gibbs) == {(d, c) for d in ("float32", "float64") for c in ("bmsample", "numpy")}
    for row in gibbs.values():
        assert row["step_ms"] > 0 and row["gemm_ms"] > 0
        assert row["speed_min"] <= row["speed_median"] <= row["speed_max"]
    assert gibbs["float32", "bmsample"]["speedup_over_numpy_median"] > 0
    epochs = {(r["scheme"], r["contender"]): r for r in report["epochs"]}
    assert set(epochs) == {(s, c) for s in ("rdm", "pcd") for c in ("bmsample", "numpy")}
    assert all(r["ratio_min"] <= r["ratio_median"] <= r["ratio_max"] and r["floor_s"] > 0 for r in epochs.values())
    assert "bare-GEMM time / step time" in result.stdout and "epoch time / GEMM floor" in result.stdout


def test_unknown_peer_is_a_one_line_error():
    result = run_script("--quick", "--peers", "numpy,jax")
    assert result.returncode == 2
    assert "--peers: unknown jax" in result.stderr and "Traceback" not in result.stderr


def test_missing_peer_package_is_a_note_not_an_error(monkeypatch):
    peers = load_peers()
    monkeypatch.setattr(peers.importlib.util, "find_spec", lambda name: None)
    notes = []
    assert peers.available_peers(["numpy", "sklearn", "torch-compile"], notes) == ["numpy"]
    assert notes == ["sklearn: skipped (scikit-learn is not installed; pip install scikit-learn)",
                     "torch-compile: skipped (torch is not installed; pip install torch)"]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_baseline_gibbs_step_draws_the_conditional_law(backend):
    """With W = 0 one step leaves v ~ Bernoulli(sigmoid(a)) independently of the start."""
    peers = load_peers()
    vbias = np.array([-2.0, 0.0, 1.5], dtype=np.float32)
    weights, hbias = np.zeros((3, 2), np.float32), np.zeros(2, np.float32)
    chains = 40_000
    visible = np.ones((chains, 3), np.float32)
    if backend == "numpy":
        peers.NumpyRBM(weights, vbias, hbias, chains, seed=5).gibbs(visible, 1)
    else:
        torch = pytest.importorskip("torch")
        peers.TorchRBM(weights, vbias, hbias, chains).gibbs(torch.from_numpy(visible), 1)
    assert set(np.unique(visible)) <= {0.0, 1.0}
    p = 1.0 / (1.0 + np.exp(-vbias.astype(np.float64)))
    assert np.all(np.abs(visible.mean(axis=0) - p) < 5 * np.sqrt(p * (1 - p) / chains))
