"""Vectorisable elementary functions for the Numba kernels.

LLVM only vectorises a loop that calls ``exp`` when a vector maths library is
linked, which Numba does not do by default.  The sampling passes of the
kernels evaluate one sigmoid per unit, so a scalar ``exp`` call would cost
more than the matrix products it has to hide behind.  ``fast_exp`` is a
Cody-Waite range reduction with a Taylor polynomial and an exponent built by
bit-casting, all of which LLVM turns into SIMD code.

Accuracy: relative error below 4e-7 for float32 and below 5e-15 for float64 on
the whole range where the result is a normal number; inputs are clamped so the
result never overflows or becomes subnormal.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from ._jit import KERNEL_FASTMATH, helper

_LOG2E = 1.4426950408889634
# ln 2 split so that n * _LN2_HI is exact for |n| < 2**10 (float32) / 2**20.
_LN2_HI_32, _LN2_LO_32 = 0.693359375, -2.12194440e-4
_LN2_HI_64, _LN2_LO_64 = 6.93147180369123816490e-01, 1.90821492927058770002e-10


@intrinsic
def _int32_bits_as_float32(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@intrinsic
def _int64_bits_as_float64(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


def fast_exp(x):
    """exp(x) for float32 or float64 scalars inside Numba kernels (see module doc)."""
    return np.exp(x)


@overload(fast_exp, inline="always", fastmath=KERNEL_FASTMATH)
def _fast_exp_overload(x):
    if x == types.float32:

        def impl(x):
            x = min(max(x, np.float32(-87.0)), np.float32(88.0))
            n = np.floor(x * np.float32(_LOG2E) + np.float32(0.5))
            r = x - n * np.float32(_LN2_HI_32) - n * np.float32(_LN2_LO_32)
            p = np.float32(1.0 / 5040.0)
            p = p * r + np.float32(1.0 / 720.0)
            p = p * r + np.float32(1.0 / 120.0)
            p = p * r + np.float32(1.0 / 24.0)
            p = p * r + np.float32(1.0 / 6.0)
            p = p * r + np.float32(0.5)
            p = p * r + np.float32(1.0)
            p = p * r + np.float32(1.0)
            return p * _int32_bits_as_float32((np.int32(n) + np.int32(127)) << np.int32(23))

        return impl
    if x == types.float64:

        def impl(x):
            x = min(max(x, -708.0), 709.0)
            n = np.floor(x * _LOG2E + 0.5)
            r = x - n * _LN2_HI_64 - n * _LN2_LO_64
            p = 1.0 / 6227020800.0
            p = p * r + 1.0 / 479001600.0
            p = p * r + 1.0 / 39916800.0
            p = p * r + 1.0 / 3628800.0
            p = p * r + 1.0 / 362880.0
            p = p * r + 1.0 / 40320.0
            p = p * r + 1.0 / 5040.0
            p = p * r + 1.0 / 720.0
            p = p * r + 1.0 / 120.0
            p = p * r + 1.0 / 24.0
            p = p * r + 1.0 / 6.0
            p = p * r + 0.5
            p = p * r + 1.0
            p = p * r + 1.0
            return p * _int64_bits_as_float64((np.int64(n) + np.int64(1023)) << np.int64(52))

        return impl
    return None


def one_like(x):
    """1 in the dtype of the float scalar ``x``.

    Inside kernels ``x - x + 1`` would not do: Numba types float32 + int as
    float64, which halves the SIMD width and adds conversions.
    """
    return np.asarray(x).dtype.type(1)


@overload(one_like, inline="always")
def _one_like_overload(x):
    if x == types.float32:
        return lambda x: np.float32(1.0)
    if x == types.float64:
        return lambda x: 1.0
    return None


@helper
def fast_sigmoid(x):
    """1 / (1 + exp(-x)) in the dtype of ``x``."""
    one = one_like(x)
    return one / (one + fast_exp(-x))


@intrinsic
def _float32_bits_as_int32(typingctx, value):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def _float64_bits_as_int64(typingctx, value):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


def fast_log(x):
    """log(x) for positive normal float32/float64 scalars inside Numba kernels.

    The exponent is read from the bits; the mantissa m in [sqrt(1/2), sqrt(2))
    goes through log m = 2 atanh((m - 1) / (m + 1)) as an odd series (5 terms
    for float32, 11 for float64).  Relative error below 3e-7 / 5e-16.
    """
    return np.log(x)


@overload(fast_log, inline="always", fastmath=KERNEL_FASTMATH)
def _fast_log_overload(x):
    if x == types.float32:

        def impl(x):
            bits = _float32_bits_as_int32(x)
            exponent = np.float32((bits >> np.int32(23)) - np.int32(127))
            m = _int32_bits_as_float32((bits & np.int32(0x007FFFFF)) | np.int32(0x3F800000))
            big = np.float32(m > np.float32(1.4142135))  # arithmetic, not a branch: keeps SIMD
            m = m * (np.float32(1.0) - np.float32(0.5) * big)
            exponent = exponent + big
            s = (m - np.float32(1.0)) / (m + np.float32(1.0))
            s2 = s * s
            p = np.float32(1.0 / 9.0)
            p = p * s2 + np.float32(1.0 / 7.0)
            p = p * s2 + np.float32(1.0 / 5.0)
            p = p * s2 + np.float32(1.0 / 3.0)
            p = p * s2 + np.float32(1.0)
            return np.float32(2.0) * s * p + exponent * np.float32(_LN2_HI_32) + exponent * np.float32(_LN2_LO_32)

        return impl
    if x == types.float64:

        def impl(x):
            bits = _float64_bits_as_int64(x)
            exponent = np.float64((bits >> np.int64(52)) - np.int64(1023))
            m = _int64_bits_as_float64((bits & np.int64(0x000FFFFFFFFFFFFF)) | np.int64(0x3FF0000000000000))
            big = np.float64(m > 1.4142135623730951)
            m = m * (1.0 - 0.5 * big)
            exponent = exponent + big
            s = (m - 1.0) / (m + 1.0)
            s2 = s * s
            p = 1.0 / 21.0
            p = p * s2 + 1.0 / 19.0
            p = p * s2 + 1.0 / 17.0
            p = p * s2 + 1.0 / 15.0
            p = p * s2 + 1.0 / 13.0
            p = p * s2 + 1.0 / 11.0
            p = p * s2 + 1.0 / 9.0
            p = p * s2 + 1.0 / 7.0
            p = p * s2 + 1.0 / 5.0
            p = p * s2 + 1.0 / 3.0
            p = p * s2 + 1.0
            return 2.0 * s * p + exponent * _LN2_HI_64 + exponent * _LN2_LO_64

        return impl
    return None


def fast_sincos_turns(u):
    """(sin 2 pi u, cos 2 pi u) for float32/float64 scalars inside Numba kernels.

    ``u`` is reduced exactly to a quarter turn f in [-1/8, 1/8] (exact for the
    dyadic uniforms of the samplers), then Taylor polynomials of sin and cos
    of 2 pi f and a quadrant rotation.  Absolute error below 2e-7 / 5e-16.
    """
    return np.sin(2 * np.pi * u), np.cos(2 * np.pi * u)


@overload(fast_sincos_turns, inline="always", fastmath=KERNEL_FASTMATH)
def _fast_sincos_turns_overload(u):
    if u not in (types.float32, types.float64):
        return None
    dt = np.float32 if u == types.float32 else np.float64
    # Taylor coefficients of sin and cos in phi = 2 pi f, |phi| <= pi / 4.
    terms = 5 if u == types.float32 else 9
    sin_coef = tuple(dt((-1) ** i / _factorial(2 * i + 1)) for i in range(terms))
    cos_coef = tuple(dt((-1) ** i / _factorial(2 * i)) for i in range(terms))
    two_pi = dt(2 * np.pi)

    def impl(u):
        quarter = np.floor(u * dt(4.0) + dt(0.5))
        phi = (u - quarter * dt(0.25)) * two_pi
        phi2 = phi * phi
        s = _horner(phi2, sin_coef) * phi
        c = _horner(phi2, cos_coef)
        # Rotate by quarter * pi / 2 with arithmetic selects (branches would stop SIMD).
        q = np.int64(quarter) & 3
        swap = dt(q & 1)
        sin_base = s + swap * (c - s)
        cos_base = c + swap * (s - c)
        sin_sign = dt(1.0) - dt(2.0) * dt((q >> 1) & 1)
        cos_sign = dt(1.0) - dt(2.0) * dt(((q + 1) >> 1) & 1)
        return sin_sign * sin_base, cos_sign * cos_base

    return impl


@njit(fastmath=KERNEL_FASTMATH)
def _horner(x, coefficients):
    """sum_i coefficients[i] x**i (a plain call: LLVM inlines it and keeps the loop SIMD)."""
    out = coefficients[-1]
    for i in range(len(coefficients) - 2, -1, -1):
        out = out * x + coefficients[i]
    return out


def _factorial(n):
    out = 1
    for i in range(2, n + 1):
        out *= i
    return out


def means_or(states, means):
    """``means`` where it is given, else ``states``: the output of the conditional means of a kernel whose
    ``means`` argument is optional (``None``: not stored)."""
    return states if means is None else means


@overload(means_or, inline="always")
def _means_or_overload(states, means):
    # Chosen at compile time: a kernel called without ``means`` is compiled with no store of the means, so one
    # kernel serves both uses at the speed of the separate ones (a run-time flag in the loop costs ~30 %).
    if isinstance(means, (types.NoneType, types.Omitted)):
        return lambda states, means: states
    return lambda states, means: means


@helper
def sum_products4(x, y):
    """sum_i x[i] * y[i] in float64 with four partial sums (y = ones gives a plain sum).

    Four independent accumulators break the add latency chain that a single
    one would impose without reassociation (which KERNEL_FASTMATH excludes).
    """
    n = x.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    for i in range(0, n - 3, 4):
        s0 += np.float64(x[i]) * y[i]
        s1 += np.float64(x[i + 1]) * y[i + 1]
        s2 += np.float64(x[i + 2]) * y[i + 2]
        s3 += np.float64(x[i + 3]) * y[i + 3]
    for i in range(n - n % 4, n):
        s0 += np.float64(x[i]) * y[i]
    return (s0 + s1) + (s2 + s3)
