"""Atomic integer counters for Numba CPU kernels.

Numba has no atomics on the CPU (``numba.cuda.atomic`` is for the device),
so these two intrinsics emit LLVM's ``atomicrmw add`` and ``load atomic``
on an element of an int64 array.  ``gibbs_unit_steps`` uses them to hand out
tasks and to wait for the tasks of the previous half-step; see there why
that cannot deadlock.
"""

from numba import types
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
