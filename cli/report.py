"""``bmsample report``: reproduce one of the paper's effects at CPU scale."""

from pathlib import Path

import click

from . import options
from ._shell import announces_compiling, handle_errors, set_threads


@click.command()
@click.argument("name", type=click.Choice(["gaussian", "ising", "rbm"]))
@options.out
@click.option("--quick", is_flag=True, help="A tiny version (seconds), to check the pipeline.")
@options.seed
@options.threads
@options.overwrite
@handle_errors
@announces_compiling
def report(name, out, quick, seed, threads, overwrite):
    """Reproduce one of the paper's effects at CPU scale: a folder with report.md, PNGs and results.json.

    gaussian: learned spectrum vs k against the theory, the variance crossing
    at t = k, negative eigenvalues; ising: Rdm-k vs CD-k vs PCD-k error against
    sampling time on binarised digits; rbm: the same on binarised MNIST with
    AATS and sample grids."""
    from bmsample._rng import fresh_seed
    from bmsample.tools.reports import REPORTS

    out = out or Path("reports") / name
    seed = fresh_seed() if seed is None else seed
    set_threads(threads)
    REPORTS[name](out, quick=quick, seed=seed, overwrite=overwrite,
                  progress=lambda message: click.echo(message, err=True))
    click.echo(f"wrote {out / 'report.md'} (seed {seed})")
