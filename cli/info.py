"""``bmsample datasets`` and ``bmsample info``: what is bundled, and what this machine runs with."""

import sys
from importlib import metadata

import click

from ._shell import handle_errors


@click.command()
@handle_errors
def datasets():
    """List the bundled datasets."""
    import bmsample

    rows = bmsample.list_datasets()
    click.echo(f"{'name':<14} {'samples x features':<20} {'values':<15} licence")
    for row in rows:
        shape = f"{row['shape'][0]} x {row['shape'][1]}"
        click.echo(f"{row['name']:<14} {shape:<20} {row['values']:<15} {row['licence']}")


@click.command()
@handle_errors
def info():
    """Versions, threads, Numba threading layer, GPU availability."""
    import numba
    import numpy as np

    import bmsample
    from bmsample._threads import thread_info

    details = thread_info()
    click.echo(f"bmsample {bmsample.__version__}")
    click.echo(f"python {sys.version.split()[0]}, numpy {np.__version__}, numba {numba.__version__}, "
               f"click {metadata.version('click')}")
    click.echo(f"cpus available {details['available_cpus']}, numba threads {details['numba_threads']} "
               f"(at most {details['numba_thread_limit']}: NUMBA_NUM_THREADS), default threads "
               f"{details['default_threads']}, threading layer {details['numba_threading_layer']}")
    for blas in details["blas"]:
        click.echo(f"blas {blas['library']} {blas['version']}, threads {blas['threads']}")
    click.echo(f"gpu {_gpu_status()}")


def _gpu_status():
    try:
        from numba import cuda
    except Exception:  # noqa: BLE001 - any import failure means no GPU
        return "not usable (numba-cuda not installed)"
    try:
        if cuda.is_available():
            return f"usable: {cuda.get_current_device().name.decode()}"
    except Exception:  # noqa: BLE001
        pass
    return "not usable (no CUDA driver or device)"
