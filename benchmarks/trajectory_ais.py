"""Trajectory AIS of a whole run against standard AIS of its final model, at equal error bar; and PTT.

Standard AIS (``bmsample.rbm.likelihood.ais_log_partition``) estimates log Z of one model along a temperature
path.  Trajectory AIS (``bmsample.trajectory.trajectory_log_partition``) estimates log Z of every model the run
saved in one pass along the training path.  Both standard errors fall as 1 / sqrt(chains), so the time each
needs for a given error bar is its measured time times (its error / that error)^2; the table gives the time for
an error bar of 0.1 nats on the final model, and the two final estimates side by side.  The last lines run
parallel trajectory tempering over the run's models (``trajectory_tempering``) and print its ladder, swap
acceptance and round trips.  The README quotes the output.

    bmsample fit mnist --trajectory 200 --seed 0 --out runs/mnist-trajectory   # about 4 minutes on 2 cores
    python benchmarks/trajectory_ais.py runs/mnist-trajectory --repeats 1       # about 10 minutes

``--exact`` adds the exact log Z of the final model (enumerating its hidden states: at most 24 hidden units) and
every estimate's distance from it.
"""

import argparse
import json
import time
from functools import partial

import numpy as np

TARGET_ERROR = 0.1


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--chains", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--standard-betas", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--between", type=int, nargs="+", default=[0, 4, 20])
    parser.add_argument("--ptt-sweeps", type=int, default=200)
    parser.add_argument("--exact", action="store_true", help="Also the exact log Z (at most 24 hidden units).")
    parser.add_argument("--json", help="Also write the rows here.")
    args = parser.parse_args()

    import bmsample
    from bmsample.rbm.likelihood import ais_log_partition
    from bmsample.trajectory import load_trajectory, trajectory_log_partition, trajectory_tempering

    trajectory = load_trajectory(args.run_dir)
    final = trajectory.models[-1]
    print(f"{args.run_dir}: {len(trajectory.models)} saved models (updates {trajectory.updates[0]} ... "
          f"{trajectory.updates[-1]}), {final.num_visibles} x {final.num_hiddens}, {args.chains} chains, "
          f"{bmsample.__version__}")
    exact = None
    if args.exact:
        from bmsample.rbm.model import exact_log_partition

        if final.num_hiddens > 24:
            parser.error(f"--exact: enumerating {final.num_hiddens} hidden units is out of reach (at most 24)")
        exact = float(exact_log_partition(final))
        print(f"exact log Z of the final model: {exact:.3f}")
    rows = []
    for seed in range(args.repeats):
        for betas in args.standard_betas:
            result, seconds = timed(partial(ais_log_partition, final, num_chains=args.chains, num_betas=betas,
                                            rng=seed))
            rows.append({"method": f"standard AIS, {betas} betas", "seed": seed, "seconds": seconds,
                         "log_z": result.log_z, "std_error": result.log_z_std_error,
                         "ess": result.effective_sample_size, "models": 1})
        for between in args.between:
            result, seconds = timed(partial(trajectory_log_partition, trajectory, num_chains=args.chains,
                                            between=between, rng=seed))
            rows.append({"method": f"trajectory AIS, {between} between", "seed": seed, "seconds": seconds,
                         "log_z": float(result.log_z[-1]), "std_error": float(result.log_z_std_error[-1]),
                         "ess": float(result.effective_sample_size[-1]), "models": len(trajectory.models)})
    print(f"{'method':<28} {'seed':>4} {'seconds':>8} {'log Z (final)':>14} {'std err':>8} {'ESS':>7} "
          f"{'s for 0.1 nats':>15} {'models':>6}" + (f" {'- exact':>8}" if exact is not None else ""))
    for row in rows:
        row["seconds_for_target"] = row["seconds"] * (row["std_error"] / TARGET_ERROR) ** 2
        if exact is not None:
            row["error"] = row["log_z"] - exact
        print(f"{row['method']:<28} {row['seed']:>4} {row['seconds']:8.1f} {row['log_z']:14.3f} "
              f"{row['std_error']:8.3f} {row['ess']:7.1f} {row['seconds_for_target']:15.1f} {row['models']:>6}"
              + (f" {row['error']:+8.3f}" if exact is not None else ""))
    ptt, seconds = timed(lambda: trajectory_tempering(trajectory, 100, args.ptt_sweeps, rng=0))
    ladder = " ".join("base" if u is None else str(u) for u in ptt.updates)
    print(f"PTT, 100 chains per replica, {args.ptt_sweeps} sweeps: {seconds:.1f} s; ladder (updates) {ladder}")
    print("swap acceptance per pair: " + " ".join(f"{a:.2f}" for a in ptt.acceptance))
    print(f"round trips: {ptt.round_trips}; pilot's shortfalls: {len(ptt.selection['shortfalls'])}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"exact_log_z": exact, "rows": rows, "ptt": ptt.diagnostics(), "ptt_seconds": seconds},
                      handle, indent=2, default=float)


if __name__ == "__main__":
    np.seterr(over="ignore")
    main()
