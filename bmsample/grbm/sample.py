"""Block-Gibbs sampling of a Gaussian-Bernoulli RBM (public layer over ``_cpu``).

Chains run in standardised units z (see ``bmsample.grbm.model``);
``sample_grbm`` takes ``data`` and returns states in data units.
"""

import numpy as np

from .. import _steps
from .._sampling import ChainProcess, run
from .._validation import check_choice, check_memory, check_positive_float, check_real_data
from ..gaussian.sample import initial_states as gaussian_initial_states
from ..rbm.sample import two_layer_products
from . import _cpu
from .model import GaussianBernoulliRBM

INITS = ("zeros", "gaussian", "data")


class GRBMWorkspace:
    """Scratch arrays for block-Gibbs steps of ``num_chains`` chains.

    Allocated once and reused across steps and training updates.
    ``scaled_weights`` holds W / sigma (rows divided by sigma_i), refreshed at
    every ``gibbs_steps`` call, so that the hidden field (z / sigma) W is one
    GEMM z @ (W / sigma) with no per-step elementwise pass over the chains.
    """

    def __init__(self, model, num_chains):
        dtype = model.dtype
        check_memory(num_chains * self.chain_nbytes(model), f"num_chains: {num_chains} chains of a Gaussian-Bernoulli "
                     f"RBM with {model.num_visibles} visible and {model.num_hiddens} hidden units")
        self.num_chains = num_chains
        self.scaled_weights = np.empty((model.num_visibles, model.num_hiddens), dtype=dtype)
        self.hidden_field = np.empty((num_chains, model.num_hiddens), dtype=dtype)
        self.hidden = np.empty((num_chains, model.num_hiddens), dtype=dtype)
        self.visible_field = np.empty((num_chains, model.num_visibles), dtype=dtype)

    @staticmethod
    def chain_nbytes(model):
        """Bytes per chain of this workspace, the chains and their back-transformed copy (float64)."""
        return model.dtype.itemsize * (2 * model.num_hiddens + 2 * model.num_visibles) + 8 * model.num_visibles


def scaled_weights(model, out):
    """Write W / sigma[:, None] into ``out`` (num_visibles, num_hiddens) and return it."""
    return np.divide(model.weight_matrix, model.sigma[:, None], out=out)


def gibbs_steps(model, visible, steps, streams, workspace, *, chain_offset=0, visible_means=None, on_step=None):
    """Run ``steps`` block-Gibbs steps z -> h -> z in place on ``visible`` (standardised units).

    Parameters
    ----------
    model : GaussianBernoulliRBM
    visible : ndarray, shape (num_chains, num_visibles)
        C-contiguous, model dtype, standardised units; overwritten with the chains after ``steps``.
    steps : int
        Number of full steps (0 leaves ``visible`` unchanged).
    streams : ChainStreams
        Advanced by two draws per step (hidden layer, then visible layer).
    workspace : GRBMWorkspace
        After the call, ``workspace.hidden`` holds the last hidden states.
    chain_offset : int
        Stream index of row 0.
    visible_means : ndarray, shape (num_chains, num_visibles) or None
        If given, receives E[z | h] = a + sigma * (W h) of the last half-step.
    on_step : callable(t, visible) or None
        Called after every step t = 1..steps with the current chains (do not keep a reference).

    Notes
    -----
    h_a ~ Bernoulli(sigmoid(b_a + (z @ (W / sigma))_a)), then
    z_i = a_i + sigma_i (W h)_i + sigma_i xi_i.  1/sigma is folded into a scaled
    copy of W once per call (``workspace.scaled_weights``).
    """
    if steps == 0:
        return
    W, a, b, sigma = model.weight_matrix, model.vbias, model.hbias, model.sigma
    Ws = scaled_weights(model, workspace.scaled_weights)
    key0, key1 = streams.kernel_args()
    with _steps.abandonable():
        for t in range(1, steps + 1):
            np.matmul(visible, Ws, out=workspace.hidden_field)
            _cpu.sample_bernoulli_layer(workspace.hidden_field, b, key0, key1, streams.next_draw(), chain_offset,
                                        workspace.hidden)
            np.matmul(workspace.hidden, W.T, out=workspace.visible_field)
            means = (visible_means,) if t == steps and visible_means is not None else ()
            _cpu.sample_gaussian_visible(workspace.visible_field, a, sigma, key0, key1, streams.next_draw(),
                                         chain_offset, visible, *means)
            if on_step is not None:
                on_step(t, visible)
            _steps.steps_done(1)


