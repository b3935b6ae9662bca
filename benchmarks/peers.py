"""Gibbs steps and training epochs of bmsample beside plain NumPy, scikit-learn and torch, in one process.

    python benchmarks/peers.py [--quick] [--json FILE] [--threads N] [--peers numpy,sklearn,torch,torch-compile]

The peers are optional extras, never dependencies of bmsample
(``pip install scikit-learn torch``; a CPU build of torch is enough).  A peer
that is not installed is skipped with a one-line note.

Gibbs step v -> h -> v (h ~ Bernoulli(sigmoid(v W + b)), v ~
Bernoulli(sigmoid(h W^T + a))): every case times, interleaved repeat by
repeat so that machine noise hits all alike, the bare two GEMMs of the
step's shapes (NumPy ``matmul`` with ``out=``) and each contender running the
same number of steps.  Printed per contender: median step time and the
min / median / max over repeats of the speed = GEMM time / step time
(1.00 is the BLAS limit, higher is better), and bmsample's speed-up over
plain NumPy.

Training epoch: one Rdm-k and one PCD-k epoch (SGD, P(h|v) statistics on
both phases, one chain per minibatch row) on MNIST rows, float32, of
bmsample (``RBMTrainer``), NumPy and torch, interleaved with the GEMM floor
of the epoch: the bare time of every matrix product it must do (per update
2k Gibbs products, the two hidden-mean products and the two gradient
products).  Printed: epoch time / floor (1.00 is the floor, lower is better).

The contenders:

* numpy: preallocated arrays, in-place ufuncs, ``Generator.random(out=)``;
* sklearn: ``BernoulliRBM.gibbs`` with the parameters set; its products run
  in the parameters' dtype, its uniforms are float64 (``RandomState``) and
  its states are bool in both dtypes;
* torch: eager, ``torch.bernoulli(sigmoid(...))`` on preallocated tensors;
* torch-compile: the same step through ``torch.compile`` (CPU, inductor).

Numba, BLAS and torch run with the same thread count (``--threads``).
"""

# bmsample first: it sets the OpenMP / OpenBLAS environment before NumPy (and torch) load.
import bmsample  # noqa: I001

import argparse
import importlib.util
import json
import sys

import numpy as np

from bmsample._rng import ChainStreams
from bmsample._threads import available_cpus, thread_info
from bmsample.tools.bench import epoch_floor, interleaved_times, step_case, synthetic_model
from bmsample.rbm.train import RBMTrainer

PEERS = ("numpy", "sklearn", "torch", "torch-compile")
#: Gibbs cases (visibles, hiddens, chains) of the full run and of ``--quick``.
GIBBS_CASES = ((784, 500, 100), (784, 500, 1000), (784, 500, 5000), (784, 2000, 100), (784, 2000, 1000),
               (100, 50, 1000))
QUICK_GIBBS_CASES = ((30, 20, 64),)
#: Training epoch settings of the full run and of ``--quick``.
EPOCH = {"rows": 10_000, "hiddens": 500, "batch_size": 100, "k": 10, "learning_rate": 0.01}
QUICK_EPOCH = {"rows": 200, "hiddens": 16, "batch_size": 50, "k": 2, "learning_rate": 0.01}
#: GEMM work per timed call of a Gibbs case (flops); sets the steps per call.
FLOPS_PER_CALL = 5e9


# ----------------------------------------------------------------------------- plain NumPy

