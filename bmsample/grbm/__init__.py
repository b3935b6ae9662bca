"""Gaussian-Bernoulli RBM (real visible units, {0,1} hidden units): reference maths
(``model``), CPU kernels (``_cpu``), block-Gibbs sampling (``sample``) and
training updates (``train``).  Parameters act on standardised data; see
``bmsample.grbm.model``."""
