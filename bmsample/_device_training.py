"""What the device trainers share (imported only when a CUDA backend runs).

Resident data and minibatches, the negative chains and where an update's
chains start, the parameter update with its runaway flag, metrics that
are read from the device only when logged, and the bare coupling products
that ``bench`` compares the coupled families' steps with.
"""

from collections.abc import Mapping

import numpy as np
from numba import cuda

from . import _gpu_linalg as linalg


class LazyMetrics(Mapping):
    """An update's metrics, computed from the device buffers on first access (logging time).

    ``compute()`` returns the dict; read the metrics before the next update.
    """

    def __init__(self, compute):
        self._compute = compute
        self._values = None

    def _all(self):
        if self._values is None:
            self._values = self._compute()
        return self._values

    def __getitem__(self, name):
        return self._all()[name]

    def __iter__(self):
        return iter(self._all())

    def __len__(self):
        return len(self._all())


class DeviceCouplings:
    """Device copies of ``coupling_matrix`` (J) and ``field`` (h) of a Gaussian or Ising model.

    ``download`` writes them back into the host model (in place).
    """

    def __init__(self, model):
        self.model = model
        self.coupling = cuda.to_device(model.coupling_matrix)
        self.field = cuda.to_device(model.field)

    def download(self):
        self.coupling.copy_to_host(self.model.coupling_matrix)
        self.field.copy_to_host(self.model.field)


def coupling_products(params, state, steps):
    """The bare x J of ``steps`` steps on device arrays (``bench``'s baseline for coupled units)."""
    field = cuda.device_array_like(state)

    def products():
        for _ in range(steps):
            linalg.scaled_product(state, params.coupling, 1.0, field)

    return products


class DeviceTrainer:
    """Base of the device trainers: buffers and steps that do not depend on the model family.

    Parameters
    ----------
    estimate : bmsample._ascent.Estimate
    streams : ChainStreams
    num_units : int
        Units of a chain (visible units).
    dtype : numpy dtype

    Notes
    -----
    Subclasses set ``model`` and ``params`` (device parameters with a
    ``download`` method) and provide ``_draw_p0_into(out)`` (advancing
    ``streams`` as the CPU trainer does) and ``update``.  Nothing is read
    back per update: the training loop reads the 4-byte runaway flag
    (``updates_since_runaway``) every ``runaway_check_interval`` updates and
    before each log line, checkpoint and the end of the run, so the host
    queues updates without waiting for the device in between.
    """

    #: Updates between two reads of the runaway flag (each read waits for the device to finish).
    runaway_check_interval = 16
    generator = None

    def __init__(self, estimate, streams, num_units, dtype):
        self.estimate, self.streams = estimate, streams
        self.num_chains = estimate.num_chains
        self.device_chains = cuda.device_array((self.num_chains, num_units), dtype=dtype)
        self.batch = cuda.device_array((estimate.batch_size, num_units), dtype=dtype)
        self.batch_rows = cuda.device_array(estimate.batch_size, dtype=np.int64)
        self.chain_rows = None  # the p0 rows of init="data", allocated on first use
        # Row indices go to the device through one page-locked buffer, allocated once (a copy from pageable
        # memory is staged by the driver first).
        self._host_rows = cuda.pinned_array(max(estimate.batch_size, self.num_chains), dtype=np.int64)
        self.runaway = cuda.to_device(np.zeros(1, dtype=np.int32))
        self.updates_run = 0  # by this trainer: the update numbers of the runaway flag
        self._data = None
        self._device_data = None

    def gradient_scratch(self, num_rows, num_cols, dtype):
        """Scratch of the (``num_rows``, ``num_cols``) gradient products over batch or chains, where their inner
        dimension splits across blocks (``linalg.split_scratch``), else None."""
        return linalg.split_scratch(num_rows, num_cols, max(self.estimate.batch_size, self.num_chains), dtype)

    def download(self):
        """Bring the host model up to date (before logging and checkpoints)."""
        self.params.download()

    @property
    def chains(self):
        """Host copy of the persistent chains (PCD-k), else None."""
        return self.device_chains.copy_to_host() if self.estimate.scheme == "pcd" else None

    def device_data(self, data):
        """The device copy of ``data`` (uploaded once per run)."""
        if self._data is not data:
            self._data, self._device_data = data, cuda.to_device(data)
        return self._device_data

    def minibatch(self, data, rows):
        """The minibatch ``data[rows]`` gathered on the device into one buffer (valid until the next call).

        ``data`` is uploaded once per run; only the ``batch_size`` row indices travel per update, through
        buffers allocated once.
        """
        linalg.gather_rows(self.device_data(data), self.upload_rows(rows, self.batch_rows), self.batch)
        return self.batch

    def upload_rows(self, rows, device_rows):
        """``rows`` (host integers) into the first ``len(rows)`` entries of ``device_rows``, through the pinned
        buffer; returns that device view."""
        host = self._host_rows[:len(rows)]
        host[:] = rows
        target = device_rows[:len(rows)]
        target.copy_to_device(host)
        return target

    def restore(self, chains):
        """Upload the host model's parameters and, for PCD-k, ``chains`` (resuming from a checkpoint)."""
        self.params = type(self.params)(self.model)
        if self.estimate.scheme == "pcd":
            self.device_chains.copy_to_device(np.ascontiguousarray(chains, dtype=self.model.dtype))

    def start_chains(self, batch):
        """Start ``device_chains`` for this update: p0 (Rdm-k), the batch (CD-k), or as they are (PCD-k)."""
        if self.estimate.scheme == "rdm":
            self._draw_p0_into(self.device_chains)
        elif self.estimate.scheme == "cd":
            self.device_chains.copy_to_device(batch)
        return self.device_chains

    def ascend(self, steps, learning_rate, limit=None):
        """``param += learning_rate * (grad - decay * param)`` for every (param, grad, decay) of ``steps``: one
        update.

        A parameter past ``limit`` or NaN sets the runaway flag to this update's number and freezes the
        parameters there; by default ``limit`` is ``finfo.max / size``, where a sum may overflow (the CPU
        trainers' test).
        """
        self.updates_run += 1
        for param, grad, decay in steps:
            flat, flat_grad = param.reshape(param.size), grad.reshape(grad.size)
            bound = np.finfo(param.dtype).max / param.size if limit is None else limit
            linalg.ascend(flat, flat_grad, learning_rate, decay, bound, self.updates_run, self.runaway)

    def updates_since_runaway(self):
        """None, or how many updates ago (0: the last one) a parameter became NaN, inf or too large.

        Waits for the device.  The parameters (after ``download``) are those of that update: later updates
        leave them as they are.
        """
        flagged = int(self.runaway.copy_to_host()[0])
        return None if flagged == 0 else self.updates_run - flagged

    def divergence(self):
        return None

    def check_stability(self):
        return None


def rms(values):
    """Root mean square of a host array, in float64 (the CPU trainers' metrics)."""
    return float(np.sqrt(np.mean(values.astype(np.float64) ** 2)))
