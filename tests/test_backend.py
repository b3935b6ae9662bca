"""Backend resolution: names, clear errors, and "auto" never choosing the simulator."""

import subprocess
import sys

import pytest

from bmsample import _backend
from bmsample._backend import CPU, resolve_backend


def test_import_does_not_import_numba_cuda():
    code = "import bmsample, sys; assert 'numba.cuda' not in sys.modules, 'numba.cuda imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cpu_and_auto_under_the_simulator():
    # conftest enables the simulator: "auto" must still run on the CPU.
    assert _backend.simulator_requested()
    assert resolve_backend("cpu") is CPU
    assert resolve_backend("auto") is CPU
    assert resolve_backend(" AUTO ", "rbm block-gibbs sampling") is CPU


def test_every_family_and_sampler_has_a_gpu_path():
    from bmsample import families

    for name in families.names():
        for sampler in families.named(name).samplers:
            assert f"{name} {sampler} training" in _backend.GPU_TASKS
    for sampler in ("heat-bath", "random-site", "metropolis"):
        assert f"ising {sampler} sampling" in _backend.GPU_TASKS


def test_auto_keeps_tasks_without_a_gpu_path_on_the_cpu(monkeypatch):
    """A task left out of GPU_TASKS (as a new sampler would be) runs on the CPU under auto; cuda names it."""
    monkeypatch.setattr(_backend, "_auto_backend", lambda: _backend.Backend("cuda", 0))
    monkeypatch.setattr(_backend, "GPU_TASKS", tuple(t for t in _backend.GPU_TASKS if t != "gaussian gibbs training"))
    assert resolve_backend("auto", "gaussian gibbs training") is CPU
    assert resolve_backend("auto", "rbm block-gibbs training").is_cuda
    with pytest.raises(ValueError, match="^backend: gaussian gibbs training has no CUDA path yet; use backend='cpu'"):
        resolve_backend(_backend.Backend("cuda", 0), "gaussian gibbs training")


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:-1", "cuda:x", ""])
def test_unknown_names_are_refused(name):
    with pytest.raises(ValueError, match=r"^backend: expected 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        resolve_backend(name)


def test_non_string_is_a_type_error():
    with pytest.raises(TypeError, match="^backend: expected"):
        resolve_backend(0)


def test_cuda_without_numba_cuda_gives_the_install_hint(monkeypatch):
    monkeypatch.setattr(_backend, "numba_cuda_installed", lambda: False)
    with pytest.raises(ValueError, match=r"^backend: 'cuda' needs numba-cuda: pip install 'bmsample\[cuda\]'$"):
        resolve_backend("cuda")
    assert resolve_backend("auto") is CPU


def test_cuda_without_a_gpu_says_so(monkeypatch):
    monkeypatch.setattr(_backend, "numba_cuda_installed", lambda: True)
    monkeypatch.setattr(_backend, "simulator_requested", lambda: False)
    monkeypatch.setattr(_backend, "_real_gpu_count", lambda: 0)
    with pytest.raises(ValueError, match="no usable CUDA GPU was found"):
        resolve_backend("cuda")
    assert resolve_backend("auto") is CPU


def test_device_index_out_of_range(monkeypatch):
    monkeypatch.setattr(_backend, "numba_cuda_installed", lambda: True)
    monkeypatch.setattr(_backend, "simulator_requested", lambda: False)
    monkeypatch.setattr(_backend, "_real_gpu_count", lambda: 2)
    with pytest.raises(ValueError, match=r"cuda:2 asked for, but this process sees 2 GPU\(s\)"):
        resolve_backend("cuda:2")


def test_family_without_a_cuda_path_refuses_cuda(monkeypatch):
    monkeypatch.setattr(_backend, "_resolve_name", lambda name, given: _backend.Backend("cuda", 0))
    with pytest.raises(ValueError, match="^backend: ising sampling has no CUDA path yet"):
        resolve_backend("cuda", "ising sampling")
