"""What parallel tempering's device processes share (imported only for a CUDA backend): rows resident on the
device, copied back to the host only when the ladder reads them (``bmsample.tempering``)."""

import numpy as np
from numba import cuda


class DeviceRows:
    """A device workspace's rows and betas: ``state`` (num_rows, num_units), ``row_betas`` in the model's dtype,
    and whether the host copy is behind (``host_is_stale``)."""

    def __init__(self, model, num_rows, num_units):
        self.state = cuda.device_array((num_rows, num_units), dtype=model.dtype)
        self.row_betas = cuda.device_array(num_rows, dtype=model.dtype)
        self.host_is_stale = False

    def send_betas(self, row_betas):
        self.row_betas.copy_to_device(np.ascontiguousarray(row_betas, dtype=self.row_betas.dtype))


class DeviceTemperedChains:
    """Base of the device ``TemperedChains``: the host process's model, base draws and memory check, and the
    copies of the rows between host and device.  Subclasses define ``_workspace(num_rows)`` (a ``DeviceRows``),
    ``prepare`` and ``step``; ``step`` leaves ``workspace.host_is_stale`` set.

    Parameters
    ----------
    host : TemperedChains
        The CPU process of the same model and base.
    """

    def __init__(self, host):
        self.host, self.model = host, host.model
        self.task, self.record_dtype, self.to_data_units = host.task, host.record_dtype, host.to_data_units

    def base_states(self, num_rows, streams):
        return self.host.base_states(num_rows, streams)

    def workspace(self, num_rows):
        self.host.workspace(num_rows)  # its memory check, as on the CPU
        return self._workspace(num_rows)

    def upload(self, state, workspace):
        workspace.state.copy_to_device(state)
        workspace.host_is_stale = False

    def download(self, state, workspace):
        if workspace.host_is_stale:
            workspace.state.copy_to_host(state)
            workspace.host_is_stale = False
