"""Closed-form predictions for Rdm-k training of the Gaussian energy model.

docs/theory.md section 2 (Agoritsas, Catania, Decelle & Seoane, ICML 2023,
arXiv 2301.09428).  The model is

    E(x) = 1/2 x^T J x - h^T x,      x in R^N, J symmetric,

sampled by unadjusted Langevin dynamics with step ``eps``,

    x_{n+1} = x_n - eps (J x_n - h) + sqrt(2 eps) xi_n,     xi_n ~ N(0, I),

from a law p0 with mean m0 and covariance s0^2 I.  Along an eigenvector of J
with eigenvalue j every statistic evolves independently, with the contraction
factor ``a = 1 - eps j`` per step; in continuous time (eps -> 0 at fixed
t = n eps) a^n becomes e^(-j t).  The Rdm-k fixed point J* has the
eigenvectors of the data covariance, and each eigenvalue solves
"variance after k steps = data variance along that eigenvector".

Everything here is plain NumPy in float64 (inputs of any real dtype are
converted), exact up to rounding, vectorised with NumPy broadcasting over all
array arguments, and never warns: values that do not exist are NaN (or inf
where documented).  Scalars in give NumPy scalars out.  The tests hold it to
exact rational arithmetic, independent root-finding and scipy.
"""

import dataclasses

import numpy as np

from ._validation import check_choice, check_int, check_positive_float

__all__ = [
    "P0_LAWS", "GaussianPrediction", "continuous_mean", "continuous_variance", "critical_variance",
    "discretised_ml_eigenvalue", "equilibrium_overshoot", "init_variance", "lambert_w", "langevin_mean",
    "langevin_variance", "ml_eigenvalue", "predict_gaussian_rdm", "rdm_eigenvalue", "rdm_eigenvalue_lambert",
    "rdm_field", "stationary_variance",
]

#: Laws p0 of the Rdm-k chains that ``init_variance`` knows (all have mean zero).
P0_LAWS = ("zeros", "uniform", "gaussian")

# 1/e as an unevaluated sum hi + lo, hi the double nearest to 1/e (hi > 1/e).
_INV_E_HI = 0.36787944117144233
_INV_E_LO = -1.2428753672788363e-17


# --- small helpers -------------------------------------------------------------------------------------------

def _real(x, name):
    """``x`` as a float64 array; refuse non-numeric or complex input."""
    array = np.asarray(x)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
                                     or array.dtype == bool):
        raise TypeError(f"{name}: expected real numbers, got dtype {array.dtype}")
    return array.astype(np.float64)


def _positive(x, name, allow_zero=False):
    """A float64 array of finite numbers > 0 (or >= 0)."""
    array = _real(x, name)
    bad = ~np.isfinite(array) | (array < 0) | ((array == 0) & (not allow_zero))
    if bad.any():
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected finite numbers {bound}, got {array[bad].flat[0]}")
    return array


def _steps(n, name, minimum=0):
    """An integer array >= ``minimum`` (bools refused), returned as float64 for the arithmetic."""
    array = np.asarray(n)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name}: expected integers, got dtype {array.dtype}")
    if (array < minimum).any():
        raise ValueError(f"{name}: expected integers >= {minimum}, got {array[array < minimum].flat[0]}")
    return array.astype(np.float64)


def _out(x):
    """0-d arrays become NumPy scalars."""
    return x[()] if np.ndim(x) == 0 else x


def _times(coefficient, value):
    """``coefficient * value`` with 0 * inf = 0 (a zero initial variance or mean stays zero)."""
    with np.errstate(invalid="ignore"):
        return np.where(coefficient == 0, 0.0, coefficient * value)


def _power_and_sum(d, n):
    """``r**n`` and ``sum_{s<n} r**s`` for ``r = 1 + d``, accurate when r is close to 1.

    For r > 0 both come from ``log1p(d)`` and ``expm1``, so that the geometric
    sum keeps full relative precision as d -> 0 (its d = 0 value is n); for
    r <= 0 (no cancellation there) the textbook formulas are used.
    """
    d, n = np.broadcast_arrays(np.asarray(d, dtype=np.float64), np.asarray(n, dtype=np.float64))
    with np.errstate(all="ignore"):
        positive = d > -1.0
        n_log_r = n * np.log1p(np.where(positive, d, 0.0))
        power = np.where(positive, np.exp(n_log_r), np.power(1.0 + d, n))
        safe_d = np.where(d == 0.0, 1.0, d)
        total = np.where(positive, np.expm1(n_log_r) / safe_d, (1.0 - power) / -safe_d)
        total = np.where(d == 0.0, n, total)
    return power, total


def _expm1_ratio(j, t):
    """``(1 - exp(-j t)) / j``, equal to t at j = 0, stable near j = 0 (inf for very negative j t)."""
    with np.errstate(all="ignore"):
        return np.where(j == 0.0, t, -np.expm1(-j * t) / np.where(j == 0.0, 1.0, j))


# --- dynamics along one eigenvector ---------------------------------------------------------------------------

def langevin_variance(j, steps, eps, s0_sq):
    """Variance after ``steps`` Langevin steps along an eigenvector of J with eigenvalue ``j``.

    Parameters
    ----------
    j : array_like, shape (...)
        Eigenvalue(s) of the coupling matrix; any real value (j < 0: the
        variance grows; eps j > 1: the chain oscillates; eps j > 2: it
        diverges).
    steps : int or array_like of int, broadcastable
        Number of Langevin steps n >= 0.
    eps : float or array_like, broadcastable
        Step size, > 0.
    s0_sq : float or array_like, broadcastable
        Variance s0^2 >= 0 of p0 along that direction.

    Returns
    -------
    ndarray, shape broadcast(j, steps, eps, s0_sq)
        c_n(j), float64 (inf where it overflows).

    Notes
    -----
    With a = 1 - eps j, the recurrence c_{n+1} = a^2 c_n + 2 eps, c_0 = s0^2 gives

        c_n(j) = a^(2n) s0^2 + 2 eps sum_{s<n} a^(2s)
               = a^(2n) s0^2 + 2 eps (1 - a^(2n)) / (1 - a^2),

    with c_n = s0^2 + 2 eps n at a^2 = 1.  The sum is evaluated from
    a^2 - 1 = eps j (eps j - 2) as expm1(n log1p(a^2 - 1)) / (a^2 - 1), which
    keeps full relative precision as a^2 -> 1 (j -> 0 or j -> 2/eps).
    """
    j, eps, s0_sq = _real(j, "j"), _positive(eps, "eps"), _positive(s0_sq, "s0_sq", allow_zero=True)
    return _out(_discrete_variance(j, _steps(steps, "steps"), eps, s0_sq))