def initial_states(model, num_chains, init, init_scale, streams, generator, *, data=None, chain_offset=0):
    """Draw ``num_chains`` visible states from p0, standardised units, shape (num_chains, num_visibles).

    Parameters
    ----------
    init : {"zeros", "gaussian", "data"}
        All zeros (the data mean), N(0, init_scale^2) per unit, or random rows of ``data``.
    init_scale : float
        Standard deviation of the "gaussian" law (standardised units).
    streams : ChainStreams
        Always advanced by one draw, whatever ``init``.
    generator : numpy Generator
        Picks the rows for "data" (with replacement only if num_chains > len(data)).
    data : ndarray, shape (num_samples, num_visibles), optional
        ALREADY STANDARDISED rows in the model dtype, for "data".
    """
    check_choice(init, "init", INITS)
    return gaussian_initial_states(num_chains, model.num_visibles, init, init_scale, streams, generator, model.dtype,
                                   data=data, chain_offset=chain_offset)


def default_process(model):
    """(init, init_scale, steps) that reproduce how ``model`` was trained (see ``sample_grbm``)."""
    process = model.process or {}
    init = "data" if process.get("scheme") == "cd" else process.get("init", "gaussian")
    return init, process.get("init_scale", 1.0), process.get("k")


class GRBMChains(ChainProcess):
    """Block-Gibbs chains of a Gaussian-Bernoulli RBM (``sample_grbm``'s options, settled and checked).

    The chains run in standardised units; ``to_data_units`` takes them back to the data's.
    """

    sampler = "block-gibbs"
    task = "gaussian-rbm block-gibbs sampling"

    def __init__(self, model, *, init=None, init_scale=None, data=None):
        if not isinstance(model, GaussianBernoulliRBM):
            raise TypeError(f"model: expected a GaussianBernoulliRBM, got {type(model).__name__}")
        default_init, default_scale, self.default_steps = default_process(model)
        self.init = check_choice(default_init if init is None else init, "init", INITS)
        self.init_scale = check_positive_float(default_scale if init_scale is None else init_scale, "init_scale")
        if self.init == "data":
            if data is None:
                raise ValueError("init: 'data' needs a dataset (data=...)")
            data = model.standardise(check_real_data(data, "data", model.num_visibles, "float64"))
        self.model, self.data = model, data
        self.record_dtype, self.to_data_units = model.dtype, model.destandardise

    def workspace(self, num_chains):
        return GRBMWorkspace(self.model, num_chains)

    def initial_states(self, num_chains, streams, generator):
        return initial_states(self.model, num_chains, self.init, self.init_scale, streams, generator, data=self.data)

    def run(self, state, steps, streams, workspace, on_step):
        gibbs_steps(self.model, state, steps, streams, workspace, on_step=on_step)

    def run_on_device(self, state, steps, streams, on_step):
        from .device import sample_on_device

        return sample_on_device(self.model, state, steps, streams, on_step=on_step), None

    def dense_products(self, state, workspace):
        return two_layer_products(state, self.model.weight_matrix, workspace)

    def bench_on_device(self, state, steps, streams):
        from .device import bench_case

        return bench_case(self.model, state, steps, streams)


def sample_grbm(model, num_chains=None, steps=None, *, init=None, init_scale=None, data=None, rng=None, record=None,
                callback=None, backend="cpu"):
    """Sample visible states of a Gaussian-Bernoulli RBM with block Gibbs.

    By default this reproduces the process the model was trained with: fresh
    chains from its p0 (``model.process["init"]``, ``["init_scale"]``) run
    for exactly k (``["k"]``) steps; a CD-k model starts from rows of ``data``.

    Parameters
    ----------
    model : GaussianBernoulliRBM
    num_chains : int, optional
        Number of independent chains (default 1000).
    steps : int, optional
        Number of block-Gibbs steps z -> h -> z (default: the model's k).
    init : {"zeros", "gaussian", "data"}, optional
        Initial law in standardised units: all zeros (the data mean),
        N(0, init_scale^2) per unit, or random rows of ``data``.
    init_scale : float, optional
        Standard deviation of the "gaussian" law, standardised units (default: the model's, else 1).
    data : ndarray, shape (num_samples, num_visibles), optional
        Rows for ``init="data"``, in DATA units (standardised here with the model's data_mean and data_std).
    rng : None, int, SeedSequence or Generator
    record : iterable of int, optional
        Times t (0 <= t <= steps) at which to store the chains (data units, model dtype).
    callback : callable(t, visible), optional
        Called for t = 0..steps with the chains in data units (do not keep a reference).
    backend : {"cpu", "cuda", "cuda:N", "auto"}
        Where the chains run (``bmsample._backend``); the same draws on either.

    Returns
    -------
    SampleResult
        States in data units.

    Notes
    -----
    Visible units are real, hidden units {0, 1}.  The chains run in
    standardised units z = (x - data_mean) / data_std, where the model's
    parameters act; results are returned as x = z * data_std + data_mean.
    Chain ``c`` uses its own random stream, so its random numbers do not
    depend on the number of threads or on ``num_chains``; its states may
    differ by the rounding of the products, which BLAS may do differently
    with other threads or rows (and a rounding can flip a hidden unit).
    """
    process = GRBMChains(model, init=init, init_scale=init_scale, data=data)
    return run(process, num_chains, steps, rng=rng, record=record, callback=callback, backend=backend)
