"""Device cases of ``bmsample bench`` (imported only for a CUDA backend).

The same (gemms, sampler) pairs as on the CPU, with device arrays: the
baseline is the device's tiled product kernel (``_gpu_linalg``) on the
shapes of a step, the sampler the family's device steps (an RBM half-step
fuses its product with the sampling, so its ratio can be below 1).  Every
timed call ends with ``cuda.synchronize()``: kernels launch asynchronously.
"""

import numpy as np
from numba import cuda

from . import _gpu_linalg as linalg
from ._device_training import DeviceCouplings
from ._rng import ChainStreams
from .gaussian.device import device_langevin_steps
from .gaussian.model import GaussianModel
from .grbm.device import DeviceGRBM
from .grbm.device import device_gibbs_steps as grbm_gibbs_steps
from .grbm.model import GaussianBernoulliRBM
from .ising import _gpu as ising_gpu
from .ising.model import IsingModel
from .ising.sample import SAMPLERS as ISING_SAMPLERS
from .rbm.device import DeviceParameters, device_gibbs_steps


def step_case(model, chains, steps, rng):
    """(gemms, sampler) on the device for ``model`` (any family), both synchronised."""
    streams = ChainStreams((1, 2))
    dtype = model.dtype
    if isinstance(model, (GaussianModel, IsingModel)):
        return _coupled_case(model, chains, steps, rng, streams, langevin=isinstance(model, GaussianModel))
    nv, nh = model.num_visibles, model.num_hiddens
    if isinstance(model, GaussianBernoulliRBM):
        params, start = DeviceGRBM(model), rng.standard_normal((chains, nv))
    else:
        params, start = DeviceParameters(model), rng.random((chains, nv)) < 0.5
    visible = cuda.to_device(start.astype(dtype))
    hidden = cuda.to_device(np.zeros((chains, nh), dtype=dtype))
    hidden_field = cuda.device_array((chains, nh), dtype=dtype)
    visible_field = cuda.device_array((chains, nv), dtype=dtype)

    def gemms():
        for _ in range(steps):
            linalg.scaled_product(visible, params.weights, 1.0, hidden_field)
            linalg.scaled_product(hidden, params.weights, 1.0, visible_field, transpose_right=True)

    def sampler():
        if isinstance(params, DeviceGRBM):
            grbm_gibbs_steps(params, visible, hidden, visible_field, steps, streams)
        else:
            device_gibbs_steps(params, visible, hidden, steps, streams)

    return _synchronised(gemms), _synchronised(sampler)


def _coupled_case(model, chains, steps, rng, streams, langevin):
    """Gaussian Langevin steps or Ising sweeps against the product x J."""
    params = DeviceCouplings(model)
    n, dtype = model.num_units, model.dtype
    if langevin:
        start = rng.standard_normal((chains, n))
    else:
        start = np.where(rng.random((chains, n)) < 0.5, 1.0, -1.0)
    state = cuda.to_device(start.astype(dtype))
    field = cuda.device_array((chains, n), dtype=dtype)
    step_size = (model.process or {}).get("step_size", 0.01)
    kind = ISING_SAMPLERS[(model.process or {}).get("sampler", "heat-bath")] if not langevin else None

    def gemms():
        for _ in range(steps):
            linalg.scaled_product(state, params.coupling, 1.0, field)

    def sampler():
        if langevin:
            device_langevin_steps(params, state, field, steps, streams, step_size=step_size)
            return
        linalg.scaled_product(state, params.coupling, 1.0, field)
        linalg.add_row(field, params.field)
        key0, key1 = streams.kernel_args()
        ising_gpu.sweeps(params.coupling, kind, steps, key0, key1, streams.reserve(steps), 0, state, field)

    return _synchronised(gemms), _synchronised(sampler)


def _synchronised(function):
    def run():
        function()
        cuda.synchronize()

    return run