def sigmoid_(x):
    """Logistic function in place, as 1/2 + tanh(x/2)/2 (no overflow warnings)."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


class NumpyRBM:
    """Block Gibbs of a Bernoulli RBM in plain NumPy, as a competent NumPy user writes it.

    Parameters
    ----------
    weights : ndarray, shape (num_visibles, num_hiddens)
    vbias : ndarray, shape (num_visibles,)
    hbias : ndarray, shape (num_hiddens,)
        Held by reference (training updates them in place).
    num_chains : int
    seed : int
    """

    def __init__(self, weights, vbias, hbias, num_chains, seed=0):
        self.W, self.a, self.b = weights, vbias, hbias
        num_visibles, num_hiddens = weights.shape
        self.rng = np.random.default_rng(seed)
        self.hidden_field = np.empty((num_chains, num_hiddens), weights.dtype)
        self.hidden = np.empty_like(self.hidden_field)
        self.hidden_noise = np.empty_like(self.hidden_field)
        self.visible_field = np.empty((num_chains, num_visibles), weights.dtype)
        self.visible_noise = np.empty_like(self.visible_field)

    def _sample(self, field, bias, noise, out):
        field += bias
        sigmoid_(field)
        self.rng.random(out=noise, dtype=noise.dtype)
        np.less(noise, field, out=out)

    def uniform_bits(self, out):
        """Fill ``out`` (num_chains, num_visibles) with independent fair bits."""
        self.rng.random(out=self.visible_noise, dtype=out.dtype)
        np.less(self.visible_noise, 0.5, out=out)

    def gibbs(self, visible, steps):
        """``steps`` steps v -> h -> v in place on ``visible`` (num_chains, num_visibles)."""
        for _ in range(steps):
            np.matmul(visible, self.W, out=self.hidden_field)
            self._sample(self.hidden_field, self.b, self.hidden_noise, self.hidden)
            np.matmul(self.hidden, self.W.T, out=self.visible_field)
            self._sample(self.visible_field, self.a, self.visible_noise, visible)


class NumpyTrainer:
    """Rdm-k / PCD-k SGD of a Bernoulli RBM in plain NumPy, the algorithm of ``RBMTrainer``.

    Updates ``weights``, ``vbias`` and ``hbias`` in place; one chain per minibatch row.
    """

    def __init__(self, weights, vbias, hbias, scheme, k, batch_size, seed=0):
        self.rbm = NumpyRBM(weights, vbias, hbias, batch_size, seed)
        self.scheme, self.k = scheme, k
        self.chains = np.empty((batch_size, weights.shape[0]), weights.dtype)
        self.batch_hidden = np.empty((batch_size, weights.shape[1]), weights.dtype)
        self.chain_hidden = np.empty_like(self.batch_hidden)
        self.grad = np.empty_like(weights)
        if scheme == "pcd":
            self.rbm.uniform_bits(self.chains)

    def _hidden_means(self, visible, out):
        np.matmul(visible, self.rbm.W, out=out)
        out += self.rbm.b
        sigmoid_(out)

    def update(self, batch, learning_rate):
        """One SGD step on ``batch`` (batch_size, num_visibles)."""
        rbm, chains = self.rbm, self.chains
        if self.scheme == "rdm":
            rbm.uniform_bits(chains)
        rbm.gibbs(chains, self.k)
        self._hidden_means(batch, self.batch_hidden)
        self._hidden_means(chains, self.chain_hidden)
        rate_data, rate_model = learning_rate / batch.shape[0], learning_rate / chains.shape[0]
        rbm.a += rate_data * batch.sum(axis=0) - rate_model * chains.sum(axis=0)
        rbm.b += rate_data * self.batch_hidden.sum(axis=0) - rate_model * self.chain_hidden.sum(axis=0)
        np.matmul(batch.T, self.batch_hidden, out=self.grad)
        self.grad *= rate_data
        rbm.W += self.grad
        np.matmul(chains.T, self.chain_hidden, out=self.grad)
        self.grad *= rate_model
        rbm.W -= self.grad


# ----------------------------------------------------------------------------- torch

class TorchRBM:
    """Block Gibbs of a Bernoulli RBM in torch eager mode (CPU), on preallocated tensors.

    Parameters
    ----------
    weights, vbias, hbias : ndarray
        Copied into torch tensors (training updates the copies).
    num_chains : int
    """

    def __init__(self, weights, vbias, hbias, num_chains):
        import torch

        self.torch = torch
        self.W, self.a, self.b = (torch.from_numpy(x.copy()) for x in (weights, vbias, hbias))
        num_visibles, num_hiddens = weights.shape
        self.hidden_field = torch.empty((num_chains, num_hiddens), dtype=self.W.dtype)
        self.hidden = torch.empty_like(self.hidden_field)
        self.visible_field = torch.empty((num_chains, num_visibles), dtype=self.W.dtype)

    def gibbs(self, visible, steps):
        """``steps`` steps v -> h -> v in place on the tensor ``visible``."""
        torch = self.torch
        for _ in range(steps):
            torch.mm(visible, self.W, out=self.hidden_field)
            self.hidden_field.add_(self.b).sigmoid_()
            torch.bernoulli(self.hidden_field, out=self.hidden)
            torch.mm(self.hidden, self.W.t(), out=self.visible_field)
            self.visible_field.add_(self.a).sigmoid_()
            torch.bernoulli(self.visible_field, out=visible)


class TorchTrainer:
    """Rdm-k / PCD-k SGD of a Bernoulli RBM in torch eager mode, the algorithm of ``RBMTrainer``."""

    def __init__(self, weights, vbias, hbias, scheme, k, batch_size):
        self.rbm = rbm = TorchRBM(weights, vbias, hbias, batch_size)
        self.scheme, self.k = scheme, k
        self.chains = rbm.torch.empty_like(rbm.visible_field).bernoulli_(0.5)
        self.batch_hidden = rbm.torch.empty_like(rbm.hidden_field)
        self.chain_hidden = rbm.torch.empty_like(rbm.hidden_field)

    def _hidden_means(self, visible, out):
        self.rbm.torch.mm(visible, self.rbm.W, out=out)
        out.add_(self.rbm.b).sigmoid_()

    def update(self, batch, learning_rate):
        """One SGD step on ``batch`` (a NumPy array, batch_size x num_visibles)."""
        rbm, chains = self.rbm, self.chains
        batch = rbm.torch.from_numpy(batch)
        if self.scheme == "rdm":
            chains.bernoulli_(0.5)
        rbm.gibbs(chains, self.k)
        self._hidden_means(batch, self.batch_hidden)
        self._hidden_means(chains, self.chain_hidden)
        rate_data, rate_model = learning_rate / batch.shape[0], learning_rate / chains.shape[0]
        rbm.a.add_(batch.sum(0), alpha=rate_data).sub_(chains.sum(0), alpha=rate_model)
        rbm.b.add_(self.batch_hidden.sum(0), alpha=rate_data).sub_(self.chain_hidden.sum(0), alpha=rate_model)
        rbm.W.addmm_(batch.t(), self.batch_hidden, alpha=rate_data)
        rbm.W.addmm_(chains.t(), self.chain_hidden, alpha=-rate_model)


# ----------------------------------------------------------------------------- Gibbs contenders

def numpy_gibbs(weights, vbias, hbias, visible, steps):
    rbm = NumpyRBM(weights, vbias, hbias, visible.shape[0])
    return lambda: rbm.gibbs(visible, steps)


def sklearn_gibbs(weights, vbias, hbias, visible, steps):
    from sklearn.neural_network import BernoulliRBM as SklearnRBM

    rbm = SklearnRBM(n_components=weights.shape[1], random_state=0)
    rbm.components_ = np.ascontiguousarray(weights.T)
    rbm.intercept_hidden_, rbm.intercept_visible_ = hbias.copy(), vbias.copy()
    state = [visible]

    def run():
        for _ in range(steps):
            state[0] = rbm.gibbs(state[0])

    return run


def torch_gibbs(weights, vbias, hbias, visible, steps):
    import torch

    rbm, chains = TorchRBM(weights, vbias, hbias, visible.shape[0]), torch.from_numpy(visible)
    return lambda: rbm.gibbs(chains, steps)


def torch_compile_gibbs(weights, vbias, hbias, visible, steps):
    import torch

    def step(v, W, a, b):
        h = torch.bernoulli(torch.sigmoid(v @ W + b))
        return torch.bernoulli(torch.sigmoid(h @ W.t() + a))

    torch.compiler.reset()  # a fresh compile per case, never the recompile limit's silent fallback to eager
    step = torch.compile(step)
    W, a, b = (torch.from_numpy(x) for x in (weights, vbias, hbias))
    state = [torch.from_numpy(visible)]

    def run():
        for _ in range(steps):
            state[0] = step(state[0], W, a, b)

    return run


GIBBS_CONTENDERS = {"numpy": numpy_gibbs, "sklearn": sklearn_gibbs, "torch": torch_gibbs,
                    "torch-compile": torch_compile_gibbs}


# ----------------------------------------------------------------------------- timing

def spread(values):
    """(median, min, max) of ``values`` as floats."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.median(values)), float(values.min()), float(values.max())


