"""pytest-benchmark suite: run with ``pytest benchmarks`` (not part of the test suite).

Every case is timed beside its baseline, the bare BLAS products of the same
shapes, in the same process; compare them within a group
(``--benchmark-group-by=group``).  ``bmsample bench`` prints the ratios directly.
"""