def _discrete_variance(j, n, eps, s0_sq):
    x = eps * j
    power, total = _power_and_sum(x * (x - 2.0), n)
    return _times(s0_sq, power) + 2.0 * eps * total


def langevin_mean(j, h, steps, eps, m0=0.0):
    """Mean after ``steps`` Langevin steps along an eigenvector of J (eigenvalue ``j``, field component ``h``).

    Parameters
    ----------
    j, h : array_like, broadcastable
        Eigenvalue of J and the component of the field h along its eigenvector.
    steps : int or array_like of int, broadcastable
        Number of steps n >= 0.
    eps : float or array_like, broadcastable
        Step size, > 0.
    m0 : float or array_like, broadcastable
        Mean of p0 along that direction (default 0).

    Returns
    -------
    ndarray, shape broadcast(j, h, steps, eps, m0)
        m_n, float64.

    Notes
    -----
    With a = 1 - eps j, m_{n+1} = a m_n + eps h gives

        m_n = a^n m0 + eps h sum_{s<n} a^s = a^n m0 + h (1 - a^n) / j,

    whose j = 0 value is m0 + h eps n; the sum is evaluated as in
    ``langevin_variance``.
    """
    j, h, m0, eps = _real(j, "j"), _real(h, "h"), _real(m0, "m0"), _positive(eps, "eps")
    power, total = _power_and_sum(-eps * j, _steps(steps, "steps"))
    return _out(_times(m0, power) + _times(h, eps * total))


def continuous_variance(j, t, s0_sq):
    """Variance at time ``t`` of the Langevin diffusion (the eps -> 0 limit at t = n eps).

    Parameters
    ----------
    j : array_like
        Eigenvalue of J, any real value.
    t : float or array_like, broadcastable
        Time >= 0.
    s0_sq : float or array_like, broadcastable
        Initial variance >= 0.

    Returns
    -------
    ndarray, shape broadcast(j, t, s0_sq)
        c(t; j), float64.

    Notes
    -----
        c(t; j) = s0^2 e^(-2 j t) + (1 - e^(-2 j t)) / j,

    equal to s0^2 + 2 t at j = 0; the second term is evaluated as
    -expm1(-2 j t) / j.  It is strictly decreasing in j for t > 0 and takes
    every value in (0, inf).
    """
    j, t, s0_sq = _real(j, "j"), _positive(t, "t", allow_zero=True), _positive(s0_sq, "s0_sq", allow_zero=True)
    return _out(_continuous_variance(j, t, s0_sq))


def _continuous_variance(j, t, s0_sq):
    with np.errstate(all="ignore"):
        return _times(s0_sq, np.exp(-2.0 * j * t)) + _expm1_ratio(j, 2.0 * t)


def continuous_mean(j, h, t, m0=0.0):
    """Mean at time ``t`` of the Langevin diffusion along an eigenvector of J.

    Parameters
    ----------
    j, h : array_like, broadcastable
        Eigenvalue of J and field component.
    t : float or array_like, broadcastable
        Time >= 0.
    m0 : float or array_like, broadcastable
        Initial mean (default 0).

    Returns
    -------
    ndarray, shape broadcast(j, h, t, m0)

    Notes
    -----
        m(t) = m0 e^(-j t) + h (1 - e^(-j t)) / j,     m(t) = m0 + h t at j = 0.
    """
    j, h, m0, t = _real(j, "j"), _real(h, "h"), _real(m0, "m0"), _positive(t, "t", allow_zero=True)
    with np.errstate(all="ignore"):
        return _out(_times(m0, np.exp(-j * t)) + _times(h, _expm1_ratio(j, t)))


def stationary_variance(j, eps=None):
    """Equilibrium variance of the Langevin chain along an eigenvector of J.

    Parameters
    ----------
    j : array_like
        Eigenvalue of J.
    eps : float, array_like or None
        Step size; ``None`` for continuous time.

    Returns
    -------
    ndarray, shape broadcast(j, eps)
        2 / (j (2 - eps j)) for 0 < eps j < 2 (the c_n -> c_inf limit of the
        discrete chain), 1 / j for j > 0 in continuous time; NaN where the
        chain has no equilibrium.
    """
    j = _real(j, "j")
    if eps is None:
        eps, stable = 0.0, j > 0
    else:
        eps = _positive(eps, "eps")
        stable = (j > 0) & (eps * j < 2.0)
    with np.errstate(all="ignore"):
        return _out(np.where(stable, 2.0 / (j * (2.0 - eps * j)), np.nan))


def critical_variance(k, eps, s0_sq):
    """Data variance above which the Rdm-k eigenvalue is negative: c_k(0) = s0^2 + 2 k eps.

    Parameters
    ----------
    k : int or array_like of int
        Steps >= 1.
    eps : float or array_like, broadcastable
        Step size > 0.
    s0_sq : float or array_like, broadcastable
        Variance of p0, >= 0.

    Returns
    -------
    ndarray, shape broadcast(k, eps, s0_sq)

    Notes
    -----
    At j = 0 (a = 1) the k-step variance is s0^2 + 2 eps k both for the
    discrete chain and in continuous time (t = k eps).  Since c is strictly
    decreasing in j, the Rdm-k root is j < 0, i.e. the energy is unbounded
    below along that eigenvector, iff lambda > s0^2 + 2 k eps.
    """
    k, eps = _steps(k, "k", minimum=1), _positive(eps, "eps")
    return _out(_positive(s0_sq, "s0_sq", allow_zero=True) + 2.0 * k * eps)


