"""``bmsample fit``: train a model on a dataset."""

import json
import sys
from pathlib import Path

import click

from . import options
from ._shell import announces_compiling, handle_errors, set_threads

SETTINGS = {  # CLI option name -> TrainingConfig field
    "model": "model", "hidden": "num_hiddens", "scheme": "scheme", "steps": "k", "init": "init",
    "init_scale": "init_scale", "sampler": "sampler", "step_size": "step_size", "temperature": "temperature",
    "sigma": "sigma",
    "epochs": "epochs", "updates": "updates", "batch_size": "batch_size", "chains": "num_chains",
    "learning_rate": "learning_rate", "l2": "l2", "centered": "centered", "dtype": "dtype",
    "seed": "seed", "ess_threshold": "ess_threshold", "resampling": "resampling",
}


def _read_config(path):
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"config: {path} is not valid TOML ({exc})") from None
    table = table.get("fit", table)
    if not isinstance(table, dict):
        raise ValueError(f"config: {path}: 'fit' must be a table of settings, got {table!r}")
    return table


def _live_printer(quiet):
    """Progress: a live line on a terminal, plain log lines otherwise."""
    from bmsample.training import format_progress

    if quiet:
        return None
    tty = sys.stderr.isatty()

    def show(record):
        if tty:
            end = "" if record.get("live") else "\n"
            click.echo("\r\033[K" + format_progress(record), err=True, nl=False)
            if end:
                click.echo("", err=True)
        elif not record.get("live"):
            click.echo(format_progress(record), err=True)

    return show


def _json_logger(target):
    """A writer of one flushed JSON line per logged record to ``target`` (a path, or "-" for stdout), or None."""
    if target is None:
        return None
    handle = sys.stdout if target == "-" else open(target, "a")

    def write(record):
        handle.write(json.dumps(record) + "\n")
        handle.flush()

    return write


def _progress(*callbacks):
    """One progress callable calling each given one (None when there is none); live records go only to the first."""
    first, *others = callbacks
    others = [callback for callback in others if callback is not None]
    if first is None and not others:
        return None

    def report(record):
        if first is not None:
            first(record)
        if not record.get("live"):
            for callback in others:
                callback(record)

    return report


def _fit_settings(resume, config_file, flags):
    """TrainingConfig fields from a resumed run's config.json, the TOML file and the flags (later ones win)."""
    from bmsample.training.checkpoints import check_same_model, read_saved_config

    saved = read_saved_config(resume) if resume is not None else None
    settings = dict(saved or {})
    requested = _read_config(config_file) if config_file else {}
    if saved is not None:
        check_same_model(saved, flags.get("model") or requested.get("model"), resume)
    settings.update(requested)
    settings.update({name: flags[option] for option, name in SETTINGS.items() if flags.get(option) is not None})
    return settings


@click.command()
@click.argument("data")
@click.option("--model", metavar="FAMILY",
              help="Model family: rbm (Bernoulli RBM), gaussian (Gaussian energy model), gaussian-rbm "
                   "(Gaussian-Bernoulli RBM), ising (fully connected Boltzmann machine on +-1 spins), independent "
                   "(independent spins), or a family registered with bmsample.families [rbm].")
@click.option("--hidden", type=int, help="Number of hidden units (rbm, gaussian-rbm) [500].")
@click.option("--scheme", type=click.Choice(["rdm", "cd", "pcd", "jarzynski"]),
              help="Training scheme [rdm]; jarzynski (rbm, ising, independent): persistent chains with importance "
                   "weights.")
@click.option("--ess-threshold", type=float,
              help="jarzynski: resample below this effective sample size, a fraction of the chains [0.5].")
@click.option("--resampling", type=click.Choice(["systematic", "restart"]),
              help="jarzynski: systematic resampling by the weights, or fresh p0 chains [systematic].")
@click.option("-k", "--steps", type=int, help="Sampler steps per gradient estimate [10].")
@click.option("--init", metavar="LAW",
              help="p0 of the Rdm-k / initial PCD chains: rbm uniform|bias [uniform]; gaussian "
                   "uniform|zeros|gaussian|data [uniform]; gaussian-rbm gaussian|zeros|data [gaussian]; "
                   "ising, independent uniform|bias [uniform].")
