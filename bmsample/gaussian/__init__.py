"""Gaussian energy model E(x) = 1/2 x^T J x - h^T x: reference maths (``model``),
CPU kernels (``_cpu``), Langevin / Gibbs sampling (``sample``) and training
updates (``train``)."""
