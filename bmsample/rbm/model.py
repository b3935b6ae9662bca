"""Bernoulli-Bernoulli RBM: parameters and NumPy reference maths.

Units are {0, 1}.  Energy

    E(v, h) = -v^T W h - a^T v - b^T h,

with ``W = weight_matrix`` of shape (num_visibles, num_hiddens),
``a = vbias`` and ``b = hbias``.  Everything here is plain NumPy in float64
or the model's dtype; it is the oracle the kernels and tests are held to.
The exact functions enumerate 2**n states and are meant for tiny models.
"""

import numpy as np

from .._validation import check_dtype, check_matrix_memory

#: Largest layer size the exact enumeration functions accept.
MAX_EXACT_UNITS = 22


def sigmoid(x):
    """Numerically stable logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x)))


def softplus(x):
    """log(1 + exp(x)), stable for large |x|."""
    return np.logaddexp(0.0, x)


class BernoulliRBM:
    """A binary restricted Boltzmann machine.

    Parameters
    ----------
    weight_matrix : ndarray, shape (num_visibles, num_hiddens)
    vbias : ndarray, shape (num_visibles,)
    hbias : ndarray, shape (num_hiddens,)
    dtype : {"float32", "float64"} or None
        Defaults to the dtype of ``weight_matrix`` (float32 if not a float).
    process : dict or None
        The generation process the model was trained with (scheme, k, p0,
        sampler); ``bmsample.sample`` reproduces it by default.  ``None`` for
        an untrained model.
    data_means : ndarray, shape (num_visibles,) or None
        Visible means of the training data, which define the ``"bias"``
        initial law (independent sites).

    Notes
    -----
    Units are {0, 1}; P(h_a = 1 | v) = sigmoid(b_a + (v W)_a) and
    P(v_i = 1 | h) = sigmoid(a_i + (W h)_i).
    """

    family = "bernoulli_rbm"

    def __init__(self, weight_matrix, vbias, hbias, *, dtype=None, process=None, data_means=None):
        weight_matrix = np.asarray(weight_matrix)
        if dtype is None:
            dtype = weight_matrix.dtype if weight_matrix.dtype in (np.float32, np.float64) else np.float32
        dtype = check_dtype(dtype)
        self.weight_matrix = np.array(weight_matrix, dtype=dtype, order="C")
        self.vbias = np.array(vbias, dtype=dtype)
        self.hbias = np.array(hbias, dtype=dtype)
        if self.weight_matrix.ndim != 2:
            raise ValueError(f"weight_matrix: expected a 2-d array, got shape {self.weight_matrix.shape}")
        nv, nh = self.weight_matrix.shape
        if self.vbias.shape != (nv,):
            raise ValueError(f"vbias: expected shape ({nv},), got {self.vbias.shape}")
        if self.hbias.shape != (nh,):
            raise ValueError(f"hbias: expected shape ({nh},), got {self.hbias.shape}")
        self.process = dict(process) if process else None
        self.data_means = None if data_means is None else np.array(data_means, dtype=np.float64)
        if self.data_means is not None and self.data_means.shape != (nv,):
            raise ValueError(f"data_means: expected shape ({nv},), got {self.data_means.shape}")

    @classmethod
    def from_data(cls, data, num_hiddens, *, rng=None, dtype="float32", weight_scale=0.01, clip=1e-3):
        """Initialise for ``data``: small Gaussian weights, ``vbias`` = logit of the clipped data means.

        Parameters
        ----------
        data : ndarray, shape (num_samples, num_visibles)
            {0, 1} data.
        num_hiddens : int
        rng : numpy Generator, int or None
        weight_scale : float
            Standard deviation of the initial weights.
        clip : float
            Data means are clipped to [clip, 1 - clip] so that always-0 pixels get a finite bias.
        """
        dtype = check_dtype(dtype)
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        data = np.asarray(data)
        means = data.mean(axis=0, dtype=np.float64)
        clipped = np.clip(means, clip, 1.0 - clip)
        check_matrix_memory(data.shape[1], int(num_hiddens), dtype, "num_hiddens", "weight matrix")
        weights = gen.standard_normal((data.shape[1], int(num_hiddens))) * weight_scale
        return cls(weights, np.log(clipped) - np.log1p(-clipped), np.zeros(int(num_hiddens)),
                   dtype=dtype, data_means=means)

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
        return BernoulliRBM(self.weight_matrix, self.vbias, self.hbias, process=self.process,
                            data_means=self.data_means)

    # --- files -----------------------------------------------------------------
    def to_arrays(self):
        arrays = {"weight_matrix": self.weight_matrix, "vbias": self.vbias, "hbias": self.hbias}
        if self.data_means is not None:
            arrays["data_means"] = self.data_means
        return arrays

    @classmethod
    def from_arrays(cls, arrays, metadata):
        return cls(arrays["weight_matrix"], arrays["vbias"], arrays["hbias"], dtype=metadata.get("dtype"),
                   process=metadata.get("training"), data_means=arrays.get("data_means"))

    def shape_metadata(self):
        return {"num_visibles": self.num_visibles, "num_hiddens": self.num_hiddens}

    def __repr__(self):
        return (f"BernoulliRBM(num_visibles={self.num_visibles}, num_hiddens={self.num_hiddens}, "
                f"dtype={self.dtype.name}, process={self.process})")

    # --- reference maths ----------------------------------------------------
    def energy(self, v, h):
        """E(v, h), shape (n,) for v (n, num_visibles) and h (n, num_hiddens)."""
        v = np.asarray(v, dtype=np.float64)
        h = np.asarray(h, dtype=np.float64)
        W = self.weight_matrix.astype(np.float64)
        return -np.einsum("ni,ia,na->n", v, W, h) - v @ self.vbias - h @ self.hbias

    def free_energy(self, v):
        """F(v) = -a^T v - sum_a log(1 + exp(b_a + (v W)_a)), shape (n,)."""
        v = np.asarray(v, dtype=np.float64)
        return -v @ self.vbias.astype(np.float64) - softplus(
            v @ self.weight_matrix.astype(np.float64) + self.hbias).sum(axis=-1)

    def hidden_free_energy(self, h):
        """F(h) = -b^T h - sum_i log(1 + exp(a_i + (W h)_i)), shape (n,)."""
        h = np.asarray(h, dtype=np.float64)
        return -h @ self.hbias.astype(np.float64) - softplus(
            h @ self.weight_matrix.T.astype(np.float64) + self.vbias).sum(axis=-1)

    def hidden_means(self, v):
        """P(h = 1 | v), shape (n, num_hiddens), float64."""
        return sigmoid(np.asarray(v, dtype=np.float64) @ self.weight_matrix + self.hbias)

    def visible_means(self, h):
        """P(v = 1 | h), shape (n, num_visibles), float64."""
        return sigmoid(np.asarray(h, dtype=np.float64) @ self.weight_matrix.T + self.vbias)


# --- exact enumeration --------------------------------------------------------

def all_binary_states(num_units):
    """Every {0,1} vector of length ``num_units``, shape (2**num_units, num_units).

    Row ``i`` is the binary expansion of ``i`` with unit 0 as the most
    significant bit, so ``state_index`` inverts it.
    """
    if num_units > MAX_EXACT_UNITS:
        raise ValueError(f"num_units: exact enumeration is limited to {MAX_EXACT_UNITS} units, got {num_units}")
    idx = np.arange(2**num_units, dtype=np.int64)
    shifts = np.arange(num_units - 1, -1, -1, dtype=np.int64)
    return ((idx[:, None] >> shifts) & 1).astype(np.float64)


def state_index(states):
    """Index of each {0,1} row in ``all_binary_states`` order, shape (n,)."""
    states = np.asarray(states)
    weights = 1 << np.arange(states.shape[1] - 1, -1, -1, dtype=np.int64)
    return (states.astype(np.int64) * weights).sum(axis=1)


def _logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def exact_log_partition(model):
    """log Z, summing over the smaller layer."""
    if model.num_visibles <= model.num_hiddens:
        return _logsumexp(-model.free_energy(all_binary_states(model.num_visibles)))
    return _logsumexp(-model.hidden_free_energy(all_binary_states(model.num_hiddens)))


def exact_visible_distribution(model):
    """p(v) for every v in ``all_binary_states`` order, shape (2**num_visibles,)."""
    neg_f = -model.free_energy(all_binary_states(model.num_visibles))
    return np.exp(neg_f - _logsumexp(neg_f))


def _layer_conditional_matrix(means, states):
    """P(s | x) for all rows x (given as ``means`` = P(s_j = 1 | x)) and all states s."""
    logp1 = np.log(np.clip(means, 1e-300, None))
    logp0 = np.log(np.clip(1.0 - means, 1e-300, None))
    return np.exp(logp1 @ states.T + logp0 @ (1.0 - states).T)


def exact_gibbs_transition(model):
    """Block-Gibbs kernel on the visible layer, T[v, v'] = sum_h P(h|v) P(v'|h).

    Returns
    -------
    ndarray, shape (2**num_visibles, 2**num_visibles)
        Row-stochastic; one step v -> h -> v.  p_{t+1} = p_t @ T.
    """
    vs = all_binary_states(model.num_visibles)
    hs = all_binary_states(model.num_hiddens)
    p_h_given_v = _layer_conditional_matrix(model.hidden_means(vs), hs)
    p_v_given_h = _layer_conditional_matrix(model.visible_means(hs), vs)
    return p_h_given_v @ p_v_given_h


def exact_statistics(model, visible_distribution):
    """Gradient statistics under a law q(v) on the visible states, with P(h|v) for h.

    Parameters
    ----------
    visible_distribution : ndarray, shape (2**num_visibles,)

    Returns
    -------
    dict with "vh" (num_visibles, num_hiddens), "v" (num_visibles,), "h" (num_hiddens,)
    """
    vs = all_binary_states(model.num_visibles)
    ph = model.hidden_means(vs)
    q = np.asarray(visible_distribution, dtype=np.float64)
    return {"vh": vs.T @ (q[:, None] * ph), "v": q @ vs, "h": q @ ph}


def data_distribution(data, num_visibles):
    """Empirical law of {0,1} rows in ``all_binary_states`` order."""
    counts = np.bincount(state_index(data), minlength=2**num_visibles)
    return counts / counts.sum()


def exact_process_distribution(model, initial_distribution, steps):
    """Law of the visible chains after ``steps`` block-Gibbs steps from ``initial_distribution``.

    Parameters
    ----------
    initial_distribution : ndarray, shape (2**num_visibles,)
    steps : int

    Returns
    -------
    ndarray, shape (2**num_visibles,)  (p0 T^steps)
    """
    return np.asarray(initial_distribution, dtype=np.float64) @ np.linalg.matrix_power(
        exact_gibbs_transition(model), steps)


def exact_gradient(model, data_law, chain_law):
    """Exact log-likelihood gradient estimate with the negative phase under ``chain_law``.

    ``chain_law`` is p(v) for maximum likelihood, ``p0 T^k`` for Rdm-k and
    ``data_law T^k`` for CD-k (both in ``all_binary_states`` order).

    Returns
    -------
    tuple (grad_w, grad_a, grad_b)
    """
    pos, neg = exact_statistics(model, data_law), exact_statistics(model, chain_law)
    return pos["vh"] - neg["vh"], pos["v"] - neg["v"], pos["h"] - neg["h"]


def bias_init_probabilities(model, clip=1e-3):
    """Independent-site law of the training data, clipped to [clip, 1 - clip]."""
    if model.data_means is None:
        raise ValueError("init: 'bias' needs the training data means, which this model does not record")
    return np.clip(model.data_means, clip, 1.0 - clip)
