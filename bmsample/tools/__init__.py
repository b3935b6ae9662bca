"""Tools built on the core: reports, sweeps, bench and plots.

Only the command line and users import these; nothing in the core does
(``tests/test_import_graph.py``).

* ``reports``: experiment reports that reproduce the paper's effects (``bmsample report``);
* ``sweep``: grids of training runs and their summaries (``bmsample sweep``);
* ``bench``: sampler and epoch speed against the dense limit (``bmsample bench``);
* ``plots``: figures of runs, models and evaluations (``bmsample plot``, ``eval --png``).
"""