def steps_per_call(visibles, hiddens, chains):
    """Gibbs steps per timed call: about ``FLOPS_PER_CALL`` of GEMM work, 1 to 50 steps."""
    flops = 4.0 * visibles * hiddens * chains
    return int(np.clip(round(FLOPS_PER_CALL / flops), 1, 50))


def gibbs_case(visibles, hiddens, chains, dtype, peers, repeats, notes):
    """Time one Gibbs case: the bare GEMMs, bmsample and ``peers``; one row per contender.

    A peer whose set-up or first call fails is dropped from ``peers`` with a line in ``notes``.
    """
    model = synthetic_model("rbm", visibles, hiddens, dtype)
    steps = steps_per_call(visibles, hiddens, chains)
    gemms, ours, _ = step_case(model, chains, steps, np.random.default_rng(1))
    functions = {"bare GEMMs": gemms, "bmsample": ours}
    start = (np.random.default_rng(2).random((chains, visibles)) < 0.5).astype(model.dtype)
    params = (model.weight_matrix, model.vbias, model.hbias)
    case = f"{visibles}x{hiddens}, {chains} chains, {dtype}"
    for name in list(peers):
        try:
            functions[name] = GIBBS_CONTENDERS[name](*(p.copy() for p in params), start.copy(), steps)
        except Exception as error:  # a peer's failure must not end the run
            _drop(name, case, peers, notes, error)
    for name, function in list(functions.items()):
        try:
            function()  # compile and warm up: excluded from the timings
        except Exception as error:
            if name not in peers:
                raise
            _drop(name, case, peers, notes, error)
            del functions[name]
    times = interleaved_times(functions, repeats)
    gemm = times.pop("bare GEMMs")
    rows = []
    for name, seconds in times.items():
        speed = spread(gemm / seconds)
        row = {"visibles": visibles, "hiddens": hiddens, "chains": chains, "dtype": model.dtype.name, "steps": steps,
               "contender": name, "step_ms": 1e3 * float(np.median(seconds)) / steps,
               "gemm_ms": 1e3 * float(np.median(gemm)) / steps,
               "speed_median": speed[0], "speed_min": speed[1], "speed_max": speed[2]}
        if name == "bmsample" and "numpy" in times:
            row["speedup_over_numpy_median"], row["speedup_over_numpy_min"], row["speedup_over_numpy_max"] = \
                spread(times["numpy"] / seconds)
        rows.append(row)
    return rows


