import os

# GPU tests run on Numba's CUDA simulator unless NUMBA_ENABLE_CUDASIM=0 asks for a real GPU; it must be
# set before numba.cuda is first imported.  CPU code never reads it, and backend="auto" ignores the simulator.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from bmsample import BernoulliRBM

# Processes run from a folder outside the source tree, so that ``-m`` finds the installed package (the
# source folder bmsample/ has no cli/ subpackage: setup maps it from the top-level cli/).
NEUTRAL_CWD = Path(tempfile.gettempdir())


def cli_command(*args):
    """The argv of ``bmsample ARGS`` in a fresh Python process."""
    return [sys.executable, "-m", "bmsample.cli.main", *map(str, args)]


def run_cli(*args, env=None, timeout=300, **options):
    """Run ``bmsample ARGS`` in a fresh process (outside the source tree); the CompletedProcess, text output."""
    return subprocess.run(cli_command(*args), capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=options.pop("cwd", NEUTRAL_CWD), **options)


def random_rbm(num_visibles=4, num_hiddens=3, scale=1.0, seed=0, dtype="float64"):
    """A tiny RBM with O(1) parameters, so that its dynamics are far from trivial."""
    rng = np.random.default_rng(seed)
    return BernoulliRBM(rng.standard_normal((num_visibles, num_hiddens)) * scale,
                        rng.standard_normal(num_visibles) * 0.5 * scale,
                        rng.standard_normal(num_hiddens) * 0.5 * scale, dtype=dtype)


@pytest.fixture
def tiny_rbm():
    return random_rbm()


def product_rounding_bound(left, right):
    """Largest difference between two roundings of ``left @ right`` (BLAS may sum in another order).

    Each entry of a computed product of inner dimension K is within gamma_K (|left| @ |right|) of the
    exact one, gamma_K = K u / (1 - K u) with u the unit roundoff (Higham, Accuracy and Stability,
    section 3.5); two computations differ by at most twice that.
    """
    unit_roundoff = np.finfo(np.result_type(left, right)).eps / 2
    inner = left.shape[-1]
    gamma = inner * unit_roundoff / (1 - inner * unit_roundoff)
    return 2 * gamma * float((np.abs(left).astype(np.float64) @ np.abs(right).astype(np.float64)).max())


def chi_square_ok(counts, probabilities, alpha_sigma=5.0):
    """Pearson chi-square of ``counts`` against ``probabilities`` within ``alpha_sigma`` sd of its mean.

    For K cells with non-negligible probability the statistic has mean K-1 and
    variance 2(K-1); cells with probability below 1e-12 must be empty.
    """
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum()
    live = probabilities > 1e-12
    assert counts[~live].sum() == 0
    expected = n * probabilities[live]
    stat = np.sum((counts[live] - expected) ** 2 / expected)
    dof = live.sum() - 1
    return stat, dof, stat < dof + alpha_sigma * np.sqrt(2 * dof)


def run_files(run_dir):
    """{file name: (arrays, metadata)} of a run's model.npz and checkpoints, without wall-clock entries."""
    import json

    out = {}
    for path in [run_dir / "model.npz", *sorted((run_dir / "checkpoints").iterdir())]:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        metadata = json.loads(str(arrays.pop("metadata")))
        metadata.pop("created", None)
        metadata.get("checkpoint", {}).pop("seconds", None)
        out[path.name] = (arrays, metadata)
    return out


def assert_same_run_files(cpu_dir, gpu_dir, rtol, atol):
    """Both runs wrote the same files with the same metadata and arrays equal to ``rtol`` / ``atol``."""
    cpu_files, gpu_files = run_files(cpu_dir), run_files(gpu_dir)
    assert sorted(gpu_files) == sorted(cpu_files) and len(cpu_files) >= 3
    for name, (arrays, metadata) in cpu_files.items():
        gpu_arrays, gpu_metadata = gpu_files[name]
        assert gpu_metadata == metadata and sorted(gpu_arrays) == sorted(arrays), name
        for key, array in arrays.items():
            np.testing.assert_allclose(gpu_arrays[key], array, rtol=rtol, atol=atol, err_msg=f"{name}: {key}")


def resume_from_update_2(tmp_path, data, settings):
    """(full, resumed): a 4-update device run, and the same run resumed after deleting its files past update 2."""
    import shutil

    import bmsample

    full = bmsample.fit(data, out=tmp_path / "full", backend="cuda", **settings)
    shutil.copytree(tmp_path / "full", tmp_path / "cut")
    (tmp_path / "cut" / "model.npz").unlink()
    for name in ("update_00000004.npz", "latest.npz"):
        (tmp_path / "cut" / "checkpoints" / name).unlink(missing_ok=True)
    resumed = bmsample.fit(data, out=tmp_path / "cut", resume=True, backend="cuda", **settings)
    assert resumed.resumed_from == 2
    return full, resumed


#: A short PCD run on digits that writes checkpoints at updates 1, 2, 5, 10 and 20.
PCD_RUN = ["fit", "digits", "--hidden", "8", "--updates", "20", "--batch-size", "50", "-k", "2", "--scheme", "pcd",
           "--seed", "0", "--threads", "1", "--quiet"]


def invoke_cli(*args):
    """``bmsample ARGS`` in this process (click's runner; stdout and stderr apart)."""
    from click.testing import CliRunner

    from bmsample.cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="session")
def finished_pcd_run(tmp_path_factory):
    """The directory of a finished ``PCD_RUN`` (copy it before changing anything)."""
    out = tmp_path_factory.mktemp("pcd-run") / "run"
    result = invoke_cli(*PCD_RUN, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def cut_after(finished, target, update):
    """A copy of a finished run as if killed after its checkpoint of ``update``."""
    import shutil

    shutil.copytree(finished, target)
    (target / "model.npz").unlink()
    for path in (target / "checkpoints").glob("update_*.npz"):
        if int(path.stem.split("_")[1]) > update:
            path.unlink()
    return target


def chain_layouts():
    """Every way a sweep kernel can lay 7 chains out on thread blocks (``bmsample._gpu_linalg.ChainLayout``).

    A group per chain of 2 threads, several chains a block (3 slots: one block has an empty slot), or a block
    of threads per chain; rows in shared or in global memory; a chunk of draws that does or does not divide
    N = 7.  ``warp_sync`` stays off: the simulator has no syncwarp.
    """
    from bmsample._gpu_linalg import ChainLayout

    return {"warp,shared": ChainLayout(2, 2, 4, True, False), "warp,global": ChainLayout(2, 3, 8, False, False),
            "block,shared": ChainLayout(4, 1, 4, True, False), "block,global": ChainLayout(3, 1, 12, False, False)}


CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3
PR_CAPBSET_DROP = 24


def drop_file_capabilities():
    """Before exec: drop the capabilities that let root ignore file permissions, so that they apply to it too."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def permission_bound_preexec():
    """``preexec_fn`` for a child process to which file permissions apply: None for a user, the capability drop
    for root (skips the test where root cannot drop them, e.g. without CAP_SETPCAP)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    try:  # try the drop in a throw-away process first
        subprocess.run(["true"], preexec_fn=drop_file_capabilities, check=True)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("root here cannot drop CAP_DAC_OVERRIDE, so file permissions cannot be made to apply")
    return drop_file_capabilities


def _threads_available():
    from bmsample._threads import default_threads

    return default_threads()


#: Marks a test that runs kernels on 2 threads: skipped, with the reason, where this process has fewer.
needs_two_threads = pytest.mark.skipif(_threads_available() < 2,
                                       reason="needs 2 threads; this process has 1 (CPU affinity or NUMBA_NUM_THREADS)")
