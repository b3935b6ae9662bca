"""``bmsample theory``: closed-form predictions (THEORY.md) for a dataset."""

import json
from pathlib import Path

import click

from . import options
from ._shell import handle_errors


@click.group()
def theory():
    """Closed-form predictions of non-convergent training (the theory page: docs/theory.md in the source)."""


@theory.command("gaussian")
@click.argument("data")
@click.option("-k", "--steps", type=int, required=True, help="Langevin steps per gradient estimate.")
@click.option("--step-size", type=float, required=True, help="Langevin step eps.")
@click.option("--init", type=click.Choice(["zeros", "uniform", "gaussian"]), default="uniform", show_default=True,
              help="p0 of the Rdm-k chains.")
@click.option("--init-scale", type=float, default=1.0, show_default=True,
              help="Half-width of the uniform p0, or std of the Gaussian one.")
@click.option("--continuous", is_flag=True, help="Continuous-time dynamics at t = k eps.")
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              help="A trained Gaussian model to compare: its J along the data's principal axes.")
@options.json
@options.overwrite
@handle_errors
def theory_gaussian(data, steps, step_size, init, init_scale, continuous, model_path, json_path, overwrite):
    """Predicted Rdm-k spectrum of J for DATA, next to maximum likelihood.

    One row per principal axis of the data covariance (variance lambda):
    the Rdm-k eigenvalue j*, the CD-k / PCD-k value (discretised ML), the ML
    value 1 / lambda and, with --model, the trained model's v^T J v."""

    import bmsample
    from bmsample import theory as th
    from bmsample._validation import check_real_data
    from bmsample.io import atomic_write, check_output_file

    if json_path is not None:
        check_output_file(json_path, "json", overwrite)
    values = check_real_data(bmsample.load_dataset(data, dtype="float64").data, "data", dtype="float64")
    prediction = th.predict_gaussian_rdm(values, steps, step_size, init=init, init_scale=init_scale,
                                         continuous=continuous)
    learned = None
    if model_path is not None:
        model = bmsample.load_model(model_path)
        if not isinstance(model, bmsample.GaussianModel) or model.num_units != values.shape[1]:
            raise ValueError(f"model: {model_path} is not a Gaussian model of {values.shape[1]} units")
        learned = th.spectrum_along(model.coupling_matrix, prediction.eigenvectors)
    critical = th.critical_variance(steps, step_size, prediction.s0_sq)
    click.echo(f"Rdm-{steps}, eps {step_size:g}, p0 {init} (s0^2 {prediction.s0_sq:.4g}), "
               f"{'continuous' if continuous else 'discrete'} time; j* < 0 where lambda > {critical:.4g}")
    header = f"{'mode':>4} {'lambda':>11} {'rdm j*':>11} {'cd/pcd':>11} {'ml 1/lambda':>11}"
    click.echo(header + (f" {'trained':>11}" if learned is not None else ""))
    rows = []
    for a in range(values.shape[1]):
        row = {"mode": a, "data_variance": float(prediction.data_variances[a]),
               "rdm": float(prediction.eigenvalues[a]),
               "discretised_ml": float(prediction.discretised_ml_eigenvalues[a]),
               "ml": float(prediction.ml_eigenvalues[a])}
        line = (f"{a:>4} {row['data_variance']:11.5g} {row['rdm']:11.5g} {row['discretised_ml']:11.5g} "
                f"{row['ml']:11.5g}")
        if learned is not None:
            row["trained"] = float(learned[a])
            line += f" {row['trained']:11.5g}"
        rows.append(row)
        click.echo(line)
    if json_path is not None:
        document = {"k": steps, "step_size": step_size, "init": init, "s0_sq": prediction.s0_sq,
                    "continuous": continuous, "critical_variance": float(critical), "modes": rows}
        atomic_write(json_path, lambda handle: handle.write(json.dumps(document, indent=2).encode()))
