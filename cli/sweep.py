"""``bmsample sweep``: train a grid or list of configurations on Dask."""

from pathlib import Path

import click

from . import options
from ._shell import EXIT_RUNS_FAILED, fail, handle_errors


@click.command()
@click.argument("config_file", metavar="CONFIG", type=click.Path(path_type=Path))
@options.out
@click.option("--scheduler", help="Address of a running Dask scheduler, e.g. tcp://host:8786 [a local cluster].")
@click.option("--workers", type=int, help="Worker processes of the local cluster [CPUs // threads per run].")
@click.option("--threads-per-run", type=int, help="Numba and BLAS threads of every run [1, or CPUs // --workers].")
@click.option("--dry-run", is_flag=True, help="List the runs and what the sweep would do with each; run nothing.")
@handle_errors
def sweep(config_file, out, scheduler, workers, threads_per_run, dry_run):
    """Train a grid or list of fit configurations from a TOML file on Dask.

    Every run gets its own directory in the sweep folder; finished runs are
    skipped when the sweep is run again; summary.csv and summary.json hold
    one row per run."""
    from bmsample.tools import sweep as sweeps

    if dry_run:
        click.echo(sweeps.format_plan(sweeps.plan_sweep(config_file, out)))
        return
    try:
        result = sweeps.run_sweep(config_file, out, scheduler=scheduler, workers=workers,
                                  threads_per_run=threads_per_run, progress=lambda line: click.echo(line, err=True))
    except ImportError as exc:
        fail(str(exc))
    click.echo(sweeps.format_summary(result.rows))
    click.echo(f"wrote {result.out / 'summary.csv'}")
    if result.failures:
        fail(f"{len(result.failures)} of {len(result.rows)} runs diverged, failed or were busy; see "
             f"{result.out / 'summary.csv'}", EXIT_RUNS_FAILED)