# --- Rdm-k, ML and CD/PCD eigenvalues ---------------------------------------------------------------------------

def _float_key(x):
    """int64 keys in the order of the float64 values (-0.0 and 0.0 both map to 0)."""
    bits = np.array(x, dtype=np.float64).view(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFFFFFFFFFF), bits)


def _key_float(key):
    """Inverse of ``_float_key``."""
    magnitude = np.array(np.abs(key), dtype=np.int64).view(np.float64)
    return np.where(key < 0, -magnitude, magnitude)


def _solve_decreasing(func, target, lo, hi, active):
    """Root of a decreasing ``func(j) = target`` in [lo, hi], elementwise, to adjacent doubles.

    Bisection on the integer keys of the doubles: each step halves the number
    of doubles left in the bracket, so at most 64 steps reach two adjacent
    doubles whatever the bracket.  Of those two, the one with the smaller
    residual is returned (on a tie the one nearer 0).  Requires
    func(lo) >= target >= func(hi) (only interior points are evaluated, so a
    residual of rounding size at an end is harmless).
    """
    lo_key, hi_key = _float_key(lo), _float_key(hi)
    for _ in range(66):
        mid = (lo_key & hi_key) + ((lo_key ^ hi_key) >> 1)  # floor average, no overflow
        moving = active & (mid != lo_key)
        if not moving.any():
            break
        below = func(_key_float(mid)) > target  # the root lies above mid
        lo_key = np.where(moving & below, mid, lo_key)
        hi_key = np.where(moving & ~below, mid, hi_key)
    lo, hi = _key_float(lo_key), _key_float(hi_key)
    with np.errstate(all="ignore"):
        miss_lo, miss_hi = np.abs(func(lo) - target), np.abs(func(hi) - target)
    pick_lo = (miss_lo < miss_hi) | ((miss_lo == miss_hi) & (np.abs(lo) < np.abs(hi)))  # ties: nearer 0
    return np.where(pick_lo, lo, hi)


def rdm_eigenvalue(data_variance, k, eps, s0_sq, continuous=False):
    """Rdm-k fixed-point eigenvalue j*: the k-step variance from p0 equals the data variance.

    Parameters
    ----------
    data_variance : array_like
        lambda, data variance(s) along the eigenvectors of the data covariance.
    k : int or array_like of int, broadcastable
        Number of Langevin steps per gradient estimate, >= 1.
    eps : float or array_like, broadcastable
        Langevin step size, > 0.
    s0_sq : float or array_like, broadcastable
        Variance s0^2 >= 0 of p0 (see ``init_variance``).
    continuous : bool
        Solve the continuous-time equation at t = k eps instead of the
        discrete map.

    Returns
    -------
    ndarray, shape broadcast(data_variance, k, eps, s0_sq)
        j*, float64; NaN where no root exists (see Notes).

    Notes
    -----
    Discrete map (default): solve c_k(j) = lambda with c_k from
    ``langevin_variance``.  As a function of q = a^2, c_k = q^k s0^2 +
    2 eps sum_{s<k} q^s is increasing, so c_k(j) is strictly decreasing on
    the domain used here, j <= 1/eps (0 <= a <= 1 for j >= 0, docs/theory.md's
    eps j < 1), from +inf down to c_k(1/eps) = 2 eps.  Hence:

    * lambda >= 2 eps: a unique root, returned to adjacent doubles
      (lambda = 2 eps gives j = 1/eps: a = 0, one step forgets p0);
    * lambda < 2 eps: no root at any j, because c_k(j) >= 2 eps for every
      real j (every step adds 2 eps of variance): NaN.  Training then
      drives j up without bound (past 2/eps the chain diverges);
    * k = 1 with s0 = 0: c_1 = 2 eps whatever j (one step from a point mass
      only adds the noise), so j is not determined: NaN for every lambda.

    The mirror value 2/eps - j* (a -> -a) gives the same variance at every
    step but is not returned: it lies where c_k increases with j, so there
    the gradient dJ ~ (c_k - lambda)/2 pushes j away from it (an unstable
    fixed point), while j* is attracting.

    Continuous time (t = k eps): solve c(t; j) = lambda with c from
    ``continuous_variance``, strictly decreasing from +inf to 0 on the whole
    real line, so every lambda > 0 has a unique root; NaN for lambda <= 0.

    In both cases j* < 0 (energy unbounded along that direction) iff
    lambda > s0^2 + 2 k eps (``critical_variance``), j* = 0 at equality.
    The bracket is [0, 1/eps] (discrete) or [0, 2^m / lambda] (continuous)
    when lambda < s0^2 + 2 k eps and [-2^m / (k eps), 0] otherwise, with m
    the smallest integer that brackets the root.
    """
    lam = _real(data_variance, "data_variance")
    k = _steps(k, "k", minimum=1)
    eps, s0_sq = _positive(eps, "eps"), _positive(s0_sq, "s0_sq", allow_zero=True)
    lam, k, eps, s0_sq = np.broadcast_arrays(lam, k, eps, s0_sq)
    t = k * eps
    if continuous:
        def variance(j):
            return _continuous_variance(j, t, s0_sq)
        valid = np.isfinite(lam) & (lam > 0)
    else:
        def variance(j):
            return _discrete_variance(j, k, eps, s0_sq)
        valid = np.isfinite(lam) & (lam >= 2.0 * eps) & ((k > 1) | (s0_sq > 0))
    lam_safe = np.where(valid, lam, 1.0)
    at_zero = variance(np.zeros_like(lam_safe))  # c(0) = s0^2 + 2 k eps
    negative = lam_safe > at_zero
    with np.errstate(all="ignore"):
        lo = np.where(valid & negative, -1.0 / t, 0.0)
        hi = np.where(valid & ~negative, 1.0 / eps if not continuous else 1.0 / lam_safe, 0.0)
        for _ in range(2100):  # doubling from a finite start reaches the largest double in < 2100 steps
            grow_lo = valid & negative & (variance(lo) < lam_safe)
            grow_hi = valid & ~negative & (variance(hi) > lam_safe) if continuous else np.zeros_like(valid)
            if not (grow_lo.any() or grow_hi.any()):
                break
            lo = np.where(grow_lo, 2.0 * lo, lo)
            hi = np.where(grow_hi, 2.0 * hi, hi)
        root = _solve_decreasing(variance, lam_safe, lo, hi, valid)
    root = np.where(lam_safe == at_zero, 0.0, root)  # exact: rounding noise in c near j = 0 could move it
    return _out(np.where(valid, root, np.nan))


