"""Every CUDA kernel and device function of the package, with the argument types its launchers pass.

``targets()`` lists each one in every variant the package can launch (dtype,
epilogue mode, transposes, sampler kind), so that ``compile_ptx`` can build
all of them to PTX for a compute capability without a GPU: CI compiles them
for sm_80 and sm_90 (``tests/test_gpu_compile.py``), and
``benchmarks/ptx_table.py`` assembles them with ``ptxas`` for the registers,
spills and shared memory of each.  A ``@cuda.jit`` function that is not
listed here fails ``test_every_cuda_function_is_listed``.

numba-cuda asks for the current device's compute capability when it compiles
a device function called from a kernel; without a GPU there is none, so
``compile_ptx`` here supplies the target's capability for that lookup
(``_target_capability``) instead of creating a context.

Imported only to compile (it imports ``numba.cuda`` and every ``_gpu`` module).
"""

import types as python_types
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
from numba import cuda, types

from . import _gpu_linalg as linalg
from . import _rng_gpu
from .gaussian import _gpu as gaussian_gpu
from .grbm import _gpu as grbm_gpu
from .ising import _cpu as ising_cpu
from .ising import _gpu as ising_gpu
from .rbm import _gpu as rbm_gpu

DTYPES = (np.float32, np.float64)
U32, I64 = types.uint32, types.int64
#: Modules that hold ``@cuda.jit`` functions (the completeness test reads their source).
MODULES = (linalg, _rng_gpu, gaussian_gpu, grbm_gpu, ising_gpu, rbm_gpu)


class Target(NamedTuple):
    """One compiled variant: a label, the ``cuda.jit`` dispatcher, its argument types, and whether it is a
    device function."""

    label: str
    dispatcher: object
    signature: tuple
    device: bool = False

    @property
    def function(self):
        return self.dispatcher.py_func


def _arrays(dtype):
    scalar = types.float32 if dtype == np.float32 else types.float64
    return scalar, types.Array(scalar, 1, "C"), types.Array(scalar, 2, "C")


