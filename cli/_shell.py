"""What every command shares: exit codes, one-line errors, the compile notice, threads and image shapes."""

import functools
import os
import sys
from pathlib import Path

import click

EXIT_RUNS_FAILED = 1
EXIT_INPUT = 2
EXIT_DIVERGED = 3
EXIT_PREEMPTED = 75  # EX_TEMPFAIL: try again later, with --resume
EXIT_INTERRUPTED = 130

def fail(message, code=EXIT_INPUT):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"warning: {message}", err=True)


def handle_errors(command):
    """Turn expected exceptions into a one-line error and an exit code; warnings into one line each."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        import warnings

        from bmsample._errors import TrainingDiverged, TrainingPreempted

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")  # show each warning once per place, never as an error
                warnings.showwarning = _show_warning
                return command(*args, **kwargs)
        except BrokenPipeError:  # e.g. piped into head: stop quietly
            sys.stdout = open(os.devnull, "w")
            sys.exit(1)
        except TrainingDiverged as exc:
            fail(str(exc), EXIT_DIVERGED)
        except TrainingPreempted as exc:
            click.echo(f"stopped: {exc}; continue with --resume {Path(exc.checkpoint).parent.parent}", err=True)
            sys.exit(EXIT_PREEMPTED)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except ImportError as exc:  # an optional extra is missing (matplotlib, dask, numba-cuda): say which
            fail(_one_line(exc))
        except (ValueError, TypeError, OSError, MemoryError) as exc:
            fail(_one_line(exc))

    return wrapper


COMPILE_NOTICE = ("compiling bmsample's kernels for their first use (a few seconds for each model family and "
                  "dtype); later runs load them from Numba's cache")


def announces_compiling(command):
    """Say on stderr, once, when the command's first kernel is compiled rather than loaded from the cache."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        if kwargs.get("quiet"):
            return command(*args, **kwargs)
        from bmsample._jit import compile_notices

        with compile_notices(lambda: click.echo(COMPILE_NOTICE, err=True)):
            return command(*args, **kwargs)

    return wrapper


def _one_line(exc):
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}"
    return text.splitlines()[0]


def set_threads(threads):
    from bmsample._threads import set_num_threads

    set_num_threads(threads)


def image_shape(data_name):
    """(height, width) of a bundled image dataset, else None."""
    import bmsample
    from bmsample.datasets import BUNDLED

    if data_name not in BUNDLED:
        return None
    shape = bmsample.load_dataset(data_name).image_shape
    return tuple(shape) if shape else None
