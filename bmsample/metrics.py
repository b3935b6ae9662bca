"""Metrics for samples of Boltzmann machines and Gaussian energy models.

Family-independent, pure NumPy.  Every function takes sample arrays of shape
(num_samples, num_units): float or int (bool accepted), binary ({0, 1} or
+-1) or real.  The caller produces the samples and chains; nothing here
samples.

Contents::

    moments, moment_errors              means and connected covariances, errors against data
    pairwise_distances                  Hamming / Euclidean distances as matrix products
    adversarial_accuracy                AATS nearest-neighbour adversarial accuracy (Yale et al. 2020)
    integrated_autocorrelation_time     tau_int of a time series, Sokal's automatic window
    memory_of_initial_state             how fast chains forget their initial state p0
    sample_energies, mean_energy        energy (or visible free energy) of samples under a model
"""

import warnings

import numpy as np

from ._validation import (
    check_binary_data,
    check_choice,
    check_increasing_times,
    check_int,
    check_real,
    check_same_columns,
    check_table,
)

__all__ = [
    "adversarial_accuracy", "integrated_autocorrelation_time", "mean_energy", "memory_of_initial_state",
    "moment_errors", "moments", "pairwise_distances", "sample_energies",
]

#: Rows per block in the covariance accumulation: about 2**22 float64 values (32 MiB) per block.
_COVARIANCE_BLOCK_VALUES = 1 << 22

#: Hamming distances are computed as float32 products of +-1 vectors: exact integers below 2**24 units.
_FLOAT32_EXACT_UNITS = 1 << 24

METRICS = ("auto", "hamming", "euclidean")

#: integrated_autocorrelation_time warns below this many tau_int steps per chain (the rule of emcee).
_RELIABLE_LENGTH = 50


