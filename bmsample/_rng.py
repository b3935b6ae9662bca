"""Counter-based random streams: one stream per chain, independent of threads.

Every random number a sampler uses is a pure function of

    (key, chain index, draw index, unit index)

through the Philox4x32-10 bijection (Salmon et al., SC'11, the generator of
cuRAND, JAX and NumPy's ``Philox``).  Unit ``j`` of chain ``c`` at draw ``d``
takes word ``j % 4`` of ``philox(counter=(j // 4, c, d_lo, d_hi), key)``.
Consequences:

* a chain's random numbers do not depend on the number of threads, nor on how
  many other chains run beside it (chain ``c`` draws the same numbers in a
  batch of 10 or of 10 000); its trajectory can still differ by the rounding
  of the BLAS products, which may depend on the thread count and the rows;
* the whole state of a run's randomness is two integers, the key and the draw
  counter, so checkpoints store it exactly;
* the CUDA kernels can compute the very same numbers in any thread layout.

A *draw* is one pass over a layer of all chains (for example sampling the
hidden layer once); ``ChainStreams.next_draw`` hands out draw indices.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from ._jit import KERNEL_FASTMATH, helper
from ._numerics import fast_log, fast_sincos_turns

_M0 = 0xD2511F53
_M1 = 0xCD9E8D57
_W0 = 0x9E3779B9
_W1 = 0xBB67AE85
_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


@intrinsic
def philox4x32(typingctx, c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of the counter (c0, c1, c2, c3) under key (k0, k1), as a tuple of four uint32.

    Inside kernels only.  Integer arguments are taken modulo 2**32.  Written as
    LLVM IR, so that Numba types one call instead of the ten rounds that an
    ``inline="always"`` function would copy into every caller's IR (that typing
    was most of a kernel's compile time: the first ``bmsample sample`` of an
    RBM compiled in 17.5 s, now in 6 s); LLVM sees the same code either way.
    """
    arguments = (c0, c1, c2, c3, k0, k1)
    if not all(isinstance(argument, types.Integer) for argument in arguments):
        return None

    def codegen(context, builder, signature, values):
        word, wide = ir.IntType(32), ir.IntType(64)
        # The words live in the low halves of 64-bit values, as Numba's own integer arithmetic would
        # keep them: then LLVM vectorises the products as vpmuludq with no conversions between rounds
        # (32-bit words cost twice the time per block, measured).
        c0, c1, c2, c3, k0, k1 = (builder.zext(context.cast(builder, value, kind, types.uint32), wide)
                                  for value, kind in zip(values, signature.args))
        low, shift = ir.Constant(wide, 0xFFFFFFFF), ir.Constant(wide, 32)
        for round_index in range(10):
            if round_index:  # the key schedule: k += (W0, W1) modulo 2**32
                k0 = builder.and_(builder.add(k0, ir.Constant(wide, _W0)), low)
                k1 = builder.and_(builder.add(k1, ir.Constant(wide, _W1)), low)
            p0 = builder.mul(c0, ir.Constant(wide, _M0))
            p1 = builder.mul(c2, ir.Constant(wide, _M1))
            c0, c1, c2, c3 = (builder.xor(builder.xor(builder.lshr(p1, shift), c1), k0), builder.and_(p1, low),
                              builder.xor(builder.xor(builder.lshr(p0, shift), c3), k1), builder.and_(p0, low))
        return context.make_tuple(builder, signature.return_type, [builder.trunc(c, word) for c in (c0, c1, c2, c3)])

    return types.UniTuple(types.uint32, 4)(*arguments), codegen


def uniform_from_bits(bits, like):
    """Map 32 random bits to a uniform in [0, 1) of the dtype of the scalar ``like``.

    float32 keeps the top 24 bits, float64 all 32: every value is exact.
    """
    return bits_to_uniform(np.uint32(bits), np.asarray(like).dtype)


@overload(uniform_from_bits, inline="always")
def _uniform_from_bits_overload(bits, like):
    if like == types.float32:
        return lambda bits, like: np.float32(bits >> np.uint32(8)) * np.float32(2.0**-24)
    if like == types.float64:
        return lambda bits, like: np.float64(bits) * 2.0**-32
    return None


