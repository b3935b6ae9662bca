"""Shared CUDA building blocks (``numba.cuda``): tiled products with fused epilogues, column sums, updates.

The GPU has no BLAS through numba.cuda, so the matrix products of every
family are the tiled kernel here, and the elementwise pass that follows a
product is fused into its epilogue where a sampler needs it (Bernoulli
sampling / means of the RBM layers), so the field never goes through global
memory.  ``column_means``, ``gather_rows`` and ``ascend`` are the gradient
statistics, minibatch gather and parameter update of the device trainers.

Every public function here is a launcher: it picks the grid, launches and
returns without synchronising.  Launchers do not validate and do not
allocate (except the small per-launch scalars); the public layer does.

Products are shared-memory tiled with a register tile per thread
(``Tile``): a block computes ``bm x bn`` outputs with ``(bm / tm) x (bn /
tn)`` threads, each ``tm x tn`` of them, stepping ``bk`` along the inner
dimension.  Thread (tx, ty) owns rows ``ty + i * (bm / tm)`` and columns
``tx + j * (bn / tn)``, so a warp's stores are contiguous.  Sums run in a
fixed order (no atomics): results are reproducible run to run.

Imported only when a CUDA backend runs.
"""

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numba import cuda, uint32

from ._rng_gpu import philox_word, uniform_from_bits


