"""Sampler speed against the BLAS limit, measured in one process (``bmsample bench``).

Every case times ``steps`` sampler steps and, interleaved repeat by repeat,
the bare matrix products of the same shapes (RBM: v W and h W^T; Gaussian:
x J), so that machine noise hits both alike.  The ratio step / GEMMs is 1.00
at the BLAS limit; the table gives its median, min and max over repeats.
"""

import time
from dataclasses import asdict, dataclass

import numpy as np

from ._rng import ChainStreams
from ._validation import check_dtype, check_int, check_matrix_memory
from .gaussian.model import GaussianModel
from .gaussian.sample import GaussianWorkspace, langevin_steps
from .rbm.model import BernoulliRBM
from .rbm.sample import GibbsWorkspace, gibbs_steps

FAMILIES = ("rbm", "gaussian")


@dataclass
class BenchRow:
    """One measured case (times in milliseconds per step)."""

    family: str
    visibles: int
    hiddens: int | None
    chains: int
    dtype: str
    threads: int
    steps_per_second: float
    chain_updates_per_second: float
    step_ms: float
    gemm_ms: float
    ratio_median: float
    ratio_min: float
    ratio_max: float

    def as_dict(self):
        return asdict(self)


def _rbm_case(model, chains, steps, rng):
    work = GibbsWorkspace(model, chains)
    visible = (rng.random((chains, model.num_visibles)) < 0.5).astype(model.dtype)
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


def _gaussian_case(model, chains, steps, rng, step_size):
    work = GaussianWorkspace(model, chains)
    state = rng.standard_normal((chains, model.num_units)).astype(model.dtype)
    streams = ChainStreams((1, 2))

    def gemms():
        for _ in range(steps):
            np.matmul(state, model.coupling_matrix, out=work.field)

    def sampler():
        langevin_steps(model, state, steps, streams, work, step_size=step_size)

    return gemms, sampler


def synthetic_model(family, visibles, hiddens=None, dtype="float32"):
    """A model of the given size with small random parameters (the speed does not depend on them)."""
    rng = np.random.default_rng(0)
    if family == "rbm":
        check_matrix_memory(visibles, hiddens, dtype, "hiddens", "weight matrix")
        return BernoulliRBM(rng.standard_normal((visibles, hiddens)) * 0.05, rng.standard_normal(visibles) * 0.1,
                            np.zeros(hiddens), dtype=dtype)
    check_matrix_memory(visibles, visibles, dtype, "visibles", "coupling matrix")
    a = rng.standard_normal((visibles, visibles)) / np.sqrt(visibles)
    return GaussianModel(a @ a.T + np.eye(visibles), np.zeros(visibles), dtype=dtype)


def measure(model, chains, *, steps=10, repeats=15, threads=None):
    """Time ``steps`` sampler steps of ``model`` with ``chains`` chains against the bare GEMMs.

    Parameters
    ----------
    model : BernoulliRBM or GaussianModel
    chains, steps, repeats : int
    threads : int, optional
        Only recorded in the row (set threads with ``bmsample.set_num_threads``).

    Returns
    -------
    BenchRow
    """
    import numba

    chains = check_int(chains, "chains")
    steps = check_int(steps, "steps")
    repeats = check_int(repeats, "repeats")
    rng = np.random.default_rng(1)
    if isinstance(model, BernoulliRBM):
        family, hiddens = "rbm", model.num_hiddens
        gemms, sampler = _rbm_case(model, chains, steps, rng)
    elif isinstance(model, GaussianModel):
        family, hiddens = "gaussian", None
        gemms, sampler = _gaussian_case(model, chains, steps, rng, (model.process or {}).get("step_size", 0.01))
    else:
        raise TypeError(f"model: bench covers Bernoulli RBMs and Gaussian models, got {type(model).__name__}")
    sampler()  # compile and warm up: excluded from the timings
    gemms()
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
    step_s = float(np.median(step))
    return BenchRow(family, model.num_visibles, hiddens, chains, model.dtype.name,
                    threads or numba.get_num_threads(), 1.0 / step_s, chains / step_s, 1e3 * step_s,
                    1e3 * float(np.median(base)), float(np.median(ratios)), float(ratios.min()), float(ratios.max()))


def run(family="rbm", visibles=784, hiddens=500, chains=(100, 1000), dtypes=("float32",), *, model=None, steps=10,
        repeats=15, threads=None):
    """Measure every (dtype, chains) case; ``model`` (a loaded model) overrides family and sizes."""
    rows = []
    for dtype in dtypes:
        check_dtype(dtype)
        subject = model if model is not None else synthetic_model(family, visibles, hiddens, dtype)
        if model is not None and np.dtype(dtype) != model.dtype:
            subject = _as_dtype(model, dtype)
        for n in chains:
            rows.append(measure(subject, n, steps=steps, repeats=repeats, threads=threads))
    return rows


def _as_dtype(model, dtype):
    if isinstance(model, BernoulliRBM):
        return BernoulliRBM(model.weight_matrix, model.vbias, model.hbias, dtype=dtype, process=model.process)
    return GaussianModel(model.coupling_matrix, model.field, dtype=dtype, process=model.process)


def format_rows(rows):
    """The table ``bmsample bench`` prints."""
    lines = [f"{'model':>9} {'size':>10} {'chains':>7} {'dtype':>8} {'thr':>3} {'steps/s':>9} "
             f"{'chain-upd/s':>11} {'step ms':>8} {'gemm ms':>8} {'ratio':>6} {'min':>6} {'max':>6}"]
    for r in rows:
        size = f"{r.visibles}x{r.hiddens}" if r.hiddens else f"N={r.visibles}"
        lines.append(f"{r.family:>9} {size:>10} {r.chains:>7} {r.dtype:>8} {r.threads:>3} {r.steps_per_second:9.1f} "
                     f"{r.chain_updates_per_second:11.3g} {r.step_ms:8.3f} {r.gemm_ms:8.3f} {r.ratio_median:6.3f} "
                     f"{r.ratio_min:6.3f} {r.ratio_max:6.3f}")
    return "\n".join(lines)
