"""Block-Gibbs sampling of a Bernoulli RBM (public layer over ``_cpu``)."""

import numba
import numpy as np

from .. import _steps
from .._chains import first_saved_chains, random_rows
from .._sampling import ChainProcess, run
from .._threads import single_threaded_blas
from .._validation import check_binary_data, check_choice, check_memory
from . import _cpu
from .model import BernoulliRBM, bias_init_probabilities

INITS = ("uniform", "bias", "data", "chains")


#: Kernels of ``gibbs_steps``, all giving the same chains from the same random numbers:
#: "auto" (default): "units" for few chains per thread on a large model, else "blocks";
#: "blocks": each thread owns a block of chains for all steps and calls
#: single-threaded BLAS on it, one parallel region per call (on small models,
#: chunk of ``CHUNK_ROWS`` chains by chunk);
#: "units": the threads split each layer's units (W's columns, then its rows)
#: for all chains, one parallel region per call with a wait between half-steps;
#: "gemm": multi-threaded NumPy products and parallel sampling passes, with a
#: fork and join for each of them (the plain design, kept as a cross-check).
KERNELS = ("auto", "blocks", "units", "gemm")

#: "auto" picks "units" up to this many chains per thread (below it, every thread of
#: "blocks" packing all of W costs more than the waits between half-steps; measured
#: on 2 cores, 784 x 500, 100 chains, speed = GEMM time / step time: float32
#: 0.86-0.90 -> 0.95-0.97, float64 0.88-0.91 -> 0.90-0.95)...
UNITS_MAX_CHAINS_PER_THREAD = 96
#: ... on models with at least this many weights (on small ones the waits dominate).
UNITS_MIN_WEIGHTS = 2**18

#: "blocks" runs the chains of a model with at most ``CHUNK_MAX_WEIGHTS`` weights
#: ``CHUNK_ROWS`` at a time through all the steps: their chains and fields then stay
#: in the core's L2 cache (measured on 2 cores, same process, 100 x 50, speed = GEMM
#: time / step time: 1000 chains float32 0.70-0.80 -> 0.73-0.83, float64 0.68-0.74
#: -> 0.75-0.82 in 5 runs of 6; 5000 chains float64 0.72-0.75 -> 0.83-0.87).  On
#: larger models the smaller products cost more than the cache saves.
CHUNK_ROWS = 192
CHUNK_MAX_WEIGHTS = 2**13


class GibbsWorkspace:
    """Scratch arrays for block-Gibbs steps of ``num_chains`` chains.

    Allocated once and reused across steps and training updates.
    ``kernel`` (one of ``KERNELS``) chooses how ``gibbs_steps`` runs; all
    give the same chains.
    """

    def __init__(self, model, num_chains, *, kernel="auto"):
        dtype = model.dtype
        check_memory(num_chains * self.chain_nbytes(model), f"num_chains: {num_chains} chains of an RBM with "
                     f"{model.num_visibles} visible and {model.num_hiddens} hidden units")
        self.kernel = check_choice(kernel, "kernel", KERNELS)
        self.num_chains = num_chains
        self.hidden_field = np.empty((num_chains, model.num_hiddens), dtype=dtype)
        self.hidden = np.empty((num_chains, model.num_hiddens), dtype=dtype)
        self.visible_field = np.empty((num_chains, model.num_visibles), dtype=dtype)
        # One block of chains or slice of units per thread at most, and Numba never runs more than NUMBA_NUM_THREADS.
        self.pass_words = _cpu.pass_scratch(numba.config.NUMBA_NUM_THREADS, max(model.num_visibles, model.num_hiddens))
        self.tasks = np.zeros(2, dtype=np.int64)
        self._weight_columns = None
        self.runs = _steps.StepRuns()

    @staticmethod
    def chain_nbytes(model):
        """Bytes per chain of this workspace, the chains and their initial draw (the pass scratch aside)."""
        return model.dtype.itemsize * (2 * model.num_hiddens + 3 * model.num_visibles)

    def kernel_for(self, model, threads):
        """The kernel that runs: ``self.kernel``, or what "auto" picks for ``threads`` threads."""
        return self.kernel if self.kernel != "auto" else auto_kernel(model, self.num_chains, threads)

    def weight_columns(self, model):
        """Scratch of W's size for the "units" kernel, allocated on first use."""
        if self._weight_columns is None:
            self._weight_columns = np.empty(model.weight_matrix.size, dtype=model.dtype)
        return self._weight_columns


