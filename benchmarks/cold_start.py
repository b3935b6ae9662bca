"""Cold and warm wall times of the CLI commands: the first run compiles kernels, later ones load them.

Each command runs twice in fresh processes, first with an empty Numba cache
(``NUMBA_CACHE_DIR`` set to a new folder: what a first run on a new machine
sees) and then with the cache that run left.  The README quotes the table.

    python benchmarks/cold_start.py            # about 3 minutes on 2 cores
    python benchmarks/cold_start.py --repeat 3 # min / max over 3 cold and 3 warm runs
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = [  # (name, argv after "bmsample"); {run} and {model} are filled in
    ("--help", ["--help"]),
    ("info", ["info"]),
    ("datasets", ["datasets"]),
    ("fit digits (rbm)", ["fit", "digits", "--updates", "20", "--quiet", "--seed", "0", "--out", "{run}/rbm"]),
    ("sample (rbm)", ["sample", "{model}", "--seed", "0", "--out", "{run}/samples.npz", "--overwrite"]),
    ("eval (rbm, digits)", ["eval", "{model}", "digits", "--chains", "200", "--seed", "0"]),
    ("fit wine (gaussian-rbm)", ["fit", "wine", "--model", "gaussian-rbm", "--hidden", "20", "--updates", "20",
                                 "--quiet", "--seed", "0", "--out", "{run}/grbm"]),
    ("fit digits (ising)", ["fit", "digits", "--model", "ising", "--updates", "20", "--quiet", "--seed", "0",
                            "--out", "{run}/ising"]),
    ("report gaussian --quick", ["report", "gaussian", "--quick", "--out", "{run}/report"]),
]


def timed(argv, cache, work):
    """Seconds of one ``bmsample`` process with Numba's cache in ``cache``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bmsample.cli.main", *argv], capture_output=True, text=True,
                          env=env, cwd=work)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bmsample {' '.join(argv)} failed: {proc.stderr.strip()}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="Cold and warm runs of each command.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model_run = scratch / "model"
        timed(["fit", "digits", "--updates", "20", "--quiet", "--seed", "0", "--out", str(model_run)],
              scratch / "model-cache", scratch)
        print(f"{'command':<26} {'cold s':>13} {'warm s':>13}")
        for index, (name, template) in enumerate(COMMANDS):
            cold, warm = [], []
            for attempt in range(args.repeat):
                run = scratch / f"run-{index}-{attempt}"
                run.mkdir()
                argv = [a.format(run=run, model=model_run / "model.npz") for a in template]
                cache = scratch / f"cache-{index}-{attempt}"
                cold.append(timed(argv, cache, run))
                for path in ("rbm", "gaussian", "grbm", "ising", "report"):
                    subprocess.run(["rm", "-rf", str(run / path)], check=True)
                warm.append(timed(argv, cache, run))
            print(f"{name:<26} {_span(cold):>13} {_span(warm):>13}", flush=True)


def _span(values):
    return f"{min(values):.1f}" if len(values) == 1 else f"{min(values):.1f}-{max(values):.1f}"


if __name__ == "__main__":
    main()