@click.option("--init-scale", type=float, help="Real p0 width: uniform on [-a, a] or std a [1].")
@click.option("--sampler", metavar="SAMPLER",
              help="rbm block-gibbs; gaussian langevin|gibbs [langevin]; ising, independent "
                   "heat-bath|random-site|metropolis sweeps [heat-bath].")
@click.option("--step-size", type=float, help="Langevin step eps (gaussian) [0.01].")
@click.option("--temperature", type=float, help="Sampler temperature (gaussian) [1].")
@click.option("--sigma", type=float, help="Visible std in standardised units (gaussian-rbm, fixed) [1].")
@click.option("--epochs", type=int, help="Passes over the data [20, and at least 5000 updates].")
@click.option("--updates", type=int, help="Number of parameter updates (instead of --epochs).")
@click.option("--batch-size", type=int, help="Minibatch size [100].")
@options.chains
@click.option("--learning-rate", type=float, help="Learning rate [0.01].")
@click.option("--l2", type=float, help="L2 weight decay [0].")
@click.option("--centered/--no-centered", default=None, help="Centred gradient [off].")
@options.dtype
@options.seed
@options.threads
@options.out
@options.overwrite
@click.option("--resume", type=click.Path(path_type=Path, file_okay=False),
              help="Continue the run in this directory from its last checkpoint (same settings; starts it if "
                   "it has none).")
@click.option("--checkpoint-interval", type=float, default=600.0, show_default=True,
              help="Seconds between rewrites of the resume checkpoint checkpoints/latest.npz.")
@click.option("--log-json", type=str, metavar="FILE",
              help="Append one JSON object per logged update to FILE ('-': stdout), flushed at once.")
@click.option("--config", "config_file", type=click.Path(path_type=Path),
              help="TOML file of settings (keys as in TrainingConfig); flags override it.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--log-mixing", "mixing_steps", type=int, default=0,
              help="At each checkpoint, log autocorrelation times and the p0 forgetting time of 50 chains run "
                   "for this many steps.")
@click.option("--trajectory", "trajectory", type=int, default=0,
              help="Also save the parameters of N models along training, closer together early (trajectory/), for "
                   "sample --tempering ptt and eval --log-likelihood trajectory [0].")
@options.device
@handle_errors
@announces_compiling
def fit(data, threads, out, overwrite, resume, checkpoint_interval, log_json, config_file, quiet, mixing_steps,
        trajectory, device, **flags):
    """Train a model on DATA (bundled name: mnist, mnist-test, digits, wine,
    breast-cancer; or a .npy/.npz/.txt/.csv file)."""
    import bmsample
    from bmsample.training import TrainingConfig

    if resume is not None and out is not None and out != resume:
        raise ValueError(f"out: --resume {resume} continues the run in {resume}; leave out --out {out}")
    flags["chains"] = options.one_count(flags["chains"])
    settings = _fit_settings(resume, config_file, flags)
    config = TrainingConfig.from_mapping(settings, source=str(config_file or "settings")).validated()
    dataset = bmsample.load_dataset(data, dtype=config.dtype)
    out = resume or out or Path("runs") / Path(dataset.name).stem
    set_threads(threads)
    log = _json_logger(log_json)
    result = bmsample.fit(dataset.data, config, out=out, overwrite=overwrite, resume=resume is not None,
                          checkpoint_interval=checkpoint_interval, progress=_progress(_live_printer(quiet), log),
                          data_name=dataset.name, mixing_steps=mixing_steps, trajectory=trajectory,
                          backend=device)
    last = result.history[-1] if result.history else {}
    updates, seconds = last.get("update", 0), last.get("seconds", 0)
    if log is not None:
        log({"done": True, "model": str(out / "model.npz"), "update": updates, "seconds": seconds})
    resumed = "" if result.resumed_from is None else f", resumed at update {result.resumed_from}"
    click.echo(f"wrote {out / 'model.npz'} ({config.model}, {config.scheme}-{config.k}, {updates} updates, "
               f"{seconds:.1f} s{resumed})", err=log_json == "-")
