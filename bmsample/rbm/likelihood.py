"""Log-likelihood of a Bernoulli RBM: exact for small models, annealed importance sampling otherwise.

Units are {0, 1}.  The model's unnormalised visible law is

    p*(v) = exp(-F(v)),   F(v) = -a^T v - sum_j log(1 + exp(b_j + (v W)_j)),

and log p(v) = -F(v) - log Z.  ``exact_log_likelihood`` enumerates the
smaller layer for log Z.  ``ais_log_partition`` estimates log Z by annealed
importance sampling (Neal 2001; Salakhutdinov & Murray, ICML 2008) from the
independent-site model with visible biases ``a0`` (a stochastic lower bound
on log Z), and ``reverse_ais_log_partition`` runs the same path backwards
from samples of the model (Burda, Grosse & Salakhutdinov, AISTATS 2015), a
stochastic upper bound when those samples come from the model.  The log Z
estimates, and the log-likelihoods built on them, are only meaningful for
models whose samples are at equilibrium (docs/theory.md section 4): a model trained
with short non-persistent runs is a dynamical generator, and its equilibrium
log-likelihood says nothing about the samples it produces at t = k.

The annealing loop reuses the block-Gibbs kernels of ``bmsample.rbm._cpu``.
At inverse temperature beta the hidden field of the transition is
beta (v W + b), which is also what the importance weight needs, so each beta
costs the two matrix products of one Gibbs step and one fused elementwise
pass (``_anneal_hidden_pass``), with no copy of the weights.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import prange

from .._jit import helper, kernel
from .._numerics import fast_exp, fast_log, sum_products4
from .._rng import ChainStreams, seed_sequence
from .._validation import check_binary_data, check_choice, check_int, check_memory, check_vector
from . import _cpu
from .model import MAX_EXACT_UNITS, BernoulliRBM, bias_init_probabilities, exact_log_partition, softplus
from .sample import GibbsWorkspace, gibbs_steps

__all__ = [
    "AISLogLikelihood", "AISResult", "ais_log_likelihood", "ais_log_partition", "ais_schedule",
    "base_log_partition", "exact_log_likelihood", "reverse_ais_log_partition",
]

#: Names accepted by ``schedule``.
SCHEDULES = ("classic", "linear")

#: Default number of inverse temperatures (schedule length, 0 and 1 included).
DEFAULT_NUM_BETAS = 10_000

#: Knots of the classic piecewise-linear schedule and the share of the steps
#: between consecutive knots: Salakhutdinov & Murray (2008) use 1000 betas
#: spaced uniformly on [0, 0.5], 4000 on [0.5, 0.9] and 10000 on [0.9, 1].
CLASSIC_KNOTS = (0.0, 0.5, 0.9, 1.0)
CLASSIC_SHARES = (1000, 4000, 10000)


# --- validation --------------------------------------------------------------

def _check_model(model):
    if not isinstance(model, BernoulliRBM):
        raise TypeError(f"model: expected a BernoulliRBM, got {type(model).__name__}")


# --- exact ---------------------------------------------------------------------

def exact_log_likelihood(model, data):
    """Mean exact log-likelihood of the rows of ``data`` under ``model``.

    Parameters
    ----------
    model : BernoulliRBM
        ``min(num_visibles, num_hiddens)`` must be at most 22 (2**22 terms).
    data : array_like, shape (num_samples, num_visibles)
        Exact 0/1 rows (bool or any numeric dtype).

    Returns
    -------
    float
        ``mean_n log p(v_n)``, in nats.

    Notes
    -----
    Units are {0, 1}.  log p(v) = -F(v) - log Z with the free energy
    F(v) = -a^T v - sum_j log(1 + exp(b_j + (v W)_j)) and log Z summed
    exactly over the smaller layer (``bmsample.rbm.model.exact_log_partition``), all in
    float64.
    """
    _check_model(model)
    smaller = min(model.num_visibles, model.num_hiddens)
    if smaller > MAX_EXACT_UNITS:
        raise ValueError(f"model: exact log Z enumerates the smaller layer, limited to {MAX_EXACT_UNITS} units; "
                         f"this model has {model.num_visibles} visible and {model.num_hiddens} hidden units "
                         "(use ais_log_likelihood)")
    data = check_binary_data(data, "data", model.num_visibles, np.float64)
    return float(np.mean(-model.free_energy(data)) - exact_log_partition(model))


# --- AIS -------------------------------------------------------------------------

def base_log_partition(base_vbias, num_hiddens):
    """log Z of the base model (W = 0, hbias = 0, visible biases ``base_vbias``).

    Parameters
    ----------
    base_vbias : ndarray, shape (num_visibles,)
    num_hiddens : int

    Returns
    -------
    float
        ``sum_i log(1 + exp(a0_i)) + num_hiddens log 2``.
    """
    return float(np.sum(softplus(np.asarray(base_vbias, dtype=np.float64))) + num_hiddens * np.log(2.0))


def ais_schedule(num_betas=DEFAULT_NUM_BETAS, kind="classic"):
    """Inverse temperatures 0 = beta_0 < ... < beta_{num_betas-1} = 1.

    Parameters
    ----------
    num_betas : int
        Length of the schedule, both ends included (>= 2); the annealing runs
        ``num_betas - 1`` transitions.
    kind : {"classic", "linear"}
        ``"linear"``: equal steps.  ``"classic"``: the piecewise-linear
        schedule of Salakhutdinov & Murray (2008), knots 0, 0.5, 0.9, 1 with
        1000 : 4000 : 10000 of the steps in the three pieces (their 15 000
        betas), rescaled to ``num_betas``; it falls back to linear when a
        piece would get no step (``num_betas`` < 9).

    Returns
    -------
    ndarray, shape (num_betas,), float64
    """
    num_betas = check_int(num_betas, "num_betas", minimum=2)
    check_memory(8 * num_betas, f"num_betas: {num_betas} inverse temperatures")
    check_choice(kind, "schedule", SCHEDULES)
    steps = num_betas - 1
    if kind == "classic":
        total = sum(CLASSIC_SHARES)
        counts = [int(round(steps * share / total)) for share in CLASSIC_SHARES[:-1]]
        counts.append(steps - sum(counts))
        if min(counts) >= 1:
            pieces = [np.linspace(lo, hi, n, endpoint=False)
                      for lo, hi, n in zip(CLASSIC_KNOTS[:-1], CLASSIC_KNOTS[1:], counts, strict=True)]
            return np.concatenate(pieces + [np.ones(1)])
    return np.linspace(0.0, 1.0, num_betas)


def _resolve_schedule(schedule, num_betas):
    if schedule is None or isinstance(schedule, str):
        kind = "classic" if schedule is None else schedule
        check_choice(kind, "schedule", SCHEDULES)
        return ais_schedule(DEFAULT_NUM_BETAS if num_betas is None else num_betas, kind)
    betas = np.asarray(schedule)
    if betas.dtype == object or not np.issubdtype(betas.dtype, np.number):
        raise TypeError(f"schedule: expected None, one of {', '.join(SCHEDULES)} or an array of numbers, "
                        f"got {type(schedule).__name__}")
    betas = betas.astype(np.float64)
    if betas.ndim != 1 or betas.size < 2:
        raise ValueError(f"schedule: expected a 1-d array of at least 2 inverse temperatures, got shape {betas.shape}")
    if not np.all(np.isfinite(betas)):
        raise ValueError("schedule: contains NaN or inf")
    if betas[0] != 0.0 or betas[-1] != 1.0:
        raise ValueError(f"schedule: must start at 0 and end at 1, got {betas[0]!r} ... {betas[-1]!r}")
    if np.any(np.diff(betas) < 0):
        raise ValueError("schedule: must be non-decreasing")
    if num_betas is not None and check_int(num_betas, "num_betas", minimum=2) != betas.size:
        raise ValueError(f"num_betas: {num_betas} disagrees with the length of schedule ({betas.size}); "
                         "give one or the other")
    return betas


def _resolve_base_vbias(model, base_vbias):
    if base_vbias is None:
        if model.data_means is None:
            values = model.vbias.astype(np.float64)
        else:
            p = bias_init_probabilities(model)
            values = np.log(p) - np.log1p(-p)
    else:
        values = check_vector(base_vbias, "base_vbias", model.num_visibles)
    # The kernels sample with the biases in the model dtype: use those very values everywhere.
    return values.astype(model.dtype).astype(np.float64)


@helper
def _softplus_step(x, beta_old, beta_new):
    """softplus(beta_new x) - softplus(beta_old x) for 0 <= beta_old, beta_new (float64).

    = (beta_new - beta_old) max(x, 0) + log((1 + e^{-beta_new |x|}) / (1 + e^{-beta_old |x|})):
    two exponentials and one logarithm of a ratio in [1/2, 2], accurate to
    about 1e-16 in absolute terms.
    """
    ax = abs(x)
    ratio = (1.0 + fast_exp(-beta_new * ax)) / (1.0 + fast_exp(-beta_old * ax))
    return (beta_new - beta_old) * max(x, 0.0) + fast_log(ratio)


@kernel
def _anneal_hidden_pass(hidden_field, hbias, visible, vbias_step, beta_old, beta_new, scratch, ones, log_weights):
    """Weight update from ``beta_old`` to ``beta_new`` and hidden field of the transition at ``beta_new``.

    On entry ``hidden_field[c] = visible[c] @ W``; on exit it holds
    ``beta_new (visible[c] @ W + hbias)`` in its dtype, and ``log_weights[c]``
    (float64) has grown by log p*_new(v_c) - log p*_old(v_c) =
    v_c . vbias_step + sum_j [softplus(beta_new x_cj) - softplus(beta_old x_cj)],
    x = v W + b, with ``vbias_step = (beta_new - beta_old) (a - a0)``.
    ``scratch`` (num_chains, num_hiddens) float64 holds the per-unit terms so
    that their loop has no reduction and vectorises; ``ones`` is a float64
    vector of num_hiddens ones.
    """
    for c in prange(hidden_field.shape[0]):
        field = hidden_field[c]
        terms = scratch[c]
        for j in range(field.shape[0]):
            x = np.float64(field[j]) + hbias[j]
            terms[j] = _softplus_step(x, beta_old, beta_new)
            field[j] = beta_new * x
        log_weights[c] += sum_products4(terms, ones) + sum_products4(visible[c], vbias_step)


class _Annealer:
    """Preallocated buffers for annealing ``num_chains`` chains of ``model`` from/to the base model."""

    def __init__(self, model, base_vbias64, num_chains):
        self.model = model
        dtype = model.dtype
        self.workspace = GibbsWorkspace(model, num_chains)
        self.scratch = np.empty((num_chains, model.num_hiddens), dtype=np.float64)
        self.ones = np.ones(model.num_hiddens, dtype=np.float64)
        self.hbias64 = model.hbias.astype(np.float64)
        self.a0 = base_vbias64
        self.vbias_gap = model.vbias.astype(np.float64) - base_vbias64
        self.vbias_step = np.empty(model.num_visibles, dtype=np.float64)
        self.vbias_beta64 = np.empty(model.num_visibles, dtype=np.float64)
        self.vbias_beta = np.empty(model.num_visibles, dtype=dtype)
        self.zero_hbias = np.zeros(model.num_hiddens, dtype=dtype)
        self.log_weights = np.zeros(num_chains, dtype=np.float64)

    def sample_base(self, streams):
        """Exact draws from the base model's visible law: independent sigmoid(a0_i)."""
        ws = self.workspace
        ws.visible_field.fill(0)
        visible = np.empty_like(ws.visible_field)
        key0, key1 = streams.kernel_args()
        self.vbias_beta[...] = self.a0
        _cpu.sample_bernoulli_layer(ws.visible_field, self.vbias_beta, key0, key1, streams.next_draw(), 0, visible)
        return visible

    def run(self, visible, betas, streams, *, final_transition):
        """Anneal ``visible`` in place along ``betas``; returns the log weights (float64, num_chains).

        Step k: log w += log p*_{betas[k]}(v) - log p*_{betas[k-1]}(v), then one
        block-Gibbs transition that leaves p_{betas[k]} invariant (skipped at
        the last step unless ``final_transition``).
        """
        W = self.model.weight_matrix
        ws = self.workspace
        dtype = W.dtype.type
        key0, key1 = streams.kernel_args()
        self.log_weights.fill(0.0)
        last = betas.size - 1
        for k in range(1, betas.size):
            beta_old, beta_new = float(betas[k - 1]), float(betas[k])
            np.matmul(visible, W, out=ws.hidden_field)
            np.multiply(self.vbias_gap, beta_new - beta_old, out=self.vbias_step)
            _anneal_hidden_pass(ws.hidden_field, self.hbias64, visible, self.vbias_step, beta_old, beta_new,
                                self.scratch, self.ones, self.log_weights)
            if k == last and not final_transition:
                break
            # Transition at beta_new: hidden field beta (v W + b) is ready; visible field
            # beta (h W^T) with bias (1 - beta) a0 + beta a.
            _cpu.sample_bernoulli_layer(ws.hidden_field, self.zero_hbias, key0, key1, streams.next_draw(), 0,
                                        ws.hidden)
            np.matmul(ws.hidden, W.T, out=ws.visible_field)
            if beta_new != 1.0:
                np.multiply(ws.visible_field, dtype(beta_new), out=ws.visible_field)
            np.multiply(self.vbias_gap, beta_new, out=self.vbias_beta64)
            np.add(self.vbias_beta64, self.a0, out=self.vbias_beta64)
            self.vbias_beta[...] = self.vbias_beta64
            _cpu.sample_bernoulli_layer(ws.visible_field, self.vbias_beta, key0, key1, streams.next_draw(), 0,
                                        visible)
        return self.log_weights.copy()


