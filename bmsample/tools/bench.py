"""Sampler speed against the BLAS limit, measured in one process (``bmsample bench``).

Every case times ``steps`` sampler steps and, interleaved repeat by repeat,
the bare matrix products of the same shapes, so that machine noise hits both
alike:

* RBM and Gaussian-Bernoulli RBM: a block-Gibbs step against v W and h W^T;
* Gaussian model: a Langevin step against x J;
* Ising model: a sweep against s J, the one GEMM of all local fields (a
  sequential sweep cannot be a GEMM: it updates N sites one after the other).

The ratio step / GEMMs is 1.00 at the BLAS limit; the table gives its median,
min and max over repeats.  Each family's ``ChainProcess`` gives both sides
(``bmsample._sampling``).  On a CUDA backend both run on the device: the
family's device steps against the device's product kernel on the same
shapes.
"""

import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import families
from .._backend import resolve_backend
from .._rng import ChainStreams
from .._validation import check_choice, check_dtype, check_int
from ..io import model_metadata
from ..rbm.model import BernoulliRBM
from ..rbm.train import RBMTrainer

#: Other names ``bench`` takes for a family.
ALIASES = {"grbm": "gaussian-rbm"}


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
    backend: str = "cpu"
    kernel: str | None = None  # the RBM Gibbs kernel that ran on the CPU ("blocks" or "units")

    def as_dict(self):
        return asdict(self)


def interleaved_times(functions, repeats):
    """Seconds of every call: each function once per repeat, in turn, so that noise hits all alike.

    Parameters
    ----------
    functions : dict of str to callable()
        Already warmed up.
    repeats : int

    Returns
    -------
    dict of str to ndarray, shape (repeats,)
    """
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: np.array(t) for name, t in times.items()}


def step_case(model, chains, steps, rng, device=None):
    """(gemms, sampler): callables running ``steps`` bare step products and ``steps`` sampler steps of ``model``.

    The model's family (``bmsample.families``) says both: its ``ChainProcess`` runs the steps of its sampler
    (the model's own, else the family's default) from the family's default p0, and gives the dense products
    of a step.  On a CUDA ``device`` both run there and end with a synchronisation.
    """
    family = families.of_model(model)
    process = family.chains(model, init=family.p0_laws[0])
    streams = ChainStreams((1, 2))
    if device is not None and device.is_cuda:
        from numba import cuda

        products, sampler = process.bench_on_device(process.initial_states(chains, streams, rng), steps, streams)
        return _synchronised(products, cuda), _synchronised(sampler, cuda), None
    work = process.workspace(chains)
    state = process.initial_states(chains, streams, rng)
    step_products = process.dense_products(state, work)

    def gemms():
        for _ in range(steps):
            step_products()

    return gemms, lambda: process.run(state, steps, streams, work, None), process.kernel(work)


def _synchronised(function, cuda):
    def run():
        function()
        cuda.synchronize()

    return run


def bench_families():
    """The ``fit(model=...)`` names that ``bench`` can build a synthetic model of."""
    return tuple(name for name in families.names() if families.named(name).random_model is not None)


def synthetic_model(family, visibles, hiddens=None, dtype="float32"):
    """A model of the given size with small random parameters (the speed does not depend on them).

    ``family`` is a ``fit(model=...)`` name ("grbm" is also taken for "gaussian-rbm").
    """
    name = check_choice(ALIASES.get(family, family), "model", bench_families())
    return families.named(name).random_model(visibles, hiddens, check_dtype(dtype), np.random.default_rng(0))


