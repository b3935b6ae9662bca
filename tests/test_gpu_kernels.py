"""Shared CUDA products and every RBM CUDA kernel against the NumPy reference (simulator, or a real GPU).

Products differ from float64 maths by the float rounding of a K-term sum and
of the sigmoid; the tolerances below are those bounds, and a sampled unit
must equal the reference draw wherever ``|u - p|`` exceeds them.
"""

import numpy as np
import pytest

from bmsample._rng import bits_to_uniform, philox4x32_reference, reference_uniforms
from bmsample.rbm import _cpu

pytest.importorskip("numba_cuda")
pytestmark = pytest.mark.gpu

from numba import cuda  # noqa: E402

from bmsample import _gpu_linalg as linalg  # noqa: E402
from bmsample._backend import resolve_backend  # noqa: E402
from bmsample._rng_gpu import philox_blocks, uniform_from_bits  # noqa: E402
from bmsample.rbm import _gpu  # noqa: E402

KEY = (0x1234ABCD, 0x0BADF00D)
#: A tile smaller than the test shapes, so products span several blocks and ragged edges.
SMALL_TILE = linalg.Tile(bm=4, bn=4, bk=2, tm=2, tn=2)


@pytest.fixture(scope="module", autouse=True)
def cuda_backend():
    return resolve_backend("cuda")


def test_device_philox_is_bit_exact():
    rng = np.random.default_rng(0)
    counters = rng.integers(0, 2**32, size=(37, 4), dtype=np.uint64).astype(np.uint32)
    counters[0] = 0
    counters[1] = 0xFFFFFFFF
    np.testing.assert_array_equal(philox_blocks(counters, KEY), philox4x32_reference(counters, KEY))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_device_uniform_map_is_exact(dtype):
    uniform = uniform_from_bits(dtype)

    @cuda.jit
    def kernel(bits, out):
        i = cuda.grid(1)
        if i < bits.shape[0]:
            out[i] = uniform(bits[i])

    bits = np.array([0, 1, 255, 256, 2**31, 2**32 - 1] + list(range(12345, 12355)), dtype=np.uint32)
    out = cuda.device_array(bits.shape, dtype=dtype)
    kernel[2, 8](cuda.to_device(bits), out)
    np.testing.assert_array_equal(out.copy_to_host(), bits_to_uniform(bits, dtype))


def _problem(num_chains, num_inputs, num_units, dtype, seed=1):
    rng = np.random.default_rng(seed)
    layer = (rng.random((num_chains, num_inputs)) < 0.5).astype(dtype)
    weights = (rng.standard_normal((num_inputs, num_units)) * 1.5).astype(dtype)
    bias = (rng.standard_normal(num_units) * 0.5).astype(dtype)
    return layer, weights, bias


def _means_tolerance(layer, weights, bias, dtype):
    """Elementwise bound on |p_device - p_exact|: a K-term float sum, then a sigmoid of slope <= 1/4."""
    eps = np.finfo(dtype).eps
    inner = layer.shape[1]
    field_error = 2 * (inner + 2) * eps * (np.abs(layer) @ np.abs(weights) + np.abs(bias))
    return field_error / 4 + 8 * eps


def _check_states(states, exact_means, uniforms, tolerance):
    """States equal the reference draw except where |u - p| is within the rounding; those are rare."""
    expected = (uniforms < exact_means).astype(states.dtype)
    decided = np.abs(uniforms - exact_means) > tolerance
    assert decided.mean() > 0.99
    np.testing.assert_array_equal(states[decided], expected[decided])
    assert set(np.unique(states)) <= {0.0, 1.0}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("with_means", [False, True])