def targets():
    """Every kernel and device function in every variant, as ``Target``."""
    out = []
    randoms = (U32, U32, U32, U32)  # key0, key1, draw_lo, draw_hi
    for philox_args, name in (((U32, U32), "_mulhi"), ((U32,) * 6, "philox4x32"), ((U32,) * 6 + (I64,), "philox_word")):
        out.append(Target(name, getattr(_rng_gpu, name), philox_args, True))
    for warp_sync in (False, True):
        barrier, store_rows = linalg.chain_group_functions(warp_sync)
        out.append(Target(f"group_barrier[{warp_sync:d}]", barrier, (), True))
        for dtype in DTYPES:
            _, A1, A2 = _arrays(dtype)
            out.append(Target(f"store_rows[{np.dtype(dtype).name},{warp_sync:d}]", store_rows,
                              (A2, A2, I64, A1, A1, I64, I64), True))
    out.append(Target("block_sum[128]", linalg.block_sum_function(128), (types.Array(types.float64, 1, "C"), I64),
                      True))
    out.append(Target("philox_blocks", _rng_gpu._philox_blocks_kernel,
                      (types.Array(types.uint32, 2, "C"), U32, U32, types.Array(types.uint32, 2, "C"))))
    for dtype in DTYPES:
        F, A1, A2 = _arrays(dtype)
        tag = np.dtype(dtype).name
        sigmoid, bernoulli = linalg.bernoulli_unit_functions(np.dtype(dtype))
        out += [Target(f"sigmoid[{tag}]", sigmoid, (F,), True),
                Target(f"bernoulli[{tag}]", bernoulli, (F, I64, U32, U32, U32, U32, U32), True),
                Target(f"uniform[{tag}]", _rng_gpu.uniform_from_bits(np.dtype(dtype)), (U32,), True),
                Target(f"normal[{tag}]", _rng_gpu.normal_of_unit(np.dtype(dtype)),
                       (I64, U32, U32, U32, U32, U32), True)]
        for mode in (linalg.SAMPLE, linalg.SAMPLE_WITH_MEANS, linalg.MEANS, linalg.ASSIGN, linalg.ACCUMULATE,
                     linalg.PARTIAL):
            for left_t in (False, True):
                for right_t in (False, True):
                    kernel = linalg._product_kernel(np.dtype(dtype), mode, left_t, right_t, linalg.DEVICE_TILE)
                    out.append(Target(f"product[{tag},mode={mode},transpose={left_t:d}{right_t:d}]",
                                      kernel, (A2, A2, A1, F, *randoms, I64, I64, A2, A2)))
        for accumulate in (False, True):
            out.append(Target(f"split_sum[{tag},{accumulate:d}]", linalg._split_sum_kernel(np.dtype(dtype), accumulate),
                              (A2, I64, F, A2)))
        for accumulate in (False, True):
            partial_sums, combine = linalg._column_sum_kernels(np.dtype(dtype), linalg.DEVICE_BLOCK, accumulate)
            out += [Target(f"column_partial_sums[{tag},{accumulate:d}]", partial_sums, (A2, A2)),
                    Target(f"column_combine[{tag},{accumulate:d}]", combine, (A2, F, A1))]
        out += [Target(f"add_row[{tag}]", linalg._add_row_kernel, (A2, A1)),
                Target(f"gather_rows[{tag}]", linalg._gather_rows_kernel,
                       (A2, types.Array(types.int64, 1, "C"), A2)),
                Target(f"ascend[{tag}]", linalg._ascend_kernel,
                       (A1, A1, F, F, F, types.int32, types.Array(types.int32, 1, "C"))),
                Target(f"blend[{tag}]", linalg._blend_kernel(np.dtype(dtype)), (A1, A1, F)),
                Target(f"affine[{tag}]", linalg._affine_kernel, (A2, F, F)),
                Target(f"zero_diagonal[{tag}]", linalg._zero_diagonal_kernel, (A2,))]
        for mode in (linalg.SAMPLE, linalg.SAMPLE_WITH_MEANS, linalg.MEANS):
            out.append(Target(f"rbm_layer[{tag},mode={mode}]", rbm_gpu._layer_kernel(np.dtype(dtype), mode),
                              (A2, A1, *randoms, I64, A2, A2)))
        out.append(Target(f"subtract_outer_pair[{tag}]", rbm_gpu._subtract_outer_pair_kernel,
                          (A2, A1, A1, A1, A1)))
        D1 = types.Array(types.float64, 1, "C")
        out += [Target(f"rbm_tempered_layer[{tag}]", rbm_gpu._tempered_layer_kernel(np.dtype(dtype)),
                       (A2, A1, A1, A1, *randoms, I64, A2)),
                Target(f"rbm_tempered_gaps[{tag}]", rbm_gpu._gap_kernel(np.dtype(dtype), 128),
                       (A2, A1, A2, A1, D1, D1, D1))]
        for with_means in (False, True):
            out.append(Target(f"grbm_visible[{tag},{with_means:d}]",
                              grbm_gpu._visible_kernel(np.dtype(dtype), with_means),
                              (A2, A1, A1, *randoms, I64, A2, A2)))
        out.append(Target(f"ising_tempering_log_weights[{tag}]", ising_gpu._log_weight_kernel(128),
                          (A2, A2, types.Array(types.float64, 1, "C"), types.Array(types.float64, 1, "C"))))
        out += [Target(f"grbm_tempered_visible[{tag}]", grbm_gpu._tempered_visible_kernel(np.dtype(dtype)),
                       (A2, A1, A1, A1, A1, *randoms, I64, A2)),
                Target(f"divide_rows[{tag}]", grbm_gpu._divide_rows_kernel, (A2, A1, A2)),
                Target(f"scale_by_square[{tag}]", grbm_gpu._scale_by_square_kernel, (A1, A1))]
        for kind in (gaussian_gpu.LANGEVIN, gaussian_gpu.NORMAL, gaussian_gpu.UNIFORM):
            out.append(Target(f"gaussian_units[{tag},kind={kind}]",
                              gaussian_gpu._unit_kernel(np.dtype(dtype), kind),
                              (A2, A1, F, F, *randoms, I64, A2)))
        for layout in device_chain_layouts(np.dtype(dtype).itemsize):
            where = f"{'warp' if layout.warp_sync else 'block'},{'shared' if layout.shared_rows else 'global'}"
            out.append(Target(f"gaussian_gibbs[{tag},{where}]", gaussian_gpu._gibbs_kernel(np.dtype(dtype), layout),
                              (A2, A1, F, A2, A2, A2)))
            for kind, name in ((ising_cpu.HEAT_BATH, "heat-bath"), (ising_cpu.RANDOM_SITE, "random-site"),
                               (ising_cpu.METROPOLIS, "metropolis")):
                for tempered in (False, True):
                    out.append(Target(f"ising_{'tempered_' if tempered else ''}sweeps[{tag},{name},{where}]",
                                      ising_gpu._sweep_kernel(np.dtype(dtype), kind, layout, tempered),
                                      (A2, I64, U32, U32, I64, I64, A2, A2, A1, A1)))
    return out


