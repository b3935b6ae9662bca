"""Thread counts for Numba kernels and the BLAS library, set together.

Numba's thread pool and the BLAS pool take turns within every Gibbs step, and
each pool's idle threads spin for a while before they sleep, stealing the
cores from the other pool.  Measured on 2 cores for a 784 x 500 step with
1000 chains, float32: 1.20-1.24x the bare-GEMM time with both spinning,
1.12-1.14x with ``OMP_WAIT_POLICY=PASSIVE`` (libgomp, Numba's default layer)
and ``OPENBLAS_THREAD_TIMEOUT=4`` (OpenBLAS, NumPy's BLAS).  Both are read
when the libraries load, so ``configure_environment`` sets them on
``import bmsample`` unless the user set them; a process that imported NumPy
before bmsample keeps OpenBLAS's default.
"""

import os
from contextlib import contextmanager

#: Environment defaults applied at import (never overriding the user's).
ENVIRONMENT_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}


def configure_environment():
    """Apply ``ENVIRONMENT_DEFAULTS`` for variables the user did not set."""
    for name, value in ENVIRONMENT_DEFAULTS.items():
        if name == "OMP_WAIT_POLICY" and "NUMBA_THREADING_LAYER" in os.environ:
            continue
        os.environ.setdefault(name, value)


#: Scheduler variables giving the CPUs allocated to a job step, read by ``available_cpus``.
SCHEDULER_CPU_VARIABLES = ("SLURM_CPUS_PER_TASK", "PBS_NUM_PPN", "NSLOTS")


def available_cpus():
    """CPUs this process may use: its affinity mask, capped by a scheduler's allocation, not the machine's count.

    A batch scheduler usually confines a job with the affinity mask (or
    cgroups) already; when it only announces the allocation in its
    environment (``SCHEDULER_CPU_VARIABLES``: Slurm, PBS/Torque, Grid Engine),
    the smaller count wins.  Unparsable values are ignored.
    """
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        count = os.cpu_count() or 1
    for name in SCHEDULER_CPU_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            count = min(count, int(value))
    return count


def thread_limit():
    """The most threads a kernel may use: the size of Numba's pool (``NUMBA_NUM_THREADS``)."""
    import numba

    return numba.config.NUMBA_NUM_THREADS


def default_threads():
    """Threads to use when none are asked for.

    The smallest of the CPUs this process may use (``available_cpus``: its
    affinity mask and a scheduler's allocation) and Numba's pool size
    (``NUMBA_NUM_THREADS``, which job scripts often set to 1).
    """
    return max(1, min(available_cpus(), thread_limit()))


_blas_limits = None


def set_num_threads(num_threads=None):
    """Use ``num_threads`` threads in the Numba kernels and in BLAS.

    Parameters
    ----------
    num_threads : int or None
        At least 1; at most Numba's pool size (``NUMBA_NUM_THREADS``).
        None: ``default_threads()``.

    Returns
    -------
    int
        The number of threads now used.
    """
    global _blas_limits
    import numba
    from threadpoolctl import threadpool_limits

    from ._validation import check_int

    if num_threads is None:
        num_threads = default_threads()
    num_threads = check_int(num_threads, "threads")
    if num_threads > thread_limit():
        raise ValueError(f"threads: at most {thread_limit()} in this process (NUMBA_NUM_THREADS), "
                         f"got {num_threads}")
    numba.set_num_threads(num_threads)
    _blas_limits = threadpool_limits(limits=num_threads, user_api="blas")
    return num_threads


_blas_controller = None


@contextmanager
def single_threaded_blas():
    """Every loaded BLAS on one thread inside the block, restored after.

    For kernels in which each Numba thread calls BLAS (through Numba's
    ``np.dot``, i.e. SciPy's BLAS) on its own block of rows: the threads
    then share the cores without a second pool competing for them.
    """
    global _blas_controller
    if _blas_controller is None:
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS Numba calls: loaded before the scan)
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController().select(user_api="blas")
    with _blas_controller.limit(limits=1):
        yield


def thread_info():
    """Numba thread count and threading layer (if already chosen), BLAS pools."""
    import numba
    from threadpoolctl import threadpool_info

    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "not yet initialised"
    return {
        "numba_threads": numba.get_num_threads(),
        "numba_thread_limit": thread_limit(),
        "default_threads": default_threads(),
        "numba_threading_layer": layer,
        "available_cpus": available_cpus(),
        "blas": [{"library": i.get("internal_api"), "version": i.get("version"),
                  "threads": i.get("num_threads")} for i in threadpool_info() if i.get("user_api") == "blas"],
    }