def _drop(name, case, peers, notes, error):
    """Remove a failed peer from ``peers`` for the rest of the run, with a printed note."""
    first_line = (str(error).strip().splitlines() or [""])[0][:160]
    notes.append(f"{name}: skipped from case {case} on ({type(error).__name__}: {first_line})")
    print(notes[-1], flush=True)
    peers.remove(name)


# ----------------------------------------------------------------------------- training epochs

def epoch_contenders(data, scheme, settings, peers):
    """callable(batches) per contender, all starting from the same initial parameters."""
    cfg = bmsample.TrainingConfig(model="rbm", num_hiddens=settings["hiddens"], scheme=scheme, k=settings["k"],
                                  batch_size=settings["batch_size"], learning_rate=settings["learning_rate"],
                                  epochs=1, seed=0).validated()
    model = bmsample.BernoulliRBM.from_data(data, settings["hiddens"], rng=0)
    params = [p.copy() for p in (model.weight_matrix, model.vbias, model.hbias)]
    trainers = {"bmsample": RBMTrainer(model, cfg.estimate(), ChainStreams((7, 0)))}
    if "numpy" in peers:
        trainers["numpy"] = NumpyTrainer(*(p.copy() for p in params), scheme, settings["k"], settings["batch_size"])
    if "torch" in peers:
        trainers["torch"] = TorchTrainer(*params, scheme, settings["k"], settings["batch_size"])
    rate = settings["learning_rate"]

    def epoch(trainer):
        def run(batches):
            for batch in batches:
                trainer.update(batch, rate)
        return run

    return {name: epoch(trainer) for name, trainer in trainers.items()}


def epoch_rows(settings, peers, repeats):
    """Time one Rdm-k and one PCD-k epoch per contender against the epoch's GEMM floor."""
    data = bmsample.load_dataset("mnist").data[:settings["rows"]]
    size = settings["batch_size"]
    order = np.random.default_rng(4).permutation(data.shape[0])
    batches = [np.ascontiguousarray(data[np.sort(order[i:i + size])]) for i in range(0, len(order) - size + 1, size)]
    floor = epoch_floor(data.shape[1], settings["hiddens"], settings["batch_size"], settings["batch_size"],
                        settings["k"], len(batches), data.dtype)
    rows = []
    for scheme in ("rdm", "pcd"):
        contenders = epoch_contenders(data, scheme, settings, peers)
        for run in contenders.values():
            run(batches[:2])  # compile and warm up
        floor()
        functions = {"GEMM floor": floor, **{name: (lambda run=run: run(batches)) for name, run in contenders.items()}}
        times = interleaved_times(functions, repeats)
        floor_s = times.pop("GEMM floor")
        for name, seconds in times.items():
            ratio = spread(seconds / floor_s)
            rows.append({"scheme": scheme, "k": settings["k"], "rows": data.shape[0], "batch_size": size,
                         "hiddens": settings["hiddens"], "dtype": data.dtype.name, "contender": name,
                         "epoch_s": float(np.median(seconds)), "floor_s": float(np.median(floor_s)),
                         "ratio_median": ratio[0], "ratio_min": ratio[1], "ratio_max": ratio[2]})
    return rows


