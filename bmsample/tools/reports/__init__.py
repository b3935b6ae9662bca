"""Experiment reports that reproduce the effects of non-convergent sampling at CPU scale.

Agoritsas, Catania, Decelle & Seoane (ICML 2023, arXiv 2301.09428) show that
a model trained with Rdm-k (fresh chains from a fixed p0, exactly k steps per
gradient estimate) matches the data statistics *at sampling time t = k*, not
at equilibrium (docs/theory.md).  Each report here trains small models, measures
that effect and writes a folder:

* ``report.md``: what was run with every setting, the expected effect, tables
  of the key numbers and the figures (relative links);
* PNG figures;
* ``results.json``: every number (non-finite values as ``null``).

Reports (``REPORTS`` maps the names used by the command line to them):

* ``report_gaussian``: Gaussian energy model with Langevin sampling; learned
  Rdm-k spectrum against the closed-form prediction, and variance of fresh
  chains against sampling time (crossing the data at t = k, divergence of the
  negative modes past k);
* ``report_ising``: fully connected Boltzmann machine on the bundled binarised
  digits; Rdm-k, CD-k and PCD-k errors against sampling time;
* ``report_rbm``: Bernoulli RBM on binarised MNIST; errors, AATS and sample
  grids against sampling time for the three schemes.

Each ``report_<name>(out, *, quick=False, seed=0, progress=None, overwrite=False,
**settings)`` refuses an existing non-empty ``out`` (with ``overwrite`` its files
are replaced), validates its settings (unknown names are refused), calls
``progress(message)`` at every stage, and returns the results dictionary it
wrote to ``results.json``.  The defaults take a few minutes on 2 cores;
``quick=True`` is a tiny version for tests; keyword settings (which override
the quick ones) allow bigger studies.  Figures need matplotlib (the ``plot``
extra).

One module per report (``gaussian``, ``ising``, ``rbm``); ``_common`` and
``_binary`` hold what they share.
"""

from .gaussian import report_gaussian
from .ising import report_ising
from .rbm import report_rbm

REPORTS = {"gaussian": report_gaussian, "ising": report_ising, "rbm": report_rbm}

__all__ = ["REPORTS", "report_gaussian", "report_ising", "report_rbm"]
