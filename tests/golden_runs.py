"""Golden runs: the exact model arrays of small fixed-seed training runs of every family, scheme and sampler.

Recorded before the family interface redesign (issue 16) and asserted unchanged by ``test_golden_runs.py``:
a refactoring that changes a single draw, a summation order or a default changes a bit here.

    python tests/golden_runs.py          # rewrite tests/data/golden_runs.npz (only when a change is meant)

Every run is float64 with one BLAS thread; the file also records the environment that wrote it (numpy,
the BLAS library and its CPU kernel), because BLAS rounds differently on other CPUs and versions: there the
test allows a relative 1e-9 instead of bit equality.
"""

import json
import sys
from pathlib import Path

import numpy as np

PATH = Path(__file__).resolve().parent / "data" / "golden_runs.npz"

#: name -> (data kind, settings of bmsample.fit); every run is a few updates of a tiny model.
RUNS = {
    "rbm-rdm-uniform": ("binary", dict(num_hiddens=3, scheme="rdm", k=3, init="uniform")),
    "rbm-rdm-bias-centered": ("binary", dict(num_hiddens=3, scheme="rdm", k=2, init="bias", centered=True)),
    "rbm-cd-l2": ("binary", dict(num_hiddens=3, scheme="cd", k=1, l2=0.01)),
    "rbm-pcd": ("binary", dict(num_hiddens=3, scheme="pcd", k=2, num_chains=24)),
    "grbm-rdm-gaussian": ("real", dict(model="gaussian-rbm", num_hiddens=3, scheme="rdm", k=2, init="gaussian")),
    "grbm-pcd-data": ("real", dict(model="gaussian-rbm", num_hiddens=3, scheme="pcd", k=2, init="data")),
    "gaussian-rdm-langevin": ("real", dict(model="gaussian", scheme="rdm", k=5, sampler="langevin", step_size=0.05)),
    "gaussian-cd-gibbs": ("real", dict(model="gaussian", scheme="cd", k=2, sampler="gibbs")),
    "gaussian-pcd-langevin-data": ("real", dict(model="gaussian", scheme="pcd", k=3, sampler="langevin",
                                                step_size=0.05, init="data")),
    "ising-rdm-heat-bath": ("spins", dict(model="ising", scheme="rdm", k=2, sampler="heat-bath")),
    "ising-cd-metropolis": ("spins", dict(model="ising", scheme="cd", k=1, sampler="metropolis")),
    "ising-pcd-random-site-bias": ("spins", dict(model="ising", scheme="pcd", k=2, sampler="random-site",
                                                 init="bias")),
    "independent-rdm-heat-bath": ("spins", dict(model="independent", scheme="rdm", k=1, sampler="heat-bath")),
}
COMMON = dict(batch_size=16, updates=12, learning_rate=0.05, dtype="float64", seed=7)


def data(kind):
    """40 rows of 6 units: 0/1, correlated reals, or +-1 spins (a fixed generator)."""
    rng = np.random.default_rng(2026)
    latent = rng.standard_normal((40, 2)) @ rng.standard_normal((2, 6))
    if kind == "real":
        return latent + 0.5 * rng.standard_normal((40, 6))
    binary = (latent + 0.3 * rng.standard_normal((40, 6)) > 0).astype(np.float64)
    return binary if kind == "binary" else 2 * binary - 1


def run(name):
    """The model arrays of run ``name`` (one BLAS thread), as {array name: ndarray}."""
    from threadpoolctl import threadpool_limits

    import bmsample

    kind, settings = RUNS[name]
    with threadpool_limits(1):
        result = bmsample.fit(data(kind), **COMMON, **settings)
    return result.model.to_arrays()


def environment():
    """What decides BLAS rounding: numpy's version, and each BLAS library's version and CPU kernel."""
    from threadpoolctl import threadpool_info

    blas = sorted(f"{info.get('internal_api')} {info.get('version')} {info.get('architecture')}"
                  for info in threadpool_info() if info.get("user_api") == "blas")
    return {"numpy": np.__version__, "blas": blas}


def main():
    arrays = {f"{name}/{key}": value for name in RUNS for key, value in run(name).items()}
    arrays["environment"] = np.array(json.dumps(environment()))
    PATH.parent.mkdir(exist_ok=True)
    np.savez_compressed(PATH, **arrays)
    print(f"{len(RUNS)} runs, {len(arrays) - 1} arrays -> {PATH.name}: {environment()}")


if __name__ == "__main__":
    sys.exit(main())
