"""``bmsample eval``: fresh samples of a model against data, as a function of sampling time."""

import json
from pathlib import Path

import click

from . import options
from ._shell import announces_compiling, handle_errors, set_threads


@click.command("eval")
@click.argument("model_path", metavar="MODEL|RUN_DIR", type=click.Path(path_type=Path))
@click.argument("data")
@click.option("--times", help="Comma-separated sampling times [0, 1, 2, 5, ... up to 10 k, with k].")
@options.chains
@click.option("--init", help="Initial law [the model's process].")
@click.option("--sampler", help="Sampler [the model's].")
@click.option("--aats/--no-aats", default=True, show_default=True, help="Adversarial accuracy per time.")
@click.option("--aats-samples", type=int, default=1000, show_default=True,
              help="Data rows and samples in the AATS pool (each).")
@click.option("--log-likelihood", "ll_method", type=click.Choice(["auto", "exact", "ais", "trajectory", "none"]),
              default="none", show_default=True,
              help="Equilibrium log-likelihood of DATA (meaningful at equilibrium only); trajectory: at every model "
                   "a run saved (RUN_DIR), by trajectory AIS.")
@click.option("--ais-chains", type=int, default=100, show_default=True)
@click.option("--trajectory-steps", type=int, default=1, show_default=True,
              help="trajectory: Gibbs steps under each saved or interpolated model.")
@click.option("--trajectory-between", type=int, default=4, show_default=True,
              help="trajectory: models interpolated between consecutive saved ones.")
@click.option("--ais-betas", type=int, default=10000, show_default=True)
@click.option("--equilibrium", type=click.Choice(["pt", "ptt"]),
              help="Add a t = inf row: equilibrium samples by parallel tempering (pt) or trajectory tempering over "
                   "the models of RUN_DIR (ptt).")
@click.option("--equilibrium-chains", type=int, default=200, show_default=True,
              help="Chains per replica of --equilibrium; its row takes as many samples as --chains, from sweeps "
                   "of the second half of the run.")
@click.option("--equilibrium-sweeps", type=int, default=1000, show_default=True,
              help="Sweeps of --equilibrium after its warm-up.")
@click.option("--mixing", "mixing_steps", type=int, default=0,
              help="Also run 100 chains for this many steps: autocorrelation times and memory of p0.")
@options.seed
@options.threads
@options.json
@click.option("--png", "png_path", type=click.Path(path_type=Path),
              help="Plot the errors against t (needs the plot extra: pip install 'bmsample[plot]').")