def lambert_w(x, branch=0):
    """Real branches 0 and -1 of the Lambert W function (w e^w = x).

    Parameters
    ----------
    x : array_like
        Arguments; branch 0 is real for x >= -1/e, branch -1 for -1/e <= x <= 0.
        The double nearest to -1/e (which lies just below -1/e) is treated as
        the branch point.
    branch : {0, -1}

    Returns
    -------
    ndarray, shape of x
        W_branch(x) in float64; W_0 >= -1, W_{-1} <= -1; W_{-1}(0) = -inf,
        W_0(inf) = inf; NaN outside the real domain.

    Notes
    -----
    Initial guess: the branch-point series W = -1 + p - p^2/3 + 11 p^3/72 -
    ... with p = +-sqrt(2 e (x + 1/e)) (sign + for branch 0) for x < -1/4,
    Winitzki's log1p formula (branch 0) or log(-x) - log(-log(-x)) + ...
    (branch -1) otherwise.  Then Halley steps on f(w) = w e^w - x until the
    step is below two ulps (at most 10).  For |w + 1| <= 1/2 the residual
    is evaluated as (h(v) / e) - (x + 1/e) with v = w + 1,
    h(v) = 1 - (1 - v) e^v = sum_{n>=2} (n - 1) v^n / n!, and 1/e held as a
    double-double, so that the result keeps full relative precision there
    too: about 1 ulp everywhere, checked against 50-digit arithmetic.
    (scipy.special.lambertw loses digits within about 2e-3 of -1/e, as its
    documentation warns.)
    """
    if branch not in (0, -1):
        raise ValueError(f"branch: expected 0 or -1, got {branch!r}")
    x = _real(x, "x")
    with np.errstate(all="ignore"):
        dx = (x + _INV_E_HI) + _INV_E_LO  # x + 1/e to ~1 ulp of itself
        in_domain = (x >= -_INV_E_HI) & ~np.isnan(x) & ((x <= 0) if branch == -1 else True)
        dx = np.maximum(dx, 0.0)
        x = np.where(in_domain, x, -0.25)
        sign = 1.0 if branch == 0 else -1.0
        p = sign * np.sqrt(2.0 * np.e * dx)
        near = x < -0.25
        series = -1.0 + p * (1.0 + p * (-1.0 / 3 + p * (11.0 / 72 + p * (-43.0 / 540 + p * (769.0 / 17280)))))
        if branch == 0:
            l1 = np.log1p(np.maximum(x, -0.25))
            far = l1 * (1.0 - np.log1p(l1) / (2.0 + l1))
        else:
            l1 = np.log(-np.minimum(x, -1e-300))
            l2 = np.log(-l1)
            far = l1 - l2 + l2 / l1
        w = np.where(near, series, far)
        for _ in range(10):
            v = w + 1.0
            ew = np.exp(w)
            residual = np.where(np.abs(v) <= 0.5, _branch_h(v) / np.e - dx, w * ew - x)
            slope = ew * v
            step = residual / (slope - (v + 1.0) * residual / (2.0 * v))
            step = np.where((v == 0.0) | ~np.isfinite(step), 0.0, step)
            w_new = w - step
            w_new = np.maximum(w_new, -1.0) if branch == 0 else np.minimum(w_new, -1.0)
            done = np.all(np.abs(w_new - w) <= 2.0 * np.spacing(np.abs(w_new)))
            w = w_new
            if done:
                break
        w = np.where(dx == 0.0, -1.0, w)
        if branch == -1:
            w = np.where(x == 0.0, -np.inf, w)
        else:
            w = np.where(x == np.inf, np.inf, w)
    return _out(np.where(in_domain, w, np.nan))


def _branch_h(v):
    """h(v) = 1 - (1 - v) e^v = sum_{n>=2} (n - 1) v^n / n!, for |v| <= 1/2 (Horner, truncation < 1e-20)."""
    total = np.zeros_like(v)
    for n in range(18, 1, -1):
        total = total * v + (n - 1) / float(np.prod(np.arange(1, n + 1, dtype=np.float64)))
    return total * v * v


