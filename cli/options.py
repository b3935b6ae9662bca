"""The options several commands share, each declared once with one default and one help text.

A command that takes one of them puts the decorator on, e.g. ``@options.seed``;
``None`` (the default of most) means the command's own default, which the
help text names.
"""

from pathlib import Path

import click

DEVICE_HELP = ("Where to run: cpu, cuda, cuda:N (GPU N; needs bmsample[cuda]) or auto (a GPU when one is usable); "
               "every family, sampler and trainer runs on a GPU.")


seed = click.option("--seed", type=int,
                    help="Random seed [fresh, from OS entropy; the seed used is recorded or printed].")
threads = click.option("--threads", type=int, help="Threads for kernels and BLAS [CPUs available to this process].")
device = click.option("--device", default="cpu", show_default=True, help=DEVICE_HELP)
chains = click.option("--chains", metavar="N[,N...]",
                      help="Number of chains [fit: the batch size; bench: 100,1000; others: 1000, or the model's "
                           "saved persistent chains]; bench times each of a comma-separated list.")
dtype = click.option("--dtype", type=str,
                     help="float32 or float64 [float32]; bench times each of a comma-separated list.")
json = click.option("--json", "json_path", type=click.Path(path_type=Path),
                    help="Also write every number as JSON to this file.")
out = click.option("--out", type=click.Path(path_type=Path),
                   help="Where to write [fit: runs/<data name>; sweep: sweeps/<CONFIG name>; sample: samples.npz; "
                        "report: reports/<NAME>].")
overwrite = click.option("--overwrite", is_flag=True,
                         help="Replace what this command already wrote there (--out, --json, --png, figures).")


def counts(text, name="chains"):
    """The integers of a comma-separated option value (None stays None), or a one-line error naming the option."""
    if text is None:
        return None
    try:
        values = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        values = []
    if not values:
        raise ValueError(f"{name}: expected an integer or comma-separated integers, got {text!r}")
    return values


def one_count(text, name="chains", default=None):
    """The single integer of a ``--chains`` value (``default`` when not given); a list is refused."""
    values = counts(text, name)
    if values is not None and len(values) != 1:
        raise ValueError(f"{name}: expected one integer here, got {text!r}")
    return default if values is None else values[0]
