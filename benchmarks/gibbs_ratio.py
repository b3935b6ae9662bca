"""Time a block-Gibbs step against the two bare GEMMs of the same shapes.

    python benchmarks/gibbs_ratio.py --visibles 784 --hiddens 500 --chains 100,1000,5000

Both are measured in the same process, interleaved repeat by repeat so that
machine noise hits both alike; the table gives the median, min and max of the
per-repeat ratio step / GEMMs (1.00 = the BLAS limit).
"""

# bmsample first: it sets the OpenMP / OpenBLAS environment before NumPy loads.
import bmsample  # noqa: I001

import argparse
import json
import time

import numpy as np

from bmsample._rng import ChainStreams
from bmsample.rbm.sample import GibbsWorkspace, gibbs_steps


def measure(num_visibles, num_hiddens, chains, dtype, steps, repeats):
    rng = np.random.default_rng(0)
    model = bmsample.BernoulliRBM(rng.standard_normal((num_visibles, num_hiddens)) * 0.05,
                                  rng.standard_normal(num_visibles) * 0.1, np.zeros(num_hiddens), dtype=dtype)
    visible = (rng.random((chains, num_visibles)) < 0.5).astype(dtype)
    work = GibbsWorkspace(model, chains)
    streams = ChainStreams((1, 2))
    W = model.weight_matrix

    def gemms():
        for _ in range(steps):
            np.matmul(visible, W, out=work.hidden_field)
            np.matmul(work.hidden, W.T, out=work.visible_field)

    def gibbs():
        gibbs_steps(model, visible, steps, streams, work)

    gibbs(), gemms()  # compile and warm up (gibbs first: it fills the hidden buffer)
    base, step = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        gemms()
        t1 = time.perf_counter()
        gibbs()
        t2 = time.perf_counter()
        base.append((t1 - t0) / steps)
        step.append((t2 - t1) / steps)
    ratios = np.array(step) / np.array(base)
    return {"visibles": num_visibles, "hiddens": num_hiddens, "chains": chains, "dtype": dtype,
            "gemm_ms": 1e3 * float(np.median(base)), "step_ms": 1e3 * float(np.median(step)),
            "ratio_median": float(np.median(ratios)), "ratio_min": float(ratios.min()),
            "ratio_max": float(ratios.max())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visibles", type=int, default=784)
    parser.add_argument("--hiddens", type=int, default=500)
    parser.add_argument("--chains", default="100,1000,5000")
    parser.add_argument("--dtype", default="float32,float64")
    parser.add_argument("--steps", type=int, default=10, help="steps per timed call")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    if args.threads:
        bmsample.set_num_threads(args.threads)
    rows = []
    print(f"{'size':>10} {'chains':>7} {'dtype':>8} {'gemm ms':>9} {'step ms':>9} {'ratio':>6} {'min':>6} {'max':>6}")
    for dtype in args.dtype.split(","):
        for chains in (int(c) for c in args.chains.split(",")):
            row = measure(args.visibles, args.hiddens, chains, dtype, args.steps, args.repeats)
            rows.append(row)
            print(f"{args.visibles}x{args.hiddens:<5} {chains:>7} {dtype:>8} {row['gemm_ms']:9.3f} "
                  f"{row['step_ms']:9.3f} {row['ratio_median']:6.3f} {row['ratio_min']:6.3f} {row['ratio_max']:6.3f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
