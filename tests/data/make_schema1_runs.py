"""Write the schema-1 run directories of ``test_schema1_files.py``: run once with the package as it was before
the family-interface redesign (commit 71adb7c), so that the test holds files that code wrote, not this one.

    python tests/data/make_schema1_runs.py OUT_DIR

Each case trains 12 updates (checkpoints at 1, 2, 5, 10, 12) into OUT_DIR/<case>; the test keeps
``config.json``, ``log.jsonl``, ``checkpoints/update_00000005.npz`` and the final ``model.npz``.
"""

import sys
from pathlib import Path

import numpy as np

import bmsample

CASES = {
    "rbm-pcd-centred": {"model": "rbm", "num_hiddens": 5, "scheme": "pcd", "centered": True, "num_chains": 7},
    "gaussian-rbm-rdm-data": {"model": "gaussian-rbm", "num_hiddens": 4, "scheme": "rdm", "init": "data"},
    "ising-pcd": {"model": "ising", "scheme": "pcd", "sampler": "random-site"},
}
COMMON = {"updates": 12, "batch_size": 30, "k": 2, "seed": 3, "dtype": "float64"}


def case_data(model):
    rng = np.random.default_rng(0)
    if model in ("rbm", "ising"):
        return (rng.random((90, 6)) < np.linspace(0.2, 0.8, 6)).astype(np.float64)
    return rng.standard_normal((90, 4)) @ np.diag([1.0, 0.7, 1.3, 0.5])


if __name__ == "__main__":
    out = Path(sys.argv[1])
    for name, settings in CASES.items():
        settings = {**COMMON, **settings}
        bmsample.fit(case_data(settings["model"]), out=out / name, checkpoint_interval=1e9, **settings)
    print(bmsample.__version__, bmsample.__file__)
