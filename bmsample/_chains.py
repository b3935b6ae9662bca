"""Where chains start: the three training schemes, data rows and saved chains."""

import numpy as np


def update_start(scheme, draw_p0, batch, persistent):
    """The chains an update's negative phase starts from (docs/theory.md section 1).

    Rdm-k: fresh draws from p0 (``draw_p0()``); CD-k: a copy of the minibatch;
    PCD-k: the persistent chains themselves (advanced in place).
    """
    if scheme == "rdm":
        return draw_p0()
    if scheme == "cd":
        return batch.copy()
    return persistent


def random_rows(data, num_chains, generator):
    """``num_chains`` random rows of ``data`` (with replacement only when there are too few rows)."""
    if data is None:
        raise ValueError("init: 'data' needs a dataset (data=...)")
    return np.ascontiguousarray(data[random_row_indices(data.shape[0], num_chains, generator)])


def random_row_indices(num_rows, num_chains, generator):
    """The row indices ``random_rows`` takes (the same draws from ``generator``)."""
    return generator.choice(num_rows, size=num_chains, replace=num_chains > num_rows)


def first_saved_chains(chains, num_chains):
    """A copy of the first ``num_chains`` saved chains (already validated)."""
    if num_chains > chains.shape[0]:
        raise ValueError(f"num_chains: the model has {chains.shape[0]} saved chains, asked for {num_chains}")
    return chains[:num_chains].copy()
