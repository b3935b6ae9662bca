"""``bmsample`` command line: a thin shell over the Python API, one module per command.

Heavy imports (NumPy, Numba) happen inside the commands so that
``bmsample --help`` stays fast.  The options several commands share are
declared once in ``options``; exit codes, errors and the compile notice are
in ``_shell``.  Every expected failure becomes one line on stderr and a
non-zero exit: 2 for bad usage or input, 3 when training diverged, 75 when
a signal stopped training after a checkpoint (resume with ``--resume``),
130 when interrupted; ``sweep`` exits 1 when some of its runs failed.
"""

import click

from ._shell import COMPILE_NOTICE  # noqa: F401  (tests read the notice here)
from .bench import bench
from .evaluate import evaluate_command
from .fit import fit
from .info import datasets, info
from .plot import plot
from .report import report
from .sample import sample
from .sweep import sweep
from .theory import theory


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bmsample")
def main():
    """Train, sample and evaluate Boltzmann machines and Gaussian energy models (Rdm-k, CD-k, PCD-k), on the
    CPU or a CUDA GPU (--device)."""


for command in (fit, sweep, sample, evaluate_command, plot, report, bench, theory, datasets, info):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
