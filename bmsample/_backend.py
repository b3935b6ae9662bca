"""Where the kernels run: ``backend="auto" | "cpu" | "cuda" | "cuda:N"``, resolved in one place.

The GPU goes through ``numba.cuda`` from NVIDIA's ``numba-cuda`` package
(Numba's built-in CUDA target is deprecated and never used here).  Nothing in
this module imports ``numba.cuda`` until a CUDA backend is asked for, so
``import bmsample`` and every CPU path work without it.

* ``"cpu"``: the Numba CPU kernels.
* ``"cuda"`` / ``"cuda:N"``: GPU ``N`` (default 0) of those the process sees
  (``CUDA_VISIBLE_DEVICES`` applies, as the driver honours it).  With
  ``NUMBA_ENABLE_CUDASIM=1`` this is Numba's CUDA simulator, for tests.
* ``"auto"``: ``"cuda"`` when numba-cuda is installed and a real GPU is
  usable, else ``"cpu"``; never the simulator.
"""

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache

INSTALL_HINT = "pip install 'bmsample[cuda]'"
CHOICES = "'auto', 'cpu', 'cuda' or 'cuda:N'"


@dataclass(frozen=True)
class Backend:
    """A resolved backend: ``kind`` is "cpu" or "cuda"; ``device`` the GPU index."""

    kind: str
    device: int = 0
    simulator: bool = False

    @property
    def is_cuda(self):
        return self.kind == "cuda"

    def __str__(self):
        if not self.is_cuda:
            return "cpu"
        return f"cuda:{self.device}" + (" (simulator)" if self.simulator else "")


CPU = Backend("cpu")
#: What runs on the GPU, as the ``task`` names of ``resolve_backend``: "<model> <sampler> sampling|training".
GPU_TASKS = ("rbm block-gibbs sampling", "rbm block-gibbs training", "gaussian langevin sampling",
             "gaussian langevin training", "gaussian gibbs sampling", "gaussian gibbs training",
             "ising heat-bath sampling", "ising random-site sampling",
             "ising metropolis sampling", "ising heat-bath training", "ising random-site training",
             "ising metropolis training", "independent heat-bath training", "independent random-site training",
             "independent metropolis training", "gaussian-rbm block-gibbs sampling",
             "gaussian-rbm block-gibbs training", "rbm block-gibbs tempering",
             "gaussian-rbm block-gibbs tempering", "ising heat-bath tempering", "ising random-site tempering",
             "ising metropolis tempering")


def resolve_backend(backend, task=None):
    """Turn the public ``backend`` argument into a ``Backend``.

    Parameters
    ----------
    backend : str or Backend
        "auto", "cpu", "cuda" or "cuda:N".
    task : str, optional
        What the call runs, e.g. "rbm block-gibbs training"; with
        "auto" a task not in ``GPU_TASKS`` runs on the CPU, with "cuda" it is
        an error naming it.

    Raises
    ------
    ValueError
        Unknown name, numba-cuda missing, no usable GPU, or a device index out of range.
    TypeError
        ``backend`` is not a string.
    """
    if isinstance(backend, Backend):
        resolved = backend
    elif not isinstance(backend, str):
        raise TypeError(f"backend: expected {CHOICES}, got {type(backend).__name__}")
    elif backend.strip().lower() == "auto" and task is not None and task not in GPU_TASKS:
        return CPU
    else:
        resolved = _resolve_name(backend.strip().lower(), backend)
    if resolved.is_cuda and task is not None and task not in GPU_TASKS:
        raise ValueError(f"backend: {task} has no CUDA path yet; use backend='cpu' "
                         f"(on the GPU: {', '.join(GPU_TASKS)})")
    return resolved


def _resolve_name(name, given):
    if name == "cpu":
        return CPU
    if name == "auto":
        return _auto_backend()
    if name == "cuda":
        return _cuda_backend(0)
    if name.startswith("cuda:") and name[5:].isdigit():
        return _cuda_backend(int(name[5:]))
    raise ValueError(f"backend: expected {CHOICES}, got {given!r}")


def simulator_requested():
    """True when ``NUMBA_ENABLE_CUDASIM`` asks for Numba's CUDA simulator."""
    value = os.environ.get("NUMBA_ENABLE_CUDASIM", "0").strip()
    return value not in ("", "0")


def numba_cuda_installed():
    """True when NVIDIA's numba-cuda package (not Numba's deprecated built-in target) is installed."""
    return importlib.util.find_spec("numba_cuda") is not None


def _auto_backend():
    if simulator_requested() or not numba_cuda_installed():
        return CPU
    return Backend("cuda", 0) if _real_gpu_count() > 0 else CPU


@lru_cache(maxsize=1)
def _real_gpu_count():
    from numba import cuda

    if not cuda.is_available():
        return 0
    return len(cuda.gpus)


def _cuda_backend(device):
    if not numba_cuda_installed():
        raise ValueError(f"backend: 'cuda' needs numba-cuda: {INSTALL_HINT}")
    if simulator_requested():
        from numba import cuda

        if not getattr(cuda, "simulator_init", None):
            raise ValueError("backend: NUMBA_ENABLE_CUDASIM is set but numba.cuda was imported before it; "
                             "set it before starting Python")
        return Backend("cuda", device, simulator=True)
    count = _real_gpu_count()
    if count == 0:
        raise ValueError("backend: 'cuda' asked for, but no usable CUDA GPU was found "
                         "(no driver, no device, or CUDA_VISIBLE_DEVICES hides them); use backend='cpu'")
    if device >= count:
        raise ValueError(f"backend: cuda:{device} asked for, but this process sees {count} GPU(s) "
                         f"(cuda:0 to cuda:{count - 1})")
    from numba import cuda

    cuda.select_device(device)
    return Backend("cuda", device)
