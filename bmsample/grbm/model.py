"""Gaussian-Bernoulli RBM: parameters and NumPy reference maths.

Real visible units z, {0, 1} hidden units h, per-unit widths sigma_i > 0:

    E(z, h) = sum_i (z_i - a_i)^2 / (2 sigma_i^2) - sum_{i,a} z_i W_ia h_a / sigma_i - b^T h,

with ``W = weight_matrix`` of shape (num_visibles, num_hiddens), ``a = vbias``,
``b = hbias`` and ``sigma``.  The conditionals are

    P(h_a = 1 | z) = sigmoid(b_a + sum_i (z_i / sigma_i) W_ia),
    z_i | h ~ N(a_i + sigma_i (W h)_i, sigma_i^2)   (independent given h).

**Units.**  The parameters act on *standardised* visible values
z = (x - data_mean) / data_std, where ``data_mean`` and ``data_std`` (per
visible unit, std clipped below at 1e-8) are recorded from the training data
by ``GaussianBernoulliRBM.from_data`` and stored with the model.  Training
standardises the data with the stored values; sampling runs in z and returns
x = z * data_std + data_mean.  Everything in this module (energy, free
energy, conditionals, exact enumeration) is in standardised units, float64.
A density of x is the density of z divided by prod_i data_std_i.

Integrating z out (completing the square, one Gaussian integral per unit):

    sum_i [(z_i - a_i)^2 - 2 sigma_i z_i (W h)_i] / (2 sigma_i^2)
        = sum_i [(z_i - mu_i(h))^2 - mu_i(h)^2 + a_i^2] / (2 sigma_i^2),   mu(h) = a + sigma * (W h),

so  int exp(-E(z, h)) dz = exp(b^T h + sum_i [mu_i(h)^2 - a_i^2] / (2 sigma_i^2)) prod_i sqrt(2 pi) sigma_i,
and [mu_i^2 - a_i^2] / (2 sigma_i^2) = a_i (W h)_i / sigma_i + (W h)_i^2 / 2.  Hence

    log p(h) = b^T h + sum_i [a_i (W h)_i / sigma_i + (W h)_i^2 / 2] - log Z + sum_i log(sqrt(2 pi) sigma_i),

and p(z) is the mixture sum_h p(h) N(z; mu(h), diag(sigma^2)).  The exact
functions enumerate the 2**num_hiddens hidden states (tiny hidden layers only).
"""

import numpy as np

from .._validation import check_dtype, check_matrix_memory
from ..rbm.model import all_binary_states, sigmoid, softplus

#: Largest hidden layer the exact enumeration functions accept.
MAX_EXACT_HIDDENS = 16

#: Lower clip of the recorded data standard deviations.
MIN_DATA_STD = 1e-8


def _vector(value, name, size, dtype, default=None):
    """A finite 1-d array of length ``size`` (a scalar is broadcast; None gives ``default``)."""
    if value is None:
        value = default
    array = np.array(value, dtype=dtype)
    if array.ndim == 0:
        array = np.full(size, array, dtype=dtype)
    if array.shape != (size,):
        raise ValueError(f"{name}: expected shape ({size},), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or inf")
    return array


