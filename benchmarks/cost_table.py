"""How the cost of a Gibbs step grows with chains, visibles and hiddens (the README's cost table).

    python benchmarks/cost_table.py [--dtype float32] [--quick]

Varies one size at a time around 784 x 500 with 1000 chains and prints, per
case, the step time, the time per chain-weight (step time / (chains x V x H):
constant where the cost is linear in the work) and the step / bare-GEMM
ratio of ``bmsample bench``.  Markdown, ready for the README.
"""

# bmsample first: it sets the OpenMP / OpenBLAS environment before NumPy loads.
import bmsample  # noqa: I001

import argparse

from bmsample.tools.bench import measure, synthetic_model

BASE = (784, 500, 1000)
CHAINS = (10, 100, 1000, 10000)
VISIBLES = (100, 200, 400, 784, 1600)
HIDDENS = (50, 100, 200, 500, 2000)


def cases(quick):
    """(varied, visibles, hiddens, chains) around BASE, one size varied at a time."""
    if quick:
        return [("chains", 50, 20, 10), ("chains", 50, 20, 100), ("visibles", 100, 20, 10)]
    V, H, C = BASE
    return ([("chains", V, H, c) for c in CHAINS] + [("visibles", v, H, C) for v in VISIBLES]
            + [("hiddens", V, h, C) for h in HIDDENS])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the script runs")
    args = parser.parse_args()
    if args.threads:
        bmsample.set_num_threads(args.threads)
    print("| varied | V x H | chains | step ms | ps per chain-weight | step / GEMMs |")
    print("|---|---|---|---|---|---|")
    for varied, V, H, C in cases(args.quick):
        model = synthetic_model("rbm", V, H, args.dtype)
        steps = max(2, min(50, int(2e8 // (C * V * H))))
        row = measure(model, C, steps=steps, repeats=5 if args.quick else 9)
        per_weight = 1e12 * row.step_ms / 1e3 / (C * V * H)
        print(f"| {varied} | {V} x {H} | {C} | {row.step_ms:.3f} | {per_weight:.2f} | {row.ratio_median:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
