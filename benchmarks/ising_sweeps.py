"""Sweeps per second of the Ising samplers against a plain NumPy sweep, in the same process.

    python benchmarks/ising_sweeps.py --units 64,784 --chains 1000

The NumPy baseline is a sequential heat-bath sweep vectorised over chains:
for each site, draw the new spins of all chains at once and update every
chain's local fields with an outer product (O(chains x N) per site).
"""

# bmsample first: it sets the OpenMP / OpenBLAS environment before NumPy loads.
import bmsample  # noqa: I001

import argparse

import numpy as np

from bmsample._rng import ChainStreams
from bmsample.tools.bench import interleaved_times
from bmsample.ising.sample import IsingWorkspace, run_sweeps


def numpy_heat_bath_sweep(coupling, field, spins, local, rng):
    """One sequential heat-bath sweep of all chains in place (the baseline)."""
    for i in range(spins.shape[1]):
        up = rng.random(spins.shape[0]) < 1.0 / (1.0 + np.exp(-2.0 * local[:, i]))
        new = np.where(up, 1.0, -1.0).astype(spins.dtype)
        delta = new - spins[:, i]
        spins[:, i] = new
        local += np.outer(delta, coupling[i])


def random_model(num_units, dtype):
    rng = np.random.default_rng(0)
    J = rng.standard_normal((num_units, num_units)) / np.sqrt(num_units)
    J = np.triu(J, 1)
    return bmsample.IsingModel(J + J.T, rng.standard_normal(num_units) * 0.1, dtype=dtype)


def measure(num_units, chains, dtype, sweeps, repeats, sampler="heat-bath"):
    model = random_model(num_units, dtype)
    rng = np.random.default_rng(1)
    state = np.where(rng.random((chains, num_units)) < 0.5, 1.0, -1.0).astype(dtype)
    baseline_state = state.copy()
    work = IsingWorkspace(model, chains)
    streams = ChainStreams((1, 2))

    def ours():
        run_sweeps(model, state, sweeps, streams, work, sampler=sampler)

    def baseline():
        local = baseline_state @ model.coupling_matrix + model.field
        for _ in range(sweeps):
            numpy_heat_bath_sweep(model.coupling_matrix, model.field, baseline_state, local, rng)

    ours(), baseline()
    times = interleaved_times({"baseline": baseline, "ours": ours}, repeats)
    speedups, ours_s = times["baseline"] / times["ours"], times["ours"] / sweeps
    return {"units": num_units, "chains": chains, "dtype": dtype, "sampler": sampler,
            "sweeps_per_second": 1.0 / float(np.median(ours_s)), "speedup_median": float(np.median(speedups)),
            "speedup_min": float(np.min(speedups)), "speedup_max": float(np.max(speedups))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", default="64,784")
    parser.add_argument("--chains", type=int, default=1000)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--sampler", default="heat-bath")
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'N':>5} {'chains':>7} {'dtype':>8} {'sampler':>12} {'sweeps/s':>10} {'x numpy':>8} {'min':>6} {'max':>6}")
    for dtype in args.dtype.split(","):
        for n in (int(u) for u in args.units.split(",")):
            row = measure(n, args.chains, dtype, args.sweeps, args.repeats, args.sampler)
            print(f"{n:>5} {args.chains:>7} {dtype:>8} {args.sampler:>12} {row['sweeps_per_second']:10.1f} "
                  f"{row['speedup_median']:8.1f} {row['speedup_min']:6.1f} {row['speedup_max']:6.1f}")


if __name__ == "__main__":
    main()
