"""``bmsample plot``: figures of a run directory."""

from pathlib import Path

import click

from . import options
from ._shell import announces_compiling, handle_errors, image_shape


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@options.chains
@options.seed
@options.overwrite
@handle_errors
@announces_compiling
def plot(run_dir, chains, seed, overwrite):
    """Draw what fits a run directory: training curves (log.jsonl), a sample grid
    for image data, the learned spectrum against the theory for Gaussian models.
    Writes PNGs into RUN_DIR/plots/."""
    import bmsample
    from bmsample._rng import fresh_seed
    from bmsample.tools import plots

    if not run_dir.is_dir():
        raise ValueError(f"run_dir: {run_dir} {'is not a directory' if run_dir.exists() else 'does not exist'}")
    model_path = run_dir / "model.npz"
    log_path = run_dir / "log.jsonl"
    if not model_path.is_file() and not log_path.is_file():
        raise ValueError(f"run_dir: {run_dir} holds neither model.npz nor log.jsonl")
    from bmsample.io import check_output_file

    figures = {}  # file name -> writer; everything is read and computed before the first file is written
    if log_path.is_file():
        records = plots.read_training_log(log_path)
        figures["training.png"] = lambda path: plots.plot_training_curves(path, records)
    seed = fresh_seed() if seed is None else seed
    if model_path.is_file():
        figures.update(_model_figures(bmsample.load_model(model_path), chains, seed))
    for name in figures:
        if (run_dir / "plots").is_dir():
            check_output_file(run_dir / "plots" / name, "plot", overwrite)
    for name, write in figures.items():
        write(run_dir / "plots" / name)
        click.echo(f"wrote {run_dir / 'plots' / name}" + (f" (seed {seed})" if name == "samples.png" else ""))


def _model_figures(model, chains, seed):
    """Writers of the figures its family gives ``model``, by file name: a sample grid for image data, a predicted
    spectrum."""
    import bmsample
    from bmsample import families
    from bmsample.tools import plots

    family = families.of_model(model)
    figures = {}
    data_name = (model.process or {}).get("data")
    shape = image_shape(data_name)
    if shape is not None and family.image_values is not None:
        states = family.image_values(bmsample.sample(model, options.one_count(chains, default=100), rng=seed).visible)
        figures["samples.png"] = lambda path: plots.write_sample_grid(path, states[:100], shape)
    if family.predicted_spectrum is not None and data_name is not None:
        values = bmsample.load_dataset(data_name, dtype="float64").data
        prediction, learned = family.predicted_spectrum(model, values)
        figures["spectrum.png"] = lambda path: plots.plot_gaussian_spectrum(path, prediction, learned)
    return figures