@dataclass
class AISResult:
    """Output of ``ais_log_partition`` / ``reverse_ais_log_partition``.

    Attributes
    ----------
    log_z : float
        Estimate of log Z.
    log_z_std_error : float
        Delta-method standard error of ``log_z``: sd(w) / (sqrt(n) mean(w))
        over the n importance weights (NaN for a single chain).
    log_z_lower, log_z_upper : float
        log Z at the mean weight minus / plus three standard errors of the
        mean; -inf or +inf where that bound on the mean is <= 0.
    num_chains : int
    num_betas : int
        Schedule length (0 and 1 included).
    chains : ndarray, shape (num_chains, num_visibles)
        Final visible states, exact 0/1 in the model dtype: samples after the
        transition at beta = 1 (forward) or at the last beta > 0 (reverse).
    log_weights : ndarray, shape (num_chains,), float64
        Log importance weights: log(Z / Z_base) estimates (forward) or
        log(Z_base / Z) estimates (reverse), one per chain.
    log_z_base : float
        Exact log Z of the base model.
    direction : {"forward", "reverse"}
    """

    log_z: float
    log_z_std_error: float
    log_z_lower: float
    log_z_upper: float
    num_chains: int
    num_betas: int
    chains: np.ndarray
    log_weights: np.ndarray
    log_z_base: float
    direction: str = "forward"

    @property
    def effective_sample_size(self):
        """(sum w)^2 / sum w^2 of the importance weights, in [1, num_chains]."""
        w = np.exp(self.log_weights - np.max(self.log_weights))
        return float(w.sum() ** 2 / np.sum(w**2))


