"""The ``bmsample`` command line (installed as ``bmsample.cli``)."""
