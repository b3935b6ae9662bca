"""CPU kernels of the Bernoulli-Bernoulli RBM (Numba).

Kernels do not validate, do not allocate and never raise: the public layer
(``sample.py``, ``train.py``) does that.  Everything elementwise that follows
a matrix product (bias, sigmoid, random draw, compare) is one vectorised
pass.  ``gibbs_block_steps`` runs whole Gibbs steps with each thread owning a
block of chains and calling BLAS on it; ``gibbs_unit_steps`` runs them with
the threads splitting each layer's units instead (for few chains per thread).
Their passes fill a group of rows' Philox words in one flat loop into a
scratch the caller owns, then sample the group's units, so both loops run at
SIMD width even on short rows.
``sample_bernoulli_layer`` is the pass alone, parallel over chains, one fused
loop per row (no scratch), for products done by the caller.

Unit ``j`` of row ``c`` takes word ``j % 4`` of the Philox block ``j // 4`` of
stream ``chain_offset + c`` at ``draw`` (``bmsample._rng``).  A kernel
stores the conditional means when given its optional ``means`` argument:
Numba compiles the call without it with no store at all (``means_or``), since
a run-time flag in the loop body costs about 30 % of the pass.
"""

import numpy as np
from numba import prange

from .._atomics import atomic_add, wait_until_at_least
from .._jit import helper, kernel
from .._numerics import fast_exp, fast_log, fast_sigmoid, means_or, one_like, sum_products4
from .._rng import philox4x32, uniform_from_bits


@helper
def _sample_unit(x, bits, states_row, means_row, j, with_means):
    """Unit ``j`` on with probability sigmoid(x): u < 1 / (1 + e) written as u (1 + e) < 1, without a division."""
    one = one_like(x)
    denominator = one + fast_exp(-x)
    states_row[j] = one if uniform_from_bits(bits, x) * denominator < one else one - one
    if with_means:
        means_row[j] = one / denominator


#: Philox words a block of chains draws per pass (16 KiB: they stay in L1 for the rows they feed).
PASS_WORDS = 4096