def auto_kernel(model, num_chains, threads):
    """What ``kernel="auto"`` runs: "units" for few chains per thread on a large model, else "blocks"."""
    few_chains = num_chains <= UNITS_MAX_CHAINS_PER_THREAD * threads
    large = model.num_visibles * model.num_hiddens >= UNITS_MIN_WEIGHTS
    return "units" if threads > 1 and few_chains and large else "blocks"


def gibbs_steps(model, visible, steps, streams, workspace, *, chain_offset=0,
                visible_means=None, on_step=None):
    """Run ``steps`` block-Gibbs steps v -> h -> v in place on ``visible``.

    Parameters
    ----------
    model : BernoulliRBM
    visible : ndarray, shape (num_chains, num_visibles)
        C-contiguous, model dtype, exact 0/1; overwritten with the chains after ``steps``.
    steps : int
        Number of full steps (0 leaves ``visible`` unchanged).
    streams : ChainStreams
        Advanced by two draws per step.
    workspace : GibbsWorkspace
    chain_offset : int
        Stream index of row 0.
    visible_means : ndarray, shape (num_chains, num_visibles) or None
        If given, receives P(v = 1 | h) of the last half-step.
    on_step : callable(t, visible) or None
        Called after every step t = 1..steps with the current chains (do not keep a reference).
    """
    kernel = workspace.kernel_for(model, numba.get_num_threads())
    with _steps.abandonable():
        if kernel != "gemm":
            _parallel_kernel_steps(kernel, model, visible, steps, streams, workspace, chain_offset, visible_means,
                                   on_step)
        else:
            _gemm_steps(model, visible, steps, streams, workspace, chain_offset, visible_means, on_step)


def _gemm_steps(model, visible, steps, streams, workspace, chain_offset, visible_means, on_step):
    """``gibbs_steps`` with the "gemm" kernel: multi-threaded products between parallel passes."""
    W, a, b = model.weight_matrix, model.vbias, model.hbias
    key0, key1 = streams.kernel_args()
    for t in range(1, steps + 1):
        np.matmul(visible, W, out=workspace.hidden_field)
        _cpu.sample_bernoulli_layer(workspace.hidden_field, b, key0, key1, streams.next_draw(),
                                    chain_offset, workspace.hidden)
        np.matmul(workspace.hidden, W.T, out=workspace.visible_field)
        means = (visible_means,) if t == steps and visible_means is not None else ()
        _cpu.sample_bernoulli_layer(workspace.visible_field, a, key0, key1, streams.next_draw(), chain_offset,
                                    visible, *means)
        if on_step is not None:
            on_step(t, visible)
        _steps.steps_done(1)


def _parallel_kernel_steps(kernel, model, visible, steps, streams, workspace, chain_offset, visible_means,
                           on_step):
    """``gibbs_steps`` with the "blocks" or "units" kernel: the steps between callbacks in one parallel region."""
    if steps == 0:
        return
    args = (model.weight_matrix, model.vbias, model.hbias, *streams.kernel_args())
    scratch = (workspace.hidden, workspace.hidden_field, workspace.visible_field, workspace.pass_words)
    if kernel == "units":
        parts = (unit_slices(model, numba.get_num_threads()),)
        columns = workspace.weight_columns(model)
        run = _cpu.gibbs_unit_steps
    else:
        parts = (min(numba.get_num_threads(), visible.shape[0]), chunk_rows(model, visible.shape[0]))
        run = _cpu.gibbs_block_steps
    t = 0
    with single_threaded_blas():
        for i, run_steps in enumerate(workspace.runs(steps, each=on_step is not None)):
            first_draw = streams.reserve(2 * run_steps)
            t += run_steps
            # The units kernel copies W's columns in the first run only: W is the same in the others.
            all_scratch = scratch + ((columns, i == 0, workspace.tasks) if kernel == "units" else ())
            last = t == steps and visible_means is not None
            run(*args, first_draw, chain_offset, run_steps, *parts, visible, *all_scratch,
                *((visible_means,) if last else ()))
            if on_step is not None:
                on_step(t, visible)