class GaussianBernoulliRBM:
    """A Gaussian-Bernoulli restricted Boltzmann machine.

    Parameters
    ----------
    weight_matrix : ndarray, shape (num_visibles, num_hiddens)
        W, acting on standardised visible values.
    vbias : ndarray, shape (num_visibles,)
        a (standardised units).
    hbias : ndarray, shape (num_hiddens,)
        b.
    sigma : ndarray, shape (num_visibles,), scalar or None
        Per-unit widths sigma_i > 0 (default 1); fixed, not learned.
    data_mean, data_std : ndarray, shape (num_visibles,) or None
        Per-unit mean and standard deviation (> 0) of the training data,
        defining z = (x - data_mean) / data_std (defaults 0 and 1: no
        standardisation).  Stored as float64.
    dtype : {"float32", "float64"} or None
        Defaults to the dtype of ``weight_matrix`` (float32 if not a float).
    process : dict or None
        The generation process the model was trained with (scheme, k, init,
        init_scale, ...); ``sample_grbm`` reproduces it by default.

    Notes
    -----
    Visible units are real, hidden units {0, 1}.  All parameters act on
    z = (x - data_mean) / data_std:

        P(h_a = 1 | z) = sigmoid(b_a + sum_i (z_i / sigma_i) W_ia),
        z_i | h ~ N(a_i + sigma_i (W h)_i, sigma_i^2).

    ``standardise`` and ``destandardise`` convert between x and z.
    """

    family = "gaussian_bernoulli_rbm"

    def __init__(self, weight_matrix, vbias, hbias, sigma=None, *, data_mean=None, data_std=None, dtype=None,
                 process=None):
        weight_matrix = np.asarray(weight_matrix)
        if dtype is None:
            dtype = weight_matrix.dtype if weight_matrix.dtype in (np.float32, np.float64) else np.float32
        dtype = check_dtype(dtype)
        self.weight_matrix = np.array(weight_matrix, dtype=dtype, order="C")
        if self.weight_matrix.ndim != 2:
            raise ValueError(f"weight_matrix: expected a 2-d array, got shape {self.weight_matrix.shape}")
        if not np.all(np.isfinite(self.weight_matrix)):
            raise ValueError("weight_matrix: contains NaN or inf")
        nv, nh = self.weight_matrix.shape
        if nv == 0 or nh == 0:
            raise ValueError(f"weight_matrix: is empty (shape {self.weight_matrix.shape})")
        self.vbias = _vector(vbias, "vbias", nv, dtype)
        self.hbias = _vector(hbias, "hbias", nh, dtype)
        self.sigma = _vector(sigma, "sigma", nv, dtype, default=1.0)
        if np.any(self.sigma <= 0):
            raise ValueError(f"sigma: expected values > 0, got minimum {self.sigma.min()}")
        self.data_mean = _vector(data_mean, "data_mean", nv, np.float64, default=0.0)
        self.data_std = _vector(data_std, "data_std", nv, np.float64, default=1.0)
        if np.any(self.data_std <= 0):
            raise ValueError(f"data_std: expected values > 0, got minimum {self.data_std.min()}")
        self.process = dict(process) if process else None

    @classmethod
    def from_data(cls, data, num_hiddens, *, rng=None, dtype="float32", weight_scale=0.01, sigma=1.0, **_):
        """Initialise for ``data`` (in data units).

        Records the per-unit mean and standard deviation (clipped below at
        1e-8) of ``data``; in standardised units vbias = 0 (the data mean),
        hbias = 0, sigma = ``sigma`` and W has N(0, weight_scale^2) entries.

        Parameters
        ----------
        data : ndarray, shape (num_samples, num_visibles)
        num_hiddens : int
        rng : numpy Generator, int or None
        dtype : {"float32", "float64"}
        weight_scale : float
            Standard deviation of the initial weights.
        sigma : float or ndarray, shape (num_visibles,)
            Fixed visible widths in standardised units (default 1).
        """
        dtype = check_dtype(dtype)
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2:
            raise ValueError(f"data: expected a 2-d array (samples x units), got shape {data.shape}")
        num_hiddens = int(num_hiddens)
        check_matrix_memory(data.shape[1], num_hiddens, dtype, "num_hiddens", "weight matrix")
        weights = gen.standard_normal((data.shape[1], num_hiddens)) * weight_scale
        return cls(weights, np.zeros(data.shape[1]), np.zeros(num_hiddens), sigma, dtype=dtype,
                   data_mean=data.mean(axis=0), data_std=np.maximum(data.std(axis=0), MIN_DATA_STD))

    # --- shapes -----------------------------------------------------------
    @property
    def num_visibles(self):
        return self.weight_matrix.shape[0]

    @property
    def num_hiddens(self):
        return self.weight_matrix.shape[1]

    @property
    def dtype(self):
        return self.weight_matrix.dtype

    def copy(self):
        return GaussianBernoulliRBM(self.weight_matrix, self.vbias, self.hbias, self.sigma, data_mean=self.data_mean,
                                    data_std=self.data_std, dtype=self.dtype, process=self.process)

    def __repr__(self):
        return (f"GaussianBernoulliRBM(num_visibles={self.num_visibles}, num_hiddens={self.num_hiddens}, "
                f"dtype={self.dtype.name}, process={self.process})")

    # --- files -----------------------------------------------------------------
    def to_arrays(self):
        return {"weight_matrix": self.weight_matrix, "vbias": self.vbias, "hbias": self.hbias, "sigma": self.sigma,
                "data_mean": self.data_mean, "data_std": self.data_std}

    @classmethod
    def from_arrays(cls, arrays, metadata):
        return cls(arrays["weight_matrix"], arrays["vbias"], arrays["hbias"], arrays["sigma"],
                   data_mean=arrays["data_mean"], data_std=arrays["data_std"], dtype=metadata.get("dtype"),
                   process=metadata.get("training"))

    def shape_metadata(self):
        return {"num_visibles": self.num_visibles, "num_hiddens": self.num_hiddens}

    # --- units -----------------------------------------------------------------
    def _check_last_axis(self, array, name):
        if array.ndim == 0 or array.shape[-1] != self.num_visibles:
            raise ValueError(f"{name}: expected last axis of length {self.num_visibles} (the visible units), "
                             f"got shape {array.shape}")

    def standardise(self, x):
        """z = (x - data_mean) / data_std, computed in float64, returned in the model dtype.

        Parameters
        ----------
        x : ndarray, shape (..., num_visibles), data units
        """
        x = np.asarray(x, dtype=np.float64)
        self._check_last_axis(x, "x")
        return np.ascontiguousarray((x - self.data_mean) / self.data_std, dtype=self.dtype)

    def destandardise(self, z):
        """x = z * data_std + data_mean, computed in float64, returned in the model dtype.

        Parameters
        ----------
        z : ndarray, shape (..., num_visibles), standardised units
        """
        z = np.asarray(z, dtype=np.float64)
        self._check_last_axis(z, "z")
        return np.ascontiguousarray(z * self.data_std + self.data_mean, dtype=self.dtype)

    # --- reference maths (standardised units, float64) --------------------------
    def _params64(self):
        return (self.weight_matrix.astype(np.float64), self.vbias.astype(np.float64),
                self.hbias.astype(np.float64), self.sigma.astype(np.float64))

    def energy(self, z, h):
        """E(z, h), shape (n,) for z (n, num_visibles) and h (n, num_hiddens)."""
        W, a, b, s = self._params64()
        z = np.asarray(z, dtype=np.float64)
        h = np.asarray(h, dtype=np.float64)
        return (np.sum((z - a) ** 2 / (2 * s**2), axis=-1) - np.einsum("ni,ia,na->n", z / s, W, h) - h @ b)

    def free_energy(self, z):
        """Free energy F(z) = -log sum_h exp(-E(z, h)), shape (n,) for z of shape (n, num_visibles).

        F(z) = sum_i (z_i - a_i)^2 / (2 sigma_i^2) - sum_a softplus(b_a + ((z / sigma) W)_a).
        """
        W, a, b, s = self._params64()
        z = np.asarray(z, dtype=np.float64)
        return np.sum((z - a) ** 2 / (2 * s**2), axis=-1) - softplus((z / s) @ W + b).sum(axis=-1)

    def hidden_means(self, z):
        """P(h = 1 | z) = sigmoid((z / sigma) W + b), shape (n, num_hiddens), float64."""
        W, _, b, s = self._params64()
        return sigmoid((np.asarray(z, dtype=np.float64) / s) @ W + b)

    def visible_means(self, h):
        """E[z | h] = a + sigma * (W h), shape (n, num_visibles), float64."""
        W, a, _, s = self._params64()
        return a + s * (np.asarray(h, dtype=np.float64) @ W.T)


