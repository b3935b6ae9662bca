"""Checks at the public boundary; each message names the argument, what was
expected and what was got.

Every check of an argument's value lives here (numbers, choices, data tables,
vectors, recording times, run lengths, memory).  The checks of a file format
stay beside the format they read: checkpoints (``training.checkpoints``),
sweep files (``tools.sweep``) and the exact-enumeration inputs of
``ising.exact``."""

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


def check_table(data, name, num_columns=None):
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
    array = check_table(data, name, num_columns)
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
    return np.ascontiguousarray(check_table(data, name, num_columns), dtype=check_dtype(dtype))


def check_real(value, name, low=None, high=None):
    """A finite float, optionally strictly between ``low`` and ``high``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or (low is not None and value <= low) or (high is not None and value >= high):
        bounds = f" in ({low}, {high})" if high is not None else (f" > {low}" if low is not None else "")
        raise ValueError(f"{name}: expected a finite number{bounds}, got {value}")
    return value


def check_int_list(values, name, minimum=1):
    """A non-empty sorted list of distinct integers >= ``minimum``."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name}: expected a list of integers, got {values!r}")
    checked = sorted({check_int(v, name, minimum=minimum) for v in values})
    if not checked:
        raise ValueError(f"{name}: expected at least one integer")
    return checked


def check_vector(values, name, size):
    """A finite numeric (or boolean) array of shape (``size``,), as float64."""
    array = np.asarray(values)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    if array.shape != (size,):
        raise ValueError(f"{name}: expected shape ({size},), got {array.shape}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or inf")
    return array


def check_same_columns(first, first_name, second, second_name):
    """Refuse ``second`` unless it has the columns (units) of ``first``."""
    if first.shape[1] != second.shape[1]:
        raise ValueError(f"{second_name}: expected {first.shape[1]} columns (the units of {first_name}), "
                         f"got {second.shape[1]}")


def check_increasing_times(times, count):
    """``count`` finite, non-negative, strictly increasing numbers (the times of recorded states), as an array."""
    values = np.asarray(times)
    if values.dtype == object or not np.issubdtype(values.dtype, np.number) or values.dtype == bool:
        raise TypeError(f"times: expected numbers, got dtype {values.dtype}")
    if values.shape != (count,):
        raise ValueError(f"times: expected shape ({count},) (one time per recorded state), got {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(np.diff(values) <= 0):
        raise ValueError(f"times: expected finite, non-negative, strictly increasing times, got {values.tolist()}")
    return values


def check_run(steps, default_steps, num_chains, default_chains, record, unit="steps"):
    """Resolve and check the length of a sampling run, its chain count and recording times.

    Returns
    -------
    (steps, num_chains, times) : int, int, sorted list of int
    """
    steps = default_steps if steps is None else steps
    if steps is None:
        raise ValueError(f"steps: this model records no training process; give the number of {unit}")
    steps = check_int(steps, "steps", minimum=0)
    num_chains = check_int(default_chains if num_chains is None else num_chains, "num_chains")
    times = check_times(record) if record is not None else []
    if times and times[-1] > steps:
        raise ValueError(f"record: times must be <= steps ({steps}), got {times[-1]}")
    return steps, num_chains, times