def chunk_rows(model, num_chains):
    """Chains per chunk of the "blocks" kernel: ``CHUNK_ROWS`` on small models, else all of them."""
    small = model.num_visibles * model.num_hiddens <= CHUNK_MAX_WEIGHTS
    return min(CHUNK_ROWS, num_chains) if small else max(1, num_chains)


def unit_slices(model, threads):
    """Slices per layer of the "units" kernel: one per thread, each of at least one Philox block (4 units)."""
    return max(1, min(threads, model.num_visibles // 4, model.num_hiddens // 4))


def site_logits(probabilities, dtype):
    """logit(p) per unit in ``dtype``: the biases of independent Bernoulli(p) units."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    return (np.log(probabilities) - np.log1p(-probabilities)).astype(dtype)


def draw_independent_sites(logits, streams, out, zero_field, *, chain_offset=0):
    """Fill ``out`` (num_chains, num_units) with independent Bernoulli(sigmoid(logits)) units (one draw).

    ``zero_field`` is an array of zeros of the shape of ``out`` (scratch may be
    reused if it is zero-filled first).
    """
    key0, key1 = streams.kernel_args()
    _cpu.sample_bernoulli_layer(zero_field, logits, key0, key1, streams.next_draw(), chain_offset, out)
    return out


def independent_site_chains(probabilities, num_chains, streams, dtype, *, chain_offset=0):
    """Draw ``num_chains`` rows of independent Bernoulli(probabilities) units (one draw).

    Parameters
    ----------
    probabilities : ndarray, shape (num_units,)
        Clipped away from 0 and 1 by the caller when needed.

    Returns
    -------
    ndarray, shape (num_chains, num_units), exact 0/1 in ``dtype``
    """
    field = np.zeros((num_chains, len(probabilities)), dtype=dtype)
    return draw_independent_sites(site_logits(probabilities, dtype), streams, np.empty_like(field), field,
                                  chain_offset=chain_offset)


def initial_chains(model, num_chains, init, streams, generator, *, data=None, chains=None):
    """Initial visible states for ``init`` in ``INITS``, shape (num_chains, num_visibles)."""
    check_choice(init, "init", INITS)
    if init == "uniform":
        return independent_site_chains(np.full(model.num_visibles, 0.5), num_chains, streams, model.dtype)
    if init == "bias":
        return independent_site_chains(bias_init_probabilities(model), num_chains, streams, model.dtype)
    if init == "data":
        if data is not None:
            data = check_binary_data(data, "data", model.num_visibles, model.dtype)
        return random_rows(data, num_chains, generator)
    if chains is None:
        raise ValueError("init: 'chains' needs saved persistent chains, and this model has none")
    return first_saved_chains(check_binary_data(chains, "chains", model.num_visibles, model.dtype), num_chains)


def default_process(model, chains=None):
    """(init, steps) that reproduce how ``model`` was trained (see ``sample``)."""
    process = model.process or {}
    scheme = process.get("scheme")
    steps = process.get("k")
    if scheme in ("pcd", "jarzynski") and chains is not None:
        return "chains", steps
    if scheme == "cd":
        return "data", steps
    return process.get("init", "uniform"), steps


class RBMChains(ChainProcess):
    """Block-Gibbs chains of a Bernoulli RBM (``sample_rbm``'s options, settled and checked)."""

    sampler = "block-gibbs"
    task = "rbm block-gibbs sampling"
    record_dtype = np.uint8

    def __init__(self, model, *, init=None, data=None, chains=None, return_means=False):
        if not isinstance(model, BernoulliRBM):
            raise TypeError(f"model: expected a BernoulliRBM, got {type(model).__name__}")
        default_init, self.default_steps = default_process(model, chains)
        self.init = check_choice(default_init if init is None else init, "init", INITS)
        if self.init == "chains" and chains is not None:
            self.default_chains = chains.shape[0]
        self.model, self.data, self.chains, self.return_means = model, data, chains, return_means

    def check_steps(self, steps):
        if self.return_means and steps == 0:
            raise ValueError("return_means: needs steps >= 1")

    def workspace(self, num_chains):
        return GibbsWorkspace(self.model, num_chains)

    def initial_states(self, num_chains, streams, generator):
        return initial_chains(self.model, num_chains, self.init, streams, generator, data=self.data,
                              chains=self.chains)

    def run(self, state, steps, streams, workspace, on_step):
        means = np.empty_like(state) if self.return_means else None
        gibbs_steps(self.model, state, steps, streams, workspace, visible_means=means, on_step=on_step)
        return means

    def run_on_device(self, state, steps, streams, on_step):
        from .device import sample_on_device

        return sample_on_device(self.model, state, steps, streams, return_means=self.return_means, on_step=on_step)

    def dense_products(self, state, workspace):
        return two_layer_products(state, self.model.weight_matrix, workspace)

    def bench_on_device(self, state, steps, streams):
        from .device import bench_case

        return bench_case(self.model, state, steps, streams)

    def kernel(self, workspace):
        return workspace.kernel_for(self.model, numba.get_num_threads())


def two_layer_products(visible, weights, workspace):
    """One block-Gibbs step's bare products v W and h W^T into ``workspace``'s field buffers (``bench``)."""
    workspace.hidden[...] = 0

    def products():
        np.matmul(visible, weights, out=workspace.hidden_field)
        np.matmul(workspace.hidden, weights.T, out=workspace.visible_field)

    return products


def sample_rbm(model, num_chains=None, steps=None, *, init=None, data=None, chains=None, rng=None,
               record=None, return_means=False, callback=None, backend="cpu"):
    """Sample visible states of ``model`` with block Gibbs.

    By default this reproduces the process the model was trained with: an
    Rdm-k model draws fresh chains from its p0 and runs exactly k steps; a
    PCD-k model continues its saved persistent chains for k steps; a CD-k
    model starts from rows of ``data``.

    Parameters
    ----------
    model : BernoulliRBM
    num_chains : int, optional
        Number of independent chains (default 1000, or the number of saved chains).
    steps : int, optional
        Number of block-Gibbs steps (default: the model's k).
    init : {"uniform", "bias", "data", "chains"}, optional
        Initial law: uniform bits, the independent-site law of the training
        data, random rows of ``data``, or the saved persistent ``chains``.
    data : ndarray, shape (num_samples, num_visibles), optional
        Rows for ``init="data"``.
    chains : ndarray, shape (num_saved, num_visibles), optional
        Persistent chains for ``init="chains"``.
    rng : None, int, SeedSequence or Generator
    record : iterable of int, optional
        Times t (0 <= t <= steps) at which to store the chains (uint8).
    return_means : bool
        Also return P(v = 1 | h) of the last half-step (``visible_means``).
    callback : callable(t, visible), optional
        Called for t = 0..steps with the chains (do not keep a reference).
    backend : {"cpu", "cuda", "cuda:N", "auto"}
        Where the Gibbs steps run (``bmsample._backend``).  On a GPU the
        chains stay on the device; recording and ``callback`` copy them back.

    Returns
    -------
    SampleResult

    Notes
    -----
    Units are {0, 1}.  Chain ``c`` uses its own random stream, so its random
    numbers do not depend on the number of threads or on ``num_chains``, and
    the chain is the same in a run of 10 or of 10 000 chains with the same
    seed except where the rounding of a field (BLAS may round differently
    with other threads or rows) flips a comparison ``u < p``.  The GPU draws
    the same random numbers, so its chains equal the CPU's in the same sense.
    """
    process = RBMChains(model, init=init, data=data, chains=chains, return_means=return_means)
    return run(process, num_chains, steps, rng=rng, record=record, callback=callback, backend=backend)
