"""Compiling the CPU kernels: their compile settings, in one place, a cache that always works, a notice.

Every CPU kernel is ``@kernel``: Numba's ``njit`` with ``parallel=True``,
the kernels' fast-math flags ``KERNEL_FASTMATH`` and ``cache=True``; every
function a kernel inlines is ``@helper`` (the same flags).  (The GPU's launch
shapes are in ``bmsample._gpu_linalg``; its kernels use no fast math.)  Numba looks for a writable
cache folder when the decorator runs (the package's ``__pycache__``, then
``~/.cache/numba``) and raises "no locator available" when there is none,
which is the normal case in containers and on clusters with a read-only home
and install.  ``kernel`` then caches in a folder of this user's own in the
temporary directory (``NUMBA_CACHE_DIR`` chooses another), or compiles
without a cache when even that cannot be made safe, and says so in one
warning.

``compile_notices`` calls a function when Numba starts compiling a kernel
for the first time in this process (a cold cache), so that a command can say
why its first run is slow.
"""

import getpass
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

from numba import njit
from numba.core import config, event

#: Fast-math flags for the kernels: everything except reassociation, which
#: would undo the two-constant range reduction of ``_numerics.fast_exp``.
KERNEL_FASTMATH = {"nnan", "ninf", "nsz", "arcp", "contract", "afn"}

_OPTIONS = {"parallel": True, "fastmath": KERNEL_FASTMATH}


class CacheWarning(UserWarning):
    """Numba's usual cache folders are not writable; kernels are cached elsewhere, or not at all."""


_cache_fallback = None  # None: not needed yet; else the folder used, or "" for no cache


def kernel(function):
    """``njit(parallel=True, fastmath=KERNEL_FASTMATH, cache=True)``, with a cache folder that can be written."""
    if _cache_fallback is None:
        try:
            return njit(cache=True, **_OPTIONS)(function)
        except RuntimeError as exc:
            if "no locator available" not in str(exc):
                raise
            _use_fallback_cache()
    return njit(cache=bool(_cache_fallback), **_OPTIONS)(function)


def helper(function):
    """``njit(inline="always", fastmath=KERNEL_FASTMATH)``: a function inlined into the kernels that call it."""
    return njit(inline="always", fastmath=KERNEL_FASTMATH)(function)


def fallback_cache_dir():
    """This user's cache folder in the temporary directory: ``<tmp>/bmsample-numba-<uid>``."""
    uid = os.getuid() if hasattr(os, "getuid") else getpass.getuser()
    return Path(tempfile.gettempdir()) / f"bmsample-numba-{uid}"


def _use_fallback_cache():
    """Point Numba at ``fallback_cache_dir()``, or at no cache when that folder is not safely ours."""
    global _cache_fallback
    folder = fallback_cache_dir()
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        status = folder.lstat()
        # Numba's cache files are pickles: only load them from a folder nobody else can write.
        owned = not hasattr(os, "getuid") or (status.st_uid == os.getuid() and not status.st_mode & 0o022)
        usable = owned and folder.is_dir() and not folder.is_symlink() and os.access(folder, os.W_OK | os.X_OK)
    except OSError:
        usable = False
    if usable:
        _cache_fallback = str(folder)
        config.CACHE_DIR = _cache_fallback
        os.environ["NUMBA_CACHE_DIR"] = _cache_fallback  # for worker processes started from this one
        message = (f"no writable Numba cache (the bmsample install and ~/.cache are read-only); compiled kernels "
                   f"are cached in {folder} (set NUMBA_CACHE_DIR to choose a folder)")
    else:
        _cache_fallback = ""
        message = (f"no writable Numba cache (the bmsample install and ~/.cache are read-only, and {folder} is not "
                   "a private folder of this user); kernels are compiled in every run (set NUMBA_CACHE_DIR)")
    warnings.warn(message, CacheWarning, stacklevel=3)


class _FirstCompile(event.Listener):
    def __init__(self, notify):
        self.callback = notify
        self.fired = False

    def on_start(self, event_):
        if not self.fired:
            self.fired = True
            self.callback()

    def on_end(self, event_):
        pass


@contextmanager
def compile_notices(notify):
    """Inside the block, call ``notify()`` once, when Numba first compiles something (not a cache load)."""
    listener = _FirstCompile(notify)
    event.register("numba:compile", listener)
    try:
        yield listener
    finally:
        event.unregister("numba:compile", listener)
