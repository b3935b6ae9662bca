"""What ``bmsample fit DATA`` learns with its defaults, on every bundled binary dataset.

For each dataset: train with the defaults (``bmsample.fit(data, seed=S)``: an
RBM of 500 hidden units, Rdm-10, learning rate 0.01, batch 100, 20 epochs and
at least 5000 updates), then compare 1000 fresh chains with held-out data at
t = 0, k and 10 k: the Pearson coefficient of the connected correlations
(1 = the data's correlations), and the rms error of the means.  The README
quotes these numbers.

    python benchmarks/default_runs.py                    # digits, mnist-test, mnist (about 5 minutes)
    python benchmarks/default_runs.py --datasets digits --seeds 0,1
"""

import argparse
import time

import bmsample
from bmsample.evaluation import evaluate

#: Held-out data of each dataset (the data itself where there is no test split).
HELD_OUT = {"digits": "digits", "mnist-test": "mnist-test", "mnist": "mnist-test"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="digits,mnist-test,mnist")
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args()
    print(f"{'data':<11} {'seed':>4} {'updates':>7} {'seconds':>7} {'pearson t=0':>11} {'t=k':>6} {'t=10k':>6} "
          f"{'means rmse t=k':>14}")
    for name in args.datasets.split(","):
        data = bmsample.load_dataset(name).data
        reference = bmsample.load_dataset(HELD_OUT[name], dtype="float64").data
        for seed in (int(s) for s in args.seeds.split(",")):
            start = time.perf_counter()
            result = bmsample.fit(data, seed=seed, data_name=name)
            seconds = time.perf_counter() - start
            k = result.config.k
            rows = {row["t"]: row for row in evaluate(result.model, reference, times=[0, k, 10 * k], rng=seed,
                                                      aats=False).rows}
            print(f"{name:<11} {seed:>4} {result.history[-1]['update']:>7} {seconds:>7.1f} "
                  f"{rows[0]['covariance_pearson']:>11.3f} {rows[k]['covariance_pearson']:>6.3f} "
                  f"{rows[10 * k]['covariance_pearson']:>6.3f} {rows[k]['mean_rmse']:>14.4f}", flush=True)


if __name__ == "__main__":
    main()
