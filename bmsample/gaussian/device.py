"""Langevin sampling of a Gaussian energy model on a CUDA device (imported only for a CUDA backend).

The chains stay on the device for all steps; each step is the tiled product
``x @ J`` and the fused Langevin update, with the CPU's Philox normals.
"""

import numpy as np
from numba import cuda

from .._gpu_linalg import scaled_product
from . import _gpu


def langevin_on_device(model, state, steps, streams, *, step_size, temperature=1.0, on_step=None):
    """Run ``steps`` Langevin steps from the host ``state`` (num_chains, N); return the host result.

    The device twin of ``sample.langevin_steps`` (same draws).  ``on_step(t,
    state)`` receives host copies (one copy per call: use it for recording only).
    """
    dt = model.dtype.type
    eps, noise = dt(step_size), dt(np.sqrt(2.0 * step_size * temperature))
    key0, key1 = streams.kernel_args()
    coupling, bias = cuda.to_device(model.coupling_matrix), cuda.to_device(model.field)
    d_state = cuda.to_device(state)
    field = cuda.device_array_like(d_state)
    for t in range(1, steps + 1):
        scaled_product(d_state, coupling, 1.0, field)
        _gpu.langevin_update(field, bias, eps, noise, key0, key1, streams.next_draw(), 0, d_state)
        if on_step is not None:
            on_step(t, d_state.copy_to_host())
    return d_state.copy_to_host()
