"""Fully connected Boltzmann machine (Ising model) on +-1 spins and its J = 0
limit, independent spins: parameters (``model``), exact enumeration
(``exact``), CPU kernels (``_cpu``), sweeps (``sample``) and training
updates (``train``)."""
