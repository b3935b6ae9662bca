"""Thread counts for Numba kernels and the BLAS library, set together.

Numba's OpenMP pool and the BLAS pool take turns within every Gibbs step.
libgomp's default is to spin after a parallel region, which steals the cores
from the next BLAS call; ``OMP_WAIT_POLICY=PASSIVE`` (set at import unless the
user chose a policy or a threading layer) makes idle OpenMP threads sleep.
"""

import os

import numba


def configure_environment():
    """Set the OpenMP wait policy before Numba loads its threading layer."""
    if "OMP_WAIT_POLICY" not in os.environ and "NUMBA_THREADING_LAYER" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def available_cpus():
    """CPUs this process may run on (affinity mask), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


_blas_limits = None


def set_num_threads(num_threads):
    """Use ``num_threads`` threads in the Numba kernels and in BLAS.

    Parameters
    ----------
    num_threads : int
        At least 1; at most Numba's pool size (``NUMBA_NUM_THREADS``).
    """
    global _blas_limits
    from threadpoolctl import threadpool_limits

    from ._validation import check_int

    num_threads = check_int(num_threads, "threads")
    if num_threads > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads: at most {numba.config.NUMBA_NUM_THREADS} on this machine "
                         f"(NUMBA_NUM_THREADS), got {num_threads}")
    numba.set_num_threads(num_threads)
    _blas_limits = threadpool_limits(limits=num_threads, user_api="blas")
    return num_threads


def thread_info():
    """Numba thread count and threading layer (if already chosen), BLAS pools."""
    from threadpoolctl import threadpool_info

    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "not yet initialised"
    return {
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": layer,
        "available_cpus": available_cpus(),
        "blas": [{"library": i.get("internal_api"), "version": i.get("version"),
                  "threads": i.get("num_threads")} for i in threadpool_info() if i.get("user_api") == "blas"],
    }