def _weight_summary(log_weights):
    """(log mean w, se / mean, log(mean - 3 se), log(mean + 3 se)) of w = exp(log_weights).

    se = sd(w) / sqrt(n) is the standard error of the mean weight; the bounds
    are -inf where mean - 3 se <= 0 and NaN (with se) for a single weight.
    """
    shift = float(np.max(log_weights))
    w = np.exp(log_weights - shift)  # max is 1: no overflow, the mean is >= 1/n
    mean = float(w.mean())
    if w.size < 2:
        return shift + np.log(mean), np.nan, np.nan, np.nan
    se = float(w.std(ddof=1) / np.sqrt(w.size))
    low = shift + np.log(mean - 3 * se) if mean - 3 * se > 0 else -np.inf
    return shift + np.log(mean), se / mean, float(low), shift + float(np.log(mean + 3 * se))


def ais_log_partition(model, *, num_chains=100, num_betas=None, schedule=None, base_vbias=None, rng=None):
    """Estimate log Z of ``model`` by annealed importance sampling from an independent-site model.

    Parameters
    ----------
    model : BernoulliRBM
    num_chains : int
        Number of independent annealing runs (importance weights).
    num_betas : int, optional
        Length of the schedule, 0 and 1 included (default 10 000); cost is
        ``num_betas - 1`` block-Gibbs steps of ``num_chains`` chains.  Only
        with a named ``schedule``; for an array schedule it may be left out.
    schedule : None, {"classic", "linear"} or array_like, shape (num_betas,)
        Inverse temperatures; None means "classic" (see ``ais_schedule``).
        An array must be non-decreasing from exactly 0 to exactly 1.
    base_vbias : array_like, shape (num_visibles,), optional
        Visible biases a0 of the base model.  Default: the logit of the
        model's training-data means clipped to [1e-3, 1 - 1e-3] (its
        ``"bias"`` initial law) when it records them, else ``model.vbias``.
    rng : None, int, SeedSequence or Generator

    Returns
    -------
    AISResult

    Notes
    -----
    Units are {0, 1}.  The base model A has W = 0, b = 0 and visible biases
    a0, so log Z_A = sum_i log(1 + e^{a0_i}) + num_hiddens log 2, and it is
    sampled exactly.  The path of unnormalised laws

        p*_beta(v) = exp((1 - beta) a0^T v + beta a^T v) prod_j (1 + exp(beta (b_j + (v W)_j)))

    joins p*_0 = p*_A to p*_1 = exp(-F(v)).  p_beta is the visible marginal
    of an RBM with parameters (beta W, (1 - beta) a0 + beta a, beta b); one
    block-Gibbs step of that RBM leaves it invariant.  Each chain starts at
    v ~ p_A and, for k = 1 .. K, adds log p*_{beta_k}(v) - log p*_{beta_{k-1}}(v)
    to its log weight (float64) and then takes the step at beta_k.  E[w] =
    Z / Z_A exactly, so

        log Z ~= log Z_A + log mean(w)        (logsumexp of the log weights)

    which by Jensen's inequality is a stochastic lower bound: E[log Z_est] <=
    log Z, and P(log Z_est > log Z + t) <= e^{-t} (Markov).  The reported
    standard error sd(w) / (sqrt(n) mean(w)) is a delta-method estimate that
    itself underestimates the error when the weights are heavy-tailed (too
    few betas); compare with ``reverse_ais_log_partition`` to bracket log Z.
    The estimate is meaningful only for the equilibrium law of the model.
    """
    _check_model(model)
    num_chains = check_int(num_chains, "num_chains")
    betas = _resolve_schedule(schedule, num_betas)
    a0 = _resolve_base_vbias(model, base_vbias)
    streams = ChainStreams.from_seed_sequence(seed_sequence(rng))
    annealer = _Annealer(model, a0, num_chains)
    visible = annealer.sample_base(streams)
    log_weights = annealer.run(visible, betas, streams, final_transition=True)
    log_z_base = base_log_partition(a0, model.num_hiddens)
    log_mean, rel_se, low, high = _weight_summary(log_weights)
    return AISResult(log_z_base + log_mean, rel_se, log_z_base + low, log_z_base + high, num_chains, betas.size,
                     visible, log_weights, log_z_base, "forward")


