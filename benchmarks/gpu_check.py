"""Device check of the CUDA backend, one script (under 3 minutes on one GPU).

    python benchmarks/gpu_check.py                                   # on a GPU machine
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu_check.py --quick    # tiny sizes on the simulator

1. runs the test suite's GPU subset (``pytest -m gpu``) on the real GPU, without the simulator;
2. compares CPU and GPU chains of the same seed on small models (RBM and Ising: equal chains; Gaussian
   Langevin: largest state difference);
3. Gibbs steps per second, 784 x 500, float32, 1k / 10k / 50k chains: bmsample on the GPU, a plain
   torch-CUDA step (TF32 off) when torch is present, and bmsample on the CPU where it is quick;
4. Rdm-10 training updates per second on MNIST, GPU against the CPU limited to 2 threads.

The table goes to stdout and, when the environment variable OUT is set, to ``$OUT/gpu_check.txt``.
"""

# bmsample first: it sets the OpenMP / OpenBLAS environment before NumPy loads.
import bmsample  # noqa: I001

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bmsample._rng import ChainStreams
from bmsample.rbm.sample import GibbsWorkspace, gibbs_steps

ROOT = Path(__file__).resolve().parent.parent
#: Seconds for the GPU test subset (kernel compilation dominates on a real GPU).
TEST_TIMEOUT = 150
FULL = dict(visibles=784, hiddens=500, chains=(1000, 10000, 50000), steps=20, cpu_chains=(1000, 10000),
            compare=(64, 32, 2000, 10), train_chains=10000, train_batch=1000, gpu_updates=20, cpu_updates=2)
QUICK = dict(visibles=12, hiddens=8, chains=(64,), steps=2, cpu_chains=(64,), compare=(6, 4, 32, 3),
             train_chains=32, train_batch=16, gpu_updates=2, cpu_updates=2)