@helper
def _row_words(num_units):
    """Words of one row in the scratch: whole Philox blocks."""
    return 4 * ((num_units + 3) // 4)


@helper
def _fill_words(first_stream, num_rows, first_block, blocks_per_row, draw_lo, draw_hi, key0, key1, words):
    """Philox blocks ``first_block ...`` of ``num_rows`` consecutive streams, row after row, into ``words``.

    One flat loop over (row, block) pairs, so it runs at SIMD width however
    short the rows are (a loop per row of 13 blocks never reaches the vector
    body of 16 blocks).
    """
    inverse = 1.0 / blocks_per_row
    for g in range(num_rows * blocks_per_row):
        # g // blocks_per_row without a (scalar) integer division; exact: (g + 1/2) / blocks_per_row is
        # 1 / (2 blocks_per_row) away from an integer, far more than float64 rounding for g < 2**40.
        row = np.int64((g + 0.5) * inverse)
        block = g - row * blocks_per_row
        w = philox4x32(np.uint32(first_block + block), np.uint32(first_stream + row), draw_lo, draw_hi, key0, key1)
        for r in range(4):
            words[4 * g + r] = w[r]


@helper
def _sample_units(field, bias, key0, key1, draw, first_stream, first_unit, states, means, with_means, words):
    """Units ``first_unit : first_unit + width`` of every row of ``states``, group of rows by group.

    ``field`` (num_rows, width) holds their input, ``first_unit`` is a
    multiple of 4 (a Philox block) and row ``c`` draws from stream
    ``first_stream + c``.  Each group of rows gets its Philox words first,
    then its units: two loops that each vectorise on their own, where
    ``_sample_row``'s fused loop does only on rows of 64 units and more
    (measured on a 100 x 50 RBM: the passes take about a third less time).
    ``words`` is scratch of at least ``_row_words(width)`` uint32.  Rows and
    ``bias`` are sliced before the unit loop: an index such as
    ``bias[first_unit + j]`` could be negative as far as Numba knows, and its
    wraparound select turns the loads into gathers (twice the time).
    """
    num_rows, width = field.shape
    last_unit = first_unit + width
    bias = bias[first_unit:last_unit]
    row_words = _row_words(width)
    rows_per_pass = words.shape[0] // row_words
    draw_lo = np.uint32(draw & 0xFFFFFFFF)
    draw_hi = np.uint32(draw >> 32)
    for first in range(0, num_rows, rows_per_pass):
        last = min(first + rows_per_pass, num_rows)
        _fill_words(first_stream + first, last - first, first_unit // 4, row_words // 4, draw_lo, draw_hi,
                    key0, key1, words)
        for c in range(first, last):
            field_row = field[c]
            states_row, means_row = states[c, first_unit:last_unit], means[c, first_unit:last_unit]
            row_bits = words[(c - first) * row_words:(c - first + 1) * row_words]
            for j in range(width):
                _sample_unit(field_row[j] + bias[j], row_bits[j], states_row, means_row, j, with_means)


def pass_scratch(num_blocks, num_units):
    """Scratch ``words`` of ``gibbs_block_steps`` for ``num_blocks`` blocks and layers of up to ``num_units`` units.

    Returns
    -------
    ndarray of uint32, shape (num_blocks, max(PASS_WORDS, 4 ceil(num_units / 4)))
    """
    return np.empty((num_blocks, max(PASS_WORDS, _row_words.py_func(num_units))), dtype=np.uint32)


@helper
def _sample_row(field_row, bias, stream, draw_lo, draw_hi, key0, key1, states_row, means_row, with_means):
    """One row in one fused loop (no scratch; vectorised on rows of 64 units and more)."""
    num_units = field_row.shape[0]
    num_full_blocks = num_units // 4
    for block in range(num_full_blocks):
        words = philox4x32(np.uint32(block), stream, draw_lo, draw_hi, key0, key1)
        for r in range(4):
            j = 4 * block + r
            _sample_unit(field_row[j] + bias[j], words[r], states_row, means_row, j, with_means)
    if 4 * num_full_blocks < num_units:
        words = philox4x32(np.uint32(num_full_blocks), stream, draw_lo, draw_hi, key0, key1)
        for r in range(num_units - 4 * num_full_blocks):
            j = 4 * num_full_blocks + r
            _sample_unit(field_row[j] + bias[j], words[r], states_row, means_row, j, with_means)


@kernel
def sample_bernoulli_layer(field, bias, key0, key1, draw, chain_offset, states, means=None):
    """Draw a layer of {0,1} units given its input field.

    ``states[c, j] = 1{u < sigmoid(field[c, j] + bias[j])}``.

    Parameters
    ----------
    field : ndarray, shape (num_chains, num_units)
        Input from the other layer, e.g. ``v @ W`` for the hidden layer.
    bias : ndarray, shape (num_units,)
    key0, key1 : uint32
        Philox key of the chains' streams.
    draw : int
        Draw index (one per layer pass).
    chain_offset : int
        Stream index of row 0.
    states : ndarray, shape (num_chains, num_units)
        Output, exact 0/1 in the dtype of ``field``.
    means : ndarray, shape (num_chains, num_units), optional
        Also receives ``sigmoid(field + bias)``.
    """
    draw_lo = np.uint32(draw & 0xFFFFFFFF)
    draw_hi = np.uint32(draw >> 32)
    target, with_means = means_or(states, means), means is not None
    for c in prange(field.shape[0]):
        _sample_row(field[c], bias, np.uint32(chain_offset + c), draw_lo, draw_hi, key0, key1,
                    states[c], target[c], with_means)


@helper
def _tempered_rows(field, bias, base_bias, row_beta, key0, key1, draw, first_stream, states):
    """Rows of ``states`` = 1{u < sigmoid(beta_c (field + bias) + (1 - beta_c) base_bias)}, row c on stream
    ``first_stream + c`` with the random numbers of ``sample_bernoulli_layer``."""
    draw_lo = np.uint32(draw & 0xFFFFFFFF)
    draw_hi = np.uint32(draw >> 32)
    num_units = field.shape[1]
    num_full_blocks = num_units // 4
    for c in range(field.shape[0]):
        beta = row_beta[c]
        rest = one_like(beta) - beta
        field_row, states_row = field[c], states[c]
        stream = np.uint32(first_stream + c)
        for block in range(num_full_blocks):
            words = philox4x32(np.uint32(block), stream, draw_lo, draw_hi, key0, key1)
            for r in range(4):
                j = 4 * block + r
                _sample_unit(beta * (field_row[j] + bias[j]) + rest * base_bias[j], words[r], states_row, states_row,
                             j, False)
        if 4 * num_full_blocks < num_units:
            words = philox4x32(np.uint32(num_full_blocks), stream, draw_lo, draw_hi, key0, key1)
            for r in range(num_units - 4 * num_full_blocks):
                j = 4 * num_full_blocks + r
                _sample_unit(beta * (field_row[j] + bias[j]) + rest * base_bias[j], words[r], states_row, states_row,
                             j, False)


@kernel
def sample_tempered_layer(field, bias, base_bias, row_beta, key0, key1, draw, chain_offset, states):
    """Draw a layer of {0,1} units of chains at their own inverse temperatures (parallel tempering).

    ``states[c, j] = 1{u < sigmoid(beta_c (field[c, j] + bias[j]) + (1 - beta_c) base_bias[j])}`` with
    ``beta_c = row_beta[c]``, and the random numbers of ``sample_bernoulli_layer``.

    Parameters
    ----------
    field : ndarray, shape (num_chains, num_units)
    bias, base_bias : ndarray, shape (num_units,)
        The model's biases, and those of the beta = 0 law.
    row_beta : ndarray, shape (num_chains,)
        In the dtype of ``field``.
    key0, key1, draw, chain_offset
        As in ``sample_bernoulli_layer``.
    states : ndarray, shape (num_chains, num_units)
        Output, exact 0/1 in the dtype of ``field``.
    """
    num_chains = field.shape[0]
    for c in prange(num_chains):
        _tempered_rows(field[c:c + 1], bias, base_bias, row_beta[c:c + 1], key0, key1, draw, chain_offset + c,
                       states[c:c + 1])


@helper
def _log_of_product(terms, n):
    """sum_j log(terms[j]) over the first ``n`` terms, each in [1/2, 2], destroying them: four rounds of
    terms[j] *= terms[j + half] (contiguous, so they vectorise) leave products of 16 terms, in [2^-20, 2^20],
    whose logarithms are summed: one logarithm per 16 terms, at a float rounding of 16 products."""
    for _ in range(4):
        if n < 2:
            break
        half = n // 2
        for j in range(half):
            terms[j] *= terms[j + half]
        if n & 1:
            terms[0] *= terms[n - 1]
        n = half
    for j in range(n):
        terms[j] = fast_log(terms[j])
    return _plain_sum(terms, n)


@helper
def _plain_sum(x, n):
    """sum of x[:n] in float64, four partial sums."""
    s0 = s1 = s2 = s3 = 0.0
    for i in range(0, n - 3, 4):
        s0 += x[i]
        s1 += x[i + 1]
        s2 += x[i + 2]
        s3 += x[i + 3]
    for i in range(n - n % 4, n):
        s0 += x[i]
    return (s0 + s1) + (s2 + s3)


@helper
def _block_bounds(block, num_rows, num_blocks):
    return block * num_rows // num_blocks, (block + 1) * num_rows // num_blocks


@kernel
def tempered_fields_and_gaps(weights, hbias, visible, vbias_gap, betas, new_betas, num_blocks, hidden_field, terms,
                             ones, gaps):
    """The hidden fields of parallel tempering's chains and the log-weight gaps of their swaps.

    Each of ``num_blocks`` blocks of rows computes ``hidden_field = visible @ weights`` through BLAS (which
    must be single-threaded here: the caller sets it), then, while its rows are in cache,

        gaps[c] = sum_j [softplus(beta'_c y_cj) - softplus(beta_c y_cj)] + (beta'_c - beta_c) v_c . vbias_gap,

    y = hidden_field + hbias, beta_c = ``betas[c]``, beta'_c = ``new_betas[c]``: log p*_{beta'}(v) -
    log p*_beta(v) for the RBM (beta W, (1 - beta) a0 + beta a, beta b), ``vbias_gap`` = a - a0; 0 where
    beta' = beta.  The softplus terms are computed in the dtype of ``hidden_field`` (float32 ones at twice the
    SIMD width; the field is then a float32 product itself) into ``terms`` (a scratch row of 2 num_hiddens per
    block), loops with no reduction that vectorise (``_gap_rows``), and summed in float64.  ``hbias``, ``ones``
    (num_hiddens ones) are in that dtype, ``vbias_gap`` and the betas float64.
    """
    num_rows = hidden_field.shape[0]
    for block in prange(num_blocks):
        # Chunks of rows that stay in L2 between the product and the gaps were slower (smaller GEMMs): measured,
        # 784 x 500, 1600 rows, float32, sweep 11.7-12.5 ms whole blocks, 12.5-13.0 ms chunks of 256, 13.7-14.0 of 128.
        lo, hi = _block_bounds(block, num_rows, num_blocks)
        np.dot(visible[lo:hi], weights, hidden_field[lo:hi])
        _gap_rows(hidden_field, hbias, visible, vbias_gap, betas, new_betas, lo, hi, terms[block], ones, gaps)


@helper
def _gap_rows(hidden_field, hbias, visible, vbias_gap, betas, new_betas, lo, hi, terms, ones, gaps):
    """softplus(beta' y) - softplus(beta y) = (beta' - beta) max(y, 0) + log((1 + e^{-beta' |y|}) / (1 + e^{-beta |y|}))
    summed over a row: the ratios (in [1/2, 2]) go to the first half of ``terms`` (the block's scratch row,
    which stays in L1) and max(y, 0) to the second, in loops without reductions that vectorise; then one
    logarithm per 16 ratios (``_log_of_product``)."""
    num_hiddens = hidden_field.shape[1]
    for c in range(lo, hi):
        beta, new_beta = betas[c], new_betas[c]
        if beta == new_beta:
            gaps[c] = 0.0
            continue
        field, ratios, positive = hidden_field[c], terms[:num_hiddens], terms[num_hiddens:]
        low, low_new = hbias.dtype.type(beta), hbias.dtype.type(new_beta)
        one = one_like(low)
        for j in range(num_hiddens):
            y = field[j] + hbias[j]
            ay = abs(y)
            ratios[j] = (one + fast_exp(-low_new * ay)) / (one + fast_exp(-low * ay))
            positive[j] = max(y, y - y)
        gaps[c] = (_log_of_product(ratios, num_hiddens) + (new_beta - beta) * sum_products4(positive, ones)
                   + (new_beta - beta) * sum_products4(visible[c], vbias_gap))


@kernel
def tempered_hidden_step(weights, hbias, zero_hbias, row_beta, key0, key1, draw, num_blocks, hidden_field, hidden,
                         visible_field):
    """The hidden half-step of parallel tempering's chains and the field ``hidden @ weights.T`` of the next.

    Each of ``num_blocks`` blocks of rows draws its hidden units at the rows' inverse temperatures
    (``sample_tempered_layer`` with ``zero_hbias`` as the base biases, stream = row, draw ``draw``) and
    multiplies them through single-threaded BLAS (the caller sets it).  ``row_beta`` is in the dtype of the
    fields.
    """
    num_rows = hidden_field.shape[0]
    for block in prange(num_blocks):
        lo, hi = _block_bounds(block, num_rows, num_blocks)
        _tempered_rows(hidden_field[lo:hi], hbias, zero_hbias, row_beta[lo:hi], key0, key1, draw, lo,
                       hidden[lo:hi])
        np.dot(hidden[lo:hi], weights.T, visible_field[lo:hi])


@kernel
def bernoulli_means(field, bias, means):
    """``means = sigmoid(field + bias)`` row by row; ``means`` may be ``field``."""
    for c in prange(field.shape[0]):
        for j in range(field.shape[1]):
            means[c, j] = fast_sigmoid(field[c, j] + bias[j])


@kernel
def add_scaled(target, source, scale):
    """``target += scale * source`` in place, for matrices of the same shape."""
    for i in prange(target.shape[0]):
        for j in range(target.shape[1]):
            target[i, j] += scale * source[i, j]


@kernel
def subtract_outer_pair(target, x1, y1, x2, y2):
    """``target -= outer(x1, y1) + outer(x2, y2)`` in place; ``target`` has shape (len(x), len(y))."""
    for i in prange(target.shape[0]):
        for j in range(target.shape[1]):
            target[i, j] -= x1[i] * y1[j] + x2[i] * y2[j]


@helper
def _block_step(weights, vbias, hbias, key0, key1, draw, chain_offset, lo, hi, visible, hidden, hidden_field,
                visible_field, means, with_means, words):
    np.dot(visible[lo:hi], weights, hidden_field[lo:hi])
    _sample_units(hidden_field[lo:hi], hbias, key0, key1, draw, chain_offset + lo, 0, hidden[lo:hi], hidden[lo:hi],
                  False, words)
    np.dot(hidden[lo:hi], weights.T, visible_field[lo:hi])
    _sample_units(visible_field[lo:hi], vbias, key0, key1, draw + 1, chain_offset + lo, 0, visible[lo:hi],
                  means[lo:hi], with_means, words)


@kernel
def gibbs_block_steps(weights, vbias, hbias, key0, key1, first_draw, chain_offset, steps, num_blocks, chunk_rows,
                      visible, hidden, hidden_field, visible_field, words, visible_means=None):
    """Run ``steps`` block-Gibbs steps, each thread owning one block of chains for all the steps.

    The same Markov chain, with the same random numbers, as ``steps`` rounds of
    ``v @ W`` / ``sample_bernoulli_layer`` / ``h @ W.T`` / ``sample_bernoulli_layer``
    with draws ``first_draw + 2 t`` (hidden) and ``first_draw + 2 t + 1``
    (visible).  Each of the ``num_blocks`` blocks of consecutive chains does
    its own products through BLAS (which must be single-threaded here: the
    caller sets it) and its own sampling passes, so a run of k steps is one
    parallel region instead of 2k parallel passes and 2k multi-threaded
    products, each with its fork and join.  A block runs its chains
    ``chunk_rows`` at a time through all the steps (chains are independent),
    which keeps a chunk's chains and fields in the core's cache.

    Parameters
    ----------
    weights : ndarray, shape (num_visibles, num_hiddens)
    vbias : ndarray, shape (num_visibles,)
    hbias : ndarray, shape (num_hiddens,)
    key0, key1 : uint32
    first_draw : int
    chain_offset : int
        Stream index of row 0.
    steps : int
    num_blocks : int
        Threads to use, at most the number of chains.
    chunk_rows : int
        Chains per chunk, at least 1.
    visible : ndarray, shape (num_chains, num_visibles)
        Exact 0/1 chains, updated in place.
    hidden, hidden_field : ndarray, shape (num_chains, num_hiddens)
        Scratch (``hidden`` holds the last hidden states on return).
    visible_field : ndarray, shape (num_chains, num_visibles)
        Scratch.
    words : ndarray of uint32, shape (>= num_blocks, n)
        Philox scratch of the passes, from ``pass_scratch``.
    visible_means : ndarray, shape (num_chains, num_visibles), optional
        Receives P(v = 1 | h) of the last half-step (``steps`` >= 1).
    """
    num_chains = visible.shape[0]
    means, with_means = means_or(visible, visible_means), visible_means is not None
    for block in prange(num_blocks):
        lo, hi = block * num_chains // num_blocks, (block + 1) * num_chains // num_blocks
        for first in range(lo, hi, chunk_rows):
            last = min(first + chunk_rows, hi)
            for t in range(steps - 1 if with_means else steps):
                _block_step(weights, vbias, hbias, key0, key1, first_draw + 2 * t, chain_offset, first, last,
                            visible, hidden, hidden_field, visible_field, visible, False, words[block])
            if with_means:
                _block_step(weights, vbias, hbias, key0, key1, first_draw + 2 * (steps - 1), chain_offset, first,
                            last, visible, hidden, hidden_field, visible_field, means, True, words[block])


@helper
def _slice_bounds(s, num_units, num_slices):
    """Units ``lo:hi`` of slice ``s`` of ``num_slices``: whole Philox blocks, the last slice takes the rest.

    Every slice is non-empty when ``num_slices <= num_units // 4``.
    """
    lo = 4 * ((s * num_units // num_slices) // 4)
    hi = num_units if s == num_slices - 1 else 4 * (((s + 1) * num_units // num_slices) // 4)
    return lo, hi


@helper
def _unit_worker(weights, vbias, hbias, key0, key1, first_draw, chain_offset, steps, num_slices, visible, hidden,
                 hidden_field, visible_field, words, weight_columns, copy_columns, tasks, means, with_means):
    """Claim tasks (half-step, slice) in order until none is left; see ``gibbs_unit_steps``."""
    num_chains, num_visibles = visible.shape
    num_hiddens = hidden.shape[1]
    hidden_scratch, visible_scratch = hidden_field.reshape(-1), visible_field.reshape(-1)
    while True:
        task = atomic_add(tasks, 0, 1)
        if task >= 2 * steps * num_slices:
            return
        phase = task // num_slices
        s = task - phase * num_slices
        wait_until_at_least(tasks, 1, phase * num_slices)  # the previous half-step's tasks run on other threads
        if phase % 2 == 0:
            lo, hi = _slice_bounds(s, num_hiddens, num_slices)
            columns = weight_columns[num_visibles * lo:num_visibles * hi].reshape((num_visibles, hi - lo))
            if phase == 0 and copy_columns:
                columns[:, :] = weights[:, lo:hi]
            field = hidden_scratch[num_chains * lo:num_chains * hi].reshape((num_chains, hi - lo))
            np.dot(visible, columns, field)
            _sample_units(field, hbias, key0, key1, first_draw + phase, chain_offset, lo, hidden, hidden, False,
                          words)
        else:
            lo, hi = _slice_bounds(s, num_visibles, num_slices)
            field = visible_scratch[num_chains * lo:num_chains * hi].reshape((num_chains, hi - lo))
            np.dot(hidden, weights[lo:hi].T, field)
            if with_means and phase == 2 * steps - 1:
                _sample_units(field, vbias, key0, key1, first_draw + phase, chain_offset, lo, visible, means, True,
                              words)
            else:
                _sample_units(field, vbias, key0, key1, first_draw + phase, chain_offset, lo, visible, visible,
                              False, words)
        atomic_add(tasks, 1, 1)


@kernel
def gibbs_unit_steps(weights, vbias, hbias, key0, key1, first_draw, chain_offset, steps, num_slices,
                     visible, hidden, hidden_field, visible_field, words, weight_columns, copy_columns, tasks,
                     visible_means=None):
    """``gibbs_block_steps`` with the threads splitting the units of each layer instead of the chains.

    Each half-step is ``num_slices`` tasks, one per slice of the layer's
    units (whole Philox blocks): the slice's product over all chains through
    single-threaded BLAS, then its sampling pass.  With few chains per thread
    this packs W once per product, where ``gibbs_block_steps`` has every
    thread pack all of it.  The same chains, with the same random numbers.

    The threads claim tasks in order from ``tasks[0]`` and count finished
    ones in ``tasks[1]``; a task waits until every task of the previous
    half-step has finished.  This cannot deadlock, however many threads
    actually run: the tasks waited for were claimed earlier, by threads that
    are running them, and a thread running alone claims them all in order.

    Parameters
    ----------
    weights, vbias, hbias, key0, key1, first_draw, chain_offset, steps
        As in ``gibbs_block_steps``.
    num_slices : int
        Slices per layer, at most the thread count and ``min(num_visibles, num_hiddens) // 4``.
    visible, hidden, hidden_field, visible_field
        As in ``gibbs_block_steps`` (the fields hold the slices' products, slice after slice).
    words : ndarray of uint32, shape (>= num_slices, n)
        Philox scratch, from ``pass_scratch``.
    weight_columns : ndarray, shape (>= num_visibles * num_hiddens,)
        Each slice's columns of W, contiguous for BLAS.
    copy_columns : bool
        Copy them from ``weights`` first; False reuses the previous call's copy (same ``weights``).
    tasks : ndarray of int64, shape (2,)
        Scratch counters.
    visible_means : ndarray, shape (num_chains, num_visibles), optional
        Receives P(v = 1 | h) of the last half-step.
    """
    tasks[0] = 0
    tasks[1] = 0
    means, with_means = means_or(visible, visible_means), visible_means is not None
    for worker in prange(num_slices):
        _unit_worker(weights, vbias, hbias, key0, key1, first_draw, chain_offset, steps, num_slices, visible,
                     hidden, hidden_field, visible_field, words[worker], weight_columns, copy_columns, tasks, means,
                     with_means)


@helper
def _log_weight_row(field_row, hbias, visible_row, vbias):
    """log p*(v) = v . a + sum_j softplus((v W)_j + b_j) of one row, in float64 (the exact -F(v))."""
    total = 0.0
    for i in range(visible_row.shape[0]):
        total += np.float64(visible_row[i]) * np.float64(vbias[i])
    for j in range(field_row.shape[0]):
        x = np.float64(field_row[j]) + np.float64(hbias[j])
        total += max(x, 0.0) + np.log1p(fast_exp(-abs(x)))
    return total


@kernel
def trajectory_fields(weights, vbias, hbias, models, chunks, visible, fields, log_weights):
    """Hidden fields and log-weights of every replica's chains under one model of a trajectory each.

    For replica r with ``models[r] = t >= 0`` (skipped where t < 0): ``fields[r] = visible[r] @ weights[t]``
    through BLAS (single-threaded: the caller sets it; each of ``chunks`` blocks of the replica's rows is one
    thread's) and ``log_weights[r, m] = log p*_t(visible[r, m])`` (``_log_weight_row``).

    Shapes: weights (T, N, H), vbias (T, N), hbias (T, H), visible (R, M, N), fields (R, M, H),
    log_weights (R, M) float64.
    """
    num_replicas, num_chains = visible.shape[0], visible.shape[1]
    for block in prange(num_replicas * chunks):
        r, part = block // chunks, block % chunks
        t = models[r]
        if t < 0:
            continue
        lo, hi = _block_bounds(part, num_chains, chunks)
        np.dot(visible[r, lo:hi], weights[t], fields[r, lo:hi])
        for m in range(lo, hi):
            log_weights[r, m] = _log_weight_row(fields[r, m], hbias[t], visible[r, m], vbias[t])


@kernel
def trajectory_gibbs_step(weights, vbias, hbias, models, key0, key1, draw, chunks, fields, hidden, visible_field,
                          visible):
    """One block-Gibbs step of every replica r under model ``models[r]``, from its hidden fields (ready).

    Row m of replica r has stream r M + m; the hidden pass takes draw ``draw`` and the visible pass
    ``draw + 1``.  Each of ``chunks`` blocks of a replica's rows is one thread's, calling single-threaded BLAS.
    Shapes as in ``trajectory_fields``; hidden (R, M, H) and visible_field (R, M, N) are scratch.
    """
    num_replicas, num_chains = visible.shape[0], visible.shape[1]
    hidden_lo, hidden_hi = np.uint32(draw & 0xFFFFFFFF), np.uint32(draw >> 32)
    visible_lo, visible_hi = np.uint32((draw + 1) & 0xFFFFFFFF), np.uint32((draw + 1) >> 32)
    for block in prange(num_replicas * chunks):
        r, part = block // chunks, block % chunks
        t = models[r]
        lo, hi = _block_bounds(part, num_chains, chunks)
        for m in range(lo, hi):
            _sample_row(fields[r, m], hbias[t], np.uint32(r * num_chains + m), hidden_lo, hidden_hi, key0, key1,
                        hidden[r, m], hidden[r, m], False)
        np.dot(hidden[r, lo:hi], weights[t].T, visible_field[r, lo:hi])
        for m in range(lo, hi):
            _sample_row(visible_field[r, m], vbias[t], np.uint32(r * num_chains + m), visible_lo, visible_hi, key0,
                        key1, visible[r, m], visible[r, m], False)