def philox4x32_reference(counters, key):
    """NumPy reference of Philox4x32-10, for tests.

    Parameters
    ----------
    counters : array_like of uint32, shape (..., 4)
    key : array_like of uint32, shape (2,)

    Returns
    -------
    ndarray of uint32, shape (..., 4)
    """
    c = [np.asarray(counters, dtype=np.uint64)[..., i] for i in range(4)]
    k0, k1 = (np.uint64(int(x)) for x in key)
    mask = np.uint64(0xFFFFFFFF)
    for r in range(10):
        if r:
            k0 = (k0 + np.uint64(_W0)) & mask
            k1 = (k1 + np.uint64(_W1)) & mask
        p0 = c[0] * _M0
        p1 = c[2] * _M1
        c = [(p1 >> _SHIFT32) ^ c[1] ^ k0, p1 & mask, (p0 >> _SHIFT32) ^ c[3] ^ k1, p0 & mask]
    return np.stack(c, axis=-1).astype(np.uint32)


def reference_uniforms(key, draw, chains, num_units, dtype):
    """Uniforms the kernels use for ``chains`` at ``draw`` (NumPy reference).

    Returns
    -------
    ndarray, shape (len(chains), num_units)
    """
    chains = np.asarray(chains, dtype=np.uint64)
    blocks = np.arange((num_units + 3) // 4, dtype=np.uint64)
    counters = np.zeros((chains.size, blocks.size, 4), dtype=np.uint64)
    counters[..., 0] = blocks[None, :]
    counters[..., 1] = chains[:, None]
    counters[..., 2] = draw & 0xFFFFFFFF
    counters[..., 3] = draw >> 32
    bits = philox4x32_reference(counters, key).reshape(chains.size, -1)[:, :num_units]
    return bits_to_uniform(bits, dtype)


def bits_to_uniform(bits, dtype):
    """The kernels' map from uint32 bits to [0, 1): 24 bits for float32, 32 for float64."""
    if np.dtype(dtype) == np.float32:
        return (bits >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24)
    return bits.astype(np.float64) * 2.0**-32


class ChainStreams:
    """The random state of a set of chains: a Philox key and a draw counter.

    Parameters
    ----------
    key : tuple of two ints in [0, 2**32)
    draw : int
        Index of the next draw (one draw = one random number per unit of a
        layer for every chain).

    Notes
    -----
    Saving ``(key, draw)`` and restoring it continues every chain exactly.
    """

    def __init__(self, key, draw=0):
        self.key = (int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF)
        self.draw = int(draw)

    @classmethod
    def from_seed_sequence(cls, seed_sequence):
        words = seed_sequence.generate_state(2, dtype=np.uint32)
        return cls((int(words[0]), int(words[1])))

    def next_draw(self):
        """Reserve and return the next draw index."""
        draw = self.draw
        self.draw += 1
        return draw

    def reserve(self, count):
        """Reserve ``count`` consecutive draws and return the first index."""
        first = self.draw
        self.draw += int(count)
        return first

    def kernel_args(self):
        """(key0, key1) as the uint32 scalars the kernels take."""
        return np.uint32(self.key[0]), np.uint32(self.key[1])

    def state(self):
        """JSON-serialisable state."""
        return {"key": list(self.key), "draw": self.draw}

    @classmethod
    def from_state(cls, state):
        return cls(state["key"], state["draw"])

    def __repr__(self):
        return f"ChainStreams(key={self.key}, draw={self.draw})"


def seed_sequence(rng):
    """Normalise the public ``rng`` argument to a ``numpy.random.SeedSequence``.

    Parameters
    ----------
    rng : None, int, SeedSequence or Generator
        ``None`` draws fresh entropy; a ``Generator`` contributes 128 bits.
    """
    if rng is None or isinstance(rng, (int, np.integer)):
        if rng is not None and int(rng) < 0:
            raise ValueError(f"rng: a seed must be a non-negative integer, got {rng}")
        return np.random.SeedSequence(None if rng is None else int(rng))
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(rng.integers(0, 2**32, size=4, dtype=np.uint64).tolist())
    raise TypeError(
        f"rng: expected None, an int, a numpy SeedSequence or Generator, got {type(rng).__name__}"
    )


def normal_block(block, stream, draw_lo, draw_hi, key0, key1, like):
    """Standard normals of one Philox block: 4 for float32, 2 for float64 (see ``normals_reference``)."""
    raise NotImplementedError("only callable inside Numba kernels")


def normals_per_block(like):
    """4 for float32, 2 for float64 (a compile-time constant inside kernels)."""
    return 4 if np.asarray(like).dtype == np.float32 else 2


@overload(normals_per_block, inline="always")
def _normals_per_block_overload(like):
    if like == types.float32:
        return lambda like: 4
    if like == types.float64:
        return lambda like: 2
    return None


@overload(normal_block, inline="always", fastmath=KERNEL_FASTMATH)
def _normal_block_overload(block, stream, draw_lo, draw_hi, key0, key1, like):
    if like == types.float32:

        def impl(block, stream, draw_lo, draw_hi, key0, key1, like):
            w0, w1, w2, w3 = philox4x32(block, stream, draw_lo, draw_hi, key0, key1)
            r0 = np.sqrt(np.float32(-2.0) * fast_log(np.float32(1.0) - uniform_from_bits(w0, like)))
            s0, c0 = fast_sincos_turns(uniform_from_bits(w1, like))
            r1 = np.sqrt(np.float32(-2.0) * fast_log(np.float32(1.0) - uniform_from_bits(w2, like)))
            s1, c1 = fast_sincos_turns(uniform_from_bits(w3, like))
            return r0 * c0, r0 * s0, r1 * c1, r1 * s1

        return impl
    if like == types.float64:

        def impl(block, stream, draw_lo, draw_hi, key0, key1, like):
            w0, w1, w2, w3 = philox4x32(block, stream, draw_lo, draw_hi, key0, key1)
            u1 = _uniform53(w0, w1)
            u2 = _uniform53(w2, w3)
            r = np.sqrt(-2.0 * fast_log(1.0 - u1))
            s, c = fast_sincos_turns(u2)
            return r * c, r * s

        return impl
    return None


@helper
def _uniform53(hi, lo):
    return np.float64((np.uint64(hi) << np.uint64(21)) | (np.uint64(lo) >> np.uint64(11))) * 2.0**-53


def normals_reference(key, draw, chains, num_units, dtype):
    """NumPy reference of the normals the kernels use (Box-Muller on Philox words).

    float32: block j // 4 gives units 4b..4b+3 as (r0 cos, r0 sin, r1 cos, r1 sin)
    from the word pairs (w0, w1), (w2, w3) with 24-bit uniforms; float64: block
    j // 2 gives (r cos, r sin) from 53-bit uniforms made of (w0, w1) and (w2, w3).
    Radius r = sqrt(-2 log(1 - u1)), angle 2 pi u2.

    Returns
    -------
    ndarray, shape (len(chains), num_units), float64
    """
    per = 4 if np.dtype(dtype) == np.float32 else 2
    chains = np.asarray(chains, dtype=np.uint64)
    blocks = np.arange((num_units + per - 1) // per, dtype=np.uint64)
    counters = np.zeros((chains.size, blocks.size, 4), dtype=np.uint64)
    counters[..., 0] = blocks[None, :]
    counters[..., 1] = chains[:, None]
    counters[..., 2] = draw & 0xFFFFFFFF
    counters[..., 3] = draw >> 32
    w = philox4x32_reference(counters, key).astype(np.uint64)
    if per == 4:
        u = bits_to_uniform(w.astype(np.uint32), np.float32).astype(np.float64)
        r0, r1 = np.sqrt(-2 * np.log1p(-u[..., 0])), np.sqrt(-2 * np.log1p(-u[..., 2]))
        a0, a1 = 2 * np.pi * u[..., 1], 2 * np.pi * u[..., 3]
        z = np.stack([r0 * np.cos(a0), r0 * np.sin(a0), r1 * np.cos(a1), r1 * np.sin(a1)], axis=-1)
    else:
        u1 = ((w[..., 0] << np.uint64(21)) | (w[..., 1] >> np.uint64(11))).astype(np.float64) * 2.0**-53
        u2 = ((w[..., 2] << np.uint64(21)) | (w[..., 3] >> np.uint64(11))).astype(np.float64) * 2.0**-53
        r = np.sqrt(-2 * np.log1p(-u1))
        z = np.stack([r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)], axis=-1)
    return z.reshape(chains.size, -1)[:, :num_units]


def fresh_seed():
    """A fresh integer seed from OS entropy (128 bits), for a run that records the seed it used."""
    return int(np.random.SeedSequence().entropy)