def test_fused_product_samples_the_reference_draws(dtype, transpose, with_means):
    num_chains, num_inputs, num_units, draw, offset = 18, 6, 5, 2**32 + 7, 3
    layer, weights, bias = _problem(num_chains, num_inputs, num_units, dtype)
    stored = np.ascontiguousarray(weights.T) if transpose else weights
    states = cuda.device_array((num_chains, num_units), dtype=dtype)
    means = cuda.device_array((num_chains, num_units), dtype=dtype) if with_means else None
    _gpu.sample_bernoulli_product(cuda.to_device(layer), cuda.to_device(stored), transpose, cuda.to_device(bias),
                                  np.uint32(KEY[0]), np.uint32(KEY[1]), draw, offset, states, means,
                                  tile=SMALL_TILE)
    exact = _sigmoid(layer.astype(np.float64) @ weights.astype(np.float64) + bias)
    tolerance = _means_tolerance(layer, weights, bias, dtype)
    uniforms = reference_uniforms(KEY, draw, np.arange(offset, offset + num_chains), num_units, dtype)
    _check_states(states.copy_to_host(), exact, uniforms, tolerance)
    if with_means:
        assert np.all(np.abs(means.copy_to_host() - exact) <= tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_means_product(dtype):
    layer, weights, bias = _problem(9, 6, 7, dtype)
    means = cuda.device_array((9, 7), dtype=dtype)
    _gpu.bernoulli_means_product(cuda.to_device(layer), cuda.to_device(weights), False, cuda.to_device(bias), means,
                                 tile=SMALL_TILE)
    exact = _sigmoid(layer.astype(np.float64) @ weights.astype(np.float64) + bias)
    assert np.all(np.abs(means.copy_to_host() - exact) <= _means_tolerance(layer, weights, bias, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_twins_match_the_cpu_kernels(dtype):
    rng = np.random.default_rng(2)
    field = (rng.standard_normal((10, 7)) * 2).astype(dtype)
    bias = rng.standard_normal(7).astype(dtype)
    key0, key1, draw, offset = np.uint32(KEY[0]), np.uint32(KEY[1]), 11, 5
    cpu_states, cpu_means = np.empty_like(field), np.empty_like(field)
    _cpu.sample_bernoulli_layer(field, bias, key0, key1, draw, offset, cpu_states, cpu_means)
    gpu_states, gpu_means = (cuda.device_array(field.shape, dtype=dtype) for _ in range(2))
    d_field, d_bias = cuda.to_device(field), cuda.to_device(bias)
    _gpu.sample_bernoulli_layer(d_field, d_bias, key0, key1, draw, offset, gpu_states, gpu_means)
    tolerance = 16 * np.finfo(dtype).eps
    np.testing.assert_allclose(gpu_means.copy_to_host(), cpu_means, rtol=0, atol=tolerance)
    uniforms = reference_uniforms(KEY, draw, np.arange(offset, offset + 10), 7, dtype)
    _check_states(gpu_states.copy_to_host(), cpu_means.astype(np.float64), uniforms, tolerance)

    only_states = cuda.device_array(field.shape, dtype=dtype)
    _gpu.sample_bernoulli_layer(d_field, d_bias, key0, key1, draw, offset, only_states)
    np.testing.assert_array_equal(only_states.copy_to_host(), gpu_states.copy_to_host())
    _gpu.bernoulli_means(d_field, d_bias, d_field)
    np.testing.assert_array_equal(d_field.copy_to_host(), gpu_means.copy_to_host())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tempered_layer_twin_draws_the_cpu_kernels_units(dtype):
    """Parallel tempering's pass at each row's beta (0 and 1 included), against the draws of the exact means."""
    rng = np.random.default_rng(4)
    field = (rng.standard_normal((10, 7)) * 2).astype(dtype)
    bias, base = (rng.standard_normal(7).astype(dtype) for _ in range(2))
    row_beta = np.array([1.0, 0.0, 0.5, 0.25, 0.9, 1.0, 0.1, 0.0, 0.75, 0.3], dtype=dtype)
    key0, key1, draw, offset = np.uint32(KEY[0]), np.uint32(KEY[1]), 2**32 + 3, 4
    cpu_states = np.empty_like(field)
    _cpu.sample_tempered_layer(field, bias, base, row_beta, key0, key1, draw, offset, cpu_states)
    gpu_states = cuda.device_array(field.shape, dtype=dtype)
    _gpu.sample_tempered_layer(*(cuda.to_device(a) for a in (field, bias, base, row_beta)), key0, key1, draw, offset,
                               gpu_states)
    b = row_beta.astype(np.float64)[:, None]
    exact = _sigmoid(b * (field.astype(np.float64) + bias) + (1 - b) * base)
    uniforms = reference_uniforms(KEY, draw, np.arange(offset, offset + 10), 7, dtype)
    tolerance = 16 * np.finfo(dtype).eps
    _check_states(gpu_states.copy_to_host(), exact, uniforms, tolerance)
    _check_states(cpu_states, exact, uniforms, tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 4])
def test_tempered_gaps_twin_is_the_free_energy_difference(dtype, threads):
    """log p*_beta'(v) - log p*_beta(v) per row, the block reduction with 1 and 4 threads, 0 where beta' = beta."""
    rng = np.random.default_rng(5)
    rows, nv, nh = 9, 11, 13
    visible = (rng.random((rows, nv)) < 0.5).astype(dtype)
    field = (rng.standard_normal((rows, nh)) * 3).astype(dtype)
    hbias = rng.standard_normal(nh).astype(dtype)
    vbias_gap = rng.standard_normal(nv)
    betas = rng.random(rows)
    new_betas = rng.random(rows)
    new_betas[[2, 5]] = betas[[2, 5]]
    gaps = cuda.device_array(rows, dtype=np.float64)
    _gpu.tempered_gaps(cuda.to_device(field), cuda.to_device(hbias), cuda.to_device(visible),
                       cuda.to_device(vbias_gap.astype(dtype)), cuda.to_device(betas), cuda.to_device(new_betas),
                       gaps, threads=threads)
    y = field.astype(np.float64) + hbias
    exact = (np.logaddexp(0, new_betas[:, None] * y) - np.logaddexp(0, betas[:, None] * y)).sum(axis=1)
    exact += (new_betas - betas) * (visible @ vbias_gap)
    scale = np.abs(y).sum(axis=1) + np.abs(visible) @ np.abs(vbias_gap) + nh
    found = gaps.copy_to_host()
    assert np.all(np.abs(found - exact) <= 64 * np.finfo(dtype).eps * scale)
    assert found[2] == 0.0 and found[5] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scaled_transposed_products(dtype):
    rng = np.random.default_rng(3)
    left, right, more_left, more_right = (rng.standard_normal(shape).astype(dtype)
                                          for shape in [(9, 6), (9, 5), (7, 6), (7, 5)])
    out = cuda.device_array((6, 5), dtype=dtype)
    linalg.scaled_product(cuda.to_device(left), cuda.to_device(right), 0.5, out, transpose_left=True, tile=SMALL_TILE)
    linalg.scaled_product(cuda.to_device(more_left), cuda.to_device(more_right), -2.0, out, accumulate=True,
                        transpose_left=True, tile=SMALL_TILE)
    exact = 0.5 * left.T.astype(np.float64) @ right - 2.0 * more_left.T.astype(np.float64) @ more_right
    bound = 4 * 12 * np.finfo(dtype).eps * (0.5 * np.abs(left.T) @ np.abs(right)
                                            + 2.0 * np.abs(more_left.T) @ np.abs(more_right))
    assert np.all(np.abs(out.copy_to_host() - exact) <= bound)

    plain = cuda.device_array((9, 6), dtype=dtype)
    square = rng.standard_normal((6, 6)).astype(dtype)
    linalg.scaled_product(cuda.to_device(left), cuda.to_device(square), 1.0, plain, tile=SMALL_TILE)
    exact = left.astype(np.float64) @ square
    bound = 4 * 8 * np.finfo(dtype).eps * (np.abs(left) @ np.abs(square))
    assert np.all(np.abs(plain.copy_to_host() - exact) <= bound)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_products_sum_every_piece_of_the_inner_dimension(dtype):
    """A small grid over a deep inner dimension is split across blocks (23 = 6 + 6 + 6 + 5 with this tile)
    and the pieces are summed into the output; a dropped, doubled or overlapping piece breaks the bound."""
    rng = np.random.default_rng(8)
    left, right, more_left, more_right = (rng.standard_normal(shape).astype(dtype)
                                          for shape in [(23, 3), (23, 3), (9, 3), (9, 3)])
    assert linalg.split_pieces(3, 3, 23, SMALL_TILE) == 4 and linalg.split_pieces(3, 3, 9, SMALL_TILE) == 2
    assert linalg.split_pieces(3, 3, 7, SMALL_TILE) == 1  # too shallow to split
    scratch = linalg.split_scratch(3, 3, 23, dtype, SMALL_TILE)
    assert scratch.shape == (12, 3)
    out = cuda.device_array((3, 3), dtype=dtype)
    linalg.scaled_product(cuda.to_device(left), cuda.to_device(right), 0.5, out, transpose_left=True,
                          tile=SMALL_TILE, scratch=scratch)
    first = out.copy_to_host()
    linalg.scaled_product(cuda.to_device(more_left), cuda.to_device(more_right), -2.0, out, accumulate=True,
                          transpose_left=True, tile=SMALL_TILE, scratch=scratch)
    exact = 0.5 * left.T.astype(np.float64) @ right
    bound = 4 * 24 * np.finfo(dtype).eps * (0.5 * np.abs(left.T) @ np.abs(right))
    assert np.all(np.abs(first - exact) <= bound)
    exact -= 2.0 * more_left.T.astype(np.float64) @ more_right
    bound += 4 * 24 * np.finfo(dtype).eps * (2.0 * np.abs(more_left.T) @ np.abs(more_right))
    assert np.all(np.abs(out.copy_to_host() - exact) <= bound)
    with pytest.raises(ValueError, match="does not hold 4 pieces"):
        linalg.scaled_product(cuda.to_device(left), cuda.to_device(right), 1.0, out, transpose_left=True,
                              tile=SMALL_TILE, scratch=scratch[:8])


def test_split_scratch_holds_every_shallower_product():
    """A trainer sizes its scratch for the deeper of batch and chains; a shallower product may split in more
    pieces (16 splits in 4 pieces of 4, 18 in 3 of 6 with this tile), and must still fit."""
    assert linalg.split_pieces(3, 3, 16, SMALL_TILE) == 4 and linalg.split_pieces(3, 3, 18, SMALL_TILE) == 3
    scratch = linalg.split_scratch(3, 3, 18, np.float64, SMALL_TILE)
    for inner in range(1, 19):
        rng = np.random.default_rng(inner)
        left, right = rng.standard_normal((inner, 3)), rng.standard_normal((inner, 3))
        out = cuda.device_array((3, 3), dtype=np.float64)
        linalg.scaled_product(cuda.to_device(left), cuda.to_device(right), 1.0, out, transpose_left=True,
                              tile=SMALL_TILE, scratch=scratch)
        np.testing.assert_allclose(out.copy_to_host(), left.T @ right, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_means_in_a_fixed_order(dtype):
    rng = np.random.default_rng(4)
    x, y = rng.random((23, 6)).astype(dtype), rng.random((5, 6)).astype(dtype)
    out, partial = cuda.device_array(6, dtype=dtype), cuda.device_array((3, 6), dtype=dtype)
    linalg.column_means(cuda.to_device(x), partial, 1 / 23, out)
    linalg.column_means(cuda.to_device(y), partial, -1 / 5, out, accumulate=True)
    exact = x.astype(np.float64).mean(axis=0) - y.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(out.copy_to_host(), exact, rtol=0, atol=64 * np.finfo(dtype).eps)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the simulator's NumPy scalars
@pytest.mark.parametrize("bad", [np.nan, 12.0])
def test_ascend_updates_flags_the_first_runaway_update_and_then_keeps_its_parameters(bad):
    param = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    grad = np.array([0.5, 1.0, -1.0], dtype=np.float32)
    d_param, d_grad, flag = cuda.to_device(param), cuda.to_device(grad), cuda.to_device(np.zeros(1, dtype=np.int32))
    other = cuda.to_device(np.zeros(2, dtype=np.float32))
    linalg.ascend(d_param, d_grad, 0.1, 0.5, 10.0, 1, flag)
    np.testing.assert_allclose(d_param.copy_to_host(), param + np.float32(0.1) * (grad - np.float32(0.5) * param),
                               rtol=1e-6)
    assert flag.copy_to_host()[0] == 0
    linalg.ascend(d_param, cuda.to_device(np.array([0, bad, 0], dtype=np.float32)), 1.0, 0.0, 10.0, 2, flag)
    linalg.ascend(other, cuda.to_device(np.ones(2, dtype=np.float32)), 1.0, 0.0, 10.0, 2, flag)
    assert flag.copy_to_host()[0] == 2
    runaway = d_param.copy_to_host()
    np.testing.assert_array_equal(other.copy_to_host(), [1, 1])  # the rest of update 2 still ran
    linalg.ascend(d_param, d_grad, 1.0, 0.0, 10.0, 3, flag)  # a later update leaves update 2's values
    linalg.ascend(d_param, cuda.to_device(np.full(3, np.nan, dtype=np.float32)), 1.0, 0.0, 10.0, 4, flag)
    np.testing.assert_array_equal(d_param.copy_to_host(), runaway)
    assert flag.copy_to_host()[0] == 2


def test_launches_cover_more_rows_than_the_grid_has_blocks(monkeypatch):
    """Rows (chains) stride over gridDim.y, which CUDA caps at 65535: with the cap at 2 blocks of rows here,
    every row of a 40-row pass and of a 40-row product is still computed, as without the cap."""
    dtype = np.float32
    layer, weights, bias = _problem(40, 6, 5, dtype)
    d_layer, d_weights, d_bias = cuda.to_device(layer), cuda.to_device(weights), cuda.to_device(bias)
    key0, key1 = np.uint32(KEY[0]), np.uint32(KEY[1])

    def run():
        states, means = cuda.device_array((40, 5), dtype=dtype), cuda.device_array((40, 5), dtype=dtype)
        _gpu.sample_bernoulli_product(d_layer, d_weights, False, d_bias, key0, key1, 9, 0, states, means,
                                      tile=SMALL_TILE)
        passed = cuda.device_array((40, 5), dtype=dtype)
        _gpu.sample_bernoulli_layer(means, d_bias, key0, key1, 10, 0, passed)
        return states.copy_to_host(), means.copy_to_host(), passed.copy_to_host()

    uncapped = run()
    monkeypatch.setattr(linalg, "MAX_GRID_Y", 2)
    assert linalg.grid_2d(40, 5, linalg.default_block())[1] == 2
    for capped, full in zip(run(), uncapped, strict=True):
        np.testing.assert_array_equal(capped, full)


def test_empty_launches_are_skipped():
    empty = cuda.device_array((0, 5), dtype=np.float32)
    bias = cuda.to_device(np.zeros(5, dtype=np.float32))
    _gpu.sample_bernoulli_layer(empty, bias, np.uint32(1), np.uint32(2), 0, 0, empty)
    linalg.scaled_product(empty, cuda.to_device(np.ones((5, 5), dtype=np.float32)), 1.0, empty)
    linalg.add_row(empty, bias)
    assert linalg.grid_2d(0, 5, (4, 4)) is None and linalg.grid_1d(0, 16) is None
