"""Every CUDA kernel and device function compiles to PTX for sm_80 and sm_90, without a GPU.

The simulator runs any Python, so only a real compile catches what a device would refuse (a computed
shape in ``cuda.shared.array`` did).  numba-cuda compiles in a separate process: the test session runs
on the simulator.  The PTX is also read for what the code promises: Philox in 32-bit multiplies, the
exponentials of the samplers as libdevice's accurate ``expf`` (its argument reduction, not ex2 of
x log2(e)), float32 kernels without float64 arithmetic, no approximate sin / cos / division.
"""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("numba_cuda")

from bmsample._gpu_linalg import SWEEP_CHUNK  # noqa: E402

COMPILE = r"""
import json, re, sys
from bmsample import _gpu_kernels as G
cc = tuple(int(x) for x in sys.argv[1].split("."))
rows = {}
for target in G.targets():
    try:
        ptx = G.compile_ptx(target, cc)
    except Exception as exc:
        rows[target.label] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
        continue
    count = lambda pattern: len(re.findall(pattern, ptx))
    rows[target.label] = {"mul64": count(r"mul\.(lo|hi|wide)\.[su]64"), "ex2": count(r"ex2\.approx"),
                          "reduced_exp": count(r"fma\.rm\.f32"), "cvt_f64_f32": count(r"cvt\.f64\.f32"),
                          "approx": count(r"(sin|cos)\.approx|div\.(approx|full)"),
                          "target": f".target sm_{cc[0]}{cc[1]}" in ptx}
print(json.dumps(rows))
"""


def compile_all(*capabilities):
    """{cc: {label: facts}} from one compiling process per compute capability, run side by side."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    procs = {cc: subprocess.Popen([sys.executable, "-c", COMPILE, cc], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env) for cc in capabilities}
    results = {}
    for cc, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=900)
        if "libNVVM cannot be found" in stderr or "NvvmSupportError" in stderr:
            pytest.skip("no NVVM here: install numba-cuda[cu12] (the test extra does)")
        assert proc.returncode == 0, stderr[-3000:]
        results[cc] = json.loads(stdout.splitlines()[-1])
    return results


@pytest.fixture(scope="module")
def compiled():
    return compile_all("8.0", "9.0")


def test_every_kernel_and_device_function_compiles(compiled):
    for cc, rows in compiled.items():
        failed = {label: row["error"] for label, row in rows.items() if "error" in row}
        assert not failed, f"sm_{cc}: {failed}"
        assert all(row["target"] for row in rows.values())
        assert len(rows) > 100  # every variant: 40 products, both dtypes of every kernel, ...


def test_philox_is_32_bit_multiplies(compiled):
    for rows in compiled.values():
        for label in ("philox4x32", "philox_word", "bernoulli[float32]", "normal[float32]", "normal[float64]"):
            assert rows[label]["mul64"] == 0, label


#: float32 kernels that convert to float64 by design: the swap terms of tempering are summed in float64, as
#: on the CPU (the RBM's from float64 betas: two narrowings of the betas, one widening per term block; the
#: spins' -E(s) - h0 . s from float32 spins and fields).
FLOAT64_SUMS = {"rbm_tempered_gaps[float32]", "ising_tempering_log_weights[float32]"}


def test_exponentials_are_accurate_and_float32_stays_float32(compiled):
    for rows in compiled.values():
        assert FLOAT64_SUMS <= set(rows)
        for label, row in rows.items():
            assert row["approx"] == 0, label
            if "float32" in label:
                assert row["cvt_f64_f32"] == 0 or label in FLOAT64_SUMS, label  # e.g. (1 - rate) in float64
                assert row["ex2"] <= row["reduced_exp"], label  # fast-math exp: ex2.approx with no reduction
        metropolis = [row for label, row in rows.items() if label.startswith("ising_sweeps[float32,metropolis,")]
        assert len(metropolis) == 3  # warp per chain, block per chain with rows in shared and in global memory
        assert all(row["ex2"] >= 1 and row["ex2"] == row["reduced_exp"] for row in metropolis)


def test_every_cuda_function_is_listed():
    """A new ``@cuda.jit`` function must join ``bmsample._gpu_kernels.targets()``, or it is never compiled here."""
    code = ("import json; from bmsample import _gpu_kernels as G; "
            "print(json.dumps([sorted(G.decorated_functions()), sorted(G.listed_functions())]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NUMBA_ENABLE_CUDASIM": "0"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    decorated, listed = map(set, json.loads(proc.stdout.splitlines()[-1]))
    assert len(decorated) >= 25
    assert decorated - listed == set()


def test_ptx_table_lists_registers_and_shared_memory():
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "ptx_table.py"
    proc = subprocess.run([sys.executable, str(script), "--only", "ising_sweeps[float32,heat-bath,block,shared]"],
                          capture_output=True, text=True, timeout=300)
    if "no ptxas" in proc.stderr:
        pytest.skip("no ptxas here")
    assert proc.returncode == 0, proc.stderr[-2000:]
    name, registers, spill_stores, spill_loads, shared, stack = proc.stdout.splitlines()[-1].split()
    assert name == "ising_sweeps[float32,heat-bath,block,shared]" and 0 < int(registers) <= 255
    assert int(shared) >= SWEEP_CHUNK * 4  # static: the uniforms of a chunk of site updates (rows are dynamic)