def rdm_eigenvalue_lambert(data_variance, t):
    """Continuous-time Rdm eigenvalue for s0 = 0 in closed form (Lambert W).

    Parameters
    ----------
    data_variance : array_like
        lambda > 0.
    t : float or array_like, broadcastable
        Sampling time t = k eps > 0.

    Returns
    -------
    ndarray, shape broadcast(data_variance, t)
        j* solving (1 - e^(-2 j t)) / j = lambda; NaN for lambda <= 0.

    Notes
    -----
    With beta = lambda / (2 t) and y = 2 j t the equation is
    beta y = 1 - e^(-y).  Substituting y = (1 - z) / beta gives
    z = e^(-1/beta) e^(z/beta), i.e. (-z/beta) e^(-z/beta) = -(1/beta) e^(-1/beta), so

        z = -beta W_b(-(1/beta) e^(-1/beta)),
        y = (1 - z) / beta = 1/beta + W_b(-(1/beta) e^(-1/beta)),
        j = y / (2 t),

    which is what is implemented (docs/theory.md's form, simplified).  The
    argument is u e^u with u = -1/beta, so one branch returns W = u, the
    trivial root y = 0; the other branch gives the Rdm root: b = 0 for
    beta < 1 (W_0 in (-1, 0): y > 0, j > 0), b = -1 for beta > 1 (y < 0);
    beta = 1 gives j = 0.  Conditioning: the argument sits within
    (1 - 1/beta)^2 / (2e) of the branch point -1/e, so its rounding error
    makes the relative error of j about 1e-16 / (1 - 1/beta)^2 (1e-12 at
    beta = 1.01): use ``rdm_eigenvalue`` for accuracy near beta = 1.
    """
    lam = _real(data_variance, "data_variance")
    lam, t = np.broadcast_arrays(lam, _positive(t, "t"))
    valid = np.isfinite(lam) & (lam > 0)
    with np.errstate(all="ignore"):
        beta = np.where(valid, lam / (2.0 * t), 1.0)
        inv_beta = 1.0 / beta
        argument = np.maximum(-inv_beta * np.exp(-inv_beta), -_INV_E_HI)
        w = np.where(beta < 1.0, lambert_w(argument, 0), lambert_w(argument, -1))
        j = np.where(beta == 1.0, 0.0, (inv_beta + w) / (2.0 * t))
    return _out(np.where(valid, j, np.nan))


def ml_eigenvalue(data_variance):
    """Maximum-likelihood eigenvalue 1/lambda (equilibrium of the continuous-time dynamics).

    Returns NaN for lambda <= 0 or non-finite.
    """
    lam = _real(data_variance, "data_variance")
    with np.errstate(all="ignore"):
        return _out(np.where(np.isfinite(lam) & (lam > 0), 1.0 / lam, np.nan))


def discretised_ml_eigenvalue(data_variance, eps):
    """The eigenvalue whose discrete-Langevin equilibrium variance is lambda (the CD-k / PCD-k fixed point).

    Parameters
    ----------
    data_variance : array_like
        lambda.
    eps : float or array_like, broadcastable
        Step size > 0.

    Returns
    -------
    ndarray, shape broadcast(data_variance, eps)
        j = (1 - sqrt(1 - 2 eps / lambda)) / eps, independent of k; NaN where
        lambda < 2 eps.

    Notes
    -----
    The stationary variance of the discrete chain is 2 eps / (1 - a^2) =
    2 / (j (2 - eps j)); setting it to lambda gives eps j^2 - 2 j + 2/lambda = 0,
    whose root with eps j <= 1 is the one above.  Evaluated without
    cancellation as 2 / (lambda (1 + sqrt(1 - 2 eps / lambda))); it tends
    to 1/lambda as eps -> 0.
    """
    lam, eps = np.broadcast_arrays(_real(data_variance, "data_variance"), _positive(eps, "eps"))
    valid = np.isfinite(lam) & (lam >= 2.0 * eps)
    with np.errstate(all="ignore"):
        j = 2.0 / (lam * (1.0 + np.sqrt(1.0 - 2.0 * eps / lam)))
    return _out(np.where(valid, j, np.nan))


# --- fields ---------------------------------------------------------------------------------------------------

def rdm_field(j, data_mean, k, eps, m0=0.0, continuous=False):
    """Rdm-k fixed-point field component: the k-step mean from p0 equals the data mean.

    Parameters
    ----------
    j : array_like
        Eigenvalue(s) of J* (e.g. from ``rdm_eigenvalue``).
    data_mean : array_like, broadcastable
        mu, the data mean along the corresponding eigenvectors.
    k : int or array_like of int, broadcastable
        Steps >= 1.
    eps : float or array_like, broadcastable
        Step size > 0.
    m0 : float or array_like, broadcastable
        Mean of p0 along the eigenvectors (default 0).
    continuous : bool
        Continuous time t = k eps.

    Returns
    -------
    ndarray, shape broadcast of the inputs
        h_a, float64 (inf or NaN where the k-step mean does not depend on h,
        i.e. a^k = 1 with a != 1: a = -1, k even).

    Notes
    -----
    Solving m_k = mu (``langevin_mean``) for h:

        h = j (mu - a^k m0) / (1 - a^k) = (mu - a^k m0) / (eps sum_{s<k} a^s),

    which is j mu / (1 - a^k) for m0 = 0 and mu / (k eps) at j = 0.
    Continuous time: h = j (mu - e^(-j t) m0) / (1 - e^(-j t)), t = k eps,
    with j = 0 value mu / t.
    """
    j, mu, m0 = _real(j, "j"), _real(data_mean, "data_mean"), _real(m0, "m0")
    k, eps = _steps(k, "k", minimum=1), _positive(eps, "eps")
    with np.errstate(all="ignore"):
        if continuous:
            power, reach = np.exp(-j * k * eps), _expm1_ratio(j, k * eps)
        else:
            power, total = _power_and_sum(-eps * j, k)
            reach = eps * total
        return _out((mu - _times(m0, power)) / reach)


def equilibrium_overshoot(j, k, eps, continuous=False):
    """Ratio of the equilibrium mean h/j to the data mean for the Rdm-k field with m0 = 0.

    Parameters
    ----------
    j : array_like
        Eigenvalue(s) of J*.
    k : int or array_like of int, broadcastable
    eps : float or array_like, broadcastable
    continuous : bool

    Returns
    -------
    ndarray
        1 / (1 - a^k) (discrete) or 1 / (1 - e^(-j k eps)) (continuous), > 1;
        NaN where the chain has no equilibrium: j <= 0, or eps j >= 2 for the
        discrete chain.

    Notes
    -----
    The equilibrium mean of the chain is h/j (fixed point of
    m = a m + eps h); with h = j mu / (1 - a^k) it is mu / (1 - a^k): the
    model overshoots the data mean once sampled past k steps.
    """
    j, k, eps = _real(j, "j"), _steps(k, "k", minimum=1), _positive(eps, "eps")
    with np.errstate(all="ignore"):
        if continuous:
            stable, reach = j > 0, _expm1_ratio(j, k * eps)
        else:
            stable = (j > 0) & (eps * j < 2.0)
            reach = eps * _power_and_sum(-eps * j, k)[1]
        return _out(np.where(stable, 1.0 / (j * reach), np.nan))


