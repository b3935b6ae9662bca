"""Recording chains, or their first two moments, at chosen sampling times."""

import numpy as np

from ._validation import check_memory


class Recorder:
    """Keeps the chains (or their moments) at ``times`` while a sampler runs.

    Parameters
    ----------
    times : list of int
        Sorted recording times (may be empty: nothing is kept).
    num_chains, num_units : int
    dtype : numpy dtype
        Storage type of recorded states (uint8 / int8 for binary units).
    moments : {None, "covariance", "second"}
        None keeps the states, shape (len(times), num_chains, num_units);
        otherwise only the means (len(times), num_units) and, over chains,
        the connected covariance ("covariance") or the raw second moment
        <x_i x_j> ("second"), shape (len(times), num_units, num_units), float64.
    transform : callable or None
        Applied to the states before they are kept (e.g. back to data units).
    """

    def __init__(self, times, num_chains, num_units, dtype, *, moments=None, transform=None):
        self.times = list(times)
        self.slot = {t: i for i, t in enumerate(self.times)}
        self.moments = moments
        self.transform = transform
        self.states = self.means = self.matrices = None
        if self.times and moments:
            check_memory(len(self.times) * (num_units + 1) * num_units * 8,
                         f"record: moments of {num_units} units at {len(self.times)} times")
            self.means = np.empty((len(self.times), num_units))
            self.matrices = np.empty((len(self.times), num_units, num_units))
        elif self.times:
            check_memory(len(self.times) * num_chains * num_units * np.dtype(dtype).itemsize,
                         f"record: {num_chains} chains of {num_units} units at {len(self.times)} times")
            self.states = np.empty((len(self.times), num_chains, num_units), dtype=dtype)

    @property
    def active(self):
        return bool(self.times)

    def __call__(self, t, states):
        if t not in self.slot:
            return
        if self.transform is not None:
            states = self.transform(states)
        i = self.slot[t]
        if self.moments is None:
            self.states[i] = states
            return
        mean = states.mean(axis=0, dtype=np.float64)
        self.means[i] = mean
        if self.moments == "covariance":
            centred = states - mean.astype(states.dtype)
            self.matrices[i] = (centred.T @ centred).astype(np.float64) / states.shape[0]
        else:
            self.matrices[i] = (states.T @ states).astype(np.float64) / states.shape[0]


def step_hook(*functions):
    """One per-step function calling every non-None function in turn (None when there is none)."""
    hooks = [f for f in functions if f is not None]
    if not hooks:
        return None

    def hook(t, states):
        for f in hooks:
            f(t, states)

    return hook