def device_chain_layouts(itemsize):
    """The distinct ``ChainLayout`` of a real device's sweeps: a warp per chain (small N), a block per chain with
    rows in shared memory, and with rows in global memory (large N)."""
    sizes = (linalg.WARP_CHAIN_MAX_UNITS, linalg.WARP_CHAIN_MAX_UNITS + 1, 1 << 16)
    return list(dict.fromkeys(linalg.chain_layout(n, itemsize, simulator=False) for n in sizes))


@contextmanager
def _target_capability(cc):
    """numba-cuda looks up the current device's capability to compile device functions: answer ``cc``."""
    from numba.cuda import dispatcher

    lookup = dispatcher.get_current_device
    dispatcher.get_current_device = lambda: python_types.SimpleNamespace(compute_capability=tuple(cc))
    try:
        yield
    finally:
        dispatcher.get_current_device = lookup


def compile_ptx(target, cc):
    """PTX text of one ``Target`` for compute capability ``cc`` (e.g. (9, 0)); no GPU needed."""
    options = target.dispatcher.targetoptions  # as the decorator compiles it: fastmath above all
    with _target_capability(cc):
        ptx, _ = cuda.compile_ptx(target.function, target.signature, device=target.device, cc=tuple(cc),
                                  fastmath=bool(options.get("fastmath", False)))
    return ptx


def listed_functions():
    """Qualified names of the Python functions of ``targets()`` (e.g. ``_product_kernel.<locals>.kernel``)."""
    return {f"{target.function.__module__}:{target.function.__qualname__}" for target in targets()}


def decorated_functions():
    """Qualified names of every ``@cuda.jit`` function in ``MODULES``, read from their source."""
    import ast
    import inspect

    found = set()
    for module in MODULES:
        found.update(f"{module.__name__}:{name}" for name in _jitted_names(ast.parse(inspect.getsource(module)), []))
    return found


def _jitted_names(node, scope):
    """Qualified names (``outer.<locals>.inner``) of the ``@cuda.jit`` functions below ``node``."""
    import ast

    names = []
    for child in ast.iter_child_nodes(node):
        inner = scope
        if isinstance(child, ast.FunctionDef):
            inner = [*scope, child.name]
            if any(_is_cuda_jit(decorator) for decorator in child.decorator_list):
                names.append(".<locals>.".join(inner))
        names += _jitted_names(child, inner)
    return names


def _is_cuda_jit(decorator):
    import ast

    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr == "jit" and getattr(target.value, "id", "") == "cuda"
