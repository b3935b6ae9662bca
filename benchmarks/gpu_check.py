"""Device check of the CUDA backend: one script for one short run on a GPU machine, which it cannot waste.

    python benchmarks/gpu_check.py                                   # on a GPU machine (about 5 minutes)
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu_check.py --quick    # tiny sizes on the simulator

Sections, cheapest first; each line is printed and appended (flushed) to
``$OUT/gpu_check.txt`` as soon as it is known, a section that fails records
its traceback and the next one runs, and a global deadline (``--deadline``,
8 minutes) ends the check with what it has.  The last line is a summary.

1. machine: device, compute capability, driver and toolkit versions;
2. compile: every kernel and device function to PTX for this device (``bmsample._gpu_kernels``);
3. tiny kernels: Philox words and a Bernoulli layer on the device against the CPU;
4. backend: what ``backend="cuda"`` resolves to;
5. tests: the test suite's GPU subset (``pytest -m gpu``) on the real GPU, without the simulator;
6. compare: CPU and GPU chains of the same seed (RBM and Ising: identical chains; Gaussian: largest
   state difference);
7. gibbs: Gibbs steps per second, 784 x 500, float32, 1k / 10k / 50k chains, next to a plain
   torch-CUDA step (TF32 off) when torch is installed;
8. training: Rdm-10 updates per second on MNIST, GPU against the CPU limited to 2 threads.
"""

# bmsample first: it sets the OpenMP / OpenBLAS environment before NumPy loads.
import bmsample  # noqa: I001

import argparse
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from bmsample._rng import ChainStreams

ROOT = Path(__file__).resolve().parent.parent
#: Seconds the GPU test subset may take at most (kernel compilation dominates on a real GPU).
TEST_TIMEOUT = 150
FULL = dict(visibles=784, hiddens=500, chains=(1000, 10000, 50000), steps=20, cpu_chains=(1000, 10000),
            compare=(64, 32, 2000, 10), train_chains=10000, train_batch=1000, gpu_updates=20, cpu_updates=2,
            tempering=(784, 500, 16, 100, 20))
QUICK = dict(visibles=12, hiddens=8, chains=(64,), steps=2, cpu_chains=(64,), compare=(6, 4, 32, 3),
             train_chains=32, train_batch=16, gpu_updates=2, cpu_updates=2, tempering=(6, 4, 3, 4, 3))


class DeadlineReached(BaseException):
    """The check's global deadline passed (raised by SIGALRM wherever the check is)."""


class Report:
    """Lines printed and appended to ``path`` (flushed) one by one; sections run, time and fail on their own."""

    def __init__(self, path, deadline):
        self.path = path
        self.deadline = time.monotonic() + deadline
        self.outcomes = []
        if path is not None:
            path.write_text("")

    def line(self, text):
        print(text, flush=True)
        if self.path is not None:
            with open(self.path, "a") as handle:
                handle.write(text + "\n")

    def remaining(self):
        return self.deadline - time.monotonic()

    def section(self, name, run, *args):
        """Run ``run(report, *args)``; record ok, failed (with the traceback) or skipped."""
        if self.remaining() <= 0:
            self.outcomes.append((name, "skipped"))
            self.line(f"[{name}: skipped, the deadline has passed]")
            return
        start = time.monotonic()
        try:
            run(self, *args)
        except DeadlineReached:
            self.outcomes.append((name, "cut by the deadline"))
            self.line(f"[{name}: cut by the deadline after {time.monotonic() - start:.0f} s]")
            return
        except Exception:  # noqa: BLE001 - recorded, and the next section runs
            self.outcomes.append((name, "failed"))
            for text in traceback.format_exc().rstrip().splitlines():
                self.line(f"  {text}")
            self.line(f"[{name}: FAILED after {time.monotonic() - start:.1f} s]")
            return
        self.outcomes.append((name, "ok"))
        self.line(f"[{name}: ok, {time.monotonic() - start:.1f} s]")

    def summary(self, seconds):
        counts = {state: sum(1 for _, s in self.outcomes if s == state) for _, state in self.outcomes}
        problems = ", ".join(f"{name} {state}" for name, state in self.outcomes if state != "ok")
        text = ", ".join(f"{count} {state}" for state, count in counts.items())
        self.line(f"summary: {len(self.outcomes)} sections, {text} in {seconds:.0f} s"
                  + (f" ({problems})" if problems else ""))
        return all(state == "ok" for _, state in self.outcomes)


