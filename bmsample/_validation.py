"""Checks at the public boundary; each message names the argument, what was
expected and what was got."""

import numbers
import os

import numpy as np

DTYPES = ("float32", "float64")


def check_dtype(dtype):
    """Return ``np.dtype`` for "float32"/"float64" (or the numpy types)."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in DTYPES:
        raise ValueError(f"dtype: expected one of {', '.join(DTYPES)}, got {dtype!r}")
    return resolved


def check_int(value, name, minimum=1):
    """An integer >= ``minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def check_bool(value, name):
    """A bool (numpy bools accepted; strings and numbers refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected true or false, got {value!r}")
    return bool(value)


def physical_memory():
    """Bytes of physical memory of this machine, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(nbytes):
    """``nbytes`` in the largest binary unit that keeps the number >= 1, e.g. "2.3 TiB"."""
    value, unit = float(nbytes), "bytes"
    for larger in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{value:.3g} {unit}"


def check_memory(nbytes, what):
    """Refuse, before allocating, arrays that could not fit in this machine's physical memory.

    Parameters
    ----------
    nbytes : int
        Bytes the arrays would take.
    what : str
        Starts with the argument that sized them, e.g. "num_chains: 10**10 chains of 64 units".
    """
    total = physical_memory()
    if total is not None and nbytes > total:
        raise ValueError(f"{what} would need {format_bytes(nbytes)} of memory; this machine has "
                         f"{format_bytes(total)}")


def check_matrix_memory(rows, cols, dtype, name, what):
    """Refuse a ``(rows, cols)`` parameter matrix, built in float64 and kept in ``dtype``, that cannot fit.

    ``name`` is the argument that sized it, ``what`` the matrix (e.g. "weight matrix").
    """
    dtype = np.dtype(dtype)
    check_memory(rows * cols * (8 + dtype.itemsize), f"{name}: a {rows} x {cols} {dtype.name} {what}")


def check_positive_float(value, name, allow_zero=False):
    """A finite float > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {bound}, got {value}")
    return value


def check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def _check_numeric_table(data, name, num_columns):
    """A non-empty 2-d numeric array with ``num_columns`` columns and no NaN or inf."""
    array = np.asarray(data)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-d array (samples x units), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name}: is empty (shape {array.shape})")
    if num_columns is not None and array.shape[1] != num_columns:
        raise ValueError(f"{name}: expected {num_columns} columns (the model's visible units), "
                         f"got {array.shape[1]}")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or inf")
    return array


def check_binary_data(data, name="data", num_columns=None, dtype="float32"):
    """A non-empty finite 2-d array of exact 0/1 values, returned C-contiguous in ``dtype``.

    Parameters
    ----------
    num_columns : int or None
        Required number of columns (the model's visible units).
    """
    array = _check_numeric_table(data, name, num_columns)
    if array.dtype != bool:
        bad = (array != 0) & (array != 1)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ValueError(f"{name}: a Bernoulli model needs 0/1 values, got {array[row, col].item()!r} "
                             f"at row {row}, column {col}")
    return np.ascontiguousarray(array, dtype=check_dtype(dtype))


def check_times(times, name="record"):
    """Sorted unique non-negative integer times."""
    values = np.asarray(list(times))
    if values.size == 0:
        raise ValueError(f"{name}: expected at least one time")
    if not np.issubdtype(values.dtype, np.integer) or (values < 0).any():
        raise ValueError(f"{name}: expected non-negative integer times, got {list(times)!r}")
    return sorted({int(t) for t in values})


def check_real_data(data, name="data", num_columns=None, dtype="float32"):
    """A non-empty finite 2-d numeric array, returned C-contiguous in ``dtype``."""
    return np.ascontiguousarray(_check_numeric_table(data, name, num_columns), dtype=check_dtype(dtype))
