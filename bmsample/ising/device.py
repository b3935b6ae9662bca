"""Sweeps of a fully connected Boltzmann machine on a CUDA device (imported only for a CUDA backend)."""

from numba import cuda

from .. import _gpu_linalg as linalg
from . import _gpu
from .sample import SAMPLERS


def sweeps_on_device(model, state, sweeps, streams, *, sampler, on_step=None):
    """Run ``sweeps`` sweeps of ``sampler`` from the host ``state`` on the device; return the host result.

    The device twin of ``sample.run_sweeps`` (same draws): the local fields
    are one product and then kept up to date by the kernel.  ``on_step(t,
    state)`` receives host copies (one copy per call: use it for recording only).
    """
    d_state = cuda.to_device(state)
    if sweeps == 0:
        return state
    coupling = cuda.to_device(model.coupling_matrix)
    local_field = cuda.device_array_like(d_state)
    linalg.scaled_product(d_state, coupling, 1.0, local_field)
    linalg.add_row(local_field, cuda.to_device(model.field))
    kind = SAMPLERS[sampler]
    key0, key1 = streams.kernel_args()
    if on_step is None:
        _gpu.sweeps(coupling, kind, sweeps, key0, key1, streams.reserve(sweeps), 0, d_state, local_field)
        return d_state.copy_to_host()
    for t in range(1, sweeps + 1):
        _gpu.sweeps(coupling, kind, 1, key0, key1, streams.reserve(1), 0, d_state, local_field)
        on_step(t, d_state.copy_to_host())
    return d_state.copy_to_host()
