"""``bmsample bench``: sampler steps and training epochs against the dense limit, timed in one process."""

import json
from pathlib import Path

import click

from . import options
from ._shell import announces_compiling, handle_errors, set_threads


@click.command()
@click.option("--model", "family", default="rbm", show_default=True,
              help="Family of a synthetic model, a fit --model name (grbm: gaussian-rbm; Ising: a step is one sweep).")
@click.option("--model-file", type=click.Path(path_type=Path), help="Bench a saved model instead.")
@click.option("--visibles", type=int, default=784, show_default=True, help="Visible units (Gaussian, Ising: N).")
@click.option("--hiddens", type=int, default=500, show_default=True, help="Hidden units (RBMs).")
@options.chains
@options.dtype
@click.option("--steps", type=int, default=10, show_default=True, help="Steps per timed call.")
@click.option("--repeats", type=int, default=15, show_default=True, help="Interleaved repeats.")
@options.threads
@options.device
@options.json
@options.overwrite
@click.option("--epoch", is_flag=True, help="Also time RBM training epochs against their GEMM floor.")
@click.option("--epoch-data", default="mnist", show_default=True, help="Dataset of the timed epochs.")
@click.option("--epoch-samples", type=int, default=10000, show_default=True, help="Rows of that dataset used.")
@click.option("--schemes", default="rdm,pcd", show_default=True, help="Comma-separated schemes of the epochs.")
@click.option("-k", "k", type=int, default=10, show_default=True, help="Gibbs steps per update in the epochs.")
@click.option("--batch-size", type=int, default=100, show_default=True, help="Minibatch size of the epochs.")
@click.option("--tempering", "replicas", type=int, default=None,
              help="Also time parallel-tempering sweeps of this many replicas of each --chains count against plain "
                   "steps of as many chains.")
@handle_errors
@announces_compiling
def bench(family, model_file, visibles, hiddens, chains, dtype, steps, repeats, threads, device, json_path, overwrite,
          epoch, epoch_data, epoch_samples, schemes, k, batch_size, replicas):
    """Sampler steps per second and their ratio to the bare GEMMs of the same shapes.

    Both are timed in this process, interleaved repeat by repeat (warm-up
    excluded); the ratio is 1.00 at the BLAS limit (RBMs: v W and h W^T;
    Gaussian: x J; Ising: s J, the GEMM of all local fields, which a
    sequential sweep cannot reach); on a GPU (--device), the device steps
    against the device's product kernel.  With --epoch, also one
    training epoch per scheme (updates/s, and its time over the bare time of
    every matrix product of the epoch).  With --tempering R, also a
    parallel-tempering sweep (one round of swaps and one step of each of R
    replicas of M chains) against one plain step of R M chains."""
    import bmsample
    from bmsample._backend import resolve_backend
    from bmsample._validation import check_choice
    from bmsample.io import atomic_write, check_output_file
    from bmsample.tools import bench as benchmark

    if json_path is not None:
        check_output_file(json_path, "json", overwrite)
    chain_counts = options.counts(chains) or [100, 1000]
    dtypes = (dtype or "float32").split(",")
    model = bmsample.load_model(model_file) if model_file is not None else None
    schemes = [check_choice(s.strip(), "schemes", ("rdm", "cd", "pcd")) for s in schemes.split(",") if s.strip()]
    epoch_rows_of = None
    backend = resolve_backend(device)
    if epoch:
        if family != "rbm" or model_file is not None:
            raise ValueError("epoch: times Bernoulli RBM training on a dataset; drop --model/--model-file")
        if backend.is_cuda:
            raise ValueError("epoch: training epochs are timed on the CPU; drop --device or --epoch")
        data = bmsample.load_dataset(epoch_data).data[:epoch_samples]
        epoch_rows_of = (data, schemes)
    set_threads(threads)
    rows = benchmark.run(family, visibles, hiddens, chain_counts, dtypes, model=model, steps=steps, repeats=repeats,
                         threads=threads, backend=backend)
    click.echo(benchmark.format_rows(rows))
    document = [{"kind": "step", **row.as_dict()} for row in rows]
    if epoch_rows_of is not None:
        data, schemes = epoch_rows_of
        epochs = [benchmark.measure_epoch(data, hiddens, scheme=scheme, k=k, batch_size=batch_size, dtype=name,
                                          repeats=max(1, repeats // 5), threads=threads)
                  for name in dtypes for scheme in schemes]
        click.echo(benchmark.format_epoch_rows(epochs))
        document += [{"kind": "epoch", **row.as_dict()} for row in epochs]
    if replicas is not None:
        if backend.is_cuda:
            raise ValueError("tempering: parallel tempering is timed on the CPU; drop --device or --tempering")
        tempering = [benchmark.measure_tempering(
            model if model is not None else benchmark.synthetic_model(family, visibles, hiddens, name), replicas, n,
            sweeps=steps, repeats=repeats, threads=threads) for name in dtypes for n in chain_counts]
        click.echo(benchmark.format_tempering_rows(tempering))
        document += [{"kind": "tempering", **row.as_dict()} for row in tempering]
    if json_path is not None:
        atomic_write(json_path, lambda handle: handle.write(json.dumps(document, indent=2).encode()))