# --- whole model ------------------------------------------------------------------------------------------------

def init_variance(init="uniform", init_scale=1.0):
    """Per-coordinate variance s0^2 of the p0 law of the Rdm-k chains.

    Parameters
    ----------
    init : {"zeros", "uniform", "gaussian"}
        All chains at 0; uniform on [-init_scale, init_scale]; Gaussian with
        standard deviation init_scale.
    init_scale : float
        >= 0 (ignored for "zeros").

    Returns
    -------
    float
        0, init_scale^2 / 3 or init_scale^2.
    """
    check_choice(init, "init", P0_LAWS)
    scale = check_positive_float(init_scale, "init_scale", allow_zero=True)
    return {"zeros": 0.0, "uniform": scale**2 / 3.0, "gaussian": scale**2}[init]


@dataclasses.dataclass(frozen=True)
class GaussianPrediction:
    """Predicted Rdm-k fixed point (J*, h*) of a Gaussian energy model for one data set.

    Attributes
    ----------
    data_mean : ndarray, shape (N,)
        mu.
    data_variances : ndarray, shape (N,)
        lambda_a, eigenvalues of the population (ddof=0) data covariance, descending.
    eigenvectors : ndarray, shape (N, N)
        V, column a the eigenvector of lambda_a (shared by J*).
    eigenvalues : ndarray, shape (N,)
        j*_a from ``rdm_eigenvalue`` (NaN where ``unmatched``).
    ml_eigenvalues : ndarray, shape (N,)
        1 / lambda_a.
    discretised_ml_eigenvalues : ndarray, shape (N,)
        CD-k / PCD-k value (1 - sqrt(1 - 2 eps / lambda_a)) / eps.
    coupling_matrix : ndarray, shape (N, N)
        J* = V diag(j*) V^T, exactly symmetric (all NaN if any mode is unmatched).
    field : ndarray, shape (N,)
        h* = V h_eig, h_eig,a = j*_a (V^T mu)_a / (1 - a_a^k) (m0 = 0).  Not J* mu:
        it exceeds the equilibrium field by the factor ``equilibrium_overshoot``.
    s0_sq : float
        Variance of p0 per coordinate.
    k : int
    eps : float
    continuous : bool
    unbounded : ndarray of bool, shape (N,)
        j*_a < 0: energy unbounded below, no equilibrium; equivalently
        lambda_a > s0^2 + 2 k eps.
    unmatched : ndarray of bool, shape (N,)
        No fixed point (discrete map: lambda_a < 2 eps; continuous: lambda_a = 0).
    """

    data_mean: np.ndarray
    data_variances: np.ndarray
    eigenvectors: np.ndarray
    eigenvalues: np.ndarray
    ml_eigenvalues: np.ndarray
    discretised_ml_eigenvalues: np.ndarray
    coupling_matrix: np.ndarray
    field: np.ndarray
    s0_sq: float
    k: int
    eps: float
    continuous: bool
    unbounded: np.ndarray
    unmatched: np.ndarray


def spectrum_along(coupling_matrix, eigenvectors):
    """v_a^T J v_a for every column v_a of ``eigenvectors``: a learned J along the data's principal axes.

    Parameters
    ----------
    coupling_matrix : array_like, shape (N, N)
    eigenvectors : ndarray, shape (N, N)
        Columns v_a (``GaussianPrediction.eigenvectors``).

    Returns
    -------
    ndarray, shape (N,), float64
        Equal to the eigenvalues of J in that order when J shares the data's eigenvectors (as J* does).
    """
    V = np.asarray(eigenvectors, dtype=np.float64)
    return np.einsum("ia,ij,ja->a", V, np.asarray(coupling_matrix, dtype=np.float64), V)


def predict_model_process(model, data):
    """``predict_gaussian_rdm`` for ``data`` under the Rdm-k process a Gaussian ``model`` recorded.

    Returns
    -------
    (GaussianPrediction, ndarray of shape (N,))
        The prediction and the model's J along its eigenvectors (``spectrum_along``).
    """
    process = model.process
    prediction = predict_gaussian_rdm(data, process["k"], process["step_size"], init=process.get("init", "uniform"),
                                      init_scale=process.get("init_scale", 1.0))
    return prediction, spectrum_along(model.coupling_matrix, prediction.eigenvectors)


def predict_gaussian_rdm(data, k, eps, init="uniform", init_scale=1.0, continuous=False):
    """Rdm-k fixed point of a Gaussian energy model trained on ``data`` with Langevin sampling.

    Parameters
    ----------
    data : array_like, shape (num_samples, N)
        Real data, finite.
    k : int
        Langevin steps per gradient estimate, >= 1.
    eps : float
        Langevin step size, > 0.
    init : {"zeros", "uniform", "gaussian"}
        p0 law (mean zero), see ``init_variance``.
    init_scale : float
        Half-width (uniform) or standard deviation (gaussian) of p0.
    continuous : bool
        Use the continuous-time dynamics at t = k eps.

    Returns
    -------
    GaussianPrediction

    Notes
    -----
    The Rdm-k conditions <xx^T>_{T^k p0} = <xx^T>_data and
    <x>_{T^k p0} = <x>_data are solved with J* = V diag(j*) V^T, V the
    eigenvectors of the data covariance C = V diag(lambda) V^T: since p0 has
    covariance s0^2 I, the k-step covariance is diagonal in the eigenbasis of
    J, so C_k = C holds mode by mode (``rdm_eigenvalue``), and so does the
    mean (``rdm_field``).  Along modes with lambda_a > s0^2 + 2 k eps,
    j*_a < 0 (``unbounded``).
    """
    array = np.asarray(data)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"data: expected a non-empty 2-d array (samples x units), got shape {array.shape}")
    array = _real(array, "data")
    if not np.isfinite(array).all():
        raise ValueError("data: expected finite values")
    k = check_int(k, "k", minimum=1)
    eps = check_positive_float(eps, "eps")
    s0_sq = init_variance(init, init_scale)
    mean = array.mean(axis=0)
    centred = array - mean
    covariance = centred.T @ centred / array.shape[0]
    variances, vectors = np.linalg.eigh(covariance)
    variances, vectors = variances[::-1], np.ascontiguousarray(vectors[:, ::-1])
    j = rdm_eigenvalue(variances, k, eps, s0_sq, continuous=continuous)
    coupling = (vectors * j) @ vectors.T
    coupling = 0.5 * (coupling + coupling.T)
    field = vectors @ rdm_field(j, vectors.T @ mean, k, eps, continuous=continuous)
    return GaussianPrediction(
        data_mean=mean, data_variances=variances, eigenvectors=vectors, eigenvalues=j,
        ml_eigenvalues=ml_eigenvalue(variances), discretised_ml_eigenvalues=discretised_ml_eigenvalue(variances, eps),
        coupling_matrix=coupling, field=field, s0_sq=s0_sq, k=k, eps=eps, continuous=continuous,
        unbounded=j < 0, unmatched=np.isnan(j))


