"""Registers, spills and shared memory of every CUDA kernel, from ``ptxas -v``; no GPU needed.

Each kernel of ``bmsample._gpu_kernels.targets()`` is compiled to PTX for the
compute capability and assembled by ``ptxas`` (the one of numba-cuda's CUDA
12 toolkit, ``pip install 'bmsample[cuda]'``, or one on the PATH):

    python benchmarks/ptx_table.py                 # sm_90
    python benchmarks/ptx_table.py --cc 8.0 --only product
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ["NUMBA_ENABLE_CUDASIM"] = "0"  # a real compile, even from a shell that set the simulator


def find_ptxas():
    """The ptxas of numba-cuda's toolkit wheel, else one on the PATH, else None."""
    try:
        import nvidia.cuda_nvcc

        candidate = Path(next(iter(nvidia.cuda_nvcc.__path__))) / "bin" / "ptxas"
        if candidate.is_file():
            return str(candidate)
    except ImportError:
        pass
    return shutil.which("ptxas")


def assemble(ptxas, ptx, cc):
    """{registers, spill_stores, spill_loads, shared_bytes, stack_bytes} of the PTX's kernel(s), summed."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kernel.ptx"
        path.write_text(ptx)
        proc = subprocess.run([ptxas, "-v", f"--gpu-name=sm_{cc[0]}{cc[1]}", str(path), "-o", os.devnull],
                              capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1])
    text = proc.stderr
    numbers = {key: sum(int(n) for n in re.findall(pattern, text)) for key, pattern in
               (("registers", r"Used (\d+) registers"), ("spill_stores", r"(\d+) bytes spill stores"),
                ("spill_loads", r"(\d+) bytes spill loads"), ("shared_bytes", r"(\d+) bytes smem"),
                ("stack_bytes", r"(\d+) bytes stack frame"))}
    return numbers


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cc", default="9.0", help="Compute capability, e.g. 8.0 or 9.0.")
    parser.add_argument("--only", default="", help="Only the kernels whose label contains this text.")
    args = parser.parse_args()
    cc = tuple(int(x) for x in args.cc.split("."))
    ptxas = find_ptxas()
    if ptxas is None:
        sys.exit("no ptxas: pip install 'bmsample[cuda]' (numba-cuda's CUDA 12 toolkit), or put one on the PATH")
    from bmsample import _gpu_kernels

    print(f"sm_{cc[0]}{cc[1]}, {ptxas}")
    print(f"{'kernel':<46} {'registers':>9} {'spill st':>8} {'spill ld':>8} {'smem B':>7} {'stack B':>7}")
    for target in _gpu_kernels.targets():
        if target.device or args.only not in target.label:
            continue
        row = assemble(ptxas, _gpu_kernels.compile_ptx(target, cc), cc)
        print(f"{target.label:<46} {row['registers']:>9} {row['spill_stores']:>8} {row['spill_loads']:>8} "
              f"{row['shared_bytes']:>7} {row['stack_bytes']:>7}", flush=True)


if __name__ == "__main__":
    main()
