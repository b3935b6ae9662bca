"""Atomic integer counters for Numba CPU kernels, and a wait on them.

Numba has no atomics on the CPU (``numba.cuda.atomic`` is for the device),
so two intrinsics emit LLVM's ``atomicrmw add`` and ``load atomic`` on an
element of an int64 array.  ``gibbs_unit_steps`` uses them to hand out tasks
and to wait for the tasks of the previous half-step; see there why that
cannot deadlock.
"""

import sys

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_COUNTERS = types.Array(types.int64, 1, "C")


def _element_pointer(context, builder, array_type, array, index):
    ary = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, ary, [index])


@intrinsic
def atomic_add(typingctx, counters, index, value):
    """``counters[index] += value`` as one atomic step (sequentially consistent); returns the old value.

    ``counters`` is a C-contiguous int64 array, ``index`` must be in range
    and non-negative (no wraparound, no bounds check).
    """
    if counters != _COUNTERS:
        return None

    def codegen(context, builder, signature, args):
        array, index, value = args
        pointer = _element_pointer(context, builder, signature.args[0], array, index)
        return builder.atomic_rmw("add", pointer, value, "seq_cst")

    return types.int64(_COUNTERS, types.intp, types.int64), codegen


@intrinsic
def atomic_load(typingctx, counters, index):
    """``counters[index]`` read atomically with acquire ordering (writes before the matching add are visible)."""
    if counters != _COUNTERS:
        return None

    def codegen(context, builder, signature, args):
        array, index = args
        pointer = _element_pointer(context, builder, signature.args[0], array, index)
        return builder.load_atomic(pointer, "acquire", 8)

    return types.int64(_COUNTERS, types.intp), codegen


#: Whether the C library has ``sched_yield`` (POSIX); elsewhere a wait only spins.
_HAS_SCHED_YIELD = sys.platform != "win32"


@intrinsic
def _yield_thread(typingctx):
    """Offer the core to another runnable thread (``sched_yield``)."""

    def codegen(context, builder, signature, args):
        if _HAS_SCHED_YIELD:
            function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []),
                                                      "sched_yield")
            builder.call(function, [])
        return context.get_dummy_value()

    return types.void(), codegen


#: Spins of ``wait_until_at_least`` before it starts yielding (a few microseconds).
SPINS_BEFORE_YIELD = 2000


@njit(inline="always")
def wait_until_at_least(counters, index, target):
    """Return once ``counters[index] >= target`` (acquire): spin briefly, then yield the core while waiting.

    Spinning alone would let a waiting thread hold its core for a whole time
    slice while the thread it waits for is not running, as when more threads
    than cores run (measured on 2 cores, two processes of 2 threads each:
    140 Gibbs steps/s each instead of 430).
    """
    spins = 0
    while atomic_load(counters, index) < target:
        spins += 1
        if spins > SPINS_BEFORE_YIELD:
            _yield_thread()