def reverse_ais_log_partition(model, data_or_chains, *, num_betas=None, schedule=None, base_vbias=None,
                              burn_in=0, rng=None):
    """Estimate log Z by reverse AIS, from samples of ``model`` back to the independent-site model.

    Parameters
    ----------
    model : BernoulliRBM
    data_or_chains : array_like, shape (num_chains, num_visibles)
        Exact 0/1 starting states, one annealing run per row (not modified).
        They should be samples of the model's equilibrium law: for example
        chains after a long run (or ``burn_in`` steps here).  Rows of the
        training data are a common stand-in, valid only insofar as the data
        follow the model (see Notes).
    num_betas, schedule, base_vbias, rng
        As in ``ais_log_partition``; the schedule is run from 1 down to 0.
    burn_in : int
        Block-Gibbs steps of the model (beta = 1) applied to the rows before
        annealing.

    Returns
    -------
    AISResult
        ``direction="reverse"``; ``log_weights`` estimate log(Z_A / Z) and
        ``chains`` are the states after the last transition (at the smallest
        beta > 0 of the schedule).

    Notes
    -----
    Units are {0, 1}.  Reverse AIS (Burda, Grosse & Salakhutdinov 2015) runs
    the forward construction backwards: v_K ~ p_1 (the model), then for
    k = K .. 1 it adds log p*_{beta_{k-1}}(v) - log p*_{beta_k}(v) to the log
    weight and takes the block-Gibbs step at beta_{k-1} (none at beta = 0).
    When v_K is an exact sample of the model, E[w] = Z_A / Z, so

        log Z ~= log Z_A - log mean(w)

    is a stochastic *upper* bound (E[log Z_est] >= log Z), the mirror of
    forward AIS's lower bound; the two together bracket log Z and their gap
    measures how far the schedule is from good.  The guarantee needs exact
    model samples.  Chains that have not reached equilibrium, or data rows
    (which follow the model only if the model fits the data perfectly),
    make the estimate neither an upper bound nor unbiased in general:
    starting from data typically sits where the model's density is high,
    and the result is then only a heuristic upper estimate.  The standard
    error is the delta-method one of ``ais_log_partition``.
    """
    _check_model(model)
    visible = check_binary_data(data_or_chains, "data_or_chains", model.num_visibles, model.dtype).copy()
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    betas = _resolve_schedule(schedule, num_betas)
    a0 = _resolve_base_vbias(model, base_vbias)
    num_chains = visible.shape[0]
    streams = ChainStreams.from_seed_sequence(seed_sequence(rng))
    annealer = _Annealer(model, a0, num_chains)
    if burn_in:
        gibbs_steps(model, visible, burn_in, streams, annealer.workspace)
    log_weights = annealer.run(visible, betas[::-1].copy(), streams, final_transition=False)
    log_z_base = base_log_partition(a0, model.num_hiddens)
    log_mean, rel_se, low, high = _weight_summary(log_weights)
    # Z = Z_A / mean(w): the interval on mean(w) maps to the reversed interval on log Z.
    return AISResult(log_z_base - log_mean, rel_se, log_z_base - high, log_z_base - low, num_chains, betas.size,
                     visible, log_weights, log_z_base, "reverse")