def run_gpu_tests(lines, simulator):
    """The GPU test subset in a fresh process; the simulator only in --quick mode."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1" if simulator else "0")
    start = time.perf_counter()
    command = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests"]
    try:
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TEST_TIMEOUT)
    except subprocess.TimeoutExpired as expired:
        lines.append(f"gpu tests: stopped after {TEST_TIMEOUT} s (the rest of the check still runs)")
        lines.append(str(expired.stdout or "")[-2000:])
        return
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    lines.append(f"gpu tests ({'simulator' if simulator else 'real GPU'}): {summary}  "
                 f"[exit {proc.returncode}, {time.perf_counter() - start:.0f} s]")
    if proc.returncode:
        lines.append(proc.stdout[-3000:] + proc.stderr[-2000:])


def random_model(visibles, hiddens, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return bmsample.BernoulliRBM(rng.standard_normal((visibles, hiddens)) / np.sqrt(visibles),
                                 rng.standard_normal(visibles) * 0.5, rng.standard_normal(hiddens) * 0.5,
                                 dtype=dtype)


def random_spin_model(units, dtype, seed=0):
    a = np.random.default_rng(seed).standard_normal((units, units)) / np.sqrt(units)
    coupling = (a + a.T) / 2
    np.fill_diagonal(coupling, 0)
    return bmsample.IsingModel(coupling, np.full(units, 0.1), dtype=dtype)


def compare_cpu_gpu(lines, visibles, hiddens, chains, steps):
    """Same seed on both sides: fraction of identical chains and the largest difference of unit means."""
    for dtype in ("float32", "float64"):
        model = random_model(visibles, hiddens, dtype)
        cpu = bmsample.sample(model, chains, steps, init="uniform", rng=1)
        gpu = bmsample.sample(model, chains, steps, init="uniform", rng=1, backend="cuda")
        equal = np.mean(np.all(cpu.visible == gpu.visible, axis=1))
        mean_gap = np.max(np.abs(cpu.visible.mean(axis=0) - gpu.visible.mean(axis=0)))
        lines.append(f"cpu vs gpu {visibles}x{hiddens} {dtype}, {chains} chains x {steps} steps: "
                     f"{100 * equal:.2f}% chains identical, max |mean difference| {mean_gap:.4f} "
                     f"(sampling error ~{1 / np.sqrt(chains):.4f})")
        gaussian = bmsample.GaussianModel(np.eye(visibles) * 2, np.ones(visibles), dtype=dtype)
        options = dict(init="gaussian", sampler="langevin", step_size=0.05, rng=1)
        cpu = bmsample.sample(gaussian, chains, steps, **options)
        gpu = bmsample.sample(gaussian, chains, steps, backend="cuda", **options)
        lines.append(f"cpu vs gpu Gaussian Langevin N={visibles} {dtype}: max |state difference| "
                     f"{np.max(np.abs(cpu.visible - gpu.visible)):.2e}")
        spins = random_spin_model(visibles, dtype)
        cpu = bmsample.sample(spins, chains, steps, init="uniform", sampler="heat-bath", rng=1)
        gpu = bmsample.sample(spins, chains, steps, init="uniform", sampler="heat-bath", rng=1, backend="cuda")
        lines.append(f"cpu vs gpu Ising heat-bath N={visibles} {dtype}: "
                     f"{100 * np.mean(np.all(cpu.visible == gpu.visible, axis=1)):.2f}% chains identical")


def _rate(run, steps, synchronize, repeats=3):
    run(steps)  # warm-up and compilation
    synchronize()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run(steps)
        synchronize()
        best = min(best, time.perf_counter() - start)
    return steps / best


def bmsample_gpu_rate(model, chains, steps):
    from numba import cuda

    from bmsample.rbm.device import DeviceParameters, device_gibbs_steps

    params = DeviceParameters(model)
    visible = cuda.to_device((np.random.default_rng(0).random((chains, model.num_visibles)) < 0.5)
                             .astype(model.dtype))
    hidden = cuda.device_array((chains, model.num_hiddens), dtype=model.dtype)
    streams = ChainStreams((1, 2))
    return _rate(lambda n: device_gibbs_steps(params, visible, hidden, n, streams), steps, cuda.synchronize)


def torch_gpu_rate(model, chains, steps):
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cuda")
    w = torch.as_tensor(model.weight_matrix, device=device)
    a, b = torch.as_tensor(model.vbias, device=device), torch.as_tensor(model.hbias, device=device)
    v = (torch.rand(chains, model.num_visibles, device=device) < 0.5).float()

    def run(n):
        nonlocal v
        for _ in range(n):
            h = (torch.rand(chains, model.num_hiddens, device=device) < torch.sigmoid(v @ w + b)).float()
            v = (torch.rand(chains, model.num_visibles, device=device) < torch.sigmoid(h @ w.T + a)).float()

    return _rate(run, steps, torch.cuda.synchronize)


def bmsample_cpu_rate(model, chains, steps):
    visible = (np.random.default_rng(0).random((chains, model.num_visibles)) < 0.5).astype(model.dtype)
    workspace, streams = GibbsWorkspace(model, chains), ChainStreams((1, 2))
    return _rate(lambda n: gibbs_steps(model, visible, n, streams, workspace), steps, lambda: None, repeats=1)


def gibbs_table(lines, visibles, hiddens, chains_list, steps, cpu_chains):
    try:
        import torch

        have_torch = torch.cuda.is_available() and not bmsample._backend.simulator_requested()
    except ImportError:
        have_torch = False
    model = random_model(visibles, hiddens, "float32")
    lines.append(f"Gibbs steps/s, {visibles} x {hiddens}, float32 (TF32 off)")
    lines.append(f"{'chains':>8} {'bmsample gpu':>13} {'torch gpu':>10} {'gpu/torch':>9} {'bmsample cpu':>13}")
    for chains in chains_list:
        gpu = bmsample_gpu_rate(model, chains, steps)
        torch_rate = torch_gpu_rate(model, chains, steps) if have_torch else float("nan")
        cpu = bmsample_cpu_rate(model, chains, max(1, steps // 10)) if chains in cpu_chains else float("nan")
        lines.append(f"{chains:>8} {gpu:>13.1f} {torch_rate:>10.1f} {gpu / torch_rate:>9.2f} {cpu:>13.1f}")


def training_rates(lines, quick, chains, batch, gpu_updates, cpu_updates):
    """Rdm-10 updates/s on the GPU and on the CPU limited to 2 threads."""
    if quick:
        data = (np.random.default_rng(0).random((4 * batch, 12)) < 0.5).astype(np.float32)
        hiddens = 8
    else:
        data, hiddens = bmsample.load_dataset("mnist").data, 500
    settings = dict(num_hiddens=hiddens, scheme="rdm", k=10, batch_size=batch, num_chains=chains, seed=0)
    rates = {}
    for backend, updates in (("cuda", gpu_updates), ("cpu", cpu_updates)):
        if backend == "cpu":
            bmsample.set_num_threads(min(2, bmsample._threads.available_cpus()))
        bmsample.fit(data, updates=1, backend=backend, **settings)  # compilation
        start = time.perf_counter()
        bmsample.fit(data, updates=updates, backend=backend, **settings)
        rates[backend] = updates / (time.perf_counter() - start)
    lines.append(f"Rdm-10 training, {data.shape[1]} x {hiddens}, {chains} chains, batch {batch}: "
                 f"gpu {rates['cuda']:.2f} updates/s, cpu (2 threads) {rates['cpu']:.3f} updates/s, "
                 f"ratio {rates['cuda'] / rates['cpu']:.1f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the simulator")
    parser.add_argument("--skip-tests", action="store_true", help="do not run the GPU test subset")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    lines = [f"bmsample {bmsample.__version__} gpu check, backend {bmsample._backend.resolve_backend('cuda')}"]
    if not args.skip_tests:
        run_gpu_tests(lines, simulator=bmsample._backend.simulator_requested())
    compare_cpu_gpu(lines, *sizes["compare"])
    gibbs_table(lines, sizes["visibles"], sizes["hiddens"], sizes["chains"], sizes["steps"], sizes["cpu_chains"])
    training_rates(lines, args.quick, sizes["train_chains"], sizes["train_batch"], sizes["gpu_updates"],
                   sizes["cpu_updates"])
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_check.txt").write_text(text)


if __name__ == "__main__":
    main()