def simulated():
    return bmsample._backend.simulator_requested()


def machine(report):
    import numba
    from numba import cuda

    report.line(f"bmsample {bmsample.__version__}, numba {numba.__version__}, python {sys.version.split()[0]}")
    if simulated():
        report.line("device: Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)")
        return
    from importlib import metadata

    device = cuda.get_current_device()
    name = device.name.decode() if isinstance(device.name, bytes) else device.name
    driver = cuda.cudadrv.driver.driver.get_version()
    runtime = cuda.runtime.get_version()
    memory = cuda.current_context().get_memory_info()
    report.line(f"device: {name}, compute capability {device.compute_capability[0]}.{device.compute_capability[1]}, "
                f"{device.MULTIPROCESSOR_COUNT} SMs, {memory.total / 2**30:.1f} GiB")
    report.line(f"driver CUDA {driver[0]}.{driver[1]}, runtime CUDA {runtime[0]}.{runtime[1]}, numba-cuda "
                f"{metadata.version('numba-cuda')}")


def compile_kernels(report):
    """Every kernel and device function to PTX for this device's compute capability."""
    if simulated():
        report.line("compile: not on the simulator (PTX needs NUMBA_ENABLE_CUDASIM=0)")
        return
    from numba import cuda

    from bmsample import _gpu_kernels

    cc = cuda.get_current_device().compute_capability
    targets = _gpu_kernels.targets()
    start = time.perf_counter()
    for target in targets:
        _gpu_kernels.compile_ptx(target, cc)
    report.line(f"compile: {len(targets)} kernels and device functions to PTX for sm_{cc[0]}{cc[1]} in "
                f"{time.perf_counter() - start:.1f} s")


def tiny_kernels(report):
    """Philox words and one Bernoulli layer on the device, against the CPU's."""
    from numba import cuda

    from bmsample._rng import philox4x32_reference
    from bmsample._rng_gpu import philox_blocks
    from bmsample.rbm import _cpu, _gpu

    counters = np.random.default_rng(0).integers(0, 2**32, size=(64, 4), dtype=np.uint64).astype(np.uint32)
    equal = np.array_equal(philox_blocks(counters, (7, 11)), philox4x32_reference(counters, (7, 11)))
    report.line(f"philox on the device: {'equal to' if equal else 'DIFFERENT from'} the reference on 64 blocks")
    field = np.random.default_rng(1).standard_normal((50, 37)).astype(np.float32)
    bias = np.zeros(37, dtype=np.float32)
    cpu = np.empty_like(field)
    _cpu.sample_bernoulli_layer(field, bias, np.uint32(3), np.uint32(4), 9, 0, cpu)
    gpu = cuda.device_array(field.shape, dtype=np.float32)
    _gpu.sample_bernoulli_layer(cuda.to_device(field), cuda.to_device(bias), np.uint32(3), np.uint32(4), 9, 0, gpu)
    report.line(f"bernoulli layer 50 x 37: {np.mean(gpu.copy_to_host() == cpu) * 100:.2f}% of units as on the CPU")
    if not equal:
        raise AssertionError("device Philox words differ from the reference")


def backend(report):
    report.line(f"backend: {bmsample._backend.resolve_backend('cuda')}")


