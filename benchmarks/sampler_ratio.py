"""Time a sampler step against the bare GEMMs of the same shapes.

    python benchmarks/sampler_ratio.py --visibles 784 --hiddens 500 --chains 100,1000,5000
    python benchmarks/sampler_ratio.py --model gaussian --visibles 784 --chains 1000

RBM: a block-Gibbs step against its two GEMMs (v W, h W^T); Gaussian: a
Langevin step against its GEMM (x J).

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
from bmsample.gaussian.sample import GaussianWorkspace, langevin_steps
from bmsample.rbm.sample import GibbsWorkspace, gibbs_steps


def rbm_case(num_visibles, num_hiddens, chains, dtype, steps):
    """(bare GEMMs, sampler) callables running ``steps`` block-Gibbs steps."""
    rng = np.random.default_rng(0)
    model = bmsample.BernoulliRBM(rng.standard_normal((num_visibles, num_hiddens)) * 0.05,
                                  rng.standard_normal(num_visibles) * 0.1, np.zeros(num_hiddens), dtype=dtype)
    visible = (rng.random((chains, num_visibles)) < 0.5).astype(dtype)
    work = GibbsWorkspace(model, chains)
    work.hidden[...] = 0
    streams = ChainStreams((1, 2))
    W = model.weight_matrix

    def gemms():
        for _ in range(steps):
            np.matmul(visible, W, out=work.hidden_field)
            np.matmul(work.hidden, W.T, out=work.visible_field)

    def sampler():
        gibbs_steps(model, visible, steps, streams, work)

    return gemms, sampler


def gaussian_case(num_units, chains, dtype, steps):
    """(bare GEMM, sampler) callables running ``steps`` Langevin steps of a well-conditioned model."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((num_units, num_units)) / np.sqrt(num_units)
    model = bmsample.GaussianModel(a @ a.T + np.eye(num_units), np.zeros(num_units), dtype=dtype)
    state = rng.standard_normal((chains, num_units)).astype(dtype)
    work = GaussianWorkspace(model, chains)
    streams = ChainStreams((1, 2))

    def gemms():
        for _ in range(steps):
            np.matmul(state, model.coupling_matrix, out=work.field)

    def sampler():
        langevin_steps(model, state, steps, streams, work, step_size=0.01)

    return gemms, sampler


def measure(num_visibles, num_hiddens, chains, dtype, steps, repeats, model="rbm"):
    """Median / min / max over ``repeats`` of (sampler time / bare-GEMM time), interleaved."""
    if model == "rbm":
        gemms, sampler = rbm_case(num_visibles, num_hiddens, chains, dtype, steps)
    else:
        gemms, sampler = gaussian_case(num_visibles, chains, dtype, steps)
    sampler(), gemms()  # compile and warm up
    base, step = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        gemms()
        t1 = time.perf_counter()
        sampler()
        t2 = time.perf_counter()
        base.append((t1 - t0) / steps)
        step.append((t2 - t1) / steps)
    ratios = np.array(step) / np.array(base)
    return {"model": model, "visibles": num_visibles, "hiddens": num_hiddens if model == "rbm" else None,
            "chains": chains, "dtype": dtype,
            "gemm_ms": 1e3 * float(np.median(base)), "step_ms": 1e3 * float(np.median(step)),
            "ratio_median": float(np.median(ratios)), "ratio_min": float(ratios.min()),
            "ratio_max": float(ratios.max())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["rbm", "gaussian"], default="rbm")
    parser.add_argument("--visibles", type=int, default=784, help="visible units (Gaussian: dimension N)")
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
            row = measure(args.visibles, args.hiddens, chains, dtype, args.steps, args.repeats, args.model)
            rows.append(row)
            size = f"{args.visibles}x{args.hiddens}" if args.model == "rbm" else f"N={args.visibles}"
            print(f"{size:>10} {chains:>7} {dtype:>8} {row['gemm_ms']:9.3f} "
                  f"{row['step_ms']:9.3f} {row['ratio_median']:6.3f} {row['ratio_min']:6.3f} {row['ratio_max']:6.3f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