# ----------------------------------------------------------------------------- report

def gibbs_header():
    return ("Gibbs step v -> h -> v; speed = bare-GEMM time / step time per repeat "
            "(1.00 = BLAS limit, higher is better)\n"
            f"{'size':>9} {'chains':>6} {'dtype':>7} {'contender':>13} {'step ms':>9} {'gemm ms':>9} "
            f"{'speed':>6} {'min':>6} {'max':>6} {'x numpy':>8}")


def gibbs_line(row):
    size = f"{row['visibles']}x{row['hiddens']}"
    speedup = f"{row['speedup_over_numpy_median']:8.2f}" if "speedup_over_numpy_median" in row else ""
    return (f"{size:>9} {row['chains']:>6} {row['dtype']:>7} {row['contender']:>13} {row['step_ms']:9.3f} "
            f"{row['gemm_ms']:9.3f} {row['speed_median']:6.2f} {row['speed_min']:6.2f} {row['speed_max']:6.2f} "
            f"{speedup}").rstrip()


def epoch_header(settings):
    return (f"Training epoch: {settings['rows']} MNIST rows, batch {settings['batch_size']}, "
            f"{settings['hiddens']} hidden, k = {settings['k']}, float32; "
            "ratio = epoch time / GEMM floor (1.00 = floor, lower is better)\n"
            f"{'scheme':>7} {'contender':>10} {'epoch s':>8} {'floor s':>8} {'ratio':>6} {'min':>6} {'max':>6}")


def epoch_line(row):
    scheme = f"{row['scheme']}-{row['k']}"
    return (f"{scheme:>7} {row['contender']:>10} {row['epoch_s']:8.3f} {row['floor_s']:8.3f} "
            f"{row['ratio_median']:6.2f} {row['ratio_min']:6.2f} {row['ratio_max']:6.2f}")


# ----------------------------------------------------------------------------- command line

def available_peers(requested, notes):
    """The requested peers whose package is installed; a note for every one that is not."""
    missing = {"sklearn": "scikit-learn", "torch": "torch", "torch-compile": "torch"}
    peers = []
    for name in requested:
        package = missing.get(name)
        if package and importlib.util.find_spec(package.replace("scikit-learn", "sklearn")) is None:
            notes.append(f"{name}: skipped ({package} is not installed; pip install {package})")
        else:
            peers.append(name)
    return peers


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds (a smoke run)")
    parser.add_argument("--json", metavar="FILE", help="also write every row to FILE")
    parser.add_argument("--threads", type=int, default=None, help="Numba, BLAS and torch threads (default: all CPUs)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 7 Gibbs, 3 epochs)")
    parser.add_argument("--no-epochs", action="store_true", help="skip the training epochs")
    args = parser.parse_args(argv)
    args.peers = [p for p in args.peers.split(",") if p]
    unknown = sorted(set(args.peers) - set(PEERS))
    if unknown:
        parser.error(f"--peers: unknown {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats: at least 1")
    try:
        args.threads = bmsample.set_num_threads(args.threads or available_cpus())
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv=None):
    args = parse_args(argv)
    notes = []
    peers = available_peers(args.peers, notes)
    if any(p.startswith("torch") for p in peers):
        import torch

        torch.set_num_threads(args.threads)
    cases = QUICK_GIBBS_CASES if args.quick else GIBBS_CASES
    settings = QUICK_EPOCH if args.quick else EPOCH
    gibbs_repeats = args.repeats or (2 if args.quick else 7)
    epoch_repeats = args.repeats or (2 if args.quick else 3)
    for note in notes:
        print(note)
    print(f"threads: {args.threads} (Numba, BLAS{', torch' if any(p.startswith('torch') for p in peers) else ''})")
    print(gibbs_header(), flush=True)
    gibbs = []
    for dtype in ("float32", "float64"):
        for visibles, hiddens, chains in cases:
            rows = gibbs_case(visibles, hiddens, chains, dtype, peers, gibbs_repeats, notes)
            for row in rows:
                print(gibbs_line(row), flush=True)
            gibbs.extend(rows)
    epochs = []
    if not args.no_epochs:
        print(epoch_header(settings), flush=True)
        epochs = epoch_rows(settings, [p for p in peers if p in ("numpy", "torch")], epoch_repeats)
        for row in epochs:
            print(epoch_line(row), flush=True)
    if args.json:
        report = {"threads": args.threads, "thread_info": thread_info(), "notes": notes,
                  "gibbs": gibbs, "epochs": epochs}
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
