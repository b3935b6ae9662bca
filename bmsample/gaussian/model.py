"""Gaussian energy model: parameters and NumPy reference maths.

    E(x) = 1/2 x^T J x - h^T x,   x in R^N,  J symmetric.

If J is positive definite the Boltzmann law is N(J^-1 h, J^-1).  The exact
moment recursions of the two samplers are the oracles of the tests.
"""

import numpy as np

from .._validation import check_dtype, check_matrix_memory


class GaussianModel:
    """A Gaussian energy model.

    Parameters
    ----------
    coupling_matrix : ndarray, shape (N, N)
        J, symmetric (checked to 1e-6 relative; stored symmetrised).
    field : ndarray, shape (N,)
        h.
    dtype : {"float32", "float64"} or None
    process : dict or None
        Training process (scheme, k, init, init_scale, sampler, step_size, temperature).
    data_mean, data_variance : ndarray, shape (N,), optional
        Moments of the training data (for ``init="data"``-free reporting).

    Notes
    -----
    Units are real.  Langevin: x <- x - eps (J x - h) + sqrt(2 eps T) xi;
    coordinate Gibbs: x_i | rest ~ N((h_i - sum_{j != i} J_ij x_j) / J_ii, T / J_ii).
    """

    family = "gaussian"

    def __init__(self, coupling_matrix, field, *, dtype=None, process=None, data_mean=None, data_variance=None):
        coupling_matrix = np.asarray(coupling_matrix)
        if dtype is None:
            dtype = coupling_matrix.dtype if coupling_matrix.dtype in (np.float32, np.float64) else np.float32
        dtype = check_dtype(dtype)
        J = np.array(coupling_matrix, dtype=np.float64)
        if J.ndim != 2 or J.shape[0] != J.shape[1]:
            raise ValueError(f"coupling_matrix: expected a square 2-d array, got shape {J.shape}")
        if not np.all(np.isfinite(J)):
            raise ValueError("coupling_matrix: contains NaN or inf")
        scale = max(np.abs(J).max(), 1e-300)
        if np.abs(J - J.T).max() > 1e-6 * scale:
            raise ValueError(f"coupling_matrix: J must be symmetric, max |J - J^T| = {np.abs(J - J.T).max():.3g}")
        self.coupling_matrix = np.ascontiguousarray(0.5 * (J + J.T), dtype=dtype)
        self.field = np.array(field, dtype=dtype)
        if self.field.shape != (J.shape[0],):
            raise ValueError(f"field: expected shape ({J.shape[0]},), got {self.field.shape}")
        self.process = dict(process) if process else None
        self.data_mean = None if data_mean is None else np.array(data_mean, dtype=np.float64)
        self.data_variance = None if data_variance is None else np.array(data_variance, dtype=np.float64)

    @classmethod
    def from_data(cls, data, *, dtype="float32", **_):
        """Start from J = I, h = 0, recording the data moments."""
        data = np.asarray(data, dtype=np.float64)
        n = data.shape[1]
        check_matrix_memory(n, n, dtype, "data", "coupling matrix")
        return cls(np.eye(n), np.zeros(n), dtype=dtype, data_mean=data.mean(axis=0),
                   data_variance=data.var(axis=0))

    @property
    def num_units(self):
        return self.coupling_matrix.shape[0]

    @property
    def num_visibles(self):
        return self.num_units

    @property
    def dtype(self):
        return self.coupling_matrix.dtype

    def copy(self):
        return GaussianModel(self.coupling_matrix, self.field, process=self.process, data_mean=self.data_mean,
                             data_variance=self.data_variance)

    def __repr__(self):
        return f"GaussianModel(num_units={self.num_units}, dtype={self.dtype.name}, process={self.process})"

    # --- files -----------------------------------------------------------------
    def to_arrays(self):
        arrays = {"coupling_matrix": self.coupling_matrix, "field": self.field}
        if self.data_mean is not None:
            arrays["data_mean"] = self.data_mean
            arrays["data_variance"] = self.data_variance
        return arrays

    @classmethod
    def from_arrays(cls, arrays, metadata):
        return cls(arrays["coupling_matrix"], arrays["field"], dtype=metadata.get("dtype"),
                   process=metadata.get("training"), data_mean=arrays.get("data_mean"),
                   data_variance=arrays.get("data_variance"))

    def shape_metadata(self):
        return {"num_units": self.num_units}

    # --- reference maths ----------------------------------------------------------
    def energy(self, x):
        """E(x), shape (n,) for x of shape (n, N)."""
        x = np.asarray(x, dtype=np.float64)
        J = self.coupling_matrix.astype(np.float64)
        return 0.5 * np.einsum("ni,ij,nj->n", x, J, x) - x @ self.field

    def eigenvalues(self):
        """Eigenvalues of J, ascending."""
        return np.linalg.eigvalsh(self.coupling_matrix.astype(np.float64))

    def equilibrium_moments(self):
        """(mean, covariance) of N(J^-1 h, J^-1); raises if J is not positive definite."""
        J = self.coupling_matrix.astype(np.float64)
        if self.eigenvalues()[0] <= 0:
            raise ValueError("coupling_matrix: not positive definite, the model has no equilibrium")
        covariance = np.linalg.inv(J)
        return covariance @ self.field, covariance


def exact_langevin_moments(model, mean, covariance, steps, step_size, temperature=1.0):
    """Mean and covariance after ``steps`` unadjusted Langevin steps (exact recursion).

    mean <- A mean + eps h, cov <- A cov A^T + 2 eps T I, with A = I - eps J.

    Parameters
    ----------
    mean : ndarray, shape (N,)
    covariance : ndarray, shape (N, N)

    Returns
    -------
    (mean, covariance) as float64 arrays
    """
    J = model.coupling_matrix.astype(np.float64)
    A = np.eye(model.num_units) - step_size * J
    mean = np.array(mean, dtype=np.float64)
    covariance = np.array(covariance, dtype=np.float64)
    noise = 2.0 * step_size * temperature * np.eye(model.num_units)
    for _ in range(steps):
        mean = A @ mean + step_size * model.field
        covariance = A @ covariance @ A.T + noise
    return mean, covariance


def exact_gibbs_moments(model, mean, covariance, sweeps, temperature=1.0):
    """Mean and covariance after ``sweeps`` sequential coordinate-Gibbs sweeps (sites 0..N-1).

    Each site update x_i <- (h_i - sum_{j != i} J_ij x_j) / J_ii + sqrt(T / J_ii) xi
    is affine in x, so the moments propagate exactly.
    """
    J = model.coupling_matrix.astype(np.float64)
    h = model.field.astype(np.float64)
    n = model.num_units
    mean = np.array(mean, dtype=np.float64)
    covariance = np.array(covariance, dtype=np.float64)
    for _ in range(sweeps):
        for i in range(n):
            P = np.eye(n)
            P[i] = -J[i] / J[i, i]
            P[i, i] = 0.0
            mean = P @ mean
            mean[i] += h[i] / J[i, i]
            covariance = P @ covariance @ P.T
            covariance[i, i] += temperature / J[i, i]
    return mean, covariance
