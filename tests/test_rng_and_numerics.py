"""Philox streams, the uniform map and the vectorised exp/sigmoid of the kernels."""

import numpy as np
import pytest
from numba import njit

from bmsample._numerics import fast_exp, fast_sigmoid
from bmsample._rng import ChainStreams, philox4x32, philox4x32_reference, reference_uniforms, seed_sequence
from bmsample.rbm import _cpu

# Known-answer vectors of Philox4x32-10 (Random123 kat_vectors).
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@njit
def _philox_scalar(c, k):
    return philox4x32(np.uint32(c[0]), np.uint32(c[1]), np.uint32(c[2]), np.uint32(c[3]),
                      np.uint32(k[0]), np.uint32(k[1]))


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_philox_known_answers(counter, key, expected):
    assert tuple(int(x) for x in _philox_scalar(np.array(counter, np.int64), np.array(key, np.int64))) == expected
    assert tuple(int(x) for x in philox4x32_reference(np.array([counter]), key)[0]) == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("num_units", [1, 3, 4, 7, 64])
def test_kernel_uses_the_documented_stream_layout(dtype, num_units):
    rng = np.random.default_rng(3)
    field = (rng.standard_normal((6, num_units)) * 3).astype(dtype)
    bias = rng.standard_normal(num_units).astype(dtype)
    states = np.empty_like(field)
    means = np.empty_like(field)
    draw, offset, key = 2**32 + 5, 11, (7, 0xDEADBEEF)
    _cpu.sample_bernoulli_layer(field, bias, np.uint32(key[0]), np.uint32(key[1]), draw, offset,
                                           states, means)
    exact = 1.0 / (1.0 + np.exp(-(field.astype(np.float64) + bias)))
    tolerance = 4e-7 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(means, exact, rtol=0, atol=tolerance)
    u = reference_uniforms(key, draw, np.arange(offset, offset + 6), num_units, dtype)
    np.testing.assert_array_equal(states, (u < means).astype(dtype))
    states_only = np.empty_like(field)
    _cpu.sample_bernoulli_layer(field, bias, np.uint32(key[0]), np.uint32(key[1]), draw, offset, states_only)
    np.testing.assert_array_equal(states_only, states)


def test_uniforms_are_uniform():
    # 4e5 uniforms: each decile holds 0.1 +- 5 sd, sd = sqrt(0.1 * 0.9 / n).
    u = reference_uniforms((1, 2), 0, np.arange(1000), 400, np.float64).ravel()
    counts = np.bincount((u * 10).astype(int), minlength=10) / u.size
    assert np.all(np.abs(counts - 0.1) < 5 * np.sqrt(0.09 / u.size))
    assert u.min() >= 0 and u.max() < 1


@njit
def _apply_exp(x, out):
    for i in range(x.size):
        out[i] = fast_exp(x[i])


@njit
def _apply_sigmoid(x, out):
    for i in range(x.size):
        out[i] = fast_sigmoid(x[i])


@pytest.mark.parametrize("dtype, lo, hi, rtol", [(np.float32, -87, 88, 4e-7), (np.float64, -708, 709, 5e-15)])
def test_fast_exp_accuracy(dtype, lo, hi, rtol):
    x = np.concatenate([np.linspace(lo, hi, 200001), np.linspace(-1, 1, 20001)]).astype(dtype)
    out = np.empty_like(x)
    _apply_exp(x, out)
    exact = np.exp(x.astype(np.longdouble))
    assert out.dtype == dtype
    assert np.max(np.abs(out - exact) / exact) < rtol


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_sigmoid_saturates_without_overflow(dtype):
    x = np.array([-1e6, -200, -30, 0, 30, 200, 1e6], dtype=dtype)
    out = np.empty_like(x)
    _apply_sigmoid(x, out)
    assert np.all(np.isfinite(out))
    assert out[3] == 0.5 and out[-1] == 1 and out[0] < 1e-30


def test_streams_state_round_trip():
    streams = ChainStreams.from_seed_sequence(seed_sequence(5))
    streams.next_draw()
    again = ChainStreams.from_state(streams.state())
    assert again.key == streams.key and again.next_draw() == streams.next_draw() == 1


@pytest.mark.parametrize("bad", [-1, "seed", 1.5])
def test_seed_sequence_rejects_bad_seeds(bad):
    with pytest.raises((TypeError, ValueError), match="rng"):
        seed_sequence(bad)


def test_atomic_counters_lose_no_increment_between_threads():
    """Every thread adds to the same counter; a plain += would lose some, the atomic add none."""
    from numba import njit, prange

    from bmsample._atomics import atomic_add, atomic_load

    @njit(parallel=True)
    def count(counters, workers, per_worker, seen):
        for w in prange(workers):
            for _ in range(per_worker):
                seen[w] = max(seen[w], atomic_add(counters, 1, 1) + 1)
        return atomic_load(counters, 1)

    counters, seen = np.zeros(3, np.int64), np.zeros(4, np.int64)
    assert count(counters, 4, 50_000, seen) == 200_000
    assert counters.tolist() == [0, 200_000, 0] and seen.max() == 200_000


def test_waiting_thread_yields_once_it_has_spun_long_enough():
    """The wait's yield (``sched_yield``, resolved when the kernel links) runs and returns."""
    from numba import njit

    from bmsample._atomics import SPINS_BEFORE_YIELD, _yield_thread, atomic_add, wait_until_at_least

    @njit
    def yield_many(times):
        for _ in range(times):
            _yield_thread()

    @njit
    def wait_for_already_done(counters):
        atomic_add(counters, 0, 3)
        wait_until_at_least(counters, 0, 3)
        return counters[0]

    yield_many(2 * SPINS_BEFORE_YIELD)
    assert wait_for_already_done(np.zeros(1, np.int64)) == 3