# --- exact enumeration over the hidden layer ----------------------------------------

def _hidden_states(model):
    if model.num_hiddens > MAX_EXACT_HIDDENS:
        raise ValueError(f"num_hiddens: exact enumeration is limited to {MAX_EXACT_HIDDENS} hidden units, "
                         f"got {model.num_hiddens}")
    return all_binary_states(model.num_hiddens)


def _logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def _hidden_log_weights(model, hs):
    """log int exp(-E(z, h)) dz without the constant sum_i log(sqrt(2 pi) sigma_i), shape (2**nh,)."""
    W, a, b, s = model._params64()
    field = hs @ W.T  # (W h)_i for every h
    # [(a_i + sigma_i (W h)_i)^2 - a_i^2] / (2 sigma_i^2) expanded to avoid cancellation.
    return hs @ b + np.sum(a * field / s + 0.5 * field**2, axis=1)


def exact_log_partition(model):
    """log Z = log sum_h int exp(-E(z, h)) dz in standardised units (sums over 2**num_hiddens states)."""
    s = model.sigma.astype(np.float64)
    return _logsumexp(_hidden_log_weights(model, _hidden_states(model))) + np.sum(np.log(np.sqrt(2 * np.pi) * s))


def exact_hidden_distribution(model):
    """Marginal p(h) for every h in ``bmsample.rbm.model.all_binary_states`` order, shape (2**num_hiddens,)."""
    log_w = _hidden_log_weights(model, _hidden_states(model))
    return np.exp(log_w - _logsumexp(log_w))


