"""Fully connected Boltzmann machine on +-1 spins: parameters and conversions.

    E(s) = -sum_i h_i s_i - sum_{i<j} J_ij s_i s_j,   s in {-1, +1}^N,

J symmetric with zero diagonal.  Heat-bath: P(s_i = +1 | rest) =
sigmoid(2 H_i) with the local field H_i = h_i + sum_j J_ij s_j.  Exact
enumeration lives in ``bmsample.ising.exact``.
"""

import numpy as np

from .._validation import check_dtype, check_matrix_memory


class IsingModel:
    """A fully connected Boltzmann machine (Ising model) on +-1 spins.

    Parameters
    ----------
    coupling_matrix : ndarray, shape (N, N)
        J, symmetric with zero diagonal (checked).
    field : ndarray, shape (N,)
        h.
    independent : bool
        Independent spins: J is zero and stays zero in training.
    dtype : {"float32", "float64"} or None
    process : dict or None
        Training process (scheme, k, init, sampler).
    data_magnetisation : ndarray, shape (N,), optional
        <s> of the training data.

    Notes
    -----
    Spins are +-1 (data in {0, 1} are mapped by s = 2 x - 1).
    """

    family = "ising"

    def __init__(self, coupling_matrix, field, *, independent=False, dtype=None, process=None,
                 data_magnetisation=None):
        coupling_matrix = np.asarray(coupling_matrix)
        if dtype is None:
            dtype = coupling_matrix.dtype if coupling_matrix.dtype in (np.float32, np.float64) else np.float32
        dtype = check_dtype(dtype)
        J = np.array(coupling_matrix, dtype=np.float64)
        if J.ndim != 2 or J.shape[0] != J.shape[1]:
            raise ValueError(f"coupling_matrix: expected a square 2-d array, got shape {J.shape}")
        if not np.all(np.isfinite(J)):
            raise ValueError("coupling_matrix: contains NaN or inf")
        if np.any(np.diag(J) != 0):
            raise ValueError("coupling_matrix: J must have a zero diagonal")
        if not np.array_equal(J, J.T):
            raise ValueError(f"coupling_matrix: J must be symmetric, max |J - J^T| = {np.abs(J - J.T).max():.3g}")
        if independent and np.any(J != 0):
            raise ValueError("coupling_matrix: independent spins need J = 0")
        self.coupling_matrix = np.ascontiguousarray(J, dtype=dtype)
        self.field = np.array(field, dtype=dtype)
        if self.field.shape != (J.shape[0],):
            raise ValueError(f"field: expected shape ({J.shape[0]},), got {self.field.shape}")
        if not np.all(np.isfinite(self.field)):
            raise ValueError("field: contains NaN or inf")
        self.independent = bool(independent)
        self.process = dict(process) if process else None
        self.data_magnetisation = None if data_magnetisation is None else np.array(data_magnetisation, np.float64)

    @classmethod
    def from_data(cls, spins, *, independent=False, dtype="float32", clip=1e-3, **_):
        """J = 0 and h = atanh of the clipped data magnetisations (the independent-spin ML)."""
        m = np.asarray(spins, dtype=np.float64).mean(axis=0)
        n = m.size
        check_matrix_memory(n, n, dtype, "data", "coupling matrix")
        return cls(np.zeros((n, n)), np.arctanh(np.clip(m, -1 + clip, 1 - clip)), independent=independent,
                   dtype=dtype, data_magnetisation=m)

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
        return IsingModel(self.coupling_matrix, self.field, independent=self.independent, process=self.process,
                          data_magnetisation=self.data_magnetisation)

    def __repr__(self):
        kind = "independent spins" if self.independent else "couplings"
        return f"IsingModel(num_units={self.num_units}, {kind}, dtype={self.dtype.name}, process={self.process})"

    # --- files -----------------------------------------------------------------
    def to_arrays(self):
        arrays = {"coupling_matrix": self.coupling_matrix, "field": self.field}
        if self.data_magnetisation is not None:
            arrays["data_magnetisation"] = self.data_magnetisation
        return arrays

    @classmethod
    def from_arrays(cls, arrays, metadata):
        return cls(arrays["coupling_matrix"], arrays["field"], independent=bool(metadata.get("independent", False)),
                   dtype=metadata.get("dtype"), process=metadata.get("training"),
                   data_magnetisation=arrays.get("data_magnetisation"))

    def shape_metadata(self):
        return {"num_units": self.num_units, "independent": self.independent}

    # --- reference maths ----------------------------------------------------------
    def energy(self, spins):
        """E(s), shape (n,) for s of shape (n, N)."""
        s = np.asarray(spins, dtype=np.float64)
        J = self.coupling_matrix.astype(np.float64)
        return -s @ self.field.astype(np.float64) - 0.5 * np.einsum("ni,ij,nj->n", s, J, s)


def to_spins(data, name="data", num_columns=None, dtype="float32"):
    """Validate and convert data to +-1 spins: {0, 1} data map to 2 x - 1, +-1 data are kept.

    Returns
    -------
    ndarray, shape (num_samples, N), exact +-1 in ``dtype``
    """
    from .._validation import check_table

    array = check_table(data, name, num_columns)
    values = np.unique(array)
    if np.all(np.isin(values, (0, 1))):
        array = 2 * array.astype(np.int8) - 1
    elif not np.all(np.isin(values, (-1, 1))):
        bad = values[~np.isin(values, (-1, 0, 1))]
        shown = bad[0].item() if bad.size else "a mix of -1, 0 and 1"
        raise ValueError(f"{name}: spins must be all +-1 or all 0/1, got {shown!r}")
    return np.ascontiguousarray(array, dtype=check_dtype(dtype))


def up_probabilities(model, init, clip=1e-3):
    """P(s_i = +1) of the independent-site p0 laws: 1/2 ("uniform"), or the data's, clipped ("bias")."""
    if init == "uniform":
        return np.full(model.num_units, 0.5)
    if model.data_magnetisation is None:
        raise ValueError("init: 'bias' needs the data magnetisations, which this model does not record")
    return np.clip((1 + model.data_magnetisation) / 2, clip, 1 - clip)


#: |h_i| or |J_ij| beyond this is reported as a runaway parameter: sigmoid(2 * 20)
#: is 1 to within 4e-18, so a larger value can only mean a statistic the
#: chains cannot reach.
RUNAWAY = 20.0


def runaway_parameters(model, estimate):
    """A message naming the parameters of ``model`` past |RUNAWAY| and why they ran away (in ``estimate``'s
    sweeps, a ``bmsample._ascent.Estimate``), or None."""
    fields = np.flatnonzero(np.abs(model.field) > RUNAWAY)
    couplings = np.argwhere(np.triu(np.abs(model.coupling_matrix) > RUNAWAY, 1))
    if fields.size == 0 and len(couplings) == 0:
        return None
    parts = []
    for i in fields[:5]:
        target = ("" if model.data_magnetisation is None
                  else f" (data magnetisation {model.data_magnetisation[i]:.4f})")
        parts.append(f"field h[{i}] = {model.field[i]:.3g}{target}")
    parts += [f"coupling J[{i},{j}] = {model.coupling_matrix[i, j]:.3g}" for i, j in couplings[:5]]
    more = fields.size + len(couplings) - len(parts)
    tail = f" and {more} more" if more > 0 else ""
    return (f"{', '.join(parts)}{tail} ran away past |{RUNAWAY:g}|: the data statistics cannot be reached in "
            f"{estimate.k} {estimate.sampler} sweeps from p0")