class AISLogLikelihood(NamedTuple):
    """Output of ``ais_log_likelihood`` (unpacks as a 3-tuple)."""

    log_likelihood: float
    std_error: float
    ais: AISResult


def ais_log_likelihood(model, data, **ais_options):
    """Mean log-likelihood of the rows of ``data`` with log Z from ``ais_log_partition``.

    Parameters
    ----------
    model : BernoulliRBM
    data : array_like, shape (num_samples, num_visibles)
        Exact 0/1 rows.
    **ais_options
        Passed to ``ais_log_partition`` (num_chains, num_betas, schedule,
        base_vbias, rng).

    Returns
    -------
    AISLogLikelihood
        ``(log_likelihood, std_error, ais)``: mean_n(-F(v_n)) - log_z, the
        standard error of log_z (the free energies are exact), and the
        ``AISResult``.

    Notes
    -----
    Units are {0, 1}.  log p(v) = -F(v) - log Z.  Forward AIS underestimates
    log Z on average, so this estimate is a stochastic *upper* bound on the
    true log-likelihood; with too few betas it can be far too optimistic.
    Meaningful only for the equilibrium law of the model.
    """
    _check_model(model)
    data = check_binary_data(data, "data", model.num_visibles, np.float64)
    result = ais_log_partition(model, **ais_options)
    return AISLogLikelihood(float(np.mean(-model.free_energy(data)) - result.log_z), result.log_z_std_error, result)