@options.overwrite
@handle_errors
@announces_compiling
def evaluate_command(model_path, data, times, chains, init, sampler, aats, aats_samples, ll_method, ais_chains,
                     trajectory_steps, trajectory_between, ais_betas, equilibrium, equilibrium_chains,
                     equilibrium_sweeps, mixing_steps, seed, threads, json_path, png_path, overwrite):
    """Compare fresh samples of MODEL with DATA as a function of sampling time.

    At every time t: rms errors of the means and of the connected
    correlations, their Pearson coefficient, the mean energy and the
    adversarial accuracy (AATS with AA_truth and AA_syn; all three near 0.5 =
    indistinguishable, "!" where the two disagree).  For an Rdm-k model
    the errors are smallest near t = k.

    MODEL may be a run directory (fit --out): its final model is evaluated,
    and --log-likelihood trajectory adds the log-likelihood of DATA at every
    model the run saved (bmsample.trajectory; fit --trajectory N saves
    more)."""
    import bmsample
    from bmsample import evaluation
    from bmsample._rng import fresh_seed
    from bmsample.io import atomic_write, check_output_file
    from bmsample.metrics import AA_DISAGREEMENT, aa_disagree

    chains = options.one_count(chains, default=1000)
    for path, option in ((json_path, "json"), (png_path, "png")):
        if path is not None:
            check_output_file(path, option, overwrite)
    trajectory = None
    if ll_method == "trajectory" or equilibrium == "ptt":
        from bmsample.trajectory import load_trajectory

        if not model_path.is_dir():
            flag = "--log-likelihood trajectory" if ll_method == "trajectory" else "--equilibrium ptt"
            raise ValueError(f"{flag}: expected a run directory (fit --out), got {model_path}")
        trajectory = load_trajectory(model_path)
    loaded = bmsample.read_model_file(_final_model_file(model_path))
    model = loaded.model
    reference = bmsample.load_dataset(data, dtype="float64").data
    process = {name: value for name, value in (("init", init), ("sampler", sampler)) if value is not None}
    if loaded.chains is not None and init == "chains":
        process["chains"] = loaded.chains
    set_threads(threads)
    seed = fresh_seed() if seed is None else seed
    grid = options.counts(times, "times")
    result = evaluation.evaluate(model, reference, times=grid, num_chains=chains, rng=seed, aats=aats,
                                 aats_samples=aats_samples, **process)
    k = result.k
    click.echo(f"{model.family}, k = {k}, {chains} chains, seed {seed}; errors against {data}")
    header = f"{'t':>6} {'means rmse':>11} {'corr rmse':>11} {'corr pearson':>13} {'energy':>11}"
    click.echo(header + (f" {'aats':>6} {'aa_truth':>8} {'aa_syn':>6}" if aats else ""))
    for row in result.rows:
        click.echo(_row_line(row, aats) + (" <- k" if row["t"] == k else ""))
    if equilibrium is not None:
        # As many samples as the other rows have chains (their sampling noise), as far as the run's second half has
        samples = min(chains, equilibrium_chains * (equilibrium_sweeps // 2 + 1))
        found = evaluation.equilibrium(model, reference, equilibrium, trajectory=trajectory,
                                       num_chains=equilibrium_chains, sweeps=equilibrium_sweeps, samples=samples,
                                       rng=seed, aats=aats, aats_samples=aats_samples)
        diagnostics = found["diagnostics"]
        click.echo(f"{_row_line(found['row'], aats)} <- equilibrium ({equilibrium}, {diagnostics['replicas']} "
                   f"replicas, {diagnostics['round_trips']} round trips, {found['samples']} samples)")
    if aats and any(aa_disagree(row) for row in result.rows):
        click.echo(f"! AA_truth and AA_syn differ by more than {AA_DISAGREEMENT}: there AATS near 0.5 does not mean "
                   "indistinguishable (both must be near 0.5)")
    document = {"model": str(model_path), "data": data, "family": model.family, "k": k, "chains": chains,
                "seed": seed, "rows": result.rows}
    if equilibrium is not None:
        document["equilibrium"] = found
    if ll_method == "trajectory":
        document["log_likelihood"] = _trajectory_log_likelihood(trajectory, reference, ais_chains, trajectory_steps,
                                                                trajectory_between, seed)
    elif ll_method != "none":
        document["log_likelihood"] = evaluation.log_likelihood(model, reference, method=ll_method,
                                                               ais_chains=ais_chains, ais_betas=ais_betas, rng=seed)
        ll = document["log_likelihood"]
        error = f" +- {ll['std_error']:.3g}" if "std_error" in ll else ""
        click.echo(f"log-likelihood ({ll['method']}): {ll['log_likelihood']:.5g}{error} per sample")
    if mixing_steps:
        mixing = evaluation.mixing(model, num_chains=100, steps=mixing_steps, rng=seed, **process)
        document["mixing"] = mixing
        click.echo(f"mixing over {mixing_steps} steps: energy tau {mixing['energy_tau']:.3g}, magnetisation tau "
                   f"{mixing['magnetisation_tau']:.3g} steps; p0 forgotten after {mixing['forget_time']} steps")
    if json_path is not None:
        atomic_write(json_path, lambda handle: handle.write(json.dumps(document, indent=2, default=float).encode()))
    if png_path is not None:
        from bmsample.tools.plots import plot_errors_vs_time

        plot_errors_vs_time(png_path, result, title=f"{Path(model_path).name} on {data}")


def _final_model_file(model_path):
    """MODEL itself, or the model.npz of a run directory; a clear error for any other directory."""
    if not model_path.is_dir():
        return model_path
    if not (model_path / "model.npz").is_file():
        raise ValueError(f"{model_path} is a directory without a model.npz: expected a model file or a finished "
                         "run directory (fit --out)")
    return model_path / "model.npz"


def _trajectory_log_likelihood(trajectory, reference, num_chains, steps, between, seed):
    """The log-likelihood of ``reference`` at every model of ``trajectory``, printed as a table; the dict."""
    from bmsample.trajectory import trajectory_log_likelihood

    ll = trajectory_log_likelihood(trajectory, reference, num_chains=num_chains, steps=steps, between=between,
                                   rng=seed)
    click.echo(f"log-likelihood along the run (trajectory AIS: {num_chains} chains, {between} interpolated models "
               f"between saved ones, {steps} step(s) per model; meaningful at equilibrium only)")
    click.echo(f"{'update':>8} {'log-likelihood':>15} {'std error':>10} {'ESS':>8}")
    for update, value, error, ess in zip(ll["updates"], ll["log_likelihood"], ll["std_error"],
                                         ll["effective_sample_size"]):
        click.echo(f"{update:>8} {value:15.5g} {error:10.3g} {ess:8.1f}")
    return ll


def _row_line(row, aats):
    """One line of the table: the time, the moment errors, the energy and the adversarial accuracy."""
    from bmsample.metrics import aa_disagree

    line = (f"{row['t']:>6} {row['mean_rmse']:11.4g} {row['covariance_rmse']:11.4g} "
            f"{row['covariance_pearson']:13.4f} {row['energy']:11.5g}")
    if aats:
        line += f" {row['aats']:6.3f} {row['aa_truth']:8.3f} {row['aa_syn']:6.3f}"
        line += " !" if aa_disagree(row) else ""
    return line