# --- independent spins (docs/theory.md section 3) ---------------------------------------------------------------------
#
# +-1 spins with energy E = -h^T s (J = 0), p0 uniform (m(0) = 0), single-site kernels as in
# ``bmsample.ising.exact``: heat-bath s_i <- +1 with probability sigmoid(2 H_i); Metropolis flips s_i with
# probability min(1, exp(-2 s_i H_i)); a sweep is N updates (sites in order, or N uniformly random sites).

#: Sweep kinds known to the independent-spin formulas (the names of ``bmsample.ising.sample``).
SPIN_SAMPLERS = ("heat-bath", "random-site", "metropolis")

__all__ += [
    "SPIN_SAMPLERS", "independent_divergence_threshold", "independent_magnetisation", "independent_rdm_field",
]


def _spin_sampler(sampler, num_spins):
    """Validate ``sampler``; ``num_spins`` (an int >= 1) is required for "random-site" and checked if given."""
    check_choice(sampler, "sampler", SPIN_SAMPLERS)
    if num_spins is None:
        if sampler == "random-site":
            raise ValueError("num_spins: required for sampler 'random-site' (q_k = (1 - 1/N)^(kN)), got None")
        return None
    return check_int(num_spins, "num_spins", minimum=1)


def _random_site_reach(k, num_spins):
    """1 - q_k, q_k = (1 - 1/N)^(kN): the probability that a given site was updated in k random-site sweeps."""
    with np.errstate(all="ignore"):
        if num_spins == 1:
            return np.where(k == 0, 0.0, 1.0)
        return -np.expm1(k * num_spins * np.log1p(-1.0 / num_spins))


def _metropolis_factor(x, k):
    """1 - (-a)^k with a = exp(-2x), x >= 0, k >= 0, without cancellation (1 at k odd or x = inf, 0 at k = 0)."""
    with np.errstate(all="ignore"):
        decay = _times(k, x)  # k x with 0 * inf = 0
        return np.where(np.mod(k, 2) == 1, 1.0 + np.exp(-2.0 * decay), -np.expm1(-2.0 * decay))


def _metropolis_abs_m(x, k):
    """|m(k)| = tanh(x) (1 - (-a)^k) for |h| = x >= 0."""
    with np.errstate(all="ignore"):
        a = np.exp(-2.0 * x)
        return -np.expm1(-2.0 * x) / (1.0 + a) * _metropolis_factor(x, k)


def _metropolis_gap(x, k):
    """1 - |m(k)| = (2a + (1 - a)(-a)^k) / (1 + a), a = exp(-2x): full relative precision as x -> inf."""
    with np.errstate(all="ignore"):
        a = np.exp(-2.0 * x)
        power = np.where(np.mod(k, 2) == 1, -1.0, 1.0) * np.exp(-2.0 * _times(k, x))
        return (2.0 * a - np.expm1(-2.0 * x) * power) / (1.0 + a)


def independent_magnetisation(h, k, sampler, num_spins=None):
    """Magnetisation of independent +-1 spins after ``k`` sweeps from the uniform law.

    Parameters
    ----------
    h : array_like
        Field(s) h_i (any real value, +-inf allowed).
    k : int or array_like of int, broadcastable
        Number of sweeps, >= 0 (k = 0 gives m = 0).
    sampler : {"heat-bath", "random-site", "metropolis"}
        Sequential heat-bath, heat-bath at N uniformly random sites per
        sweep, or sequential Metropolis.
    num_spins : int, optional
        N, required for "random-site" (it sets q_k); ignored otherwise.

    Returns
    -------
    ndarray, shape broadcast(h, k)
        m(k), float64 (NumPy scalar for scalar input).

    Notes
    -----
    Spins s_i in {-1, +1}, J = 0, so every spin evolves on its own (the
    random-site joint law is not a product, but each marginal is exact).
    With a = exp(-2|h|) (docs/theory.md section 3, each formula re-derived and
    checked against ``bmsample.ising.exact``):

    * sequential heat-bath: one update draws s_i from its conditional
      whatever its value, so m(k) = tanh h for every k >= 1;
    * random-site heat-bath: a site is updated with probability 1/N per
      update, m_{n+1} = (1 - 1/N) m_n + tanh(h) / N, so
      m(k) = tanh(h) (1 - q_k), q_k = (1 - 1/N)^(kN) (~ e^-k);
    * sequential Metropolis (h > 0): the aligned spin flips with probability
      a, the other always, so m' = (1 - a) - a m, whose fixed point is
      tanh h, hence m(k) = tanh(h) (1 - (-a)^k) (odd in h).

    1 - (-a)^k is evaluated as 1 + e^(-2k|h|) (odd k) or -expm1(-2k|h|)
    (even k), so m keeps full relative precision as h -> 0; for even k,
    m ~ 2k h |h| there (flat at h = 0).
    """
    h = _real(h, "h")
    k = _steps(k, "k")
    num_spins = _spin_sampler(sampler, num_spins)
    h, k = np.broadcast_arrays(h, k)
    if sampler == "heat-bath":
        m = np.where(k >= 1, np.tanh(h), 0.0)
    elif sampler == "random-site":
        m = np.tanh(h) * _random_site_reach(k, num_spins)
    else:
        m = np.sign(h) * _metropolis_abs_m(np.abs(h), k)
    return _out(m)