# --- moments -------------------------------------------------------------------------------
def moments(samples):
    """Means and connected (population) covariance of samples.

    Parameters
    ----------
    samples : array_like, shape (num_samples, num_units)
        Float, int or bool values.

    Returns
    -------
    means : ndarray, shape (num_units,), float64
    covariance : ndarray, shape (num_units, num_units), float64
        Symmetric.

    Notes
    -----
    m_i = (1/n) sum_s x_si and C_ij = (1/n) sum_s (x_si - m_i)(x_sj - m_j)
    (ddof 0, two passes for accuracy).  The centred products are accumulated
    as one GEMM per block of rows (about 2**22 values per block), so the
    float64 working memory stays bounded for long sample sets.  For {0, 1}
    units m_i is the activation probability; for +-1 spins the magnetisation.
    """
    x = check_table(samples, "samples")
    n, num_units = x.shape
    means = np.mean(x, axis=0, dtype=np.float64)
    rows = max(1, _COVARIANCE_BLOCK_VALUES // num_units)
    covariance = np.zeros((num_units, num_units))
    for start in range(0, n, rows):
        centred = x[start:start + rows].astype(np.float64) - means
        covariance += centred.T @ centred
    covariance /= n
    covariance = 0.5 * (covariance + covariance.T)
    return means, covariance


def _rms(values):
    return float(np.sqrt(np.mean(values**2))) if values.size else float("nan")


def _pearson(a, b):
    """Pearson correlation of two 1-d arrays; NaN if either is constant (or has fewer than 2 entries)."""
    if a.size < 2:
        return float("nan")
    a = a - a.mean()
    b = b - b.mean()
    norm = np.sqrt(np.dot(a, a) * np.dot(b, b))
    return float(np.dot(a, b) / norm) if norm > 0 else float("nan")


def moment_errors(samples, data):
    """Errors of the sample means and connected covariances against the data's.

    Parameters
    ----------
    samples : array_like, shape (num_samples, num_units)
    data : array_like, shape (num_data, num_units)
        Row counts may differ; the number of units must be the same.

    Returns
    -------
    dict
        ``"mean_rmse"``: sqrt(mean_i (m_i - m_i^data)^2);
        ``"covariance_rmse"``: the same over the off-diagonal pairs i < j of C;
        ``"covariance_pearson"``: Pearson correlation between {C_ij}_{i<j} of
        samples and data (NaN if either set is constant);
        ``"variance_rmse"``: the same as the rmse over the diagonal C_ii.
        All floats.  With a single unit the off-diagonal entries are NaN.

    Notes
    -----
    m and C are those of ``moments`` (connected covariance, ddof 0).  The
    Pearson coefficient of the connected correlations is adabmDCA's stopping
    rule (training stops when it reaches a target such as 0.95).  Sampling
    noise alone gives errors of order sqrt(var / n): the sd of a mean
    difference between two independent sets is sqrt(var (1/n_1 + 1/n_2)).
    """
    x = check_table(samples, "samples")
    y = check_table(data, "data")
    check_same_columns(x, "samples", y, "data")
    m_x, c_x = moments(x)
    m_y, c_y = moments(y)
    upper = np.triu_indices(x.shape[1], k=1)
    return {
        "mean_rmse": _rms(m_x - m_y),
        "covariance_rmse": _rms(c_x[upper] - c_y[upper]),
        "covariance_pearson": _pearson(c_x[upper], c_y[upper]),
        "variance_rmse": _rms(np.diag(c_x) - np.diag(c_y)),
    }


# --- distances and adversarial accuracy ------------------------------------------------------
def _binary_conventions(x):
    """The binary conventions ({"01", "pm1"}) that all values of ``x`` fit; empty for real data."""
    conventions = set()
    if np.all((x == 0) | (x == 1)):
        conventions.add("01")
    if np.all((x == -1) | (x == 1)):
        conventions.add("pm1")
    return conventions


def _resolve_metric(metric, first, first_name, second, second_name):
    """("hamming" | "euclidean", convention or None) for the pooled arrays."""
    check_choice(metric, "metric", METRICS)
    if metric == "euclidean":
        return "euclidean", None
    conv_first = _binary_conventions(first)
    conv_second = _binary_conventions(second)
    common = conv_first & conv_second
    if common:
        return "hamming", "01" if "01" in common else "pm1"
    if conv_first and conv_second:
        raise ValueError(f"{second_name}: binary values in the convention {sorted(conv_second)} but "
                         f"{first_name} uses {sorted(conv_first)}; convert one of them (s = 2 x - 1)")
    if metric == "hamming":
        name = second_name if conv_first else first_name
        raise ValueError(f"{name}: metric='hamming' needs binary values, all in {{0, 1}} or all in {{-1, 1}}")
    return "euclidean", None


def _prepare(x, metric, convention):
    """Rows ready for the distance products: +-1 values for Hamming, float64 for Euclidean."""
    if metric == "euclidean":
        return np.ascontiguousarray(x, dtype=np.float64)
    dtype = np.float32 if x.shape[1] < _FLOAT32_EXACT_UNITS else np.float64
    spins = np.asarray(x, dtype=dtype)
    if convention == "01":
        spins = 2 * spins - 1
    return np.ascontiguousarray(spins, dtype=dtype)


def _distance_block(rows, pool, metric):
    """Distances between prepared ``rows`` (m, N) and ``pool`` (p, N), shape (m, p).

    Hamming: the number of differing units, (N - s.t) / 2 for +-1 vectors
    (exact integers).  Euclidean: *squared* distances, clipped at 0.
    """
    products = rows @ pool.T
    if metric == "hamming":
        products *= -0.5
        products += 0.5 * rows.shape[1]
        return products
    products *= -2.0
    products += np.einsum("ij,ij->i", rows, rows)[:, None]
    products += np.einsum("ij,ij->i", pool, pool)[None, :]
    return np.maximum(products, 0.0, out=products)


def pairwise_distances(a, b, metric="auto"):
    """Hamming or Euclidean distances between the rows of two arrays, as matrix products.

    Parameters
    ----------
    a : array_like, shape (m, num_units)
    b : array_like, shape (p, num_units)
    metric : {"auto", "hamming", "euclidean"}
        "auto" picks "hamming" iff all values of both arrays are in {0, 1}, or
        all in {-1, 1}.

    Returns
    -------
    ndarray, shape (m, p), float64
        Number of differing units (Hamming) or Euclidean distance.

    Notes
    -----
    Hamming, {0, 1}: d(x, y) = x.(1 - y) + (1 - x).y; +-1: d(s, t) = (N - s.t) / 2.
    The two agree under s = 2 x - 1, so {0, 1} rows are mapped to +-1 and one
    product is computed, in float32 (exact: the entries are integers of
    magnitude <= N < 2**24).  Euclidean:
    ||x - y||^2 = ||x||^2 + ||y||^2 - 2 x.y in float64, clipped at 0 before the
    square root (the expansion loses absolute accuracy of order
    eps (||x||^2 + ||y||^2)).
    """
    x = check_table(a, "a")
    y = check_table(b, "b")
    check_same_columns(x, "a", y, "b")
    metric, convention = _resolve_metric(metric, x, "a", y, "b")
    distances = _distance_block(_prepare(x, metric, convention), _prepare(y, metric, convention), metric)
    distances = distances.astype(np.float64)
    return np.sqrt(distances) if metric == "euclidean" else distances


def _nearest_by_side(pool, num_data, metric, chunk_size):
    """Per pooled point, the distance to its nearest *other* data point and nearest *other* sample.

    Processes ``chunk_size`` rows at a time against the whole pool, so the
    largest temporary is (chunk_size, 2 n).  Returns two arrays of shape (2 n,):
    Hamming distances, or squared Euclidean distances.  The per-row terms of
    the distance expansions are added after the minimum (same ordering, fewer
    passes over the block): Hamming min d = (N - max s.t) / 2, Euclidean
    min d^2 = ||x||^2 + min_y (||y||^2 - 2 x.y).
    """
    total, num_units = pool.shape
    sq_norms = np.einsum("ij,ij->i", pool, pool) if metric == "euclidean" else None
    to_data = np.empty(total)
    to_samples = np.empty(total)
    for start in range(0, total, chunk_size):
        stop = min(start + chunk_size, total)
        block = pool[start:stop] @ pool.T
        diagonal = (np.arange(stop - start), np.arange(start, stop))
        if metric == "hamming":
            block[diagonal] = -np.inf
            to_data[start:stop] = 0.5 * (num_units - block[:, :num_data].max(axis=1).astype(np.float64))
            to_samples[start:stop] = 0.5 * (num_units - block[:, num_data:].max(axis=1).astype(np.float64))
        else:
            block *= -2.0
            block += sq_norms
            block[diagonal] = np.inf
            to_data[start:stop] = block[:, :num_data].min(axis=1) + sq_norms[start:stop]
            to_samples[start:stop] = block[:, num_data:].min(axis=1) + sq_norms[start:stop]
    if metric == "euclidean":
        np.maximum(to_data, 0.0, out=to_data)
        np.maximum(to_samples, 0.0, out=to_samples)
    return to_data, to_samples


def _same_side_score(to_same, to_other):
    """1 where the nearest neighbour is on the own side, 0 where on the other side, 1/2 on a tie."""
    return np.where(to_same < to_other, 1.0, np.where(to_same == to_other, 0.5, 0.0))


#: AA_truth and AA_syn further apart than this: their mean, AATS, no longer says how alike samples and data are.
AA_DISAGREEMENT = 0.2


def aa_disagree(result):
    """Whether AA_truth and AA_syn of an ``adversarial_accuracy`` result differ by more than ``AA_DISAGREEMENT``.

    Then AATS near 0.5 does not mean indistinguishable: samples of noise, for
    example, give AA_truth = 1 (every data point is closest to data) and
    AA_syn = 0 (every sample is closest to a data point), so AATS = 0.5.
    """
    return abs(result["aa_truth"] - result["aa_syn"]) > AA_DISAGREEMENT


def format_aats(result):
    """``"0.500 (AA_truth 1.000, AA_syn 0.000; disagree)"``: AATS with the two accuracies it averages."""
    flag = "; disagree" if aa_disagree(result) else ""
    return f"{result['aats']:.3f} (AA_truth {result['aa_truth']:.3f}, AA_syn {result['aa_syn']:.3f}{flag})"


def adversarial_accuracy(data, samples, metric="auto", chunk_size=1024):
    """Nearest-neighbour adversarial accuracy (AATS, Yale et al. 2020).

    Parameters
    ----------
    data : array_like, shape (num_data, num_units)
    samples : array_like, shape (num_samples, num_units)
    metric : {"auto", "hamming", "euclidean"}
        "auto" picks "hamming" iff all values of both arrays are in {0, 1}, or
        all in {-1, 1} (the two arrays must then share the convention);
        "euclidean" otherwise.
    chunk_size : int
        Rows of the pool processed at a time; memory is about
        chunk_size x 2 n values (float32 for Hamming, float64 for Euclidean).

    Returns
    -------
    dict
        ``"aa_truth"``: fraction of data points whose nearest neighbour is a
        data point; ``"aa_syn"``: fraction of samples whose nearest neighbour
        is a sample; ``"aats"``: their mean; ``"n"``: points used per side.

    Notes
    -----
    Only the first n = min(num_data, num_samples) rows of each array are used
    (shuffle beforehand if the rows are ordered, e.g. by chain or by class).
    The 2 n points are pooled; for each point, its nearest neighbour is
    sought among the 2 n - 1 *other* points (itself excluded by index, so
    duplicates still count as neighbours at distance 0).

    Tie rule: with d_same the distance to the nearest other point of the same
    side and d_other to the nearest point of the other side, a point scores
    1 if d_same < d_other, 0 if d_same > d_other and 1/2 if they are equal.
    AA_truth and AA_syn are the mean scores over the n data points and the n
    samples, AATS = (AA_truth + AA_syn) / 2.

    Reading: ~0.5 when samples and data are indistinguishable (exactly
    (n - 1) / (2 n - 1) in expectation without ties, since a point has one
    fewer candidate on its own side); -> 1 when samples are poor (each side
    is closest to itself); -> 0 when samples copy the data (samples that are
    exact copies of distinct data rows give AA_truth = AA_syn = 0 exactly).
    Read AATS only together with AA_truth and AA_syn: both must be near 0.5.
    When they differ by more than ``AA_DISAGREEMENT`` (``aa_disagree``) their
    mean can be 0.5 for samples nothing like the data (noise: AA_truth = 1,
    AA_syn = 0).

    Distances are those of ``pairwise_distances``; Euclidean comparisons use
    squared distances.
    """
    x = check_table(data, "data")
    y = check_table(samples, "samples")
    check_same_columns(x, "data", y, "samples")
    chunk_size = check_int(chunk_size, "chunk_size")
    n = min(x.shape[0], y.shape[0])
    if n < 2:
        raise ValueError(f"data, samples: need at least 2 rows each, got {x.shape[0]} and {y.shape[0]}")
    x, y = x[:n], y[:n]
    metric, convention = _resolve_metric(metric, x, "data", y, "samples")
    pool = np.concatenate([_prepare(x, metric, convention), _prepare(y, metric, convention)])
    to_data, to_samples = _nearest_by_side(pool, n, metric, chunk_size)
    aa_truth = float(_same_side_score(to_data[:n], to_samples[:n]).mean())
    aa_syn = float(_same_side_score(to_samples[n:], to_data[n:]).mean())
    return {"aa_truth": aa_truth, "aa_syn": aa_syn, "aats": 0.5 * (aa_truth + aa_syn), "n": n}


# --- mixing -----------------------------------------------------------------------------
def _autocovariance(centred):
    """Biased autocovariance (divided by T) of centred columns, averaged over columns, shape (T,).

    gamma(t) = (1 / (T K)) sum_k sum_{s < T - t} x_{s,k} x_{s+t,k}, by FFT with
    zero padding to at least 2 T (no wrap-around).
    """
    length = centred.shape[0]
    size = 1 << int(np.ceil(np.log2(2 * length)))
    spectrum = np.fft.rfft(np.ascontiguousarray(centred.T), n=size, axis=-1)   # time contiguous
    power = spectrum.real**2 + spectrum.imag**2
    return np.fft.irfft(power.mean(axis=0), n=size)[:length] / length


def integrated_autocorrelation_time(series, c=5.0):
    """Integrated autocorrelation time of one or several chains, with Sokal's automatic window.

    Parameters
    ----------
    series : array_like, shape (T,) or (T, num_chains)
        Time on axis 0.  Columns are independent chains of the same process;
        their autocovariances are averaged.
    c : float
        Window constant (> 0); 5 is Sokal's usual choice.

    Returns
    -------
    float
        tau_int in units of steps (1 for white noise); NaN for a constant series.

    Warns
    -----
    RuntimeWarning
        If the series has fewer than 50 tau_int steps, or no window satisfies
        M >= c tau(M): the estimate is then unreliable (typically too low).

    Notes
    -----
    tau_int = 1 + 2 sum_{t >= 1} rho(t), so that the variance of a mean over T
    correlated steps is Var(x) tau_int / T (for AR(1) with coefficient phi,
    tau_int = (1 + phi) / (1 - phi)).  The series is centred by its grand
    mean over all chains and steps (chains that disagree on the mean then
    show a long correlation, as they should).  gamma(t) is the biased
    (divide by T) autocovariance computed with np.fft, averaged over chains,
    rho(t) = gamma(t) / gamma(0), and the sum is truncated at the smallest
    M with M >= c tau(M), where tau(M) = 1 + 2 sum_{t=1}^{M} rho(t)
    (Sokal 1997; the same rule as emcee).
    """
    x = np.asarray(series)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise TypeError(f"series: expected a numeric array, got dtype {x.dtype}")
    if x.ndim not in (1, 2):
        raise ValueError(f"series: expected shape (T,) or (T, num_chains), got {x.shape}")
    if x.shape[0] < 2 or x.size == 0:
        raise ValueError(f"series: expected at least 2 steps (axis 0) and 1 chain, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("series: contains NaN or inf")
    c = check_real(c, "c", low=0.0)
    x = x.reshape(x.shape[0], -1).astype(np.float64)
    gamma = _autocovariance(x - x.mean())
    if gamma[0] <= 0:
        return float("nan")
    taus = 2.0 * np.cumsum(gamma / gamma[0]) - 1.0   # taus[M] = 1 + 2 sum_{t=1}^{M} rho(t)
    window = np.arange(taus.size) >= c * taus
    tau = float(taus[np.argmax(window)]) if window.any() else float(taus[-1])
    if not window.any() or x.shape[0] < _RELIABLE_LENGTH * tau:
        warnings.warn(f"series: {x.shape[0]} steps are fewer than {_RELIABLE_LENGTH} tau_int "
                      f"(tau_int ~ {tau:.3g}): the estimate is unreliable", RuntimeWarning, stacklevel=2)
    return tau


def memory_of_initial_state(initial, states_at_times, times, threshold=0.05):
    """How much chains still remember their own initial state, as a function of time.

    Parameters
    ----------
    initial : array_like, shape (num_chains, num_units)
        x_c(0): the states drawn from p0, one per chain (num_chains >= 2, not
        all equal).
    states_at_times : array_like, shape (len(times), num_chains, num_units)
        x_c(t) for each recorded time, the chains in the same order.
    times : array_like, shape (len(times),)
        Strictly increasing, non-negative (steps or sweeps).
    threshold : float
        In (0, 1); the forgetting time is the first recorded time at which
        the memory falls below it.

    Returns
    -------
    dict
        ``"times"``: the times, ndarray; ``"memory"``: ndarray, shape
        (len(times),), float64, 1 for chains that do not move, -> 0 when p0 is
        forgotten; ``"forget_time"``: first recorded t with memory < threshold,
        float (NaN if never).

    Notes
    -----
    With centred states x~_c(t) = x_c(t) - (1/C) sum_c' x_c'(t) (per unit,
    over the C chains, at time t and likewise at time 0),

        memory(t) = sum_{c,i} x~_ci(t) x~_ci(0) / sqrt(sum_{c,i} x~_ci(t)^2 sum_{c,i} x~_ci(0)^2),

    the correlation across chains between x(t) and x(0), pooled over units.
    Centring removes what all chains share (a constant bias, the drift of
    the mean from p0 towards equilibrium), so only chain-specific memory
    counts.  The numerator is, up to the factor C / (C - 1), the overlap of
    each chain with its own initial state minus its mean overlap with the
    *other* chains' initial states: the shuffled-pairing baseline averaged
    over all pairings, with no randomness.  For +-1 spins with zero mean it
    is the usual overlap q(t) = (1/N) sum_i s_i(t) s_i(0) averaged over
    chains.  For an AR(1) chain x(t+1) = phi x(t) + noise started at
    stationarity, memory(t) = phi^t.  If all chains coincide at time t the
    memory is 0 (nothing chain-specific is left).  The estimate has noise of
    order 1 / sqrt(C N) for independent units.
    """
    x0 = check_table(initial, "initial")
    states = np.asarray(states_at_times)
    if states.ndim != 3 or states.shape[1:] != x0.shape:
        raise ValueError(f"states_at_times: expected shape (len(times), {x0.shape[0]}, {x0.shape[1]}), "
                         f"got {states.shape}")
    times = check_increasing_times(times, states.shape[0])
    threshold = check_real(threshold, "threshold", low=0.0, high=1.0)
    if x0.shape[0] < 2:
        raise ValueError(f"initial: expected at least 2 chains, got {x0.shape[0]}")
    x0 = x0.astype(np.float64)
    x0 -= x0.mean(axis=0)
    norm0 = np.einsum("ci,ci->", x0, x0)
    if norm0 == 0:
        raise ValueError("initial: all chains start from the same state; their memory of it is undefined")
    memory = np.array([_centred_correlation(check_table(state, f"states_at_times[{k}]"), x0, norm0)
                       for k, state in enumerate(states)])
    below = np.flatnonzero(memory < threshold)
    forget_time = float(times[below[0]]) if below.size else float("nan")
    return {"times": times, "memory": memory, "forget_time": forget_time}


def _centred_correlation(state, centred0, norm0):
    """Pooled correlation of ``state`` (centred here) with the centred initial states."""
    xt = state.astype(np.float64)
    xt -= xt.mean(axis=0)
    norm_t = np.einsum("ci,ci->", xt, xt)
    if norm_t == 0:
        return 0.0
    return float(np.einsum("ci,ci->", xt, centred0) / np.sqrt(norm_t * norm0))


# --- energies ----------------------------------------------------------------------------
def sample_energies(model, samples):
    """Energy of each sample under a model (visible free energy for RBMs).

    Parameters
    ----------
    model : BernoulliRBM, GaussianBernoulliRBM, GaussianModel or IsingModel
    samples : array_like, shape (num_samples, num_visibles)
        In the model's data units.

    Returns
    -------
    ndarray, shape (num_samples,), float64

    Notes
    -----
    Per family (the ``family`` attribute of the model):

    * ``GaussianModel``: E(x) = x^T J x / 2 - h^T x (real units).
    * ``IsingModel``: E(s) = -h^T s - sum_{i<j} J_ij s_i s_j on +-1 spins;
      {0, 1} samples are mapped to s = 2 x - 1 as elsewhere in the package.
    * ``BernoulliRBM``: the free energy of the visible units,
      F(v) = -a^T v - sum_a log(1 + exp(b_a + (v W)_a)), v in {0, 1}.
    * ``GaussianBernoulliRBM``: the visible free energy of the standardised
      samples z = model.standardise(x),
      F(z) = sum_i (z_i - a_i)^2 / (2 sigma_i^2) - sum_a softplus(b_a + ((z / sigma) W)_a)
      (the density of x differs by the constant sum_i log data_std_i).

    Free energies are energies up to the log-partition function, so they
    compare samples of one model, not models with each other.
    """
    family = getattr(model, "family", None)
    handlers = {
        "gaussian": _gaussian_energies,
        "ising": _ising_energies,
        "bernoulli_rbm": _rbm_free_energies,
        "gaussian_bernoulli_rbm": _grbm_free_energies,
    }
    if family not in handlers:
        raise TypeError("model: expected a BernoulliRBM, GaussianBernoulliRBM, GaussianModel or IsingModel, "
                        f"got {type(model).__name__}")
    return np.asarray(handlers[family](model, samples), dtype=np.float64)


def _gaussian_energies(model, samples):
    return model.energy(check_table(samples, "samples", model.num_visibles))


def _ising_energies(model, samples):
    from .ising.model import to_spins

    return model.energy(to_spins(samples, "samples", model.num_visibles, dtype="float64"))


def _rbm_free_energies(model, samples):
    return model.free_energy(check_binary_data(samples, "samples", model.num_visibles, dtype="float64"))


def _grbm_free_energies(model, samples):
    return model.free_energy(model.standardise(check_table(samples, "samples", model.num_visibles)))


def mean_energy(model, samples):
    """Mean energy of samples under a model (mean visible free energy for RBMs).

    Parameters
    ----------
    model : BernoulliRBM, GaussianBernoulliRBM, GaussianModel or IsingModel
    samples : array_like, shape (num_samples, num_visibles)

    Returns
    -------
    float

    Notes
    -----
    (1/n) sum_s E(x_s), with E per family as in ``sample_energies``: the
    energy for ``GaussianModel`` and ``IsingModel``, the free energy of the
    visible units for ``BernoulliRBM`` and ``GaussianBernoulliRBM`` (the
    latter on standardised samples).
    """
    return float(sample_energies(model, samples).mean())
