"""Philox4x32-10 as CUDA device functions: the GPU draws the CPU's random numbers.

The same counter-based streams as ``bmsample._rng``: unit ``j`` of chain ``c``
at draw ``d`` takes word ``j % 4`` of ``philox(counter=(j // 4, c, d_lo,
d_hi), key)``.  No per-thread generator state exists: a thread computes the
block it needs from its (unit, chain, draw) coordinates, so a run's random
state stays two integers on the host (``ChainStreams``) and any thread layout
gives the numbers the CPU kernels use.

Imported only when a CUDA backend runs (it imports ``numba.cuda``).
"""

import math
from functools import lru_cache

import numpy as np
from numba import cuda, uint32, uint64

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_M0_32, _M1_32 = np.uint32(0xD2511F53), np.uint32(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


if getattr(cuda, "simulator_init", None):  # Numba's simulator: its libdevice has no implementations
    @cuda.jit(device=True)
    def _mulhi(a, b):
        return uint32((uint64(a) * uint64(b)) >> _SHIFT32)
else:
    from numba.cuda import libdevice

    @cuda.jit(device=True)
    def _mulhi(a, b):
        return uint32(libdevice.umulhi(a, b))


# Words and keys are uint32: each round is two 32 x 32-bit multiplies, high half (mul.hi.u32, __umulhi)
# and low half (mul.lo.u32).  With 64-bit words PTX emulates a 64 x 64-bit multiply with several.  The
# low halves and the key schedule wrap modulo 2**32 through uint64 and a mask: the simulator runs this as
# NumPy scalar code, where a uint32 overflow warns.
@cuda.jit(device=True)
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of the counter (c0, c1, c2, c3) under key (k0, k1); returns four uint32 words."""
    k0 = uint32(k0)
    k1 = uint32(k1)
    c0 = uint32(c0)
    c1 = uint32(c1)
    c2 = uint32(c2)
    c3 = uint32(c3)
    for _ in range(10):
        high0, low0 = _mulhi(c0, _M0_32), uint32((uint64(c0) * _M0) & _LOW32)
        high1, low1 = _mulhi(c2, _M1_32), uint32((uint64(c2) * _M1) & _LOW32)
        c0 = uint32(high1 ^ c1 ^ k0)
        c1 = low1
        c2 = uint32(high0 ^ c3 ^ k1)
        c3 = low0
        k0 = uint32((uint64(k0) + _W0) & _LOW32)
        k1 = uint32((uint64(k1) + _W1) & _LOW32)
    return c0, c1, c2, c3


@cuda.jit
def _philox_blocks_kernel(counters, key0, key1, out):
    i = cuda.grid(1)
    if i < counters.shape[0]:
        w = philox4x32(counters[i, 0], counters[i, 1], counters[i, 2], counters[i, 3], key0, key1)
        for r in range(4):
            out[i, r] = w[r]


def philox_blocks(counters, key):
    """The Philox words of host ``counters`` (n, 4) uint32 under ``key`` (two ints), computed on the device.

    For checks against ``bmsample._rng.philox4x32_reference``; returns a host (n, 4) uint32 array.
    """
    counters = np.ascontiguousarray(counters, dtype=np.uint32)
    out = cuda.device_array(counters.shape, dtype=np.uint32)
    if counters.shape[0]:
        _philox_blocks_kernel[-(-counters.shape[0] // 32), 32](cuda.to_device(counters), np.uint32(key[0]),
                                                                np.uint32(key[1]), out)
    return out.copy_to_host()


@cuda.jit(device=True)
def philox_word(block, stream, draw_lo, draw_hi, key0, key1, word):
    """Word ``word`` (0..3) of the Philox block ``block`` of ``stream`` at draw (draw_lo, draw_hi)."""
    w0, w1, w2, w3 = philox4x32(block, stream, draw_lo, draw_hi, key0, key1)
    if word == 0:
        return w0
    if word == 1:
        return w1
    if word == 2:
        return w2
    return w3


@lru_cache(maxsize=None)
def uniform_from_bits(dtype):
    """Device function bits -> uniform in [0, 1) for ``dtype``: 24 bits for float32, 32 for float64.

    The same map as ``bmsample._rng.bits_to_uniform``; every value is exact.
    """
    if np.dtype(dtype) == np.float32:
        scale32 = np.float32(2.0**-24)
        shift = np.uint32(8)

        @cuda.jit(device=True)
        def uniform32(bits):
            return np.float32(bits >> shift) * scale32

        return uniform32
    scale64 = np.float64(2.0**-32)

    @cuda.jit(device=True)
    def uniform64(bits):
        return np.float64(bits) * scale64

    return uniform64


@lru_cache(maxsize=None)
def normal_of_unit(dtype):
    """Device function: the standard normal of unit ``unit`` (see ``bmsample._rng.normals_reference``).

    float32: unit j is normal j % 4 of Philox block j // 4, (r0 cos, r0 sin, r1
    cos, r1 sin) from the word pairs (w0, w1), (w2, w3); float64: normal j % 2
    of block j // 2, (r cos, r sin) from 53-bit uniforms.  A thread computes
    only its own unit's normal (the block's other three are its neighbours').
    """
    uniform = uniform_from_bits(dtype)
    if np.dtype(dtype) == np.float32:
        two32, minus_two32 = np.float32(2 * np.pi), np.float32(-2.0)
        one32 = np.float32(1.0)

        @cuda.jit(device=True)
        def normal32(unit, stream, draw_lo, draw_hi, key0, key1):
            w0, w1, w2, w3 = philox4x32(uint32(unit >> 2), stream, draw_lo, draw_hi, key0, key1)
            r = unit & 3
            radius_bits, angle_bits = (w0, w1) if r < 2 else (w2, w3)
            radius = math.sqrt(minus_two32 * math.log(one32 - uniform(radius_bits)))
            turns = uniform(angle_bits)
            # sin/cos of 2 pi u equal those of 2 pi (u - 1): an argument in [-pi, pi) stays on libdevice's
            # short range reduction of sinf / cosf.  The subtraction is exact for these dyadic u.
            angle = two32 * (turns - one32 if turns >= np.float32(0.5) else turns)
            return radius * (math.cos(angle) if r % 2 == 0 else math.sin(angle))

        return normal32
    shift21, shift11, scale53 = np.uint64(21), np.uint64(11), np.float64(2.0**-53)

    @cuda.jit(device=True)
    def normal64(unit, stream, draw_lo, draw_hi, key0, key1):
        w0, w1, w2, w3 = philox4x32(uint32(unit >> 1), stream, draw_lo, draw_hi, key0, key1)
        u1 = np.float64((uint64(w0) << shift21) | (uint64(w1) >> shift11)) * scale53
        u2 = np.float64((uint64(w2) << shift21) | (uint64(w3) >> shift11)) * scale53
        radius = math.sqrt(-2.0 * math.log(1.0 - u1))
        angle = 2 * math.pi * u2
        return radius * (math.cos(angle) if unit % 2 == 0 else math.sin(angle))

    return normal64