def independent_divergence_threshold(k, sampler, num_spins=None):
    """Largest |m| reachable in ``k`` sweeps from the uniform law by independent spins (supremum over h).

    Parameters
    ----------
    k : int or array_like of int
        Sweeps, >= 1.
    sampler : {"heat-bath", "random-site", "metropolis"}
    num_spins : int, optional
        N, required for "random-site".

    Returns
    -------
    ndarray, shape of k
        1 - q_k = 1 - (1 - 1/N)^(kN) for "random-site"; 1 for "heat-bath" and
        "metropolis".  The supremum is approached as |h| -> inf and never
        attained: data with |m_data| >= threshold have no finite Rdm-k field,
        and Rdm-k training drives |h| to infinity (diverges).

    Notes
    -----
    Metropolis: with a = exp(-2|h|) in (0, 1], |m(k)| = (1 - a)(1 - (-a)^k) /
    (1 + a) tends to 1 as a -> 0 and is strictly decreasing in a, i.e.
    strictly increasing in |h|, for every k >= 1:

    * k even: (1 - a)/(1 + a) and 1 - a^k are both positive and decreasing;
    * k odd: d log|m| / da = -2 / (1 - a^2) + k a^(k-1) / (1 + a^k) < 0,
      because max_a k a^(k-1) (1 - a^2) = (2k / (k + 1)) ((k - 1)/(k + 1))^((k-1)/2)
      < 2 <= 2 (1 + a^k).

    So |m(k)| never fails to be monotone and sweeps out [0, 1): the threshold
    is 1 for every k, and the Rdm-k field is unique.  (Odd k overshoots the
    equilibrium: |m(k)| > tanh|h|, yet stays below 1 since
    (1 - a)(1 + a^k) < 1 + a.)
    """
    k = _steps(k, "k", minimum=1)
    num_spins = _spin_sampler(sampler, num_spins)
    if sampler == "random-site":
        return _out(_random_site_reach(k, num_spins))
    return _out(np.ones_like(k))


def independent_rdm_field(data_magnetisation, k, sampler, num_spins=None):
    """Rdm-k field of independent spins: the field whose k-sweep magnetisation from uniform equals the data's.

    Parameters
    ----------
    data_magnetisation : array_like
        m_data per spin, in (-1, 1).
    k : int or array_like of int, broadcastable
        Sweeps per gradient estimate, >= 1.
    sampler : {"heat-bath", "random-site", "metropolis"}
    num_spins : int, optional
        N, required for "random-site".

    Returns
    -------
    ndarray, shape broadcast(data_magnetisation, k)
        h solving ``independent_magnetisation(h, k, sampler) = m_data``;
        NaN where no finite field exists, i.e. |m_data| >=
        ``independent_divergence_threshold`` (always for |m_data| >= 1) or
        m_data not finite.

    Notes
    -----
    The Rdm-k fixed point of an independent-spin model is m(k; h) = m_data:

    * sequential heat-bath: h = atanh(m) for every k (Rdm-k = ML);
    * random-site: h = atanh(m / (1 - q_k)), none when |m| >= 1 - q_k;
    * sequential Metropolis, k = 1: |m| = 1 - e^(-2|h|), so
      h = -1/2 log(1 - |m|) sign(m) (docs/theory.md); k >= 2: |m(k)| is strictly
      increasing in |h| from 0 to 1 (``independent_divergence_threshold``),
      so the root is unique and found by bisection on the doubles of |h| in
      [0, 1/2 log(3 / (1 - |m|)) + 1/2] (at most 64 steps, to adjacent
      doubles).  For |m| > 1/2 it solves 1 - |m(k)| = 1 - |m| with the gap
      written as (2a + (1 - a)(-a)^k) / (1 + a), a = e^(-2|h|), which keeps
      full relative precision as |m| -> 1; below, |m(k)| = |m| directly.

    atanh(r) with r = |m| / R (R = 1 or 1 - q_k) is evaluated as
    1/2 log((R + |m|) / (R - |m|)) for r > 1/2, so that R - |m| is exact.
    """
    m = _real(data_magnetisation, "data_magnetisation")
    k = _steps(k, "k", minimum=1)
    num_spins = _spin_sampler(sampler, num_spins)
    m, k = np.broadcast_arrays(m, k)
    magnitude = np.abs(m)
    with np.errstate(all="ignore"):
        if sampler == "metropolis":
            valid = np.isfinite(m) & (magnitude < 1.0)
            safe = np.where(valid, magnitude, 0.0)
            gap = 1.0 - safe
            use_gap = safe > 0.5

            def func(x):
                return np.where(use_gap, _metropolis_gap(x, k), -_metropolis_abs_m(x, k))

            target = np.where(use_gap, gap, -safe)
            hi = 0.5 * np.log(3.0 / gap) + 0.5  # there 1 - |m(k)| <= 3a < 1 - |m|
            root = _solve_decreasing(func, target, np.zeros_like(safe), hi, valid & (k > 1) & (safe > 0))
            root = np.where(k == 1, -0.5 * np.log1p(-safe), root)
            field = np.where(safe == 0.0, 0.0, root)
        else:
            reach = np.ones_like(k) if sampler == "heat-bath" else _random_site_reach(k, num_spins)
            valid = np.isfinite(m) & (magnitude < reach)
            ratio = magnitude / reach
            field = np.where(ratio > 0.5, 0.5 * np.log((reach + magnitude) / (reach - magnitude)), np.arctanh(ratio))
    return _out(np.where(valid, np.sign(m) * field, np.nan))
