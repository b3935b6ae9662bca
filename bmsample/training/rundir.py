"""A run directory while ``fit`` trains in it: one writer at a time, and nothing lost to ``--overwrite``.

* **Lock.**  The training process holds an exclusive ``flock`` on
  ``DIR/.bmsample.lock`` (which names its PID and host).  The operating
  system drops it when the process ends, however it ends (SIGKILL
  included), so no stale lock is ever left; a second writer is refused with
  ``RunDirectoryBusy`` naming the holder.
* **Overwrite.**  Replacing a previous run trains into a hidden sibling,
  ``.DIR.bmsample-new``, and swaps it with DIR only once its first
  checkpoint is written (an atomic exchange of the two directories on
  Linux), then deletes the old run.  Killed before that, DIR is the old run
  untouched; after it, DIR is the new run, resumable.  A sibling left by a
  killed run is removed by the next overwrite.
"""

import ctypes
import errno
import os
import shutil
import socket
import sys
import warnings
from pathlib import Path

LOCK_NAME = ".bmsample.lock"
#: Names a run directory may hold (besides temporary files): what ``fit`` and ``plot`` write.
RUN_CONTENTS = ("model.npz", "log.jsonl", "config.json", "checkpoints", "trajectory", "plots", LOCK_NAME)
STAGING_SUFFIX = ".bmsample-new"


class RunDirectoryBusy(ValueError):
    """Another process is training in the run directory."""


def run_contents(directory):
    """Entries of ``directory`` other than its lock file (sorted names)."""
    return sorted(p.name for p in Path(directory).iterdir() if p.name != LOCK_NAME)


def foreign_contents(directory):
    """Entries of ``directory`` that no bmsample run writes (sorted names)."""
    return [name for name in run_contents(directory)
            if name not in RUN_CONTENTS and not (name.startswith(".") and name.endswith(".tmp"))]


class RunLock:
    """An exclusive lock on a directory, held by this process until ``release`` (or its end).

    Parameters
    ----------
    directory : Path
        Must exist.
    """

    def __init__(self, directory):
        self.path = Path(directory) / LOCK_NAME
        self._fd = None
        while self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not self._try_lock(fd):
                holder = os.read(fd, 200).decode(errors="replace").split()
                os.close(fd)
                who = f"process {holder[0]} on {holder[1]}" if len(holder) >= 2 else "another process"
                raise RunDirectoryBusy(f"out: {directory} is in use: {who} is training in it; wait for it to end "
                                       "or choose another out")
            if self._is_current(fd):  # a holder that released it meanwhile unlinked the file: lock the new one
                self._fd = fd
            else:
                os.close(fd)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()} {socket.gethostname()}\n".encode())

    def _try_lock(self, fd):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks here
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:  # a filesystem without flock (some Lustre and NFS mounts)
            if exc.errno not in (errno.ENOLCK, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise
            warnings.warn(f"cannot lock {self.path.parent} on this filesystem ({exc.strerror}); make sure that "
                          "only one process trains in it", RuntimeWarning, stacklevel=4)
        return True

    def _is_current(self, fd):
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def moved_to(self, directory):
        """The lock file's directory was renamed to ``directory`` (the lock itself is unchanged)."""
        self.path = Path(directory) / LOCK_NAME

    def release(self):
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        if self._is_current(self._fd):
            self.path.unlink(missing_ok=True)  # while still locked: a waiter then finds no file, or a new one
        os.close(self._fd)
        self._fd = None


def _exchange(first, second):
    """Swap two directories atomically (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(first))


class RunDirectory:
    """The run directory of one ``fit``: locked for the whole run; see the module notes.

    Parameters
    ----------
    path : str or Path
        The run directory (created if missing).

    Attributes
    ----------
    path : Path
        Where the run ends up.
    writing_dir : Path
        Where the run writes now: ``path``, or the staging sibling until the
        first checkpoint of a run that replaces another.
    """

    def __init__(self, path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"out: {self.path} exists and is not a directory")
        self.created = [folder for folder in (self.path, *self.path.parents) if not folder.exists()]
        self.path.mkdir(parents=True, exist_ok=True)
        self.lock = RunLock(self.path)
        self.writing_dir = self.path
        self._staging_lock = None

    def prepare(self, overwrite, restart=False):
        """Decide where the run writes: in ``path`` if it is empty (or ``restart``), else a staging sibling.

        Parameters
        ----------
        overwrite : bool
            A previous run in ``path`` may be replaced (only once the new run has checkpointed).
        restart : bool
            ``path`` holds this run's own files but no checkpoint: start it again in place.
        """
        contents = run_contents(self.path)
        if not contents or restart:
            return self.writing_dir
        if not overwrite:
            raise ValueError(f"out: {self.path} exists and is not empty; pass --overwrite to replace it")
        foreign = foreign_contents(self.path)
        if foreign:
            raise ValueError(f"out: {self.path} holds files that are not a run ({', '.join(foreign)}); move them "
                             "away or choose another out")
        staging = self.path.parent / f".{self.path.name}{STAGING_SUFFIX}"
        if staging.exists():  # left by an overwrite that was killed: remove it, unless one is training there
            RunLock(staging).release()
            shutil.rmtree(staging)
        staging.mkdir()
        self._staging_lock = RunLock(staging)
        self.writing_dir = staging
        return staging

    @property
    def staged(self):
        """True while the run writes into the staging sibling."""
        return self.writing_dir != self.path

    def commit(self):
        """After the new run's first checkpoint: put it in ``path`` and delete the run it replaces."""
        if not self.staged:
            return
        staging = self.writing_dir
        if _exchange(staging, self.path):
            old = staging
        else:  # not atomic: a kill between the two renames leaves both runs as hidden siblings
            old = self.path.parent / f".{self.path.name}.bmsample-old"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(self.path, old)
            os.rename(staging, self.path)
        old_lock, self.lock, self._staging_lock = self.lock, self._staging_lock, None
        self.lock.moved_to(self.path)
        old_lock.moved_to(old)
        self.writing_dir = self.path
        shutil.rmtree(old)
        old_lock.release()

    def close(self, succeeded):
        """Release the locks; after a failure, remove what this run created and never checkpointed."""
        if self.staged:
            shutil.rmtree(self.writing_dir, ignore_errors=True)
            self._staging_lock.release()
        self.lock.release()
        if not succeeded and self.created and not run_contents(self.path):
            for folder in self.created:  # the run's folder first, then the parents this run made
                try:
                    folder.rmdir()
                except OSError:
                    break