class Tile(NamedTuple):
    """Block tile ``bm x bn`` of a product, inner step ``bk``, register tile ``tm x tn`` per thread."""

    bm: int
    bn: int
    bk: int
    tm: int
    tn: int

    @property
    def threads(self):
        return (self.bn // self.tn, self.bm // self.tm)


#: Tile of the products on a real GPU: 256 threads, 8 x 4 outputs each.
DEVICE_TILE = Tile(bm=128, bn=64, bk=8, tm=8, tn=4)
#: Tiny tile for the simulator, which runs every thread in Python.
SIMULATOR_TILE = Tile(bm=8, bn=8, bk=4, tm=2, tn=2)
#: Thread block of the elementwise kernels (units x chains).
DEVICE_BLOCK = (32, 8)
SIMULATOR_BLOCK = (4, 4)
#: Row groups of ``column_means`` (a partial sum per group, combined in a fixed order).
DEVICE_ROW_GROUPS = 32
SIMULATOR_ROW_GROUPS = 2

# Padding of the shared tiles' rows: a warp's k-major stores (tid -> (mm, kk) with kk fastest) then fall
# into distinct banks instead of 8-way conflicts.
_PAD = 4
# Epilogues of the product kernel (compile-time constants): Bernoulli layers, alpha * product, or the raw
# partial product of one piece of a split inner dimension (into rows piece * M + m of ``means``).
SAMPLE, SAMPLE_WITH_MEANS, MEANS, ASSIGN, ACCUMULATE, PARTIAL = range(6)
#: A product whose grid has fewer blocks than this splits its inner dimension across blocks (two waves of
#: an H100's or H200's 132 SMs), each piece at least ``MIN_SPLIT_STEPS`` tile steps deep.
SPLIT_TARGET_BLOCKS = 264
MIN_SPLIT_STEPS = 16
SIMULATOR_SPLIT_TARGET_BLOCKS = 4
SIMULATOR_MIN_SPLIT_STEPS = 2


def simulated():
    """True under Numba's CUDA simulator (launch sizes shrink there: it runs every thread in Python)."""
    return bool(getattr(cuda, "simulator_init", None))


def default_tile():
    return SIMULATOR_TILE if simulated() else DEVICE_TILE


def default_block():
    return SIMULATOR_BLOCK if simulated() else DEVICE_BLOCK


class ChainLayout(NamedTuple):
    """How a sequential-sweep kernel lays chains out on thread blocks.

    ``group`` threads share a chain (its field updates), ``slots`` chains
    share a block; ``chunk`` site updates draw their Philox numbers together
    at the start of each piece of a sweep; ``shared_rows`` keeps each chain's
    state and field rows in (dynamic) shared memory for the whole launch;
    ``warp_sync`` makes a group one warp that meets at ``syncwarp`` instead of
    the block's barrier.
    """

    group: int
    slots: int
    chunk: int
    shared_rows: bool
    warp_sync: bool

    @property
    def threads(self):
        return self.group * self.slots

    def blocks(self, num_chains):
        return -(-num_chains // self.slots)

    def shared_bytes(self, num_units, itemsize):
        """Dynamic shared memory of a block: a state row and a field row per slot."""
        return 2 * self.slots * num_units * itemsize if self.shared_rows else 0


#: Threads of a block-per-chain sweep (they share a chain's field updates).
CHAIN_THREADS = 128
#: A warp per chain (four chains a block) up to this many units: a block of 128 threads would leave most idle.
WARP_CHAIN_MAX_UNITS = 256
#: Site updates whose random numbers are drawn together (a multiple of 4: whole Philox blocks).
SWEEP_CHUNK = 128
#: Dynamic shared memory a block may take for its chains' rows (48 KiB is the default limit, static arrays
#: included); above it the rows stay in global memory (and in L1/L2).
SHARED_ROWS_BYTES = 32 * 1024


def chain_layout(num_units, itemsize, simulator=None):
    """The ``ChainLayout`` of sweeps over chains of ``num_units`` units of ``itemsize`` bytes.

    The simulator, which runs every thread in Python, gets a few threads and a small chunk, but the same
    choice of warp or block per chain and shared or global rows.
    """
    simulator = simulated() if simulator is None else simulator
    warp = num_units <= WARP_CHAIN_MAX_UNITS
    if simulator:
        group, slots, chunk = (2, 2, 4) if warp else (4, 1, 4)
    else:
        group, slots, chunk = (32, CHAIN_THREADS // 32, SWEEP_CHUNK) if warp else (CHAIN_THREADS, 1, SWEEP_CHUNK)
    shared = 2 * slots * num_units * itemsize <= SHARED_ROWS_BYTES
    # The simulator has no syncwarp: its groups meet at the block's barrier (every slot runs every loop).
    return ChainLayout(group, slots, chunk, shared, warp and not simulator)


@lru_cache(maxsize=None)
def chain_group_functions(warp_sync):
    """(barrier, store_rows) device functions of the sweep kernels' thread groups (``ChainLayout``).

    ``barrier()``: the group's meeting point, ``syncwarp`` for a warp group, else the block's barrier.
    ``store_rows(state, local_field, row, values, fields, lane, group)``: the group writes a chain's rows
    back from shared memory.
    """

    @cuda.jit(device=True)
    def barrier():
        if warp_sync:
            cuda.syncwarp()
        else:
            cuda.syncthreads()

    @cuda.jit(device=True)
    def store_rows(state, local_field, row, values, fields, lane, group):
        for j in range(lane, state.shape[1], group):
            state[row, j] = values[j]
            local_field[row, j] = fields[j]

    return barrier, store_rows


def default_row_groups():
    return SIMULATOR_ROW_GROUPS if simulated() else DEVICE_ROW_GROUPS


#: CUDA's limit on gridDim.y (gridDim.x allows 2**31 - 1): elementwise kernels put rows (chains) on y and
#: stride over them, so a launch of any number of chains fits.
MAX_GRID_Y = 65535


def grid_2d(num_rows, num_cols, block):
    """Grid of a (rows, columns) elementwise launch: columns on x, rows on y capped at ``MAX_GRID_Y``.

    None for an empty array (no launch: CUDA refuses a zero-sized grid).
    """
    if num_rows == 0 or num_cols == 0:
        return None
    return (-(-num_cols // block[0]), min(-(-num_rows // block[1]), MAX_GRID_Y))


def grid_1d(size, threads):
    """Blocks of a 1-d launch of ``size`` elements, or None when there are none."""
    return -(-size // threads) if size else None


def reduction_threads():
    """Threads of a block that reduces one row (``block_sum_function``): 128, or 1 in the simulator, whose
    barriers cost milliseconds each (the kernel tests ask for more)."""
    return 1 if simulated() else 128


@lru_cache(maxsize=None)
def block_sum_function(threads):
    """Device function ``block_sum(partial, t)``: the sum of the float64 shared array ``partial[:threads]``,
    into which each of the block's ``threads`` threads (a power of 2) has written its entry ``t``; every thread
    gets it.  A tree of pairwise sums, in a fixed order."""

    @cuda.jit(device=True)
    def block_sum(partial, t):
        cuda.syncthreads()
        width = threads // 2
        while width > 0:
            if t < width:
                partial[t] += partial[t + width]
            cuda.syncthreads()
            width //= 2
        return partial[0]

    return block_sum


def split_draw(draw):
    """(low, high) uint32 words of a draw index, as the kernels take them."""
    return np.uint32(draw & 0xFFFFFFFF), np.uint32(draw >> 32)



@lru_cache(maxsize=None)
def bernoulli_unit_functions(dtype):
    """(sigmoid, bernoulli) device functions for ``dtype``: p = sigmoid(x); 1{u < p} with the unit's Philox u."""
    dtype = np.dtype(dtype).type
    one, zero = dtype(1.0), dtype(0.0)
    limit = dtype(87.0)  # exp(-x) stays finite in float32 and NaN-free in the simulator
    uniform = uniform_from_bits(dtype)

    @cuda.jit(device=True)
    def sigmoid(x):
        x = min(max(x, -limit), limit)
        return one / (one + math.exp(-x))

    @cuda.jit(device=True)
    def bernoulli(p, unit, stream, draw_lo, draw_hi, key0, key1):
        bits = philox_word(uint32(unit >> 2), stream, draw_lo, draw_hi, key0, key1, unit & 3)
        return one if uniform(bits) < p else zero

    return sigmoid, bernoulli



@lru_cache(maxsize=None)
def _product_kernel(dtype, mode, transpose_left, transpose_right, tile):
    """Tiled ``out = epilogue(op(left) @ op(right))`` for one epilogue ``mode``.

    ``op`` transposes where asked; ``out`` is (M, N), the inner dimension K.
    Epilogues: SAMPLE / SAMPLE_WITH_MEANS / MEANS apply bias + sigmoid (+
    Bernoulli with row m on stream ``chain_offset + m``); ASSIGN writes
    ``alpha * product``; ACCUMULATE adds it to ``out``; PARTIAL writes the
    product over the inner piece ``blockIdx.z`` (``depth`` deep) into rows
    ``piece * M + m`` of ``means``, for ``split_sum`` to combine.
    """
    bm, bn, bk, tm, tn = tile
    threads_x, threads_y = tile.threads
    threads = threads_x * threads_y
    if (bm * bk) % threads or (bk * bn) % threads:
        raise ValueError(f"tile: {tile} does not split evenly over {threads} threads")
    left_loads, right_loads = bm * bk // threads, bk * bn // threads
    # Shapes of the shared tiles, built here: numba-cuda needs literal integers in cuda.shared.array,
    # and (bk, bm + _PAD) computed inside the kernel is not one (the simulator accepts any shape).
    left_shape, right_shape = (bk, bm + _PAD), (bk, bn + _PAD)
    dtype = np.dtype(dtype).type
    zero = dtype(0.0)
    sigmoid, bernoulli = bernoulli_unit_functions(dtype)

    @cuda.jit
    def kernel(left, right, bias, alpha, key0, key1, draw_lo, draw_hi, chain_offset, depth, out, means):
        num_rows, num_cols = out.shape
        piece = cuda.blockIdx.z  # the inner dimension's piece [piece * depth, (piece + 1) * depth)
        k_begin = piece * depth
        k_end = min(left.shape[0] if transpose_left else left.shape[1], k_begin + depth)
        left_tile = cuda.shared.array(left_shape, dtype)
        right_tile = cuda.shared.array(right_shape, dtype)
        acc = cuda.local.array((tm, tn), dtype)
        left_regs = cuda.local.array(tm, dtype)
        right_regs = cuda.local.array(tn, dtype)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        tid = ty * threads_x + tx
        col0 = cuda.blockIdx.x * bn
        # Row tiles stride over the grid's y (at most MAX_GRID_Y blocks): any number of rows fits.
        for row0 in range(cuda.blockIdx.y * bm, num_rows, cuda.gridDim.y * bm):
            for i in range(tm):
                for j in range(tn):
                    acc[i, j] = zero
            for k0 in range(k_begin, k_end, bk):
                # Cooperative loads, each along the contiguous axis of its source.
                for s in range(left_loads):
                    idx = tid + s * threads
                    if transpose_left:
                        kk, mm = idx // bm, idx % bm
                    else:
                        mm, kk = idx // bk, idx % bk
                    m, k = row0 + mm, k0 + kk
                    value = zero
                    if m < num_rows and k < k_end:
                        value = left[k, m] if transpose_left else left[m, k]
                    left_tile[kk, mm] = value
                for s in range(right_loads):
                    idx = tid + s * threads
                    if transpose_right:
                        nn, kk = idx // bk, idx % bk
                    else:
                        kk, nn = idx // bn, idx % bn
                    n, k = col0 + nn, k0 + kk
                    value = zero
                    if n < num_cols and k < k_end:
                        value = right[n, k] if transpose_right else right[k, n]
                    right_tile[kk, nn] = value
                cuda.syncthreads()
                for kk in range(bk):
                    for i in range(tm):
                        left_regs[i] = left_tile[kk, ty + i * threads_y]
                    for j in range(tn):
                        right_regs[j] = right_tile[kk, tx + j * threads_x]
                    for i in range(tm):
                        for j in range(tn):
                            acc[i, j] += left_regs[i] * right_regs[j]
                cuda.syncthreads()
            for i in range(tm):
                m = row0 + ty + i * threads_y
                if m < num_rows:
                    stream = uint32(chain_offset + m)
                    for j in range(tn):
                        n = col0 + tx + j * threads_x
                        if n < num_cols:
                            if mode == PARTIAL:
                                means[piece * num_rows + m, n] = acc[i, j]
                            elif mode == ASSIGN:
                                out[m, n] = alpha * acc[i, j]
                            elif mode == ACCUMULATE:
                                out[m, n] += alpha * acc[i, j]
                            else:
                                p = sigmoid(acc[i, j] + bias[n])
                                if mode != SAMPLE:
                                    means[m, n] = p
                                if mode != MEANS:
                                    out[m, n] = bernoulli(p, n, stream, draw_lo, draw_hi, key0, key1)

    return kernel


def launch_product(left, right, transpose_left, transpose_right, bias, alpha, key0, key1, draw, chain_offset,
                   out, means, mode, tile, pieces=1):
    """Launch the product kernel of ``mode`` (an epilogue constant) with ``tile`` (default: ``default_tile()``).

    ``pieces`` > 1 (mode PARTIAL) splits the inner dimension over the grid's z.
    """
    tile = tile or default_tile()
    if out.size == 0:
        return
    inner = left.shape[0] if transpose_left else left.shape[1]
    depth = _piece_depth(inner, pieces, tile)
    grid = (-(-out.shape[1] // tile.bn), min(-(-out.shape[0] // tile.bm), MAX_GRID_Y), max(1, -(-inner // depth)))
    kernel = _product_kernel(np.dtype(out.dtype), mode, transpose_left, transpose_right, tile)
    kernel[grid, tile.threads](left, right, bias, out.dtype.type(alpha), key0, key1, *split_draw(draw),
                               chain_offset, depth, out, means)


def _piece_depth(inner, pieces, tile):
    """Depth of each piece of an inner dimension split in ``pieces``: whole tile steps (all of it for one)."""
    if pieces <= 1:
        return max(inner, 1)
    steps = -(-inner // tile.bk)
    return -(-steps // pieces) * tile.bk


def split_pieces(num_rows, num_cols, inner, tile=None):
    """Pieces of the inner dimension of an (M, K) x (K, N) product: 1 unless its grid is small and K deep.

    A weight gradient (784 x 500 over 10 000 chains) has 56 blocks of 128 x 64: far fewer than the SMs of a
    large card, each looping over every chain.  Split, each block sums one piece of K and ``split_sum``
    adds the pieces in a fixed order, so results are reproducible: the pieces depend only on the shapes.
    """
    tile = tile or default_tile()
    pieces = _most_pieces(num_rows, num_cols, inner, tile)
    if pieces <= 1:
        return 1
    return -(-inner // _piece_depth(inner, pieces, tile))  # no empty piece


def _most_pieces(num_rows, num_cols, inner, tile):
    """The pieces asked of an inner dimension ``inner`` deep; ``split_pieces`` makes at most as many, and the
    bound grows with ``inner`` (the pieces made need not: 16896 splits in 132, 16904 in 125 on one grid)."""
    target, min_steps = ((SIMULATOR_SPLIT_TARGET_BLOCKS, SIMULATOR_MIN_SPLIT_STEPS) if simulated()
                         else (SPLIT_TARGET_BLOCKS, MIN_SPLIT_STEPS))
    blocks = -(-num_cols // tile.bn) * min(-(-num_rows // tile.bm), MAX_GRID_Y)
    if blocks == 0 or blocks >= target:
        return 1
    return min(-(-target // blocks), inner // (min_steps * tile.bk))


def split_scratch(num_rows, num_cols, max_inner, dtype, tile=None):
    """Scratch for split products of (M, N) = (``num_rows``, ``num_cols``) up to ``max_inner`` deep: a device
    array (pieces * M, N) for the most pieces any such product makes, or None when none splits.  Allocate it
    once, beside the output."""
    pieces = _most_pieces(num_rows, num_cols, max_inner, tile or default_tile())
    return cuda.device_array((pieces * num_rows, num_cols), dtype=dtype) if pieces > 1 else None


@lru_cache(maxsize=None)
def _split_sum_kernel(dtype, accumulate):
    zero = np.dtype(dtype).type(0.0)

    @cuda.jit
    def kernel(partial, pieces, alpha, out):
        n, first = cuda.grid(2)
        num_rows = out.shape[0]
        if n >= out.shape[1]:
            return
        for m in range(first, num_rows, cuda.gridsize(2)[1]):
            total = zero
            for piece in range(pieces):
                total += partial[piece * num_rows + m, n]
            if accumulate:
                out[m, n] += alpha * total
            else:
                out[m, n] = alpha * total

    return kernel


def scaled_product(left, right, alpha, out, accumulate=False, transpose_left=False, tile=None,
                   transpose_right=False, scratch=None):
    """``out = alpha * op(left) @ op(right)``, or ``out += ...`` with ``accumulate``.

    Parameters
    ----------
    left : device array, shape (M, K), or (K, M) with ``transpose_left``
    right : device array, shape (K, N), or (N, K) with ``transpose_right``
    alpha : float
    out : device array, shape (M, N)
    accumulate : bool
    transpose_left : bool
    tile : Tile, optional
    transpose_right : bool
    scratch : device array, optional
        ``split_scratch(M, N, K or more, dtype)``: where ``split_pieces`` splits K, the pieces are summed
        there and combined in a fixed order.  Without it the product is never split.
    """
    unused_bias = right[0]
    inner = left.shape[0] if transpose_left else left.shape[1]
    pieces = split_pieces(out.shape[0], out.shape[1], inner, tile) if scratch is not None else 1
    if pieces > 1 and out.size:
        if scratch.shape[0] < pieces * out.shape[0] or scratch.shape[1] != out.shape[1]:
            raise ValueError(f"scratch: shape {scratch.shape} does not hold {pieces} pieces of {out.shape}")
        partial = scratch[:pieces * out.shape[0]]
        launch_product(left, right, transpose_left, transpose_right, unused_bias, 0.0, np.uint32(0), np.uint32(0),
                       0, 0, out, partial, PARTIAL, tile, pieces)
        block = default_block()
        kernel = _split_sum_kernel(np.dtype(out.dtype), accumulate)
        kernel[grid_2d(out.shape[0], out.shape[1], block), block](partial, pieces, out.dtype.type(alpha), out)
        return
    launch_product(left, right, transpose_left, transpose_right, unused_bias, alpha, np.uint32(0), np.uint32(0), 0,
                   0, out, out, ACCUMULATE if accumulate else ASSIGN, tile)


@lru_cache(maxsize=None)
def _column_sum_kernels(dtype, block, accumulate):
    threads_x, threads_y = block
    dtype = np.dtype(dtype).type
    zero = dtype(0.0)

    @cuda.jit
    def partial_sums(x, partial):
        n = cuda.blockIdx.x * threads_x + cuda.threadIdx.x
        ty = cuda.threadIdx.y
        sums = cuda.shared.array((threads_y, threads_x), dtype)
        total = zero
        if n < x.shape[1]:
            for r in range(cuda.blockIdx.y * threads_y + ty, x.shape[0], cuda.gridDim.y * threads_y):
                total += x[r, n]
        sums[ty, cuda.threadIdx.x] = total
        cuda.syncthreads()
        if ty == 0 and n < x.shape[1]:
            for t in range(1, threads_y):
                total += sums[t, cuda.threadIdx.x]
            partial[cuda.blockIdx.y, n] = total

    @cuda.jit
    def combine(partial, scale, out):
        n = cuda.grid(1)
        if n >= out.shape[0]:
            return
        total = zero
        for r in range(partial.shape[0]):
            total += partial[r, n]
        if accumulate:
            out[n] += scale * total
        else:
            out[n] = scale * total

    return partial_sums, combine


def column_means(x, partial, scale, out, accumulate=False):
    """``out = scale * x.sum(axis=0)`` (or ``+=``), in a fixed order: reproducible, no atomics.

    Parameters
    ----------
    x : device array, shape (num_rows, N)
    partial : device array, shape (R, N)
        Scratch: R row groups are summed in parallel, then combined.
    scale : float
        ``1 / num_rows`` for means; negative to subtract.
    out : device array, shape (N,)
    accumulate : bool
    """
    block = default_block()
    partial_sums, combine = _column_sum_kernels(np.dtype(x.dtype), block, accumulate)
    if x.shape[1] == 0:
        return
    partial_sums[(-(-x.shape[1] // block[0]), partial.shape[0]), block](x, partial)
    threads = block[0] * block[1]
    combine[grid_1d(x.shape[1], threads), threads](partial, x.dtype.type(scale), out)


@cuda.jit
def _add_row_kernel(x, row):
    j, first = cuda.grid(2)
    if j < x.shape[1]:
        for r in range(first, x.shape[0], cuda.gridsize(2)[1]):
            x[r, j] += row[j]


def add_row(x, row):
    """``x += row`` on every row of ``x`` (num_rows, N); ``row`` (N,)."""
    block = default_block()
    grid = grid_2d(x.shape[0], x.shape[1], block)
    if grid is not None:
        _add_row_kernel[grid, block](x, row)


@cuda.jit
def _gather_rows_kernel(data, rows, out):
    j, first = cuda.grid(2)
    if j < out.shape[1]:
        for r in range(first, out.shape[0], cuda.gridsize(2)[1]):
            out[r, j] = data[rows[r], j]


def gather_rows(data, rows, out):
    """``out = data[rows]`` on the device (minibatches from the resident data set).

    Parameters
    ----------
    data : device array, shape (num_samples, N)
    rows : device array of int64, shape (batch_size,)
    out : device array, shape (batch_size, N)
    """
    block = default_block()
    grid = grid_2d(out.shape[0], out.shape[1], block)
    if grid is not None:
        _gather_rows_kernel[grid, block](data, rows, out)


@cuda.jit
def _ascend_kernel(param, grad, learning_rate, decay, limit, update, runaway):
    i = cuda.grid(1)
    if i >= param.shape[0]:
        return
    flagged = runaway[0]
    if flagged != 0 and flagged != update:  # an earlier update ran away: keep its parameters for the report
        return
    value = param[i] + learning_rate * (grad[i] - decay * param[i])
    param[i] = value
    if not abs(value) <= limit:  # also true for NaN
        cuda.atomic.cas(runaway, 0, 0, update)  # the first update that ran away


def ascend(param, grad, learning_rate, decay, limit, update, runaway):
    """``param += learning_rate * (grad - decay * param)``, and the runaway flag of ``update``.

    Where ``|param| > limit`` or NaN, ``runaway[0]`` becomes ``update`` unless an earlier update set it; once
    it is set, the launches of later updates leave ``param`` as it is, so the host, which reads the flag only
    every few updates, finds the parameters of the update that ran away.

    Parameters
    ----------
    param, grad : device arrays, shape (N,)
        Flat views (``reshape(-1)``) of a parameter and its gradient.
    learning_rate, decay : float
    limit : float
        ``finfo.max / N`` flags a parameter whose sum may overflow, as the CPU trainer's check does.
    update : int
        The update's number (from 1), the same for every parameter of one update.
    runaway : device array of int32, shape (1,)
        0, or the first update that ran away.
    """
    threads = default_block()[0] * default_block()[1]
    kind = param.dtype.type
    if param.shape[0] == 0:
        return
    _ascend_kernel[grid_1d(param.shape[0], threads), threads](param, grad, kind(learning_rate), kind(decay),
                                                              kind(limit), np.int32(update), runaway)


@lru_cache(maxsize=None)
def _blend_kernel(dtype):
    one = np.dtype(dtype).type(1.0)  # a literal 1 would make (1 - rate) float64 in a float32 kernel

    @cuda.jit
    def kernel(target, source, rate):
        i = cuda.grid(1)
        if i < target.shape[0]:
            target[i] = (one - rate) * target[i] + rate * source[i]

    return kernel


def blend(target, source, rate):
    """``target = (1 - rate) target + rate source`` (a running mean), device vectors of one dtype."""
    threads = default_block()[0] * default_block()[1]
    if target.shape[0]:
        _blend_kernel(np.dtype(target.dtype))[grid_1d(target.shape[0], threads), threads](target, source,
                                                                                          target.dtype.type(rate))


@cuda.jit
def _affine_kernel(x, scale, offset):
    j, first = cuda.grid(2)
    if j < x.shape[1]:
        for r in range(first, x.shape[0], cuda.gridsize(2)[1]):
            x[r, j] = scale * x[r, j] + offset


def affine(x, scale, offset):
    """``x = scale * x + offset`` in place on a device matrix (e.g. {0, 1} -> +-1 with 2, -1)."""
    block = default_block()
    kind = x.dtype.type
    grid = grid_2d(x.shape[0], x.shape[1], block)
    if grid is not None:
        _affine_kernel[grid, block](x, kind(scale), kind(offset))


@cuda.jit
def _zero_diagonal_kernel(m):
    i = cuda.grid(1)
    if i < m.shape[0]:
        m[i, i] = 0


def zero_diagonal(m):
    """Set the diagonal of the square device matrix ``m`` to 0."""
    threads = default_block()[0] * default_block()[1]
    if m.shape[0]:
        _zero_diagonal_kernel[grid_1d(m.shape[0], threads), threads](m)