def gpu_tests(report):
    """The GPU test subset in a fresh process (the simulator only in --quick mode), bounded by the deadline."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1" if simulated() else "0")
    limit = max(10, min(TEST_TIMEOUT, report.remaining() - 60))
    command = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests"]
    try:
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout.decode(errors="replace") if isinstance(expired.stdout, bytes) else expired.stdout
        report.line(f"gpu tests: stopped after {limit:.0f} s; their last output:")
        for text in (output or "").strip().splitlines()[-15:]:
            report.line(f"  {text}")
        return
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    report.line(f"gpu tests ({'simulator' if simulated() else 'real GPU'}): {summary} [exit {proc.returncode}]")
    if proc.returncode:
        for text in (proc.stdout[-3000:] + proc.stderr[-2000:]).splitlines():
            report.line(f"  {text}")


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


def compare_cpu_gpu(report, visibles, hiddens, chains, steps):
    """Same seed on both sides: fraction of identical chains and the largest difference of unit means."""
    for dtype in ("float32", "float64"):
        model = random_model(visibles, hiddens, dtype)
        cpu = bmsample.sample(model, chains, steps, init="uniform", rng=1)
        gpu = bmsample.sample(model, chains, steps, init="uniform", rng=1, backend="cuda")
        equal = np.mean(np.all(cpu.visible == gpu.visible, axis=1))
        mean_gap = np.max(np.abs(cpu.visible.mean(axis=0) - gpu.visible.mean(axis=0)))
        report.line(f"cpu vs gpu {visibles}x{hiddens} {dtype}, {chains} chains x {steps} steps: "
                    f"{100 * equal:.2f}% chains identical, max |mean difference| {mean_gap:.4f} "
                    f"(sampling error ~{1 / np.sqrt(chains):.4f})")
        gaussian = bmsample.GaussianModel(np.eye(visibles) * 2, np.ones(visibles), dtype=dtype)
        options = dict(init="gaussian", sampler="langevin", step_size=0.05, rng=1)
        cpu = bmsample.sample(gaussian, chains, steps, **options)
        gpu = bmsample.sample(gaussian, chains, steps, backend="cuda", **options)
        report.line(f"cpu vs gpu Gaussian Langevin N={visibles} {dtype}: max |state difference| "
                    f"{np.max(np.abs(cpu.visible - gpu.visible)):.2e}")
        spins = random_spin_model(visibles, dtype)
        for sampler in ("heat-bath", "metropolis"):
            cpu = bmsample.sample(spins, chains, steps, init="uniform", sampler=sampler, rng=1)
            gpu = bmsample.sample(spins, chains, steps, init="uniform", sampler=sampler, rng=1, backend="cuda")
            report.line(f"cpu vs gpu Ising {sampler} N={visibles} {dtype}: "
                        f"{100 * np.mean(np.all(cpu.visible == gpu.visible, axis=1)):.2f}% chains identical")


def tempering_check(report, visibles, hiddens, replicas, chains, sweeps):
    """Parallel tempering on the device against the CPU (same seed, fixed ladder): identical chains, the same
    swaps, and sweeps/s of each (the CPU's with this machine's threads)."""
    from bmsample.tempering import parallel_tempering

    for dtype in ("float32", "float64"):
        model = random_model(visibles, hiddens, dtype)
        options = dict(num_chains=chains, betas=np.linspace(1.0, 0.0, replicas), rng=1)
        seconds = {}
        runs = {}
        for where in ("cpu", "cuda"):
            parallel_tempering(model, sweeps=1, backend=where, **options)  # compilation
            start = time.perf_counter()
            runs[where] = parallel_tempering(model, sweeps=sweeps, backend=where, **options)
            seconds[where] = time.perf_counter() - start
        cpu, gpu = runs["cpu"], runs["cuda"]
        equal = np.mean(np.all(cpu.replica_states == gpu.replica_states, axis=2))
        report.line(f"tempering {visibles}x{hiddens} {dtype}, R = {replicas}, M = {chains}, {sweeps} sweeps: "
                    f"{100 * equal:.2f}% chains identical, max |acceptance difference| "
                    f"{np.max(np.abs(cpu.acceptance - gpu.acceptance)):.3f}; sweeps/s cpu "
                    f"{sweeps / seconds['cpu']:.1f}, gpu {sweeps / seconds['cuda']:.1f}")


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
    from bmsample.rbm.sample import GibbsWorkspace, gibbs_steps

    visible = (np.random.default_rng(0).random((chains, model.num_visibles)) < 0.5).astype(model.dtype)
    workspace, streams = GibbsWorkspace(model, chains), ChainStreams((1, 2))
    return _rate(lambda n: gibbs_steps(model, visible, n, streams, workspace), steps, lambda: None, repeats=1)


def gibbs_table(report, visibles, hiddens, chains_list, steps, cpu_chains):
    try:
        import torch

        have_torch = torch.cuda.is_available() and not simulated()
    except ImportError:
        have_torch = False
    model = random_model(visibles, hiddens, "float32")
    report.line(f"Gibbs steps/s, {visibles} x {hiddens}, float32 (TF32 off)"
                + ("" if have_torch else "; torch not installed: no torch column"))
    report.line(f"{'chains':>8} {'bmsample gpu':>13} {'torch gpu':>10} {'gpu/torch':>9} {'bmsample cpu':>13}")
    for chains in chains_list:
        gpu = bmsample_gpu_rate(model, chains, steps)
        torch_rate = torch_gpu_rate(model, chains, steps) if have_torch else float("nan")
        cpu = bmsample_cpu_rate(model, chains, max(1, steps // 10)) if chains in cpu_chains else float("nan")
        report.line(f"{chains:>8} {gpu:>13.1f} {torch_rate:>10.1f} {gpu / torch_rate:>9.2f} {cpu:>13.1f}")


def training_rates(report, quick, chains, batch, gpu_updates, cpu_updates):
    """Rdm-10 updates/s on the GPU and on the CPU limited to 2 threads."""
    if quick:
        data = (np.random.default_rng(0).random((4 * batch, 12)) < 0.5).astype(np.float32)
        hiddens = 8
    else:
        data, hiddens = bmsample.load_dataset("mnist").data, 500
    settings = dict(num_hiddens=hiddens, scheme="rdm", k=10, batch_size=batch, num_chains=chains, seed=0)
    rates = {}
    for where, updates in (("cuda", gpu_updates), ("cpu", cpu_updates)):
        if where == "cpu":
            bmsample.set_num_threads(min(2, bmsample._threads.default_threads()))
        bmsample.fit(data, updates=1, backend=where, **settings)  # compilation
        start = time.perf_counter()
        bmsample.fit(data, updates=updates, backend=where, **settings)
        rates[where] = updates / (time.perf_counter() - start)
        report.line(f"Rdm-10 training on {where}: {rates[where]:.3f} updates/s")
    report.line(f"Rdm-10 training, {data.shape[1]} x {hiddens}, {chains} chains, batch {batch}: "
                f"gpu / cpu (2 threads) = {rates['cuda'] / rates['cpu']:.1f}x")


def _fault(report):
    raise RuntimeError("fault injected by --fail")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the simulator")
    parser.add_argument("--skip-tests", action="store_true", help="do not run the GPU test subset")
    parser.add_argument("--deadline", type=float, default=480, help="seconds for the whole check [480]")
    parser.add_argument("--sections", help="comma-separated sections to run [all]")
    parser.add_argument("--fail", metavar="SECTION", help=argparse.SUPPRESS)  # tests: make one section fail
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    out = Path(os.environ["OUT"]) / "gpu_check.txt" if os.environ.get("OUT") else None
    report = Report(out, args.deadline)

    def expire(signum, frame):
        raise DeadlineReached()

    if hasattr(signal, "SIGALRM"):
        signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, max(1.0, args.deadline))
    start = time.monotonic()
    sections = [("machine", machine), ("compile", compile_kernels), ("tiny kernels", tiny_kernels),
                ("backend", backend), ("tests", None if args.skip_tests else gpu_tests),
                ("compare", lambda r: compare_cpu_gpu(r, *sizes["compare"])),
                ("gibbs", lambda r: gibbs_table(r, sizes["visibles"], sizes["hiddens"], sizes["chains"],
                                                sizes["steps"], sizes["cpu_chains"])),
                ("tempering", lambda r: tempering_check(r, *sizes["tempering"])),
                ("training", lambda r: training_rates(r, args.quick, sizes["train_chains"], sizes["train_batch"],
                                                      sizes["gpu_updates"], sizes["cpu_updates"]))]
    chosen = set(args.sections.split(",")) if args.sections else {name for name, _ in sections}
    try:
        for name, run in sections:
            if run is not None and name in chosen:
                report.section(name, _fault if name == args.fail else run)
    except DeadlineReached:  # between sections
        report.line("[the deadline passed between sections]")
    finally:
        if hasattr(signal, "SIGALRM"):
            signal.setitimer(signal.ITIMER_REAL, 0)
    ok = report.summary(time.monotonic() - start)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