def measure(model, chains, *, steps=10, repeats=15, threads=None, backend="cpu"):
    """Time ``steps`` sampler steps of ``model`` with ``chains`` chains against the bare GEMMs.

    Parameters
    ----------
    model : a bmsample model
        Of any family with a ``ChainProcess`` that gives its dense products.
    chains, steps, repeats : int
        An Ising step is one sweep.
    threads : int, optional
        Only recorded in the row (set threads with ``bmsample.set_num_threads``).
    backend : {"cpu", "cuda", "cuda:N", "auto"}
        On a CUDA device both sides run there: the family's device steps
        against the device's product kernel on the same shapes.

    Returns
    -------
    BenchRow
    """
    import numba

    chains = check_int(chains, "chains")
    steps = check_int(steps, "steps")
    repeats = check_int(repeats, "repeats")
    device = resolve_backend(backend)
    gemms, sampler, kernel = step_case(model, chains, steps, np.random.default_rng(1), device)
    sampler()  # compile and warm up: excluded from the timings
    gemms()
    times = interleaved_times({"gemms": gemms, "sampler": sampler}, repeats)
    base, step = times["gemms"] / steps, times["sampler"] / steps
    ratios = step / base
    step_s = float(np.median(step))
    return BenchRow(families.of_model(model).name, model.num_visibles, getattr(model, "num_hiddens", None), chains,
                    model.dtype.name, threads or numba.get_num_threads(), 1.0 / step_s, chains / step_s,
                    1e3 * step_s, 1e3 * float(np.median(base)), float(np.median(ratios)), float(ratios.min()),
                    float(ratios.max()), str(device), kernel)


def run(family="rbm", visibles=784, hiddens=500, chains=(100, 1000), dtypes=("float32",), *, model=None, steps=10,
        repeats=15, threads=None, backend="cpu"):
    """Measure every (dtype, chains) case on ``backend``; ``model`` (a loaded model) overrides family and sizes."""
    rows = []
    for dtype in dtypes:
        check_dtype(dtype)
        subject = model if model is not None else synthetic_model(family, visibles, hiddens, dtype)
        if model is not None and np.dtype(dtype) != model.dtype:
            subject = _as_dtype(model, dtype)
        for n in chains:
            rows.append(measure(subject, n, steps=steps, repeats=repeats, threads=threads, backend=backend))
    return rows


def _as_dtype(model, dtype):
    """``model`` with its parameters in ``dtype`` (through its file arrays)."""
    return type(model).from_arrays(model.to_arrays(), {**model_metadata(model), "dtype": dtype})


@dataclass
class TemperingRow:
    """Parallel-tempering sweeps against plain steps of as many chains (times in milliseconds per sweep)."""

    family: str
    visibles: int
    hiddens: int | None
    replicas: int
    chains: int
    dtype: str
    threads: int
    sweep_ms: float
    plain_ms: float
    ratio_median: float
    ratio_min: float
    ratio_max: float

    def as_dict(self):
        return asdict(self)


def measure_tempering(model, replicas=16, chains=100, *, sweeps=10, repeats=15, threads=None):
    """Time ``sweeps`` parallel-tempering sweeps (R replicas of M chains) against plain steps of R M chains.

    A sweep is one round of swaps and one step of every replica (``bmsample.tempering``); the plain steps are
    the family's own sampler from its default p0, timed interleaved in the same process.

    Returns
    -------
    TemperingRow
    """
    import numba

    from ..tempering import ladder_sweeps

    replicas, chains = check_int(replicas, "replicas", minimum=2), check_int(chains, "chains")
    sweeps, repeats = check_int(sweeps, "sweeps"), check_int(repeats, "repeats")
    tempered = ladder_sweeps(model, np.linspace(1.0, 0.0, replicas), chains, rng=1)
    _, plain, _ = step_case(model, replicas * chains, sweeps, np.random.default_rng(1))
    tempered(sweeps)  # compile and warm up: excluded from the timings
    plain()
    times = interleaved_times({"plain": plain, "tempered": lambda: tempered(sweeps)}, repeats)
    ratios = times["tempered"] / times["plain"]
    return TemperingRow(families.of_model(model).name, model.num_visibles, getattr(model, "num_hiddens", None),
                        replicas, chains, model.dtype.name, threads or numba.get_num_threads(),
                        1e3 * float(np.median(times["tempered"])) / sweeps,
                        1e3 * float(np.median(times["plain"])) / sweeps, float(np.median(ratios)),
                        float(ratios.min()), float(ratios.max()))