def exact_visible_moments(model):
    """Mean and covariance of z under the model (the mixture sum_h p(h) N(mu(h), diag(sigma^2))).

    Returns
    -------
    mean : ndarray, shape (num_visibles,)
    covariance : ndarray, shape (num_visibles, num_visibles)
        diag(sigma^2) + sum_h p(h) mu(h) mu(h)^T - mean mean^T.
    """
    hs = _hidden_states(model)
    q = exact_hidden_distribution(model)
    mu = model.visible_means(hs)
    mean = q @ mu
    s = model.sigma.astype(np.float64)
    covariance = np.diag(s**2) + mu.T @ (q[:, None] * mu) - np.outer(mean, mean)
    return mean, covariance


def exact_log_likelihood(model, z):
    """Mean log p(z) of standardised rows ``z`` (n, num_visibles): -F(z) - log Z.

    The log-likelihood of the same rows in data units is this minus
    sum_i log data_std_i.
    """
    return float(np.mean(-model.free_energy(z)) - exact_log_partition(model))


def data_statistics(model, z):
    """Gradient statistics of rows ``z`` (n, num_visibles) with P(h|z) for the hidden units.

    Returns
    -------
    dict with "vh" = <(z/sigma) P(h|z)^T> (num_visibles, num_hiddens),
    "v" = <(z - a)/sigma^2> (num_visibles,), "h" = <P(h|z)> (num_hiddens,), float64.
    """
    _, a, _, s = model._params64()
    z = np.asarray(z, dtype=np.float64)
    ph = model.hidden_means(z)
    n = z.shape[0]
    return {"vh": (z / s).T @ ph / n, "v": np.mean((z - a) / s**2, axis=0), "h": ph.mean(axis=0)}


def exact_statistics(model):
    """Gradient statistics at equilibrium (same keys as ``data_statistics``), by enumeration of h.

    Under the joint law, <(z/sigma) P(h|z)^T> = <(z/sigma) h^T> = sum_h p(h) (mu(h)/sigma) h^T,
    <(z - a)/sigma^2> = sum_h p(h) (W h)/sigma and <P(h|z)> = sum_h p(h) h.
    """
    W, a, _, s = model._params64()
    hs = _hidden_states(model)
    q = exact_hidden_distribution(model)
    mu = model.visible_means(hs)
    return {"vh": (q[:, None] * mu / s).T @ hs, "v": q @ (mu - a) / s**2, "h": q @ hs}


def exact_gradient(model, z, l2=0.0):
    """Maximum-likelihood gradient on standardised rows ``z``: data statistics minus equilibrium statistics.

    Returns
    -------
    tuple (grad_w, grad_a, grad_b), float64, shapes (num_visibles, num_hiddens), (num_visibles,), (num_hiddens,)
        grad_w includes the weight decay term -l2 W.
    """
    pos, neg = data_statistics(model, z), exact_statistics(model)
    grad_w = pos["vh"] - neg["vh"] - l2 * model.weight_matrix.astype(np.float64)
    return grad_w, pos["v"] - neg["v"], pos["h"] - neg["h"]
