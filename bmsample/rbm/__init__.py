"""Bernoulli-Bernoulli RBM: reference maths (``model``), CPU kernels (``_cpu``),
sampling (``sample``) and training updates (``train``)."""