def format_tempering_rows(rows):
    """The table ``bmsample bench --tempering`` prints (ratio = PT sweep / plain step of R M chains)."""
    lines = [f"{'tempering':>12} {'size':>10} {'R':>3} {'M':>5} {'dtype':>8} {'thr':>3} {'sweep ms':>8} "
             f"{'plain ms':>8} {'ratio':>6} {'min':>6} {'max':>6}"]
    for r in rows:
        size = f"{r.visibles}x{r.hiddens}" if r.hiddens else f"N={r.visibles}"
        lines.append(f"{r.family:>12} {size:>10} {r.replicas:>3} {r.chains:>5} {r.dtype:>8} {r.threads:>3} "
                     f"{r.sweep_ms:8.3f} {r.plain_ms:8.3f} {r.ratio_median:6.3f} {r.ratio_min:6.3f} "
                     f"{r.ratio_max:6.3f}")
    return "\n".join(lines)


@dataclass
class EpochRow:
    """One timed training epoch (RBM) against the GEMM floor of that epoch (seconds)."""

    scheme: str
    k: int
    visibles: int
    hiddens: int
    samples: int
    batch_size: int
    chains: int
    dtype: str
    threads: int
    updates: int
    epoch_s: float
    floor_s: float
    ratio_median: float
    ratio_min: float
    ratio_max: float

    def as_dict(self):
        return asdict(self)


def epoch_floor(num_visibles, num_hiddens, batch_size, chains, k, updates, dtype):
    """A callable doing the bare matrix products of ``updates`` RBM training updates (an epoch's GEMM floor).

    Per update: 2k Gibbs GEMMs of (chains x V x H), the hidden means of the
    minibatch and of the chains, and the two gradient products, as separate
    NumPy matmuls into preallocated outputs.
    """
    dtype, V, H = np.dtype(dtype), num_visibles, num_hiddens
    rng = np.random.default_rng(2)
    W = (rng.standard_normal((V, H)) * 0.01).astype(dtype)
    batch = (rng.random((batch_size, V)) < 0.5).astype(dtype)
    vis = (rng.random((chains, V)) < 0.5).astype(dtype)
    hid = (rng.random((chains, H)) < 0.5).astype(dtype)
    batch_hidden, chain_hidden = np.empty((batch_size, H), dtype), np.empty((chains, H), dtype)
    vis_field, grad = np.empty((chains, V), dtype), np.empty((V, H), dtype)

    def floor():
        for _ in range(updates):
            for _ in range(k):
                np.matmul(vis, W, out=chain_hidden)
                np.matmul(hid, W.T, out=vis_field)
            np.matmul(batch, W, out=batch_hidden)
            np.matmul(vis, W, out=chain_hidden)
            np.matmul(batch.T, batch_hidden, out=grad)
            np.matmul(vis.T, chain_hidden, out=grad)

    return floor


def measure_epoch(data, num_hiddens=500, *, scheme="rdm", k=10, batch_size=100, num_chains=None, dtype="float32",
                  repeats=3, threads=None):
    """Time one RBM training epoch over ``data`` against the GEMM floor of that epoch.

    The epoch is what ``fit`` does per epoch without logging or checkpoints:
    a minibatch gathered from a permutation, the scheme's negative chains
    after ``k`` steps, the gradient and the update, for every minibatch.  The
    floor is the bare time of every matrix product the epoch must do, timed
    interleaved with the epoch, repeat by repeat.

    Parameters
    ----------
    data : ndarray, shape (num_samples, num_visibles)
        Exact 0/1 rows.
    num_hiddens, k, batch_size, repeats : int
    scheme : {"rdm", "cd", "pcd"}
    num_chains : int, optional
        Negative chains (default ``batch_size``; CD uses one per minibatch row).
    dtype : {"float32", "float64"}
    threads : int, optional
        Only recorded in the row.

    Returns
    -------
    EpochRow
    """
    import numba

    from ..training import TrainingConfig

    cfg = TrainingConfig(model="rbm", num_hiddens=num_hiddens, scheme=scheme, k=k, batch_size=batch_size,
                         num_chains=num_chains, dtype=dtype, seed=0).validated()
    repeats = check_int(repeats, "repeats")
    data = np.ascontiguousarray(data, dtype=cfg.dtype)
    model = BernoulliRBM.from_data(data, num_hiddens, rng=np.random.default_rng(0), dtype=cfg.dtype)
    trainer = RBMTrainer(model, cfg.estimate(), ChainStreams((1, 2)))
    updates = data.shape[0] // batch_size
    order = np.random.default_rng(3)

    def epoch():
        permutation = order.permutation(data.shape[0])
        for i in range(updates):
            trainer.update(data[np.sort(permutation[i * batch_size:(i + 1) * batch_size])], cfg.learning_rate)

    floor = epoch_floor(model.num_visibles, num_hiddens, batch_size, trainer.num_chains, k, updates, cfg.dtype)
    epoch()  # compile and warm up
    floor()
    times = interleaved_times({"floor": floor, "epoch": epoch}, repeats)
    floors, epochs = times["floor"], times["epoch"]
    ratios = epochs / floors
    return EpochRow(scheme, k, model.num_visibles, num_hiddens, data.shape[0], batch_size, trainer.num_chains,
                    cfg.dtype, threads or numba.get_num_threads(), updates, float(np.median(epochs)),
                    float(np.median(floors)), float(np.median(ratios)), float(ratios.min()), float(ratios.max()))


def format_epoch_rows(rows):
    """The epoch table ``bmsample bench --epoch`` prints (ratio = epoch / GEMM floor)."""
    lines = [f"{'epoch':>8} {'size':>10} {'samples':>7} {'batch':>5} {'chains':>6} {'dtype':>8} {'thr':>3} "
             f"{'updates/s':>9} {'epoch s':>8} {'floor s':>8} {'ratio':>6} {'min':>6} {'max':>6}"]
    for r in rows:
        lines.append(f"{r.scheme + '-' + str(r.k):>8} {f'{r.visibles}x{r.hiddens}':>10} {r.samples:>7} "
                     f"{r.batch_size:>5} {r.chains:>6} {r.dtype:>8} {r.threads:>3} {r.updates / r.epoch_s:9.1f} "
                     f"{r.epoch_s:8.3f} {r.floor_s:8.3f} {r.ratio_median:6.3f} {r.ratio_min:6.3f} "
                     f"{r.ratio_max:6.3f}")
    return "\n".join(lines)


def format_rows(rows):
    """The table ``bmsample bench`` prints."""
    lines = [f"{'model':>12} {'size':>10} {'chains':>7} {'dtype':>8} {'thr':>3} {'steps/s':>9} "
             f"{'chain-upd/s':>11} {'step ms':>8} {'gemm ms':>8} {'ratio':>6} {'min':>6} {'max':>6}"]
    for r in rows:
        size = f"{r.visibles}x{r.hiddens}" if r.hiddens else f"N={r.visibles}"
        where = "" if r.backend == "cpu" else f"  {r.backend}"
        where += f"  {r.kernel}" if r.kernel else ""
        lines.append(f"{r.family:>12} {size:>10} {r.chains:>7} {r.dtype:>8} {r.threads:>3} {r.steps_per_second:9.1f} "
                     f"{r.chain_updates_per_second:11.3g} {r.step_ms:8.3f} {r.gemm_ms:8.3f} {r.ratio_median:6.3f} "
                     f"{r.ratio_min:6.3f} {r.ratio_max:6.3f}{where}")
    return "\n".join(lines)
