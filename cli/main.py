"""``bmsample`` command line: a thin shell over the Python API.

Heavy imports (NumPy, Numba) happen inside the commands so that
``bmsample --help`` stays fast.  Every expected failure becomes one line on
stderr and a non-zero exit: 2 for bad usage or input, 3 when training
diverged, 75 when a signal stopped training after a checkpoint (resume with
``--resume``), 130 when interrupted; ``sweep`` exits 1 when some of its runs failed.
"""

import functools
import json
import os
import sys
from importlib import metadata
from pathlib import Path

import click

EXIT_RUNS_FAILED = 1
EXIT_INPUT = 2
EXIT_DIVERGED = 3
EXIT_PREEMPTED = 75  # EX_TEMPFAIL: try again later, with --resume
EXIT_INTERRUPTED = 130

SETTINGS = {  # CLI option name -> TrainingConfig field
    "model": "model", "hidden": "num_hiddens", "scheme": "scheme", "steps": "k", "init": "init",
    "init_scale": "init_scale", "sampler": "sampler", "step_size": "step_size", "temperature": "temperature",
    "sigma": "sigma",
    "epochs": "epochs", "updates": "updates", "batch_size": "batch_size", "chains": "num_chains",
    "learning_rate": "learning_rate", "l2": "l2", "centered": "centered", "dtype": "dtype",
    "seed": "seed",
}


def fail(message, code=EXIT_INPUT):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"warning: {message}", err=True)


def handle_errors(command):
    """Turn expected exceptions into a one-line error and an exit code; warnings into one line each."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        import warnings

        from bmsample._errors import TrainingDiverged, TrainingPreempted

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")  # show each warning once per place, never as an error
                warnings.showwarning = _show_warning
                return command(*args, **kwargs)
        except BrokenPipeError:  # e.g. piped into head: stop quietly
            sys.stdout = open(os.devnull, "w")
            sys.exit(1)
        except TrainingDiverged as exc:
            fail(str(exc), EXIT_DIVERGED)
        except TrainingPreempted as exc:
            click.echo(f"stopped: {exc}; continue with --resume {Path(exc.checkpoint).parent.parent}", err=True)
            sys.exit(EXIT_PREEMPTED)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except ImportError as exc:  # an optional extra is missing (matplotlib, dask, numba-cuda): say which
            fail(_one_line(exc))
        except (ValueError, TypeError, OSError, MemoryError) as exc:
            fail(_one_line(exc))

    return wrapper


COMPILE_NOTICE = ("compiling bmsample's kernels for their first use (a few seconds for each model family and "
                  "dtype); later runs load them from Numba's cache")


def announces_compiling(command):
    """Say on stderr, once, when the command's first kernel is compiled rather than loaded from the cache."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        if kwargs.get("quiet"):
            return command(*args, **kwargs)
        from bmsample._jit import compile_notices

        with compile_notices(lambda: click.echo(COMPILE_NOTICE, err=True)):
            return command(*args, **kwargs)

    return wrapper


def _one_line(exc):
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}"
    return text.splitlines()[0]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bmsample")
def main():
    """Train, sample and evaluate Boltzmann machines and Gaussian energy models (Rdm-k, CD-k, PCD-k), on the
    CPU or a CUDA GPU (--device)."""


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
    from bmsample.checkpointing import check_same_model, read_saved_config

    saved = read_saved_config(resume) if resume is not None else None
    settings = dict(saved or {})
    requested = _read_config(config_file) if config_file else {}
    if saved is not None:
        check_same_model(saved, flags.get("model") or requested.get("model"), resume)
    settings.update(requested)
    settings.update({name: flags[option] for option, name in SETTINGS.items() if flags.get(option) is not None})
    return settings


FIT_INITS = ["uniform", "bias", "zeros", "gaussian", "data"]
DEVICE_HELP = ("cpu, cuda, cuda:N (GPU N; needs bmsample[cuda]) or auto (a GPU when one is usable); every "
               "family and sampler runs on a GPU.")


@main.command()
@click.argument("data")
@click.option("--model", type=click.Choice(["rbm", "gaussian", "gaussian-rbm", "ising", "independent"]),
              help="Model family: Bernoulli RBM, Gaussian energy model, Gaussian-Bernoulli RBM, fully connected "
                   "Boltzmann machine on +-1 spins, independent spins [rbm].")
@click.option("--hidden", type=int, help="Number of hidden units (rbm, gaussian-rbm) [500].")
@click.option("--scheme", type=click.Choice(["rdm", "cd", "pcd"]), help="Training scheme [rdm].")
@click.option("-k", "--steps", type=int, help="Sampler steps per gradient estimate [10].")
@click.option("--init", type=click.Choice(FIT_INITS),
              help="p0 of the Rdm-k / initial PCD chains: rbm uniform|bias [uniform]; gaussian "
                   "uniform|zeros|gaussian|data [uniform]; gaussian-rbm gaussian|zeros|data [gaussian]; "
                   "ising, independent uniform|bias [uniform].")
@click.option("--init-scale", type=float, help="Real p0 width: uniform on [-a, a] or std a [1].")
@click.option("--sampler", type=click.Choice(["block-gibbs", "langevin", "gibbs", "heat-bath", "random-site",
                                              "metropolis"]),
              help="rbm block-gibbs; gaussian langevin|gibbs [langevin]; ising, independent "
                   "heat-bath|random-site|metropolis sweeps [heat-bath].")
@click.option("--step-size", type=float, help="Langevin step eps (gaussian) [0.01].")
@click.option("--temperature", type=float, help="Sampler temperature (gaussian) [1].")
@click.option("--sigma", type=float, help="Visible std in standardised units (gaussian-rbm, fixed) [1].")
@click.option("--epochs", type=int, help="Passes over the data [20, and at least 5000 updates].")
@click.option("--updates", type=int, help="Number of parameter updates (instead of --epochs).")
@click.option("--batch-size", type=int, help="Minibatch size [100].")
@click.option("--chains", type=int, help="Negative chains for rdm/pcd [batch size].")
@click.option("--learning-rate", type=float, help="Learning rate [0.01].")
@click.option("--l2", type=float, help="L2 weight decay [0].")
@click.option("--centered/--no-centered", default=None, help="Centred gradient [off].")
@click.option("--dtype", type=str, help="float32 or float64 [float32].")
@click.option("--seed", type=int, help="Random seed [fresh, recorded in the model].")
@click.option("--threads", type=int, help="Threads for kernels and BLAS [CPUs available to this process].")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory [runs/<data name>].")
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
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
@click.option("--device", default="cpu", show_default=True, help=DEVICE_HELP)
@handle_errors
@announces_compiling
def fit(data, threads, out, overwrite, resume, checkpoint_interval, log_json, config_file, quiet, mixing_steps,
        device, **flags):
    """Train a model on DATA (bundled name: mnist, mnist-test, digits, wine,
    breast-cancer; or a .npy/.npz/.txt/.csv file)."""
    import bmsample
    from bmsample.training import TrainingConfig

    if resume is not None and out is not None and out != resume:
        raise ValueError(f"out: --resume {resume} continues the run in {resume}; leave out --out {out}")
    settings = _fit_settings(resume, config_file, flags)
    config = TrainingConfig.from_mapping(settings, source=str(config_file or "settings")).validated()
    dataset = bmsample.load_dataset(data, dtype=config.dtype)
    out = resume or out or Path("runs") / Path(dataset.name).stem
    _set_threads(threads)
    log = _json_logger(log_json)
    result = bmsample.fit(dataset.data, config, out=out, overwrite=overwrite, resume=resume is not None,
                          checkpoint_interval=checkpoint_interval, progress=_progress(_live_printer(quiet), log),
                          data_name=dataset.name, mixing_steps=mixing_steps, backend=device)
    last = result.history[-1] if result.history else {}
    updates, seconds = last.get("update", 0), last.get("seconds", 0)
    if log is not None:
        log({"done": True, "model": str(out / "model.npz"), "update": updates, "seconds": seconds})
    resumed = "" if result.resumed_from is None else f", resumed at update {result.resumed_from}"
    click.echo(f"wrote {out / 'model.npz'} ({config.model}, {config.scheme}-{config.k}, {updates} updates, "
               f"{seconds:.1f} s{resumed})", err=log_json == "-")


@main.command()
@click.argument("config_file", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Sweep folder [sweeps/<CONFIG name>].")
@click.option("--scheduler", help="Address of a running Dask scheduler, e.g. tcp://host:8786 [a local cluster].")
@click.option("--workers", type=int, help="Worker processes of the local cluster [CPUs // threads per run].")
@click.option("--threads-per-run", type=int, help="Numba and BLAS threads of every run [1, or CPUs // --workers].")
@click.option("--dry-run", is_flag=True, help="List the runs and what the sweep would do with each; run nothing.")
@handle_errors
def sweep(config_file, out, scheduler, workers, threads_per_run, dry_run):
    """Train a grid or list of fit configurations from a TOML file on Dask.

    Every run gets its own directory in the sweep folder; finished runs are
    skipped when the sweep is run again; summary.csv and summary.json hold
    one row per run."""
    from bmsample.tools import sweep as sweeps

    if dry_run:
        click.echo(sweeps.format_plan(sweeps.plan_sweep(config_file, out)))
        return
    try:
        result = sweeps.run_sweep(config_file, out, scheduler=scheduler, workers=workers,
                                  threads_per_run=threads_per_run, progress=lambda line: click.echo(line, err=True))
    except ImportError as exc:
        fail(str(exc))
    click.echo(sweeps.format_summary(result.rows))
    click.echo(f"wrote {result.out / 'summary.csv'}")
    if result.failures:
        fail(f"{len(result.failures)} of {len(result.rows)} runs diverged, failed or were busy; see "
             f"{result.out / 'summary.csv'}", EXIT_RUNS_FAILED)


def _set_threads(threads):
    from bmsample._threads import set_num_threads

    set_num_threads(threads)


def _parse_ints(text, name):
    """Comma-separated integers, or a one-line error naming the option."""
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"{name}: expected comma-separated integers, got {text!r}") from None


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@click.option("--chains", type=int, help="Number of chains [1000, or the saved chains].")
@click.option("--steps", type=int, help="Sampler steps [the model's k].")
@click.option("--init", type=click.Choice(["uniform", "bias", "data", "chains", "zeros", "gaussian"]),
              help="Initial law [the model's training process]: rbm uniform|bias|data|chains; "
                   "gaussian zeros|uniform|gaussian|data; gaussian-rbm zeros|gaussian|data; "
                   "ising uniform|bias|data|chains.")
@click.option("--init-scale", type=float, help="Real p0 width [the model's].")
@click.option("--sampler", type=click.Choice(["langevin", "gibbs", "heat-bath", "random-site", "metropolis"]),
              help="gaussian langevin|gibbs; ising heat-bath|random-site|metropolis [the model's].")
@click.option("--step-size", type=float, help="Langevin step [the model's].")
@click.option("--temperature", type=float, help="gaussian temperature [the model's].")
@click.option("--data", "data_name", help="Dataset for --init data [the training data].")
@click.option("--record", help="Comma-separated times at which to store the chains, e.g. 0,1,10.")
@click.option("--record-moments", is_flag=True,
              help="gaussian: store only the chain means and covariances at the --record times; ising: the "
                   "magnetisations and correlations.")
@click.option("--means", is_flag=True, help="rbm: also store P(v=1|h) of the last half-step.")
@click.option("--seed", type=int, help="Random seed [fresh].")
@click.option("--threads", type=int, help="Threads [CPUs available to this process].")
@click.option("--out", type=click.Path(path_type=Path), default=Path("samples.npz"), show_default=True,
              help="Output .npz: visible (chains x units), optional recorded, times, means, covariances.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files (--out, --png).")
@click.option("--png", "png_path", type=click.Path(path_type=Path),
              help="Also write a grid of the first 100 samples (image data: the model's dataset's shape).")
@click.option("--device", default="cpu", show_default=True, help=DEVICE_HELP)
@handle_errors
@announces_compiling
def sample(model_path, chains, steps, init, init_scale, sampler, step_size, temperature, data_name, record,
           record_moments, means, seed, threads, out, overwrite, png_path, device):
    """Sample states from a saved MODEL (.npz).

    By default this reproduces the model's training process: an Rdm-k model
    draws fresh chains from its p0 and runs exactly k steps."""
    import numpy as np

    import bmsample
    from bmsample import families
    from bmsample.io import atomic_write, check_output_file

    check_output_file(out, "out", overwrite)
    if png_path is not None:
        check_output_file(png_path, "png", overwrite)
    loaded = bmsample.read_model_file(model_path)
    model = loaded.model
    family = families.of_model(model)
    given = {"return_means": means, "record_moments": record_moments, "sampler": sampler, "step_size": step_size,
             "temperature": temperature, "init_scale": init_scale}
    _refuse_options(family, [name for name, value in given.items() if value], init)
    data = _data_for_init(family, model, loaded.chains, init, data_name)
    _set_threads(threads)
    times = _parse_ints(record, "record") if record else None
    seed = int(np.random.SeedSequence().entropy) if seed is None else seed
    options = {"init": init, "data": data, "rng": seed, "record": times}
    given["chains"] = loaded.chains
    options.update({name: given[name] for name in family.sample_options})
    result = _sample_with_progress(model, chains, steps, device, options)
    arrays = {"visible": result.visible}
    for name in ("recorded", "visible_means", "means", "covariances", "magnetisations", "correlations"):
        if getattr(result, name, None) is not None:
            arrays[name] = getattr(result, name)
    if result.times:
        arrays["times"] = np.asarray(result.times)
    meta = {"model": str(model_path), "family": model.family, "init": result.init, "steps": result.steps,
            "seed": seed, "num_chains": int(result.visible.shape[0]), "package_version": bmsample.__version__}
    arrays["metadata"] = np.array(json.dumps(meta))
    if png_path is not None:
        _write_grid(png_path, model, result.visible)
    atomic_write(out, lambda handle: np.savez(handle, **arrays))
    click.echo(f"wrote {out}: {result.visible.shape[0]} chains x {result.visible.shape[1]} units, "
               f"{result.steps} steps from {result.init}")


def _sample_with_progress(model, chains, steps, device, options):
    """``bmsample.sample`` with a live progress line on a terminal; SIGTERM or SIGINT stop it (exit 130)."""
    import bmsample
    from bmsample import _steps

    total = steps if steps is not None else (model.process or {}).get("k")
    tty = sys.stderr.isatty()

    def show(done, total, seconds):
        if tty:
            click.echo("\r\033[K" + _steps.format_step_progress(done, total, seconds), err=True, nl=False)

    with _steps.PreemptionGuard() as guard, _steps.progress(total or 0, show) as monitor:
        try:
            result = bmsample.sample(model, chains, steps, backend=device, **options)
        except _steps.StepsInterrupted:
            if not guard.requested:  # only this guard's signals stop the sampling quietly
                raise
        finally:
            if tty and monitor.reported:
                click.echo("\r\033[K", err=True, nl=False)
        if guard.requested:
            fail(f"stopped by {guard.requested} at step {monitor.done} of {total}; nothing written",
                 EXIT_INTERRUPTED)
    return result


def _write_grid(path, model, states):
    """Sample grid PNG for models of image data (checked before anything is written)."""
    from bmsample.tools.plots import write_sample_grid

    shape = _image_shape((model.process or {}).get("data"))
    if shape is None:
        side = int(round(states.shape[1] ** 0.5))
        if side * side != states.shape[1]:
            raise ValueError(f"png: cannot lay out {states.shape[1]} units as an image")
        shape = (side, side)
    write_sample_grid(path, states[:100], shape)


#: The command-line option of each sampler keyword option that some families do not take.
SAMPLE_OPTION_FLAGS = {"return_means": "--means", "record_moments": "--record-moments", "sampler": "--sampler",
                       "step_size": "--step-size", "temperature": "--temperature", "init_scale": "--init-scale"}


def _refuse_options(family, used, init):
    """One clear error for the first option in ``used`` (sampler keywords) or ``--init`` that ``family`` does not
    take."""
    for name in used:
        if name not in family.sample_options:
            raise ValueError(f"{SAMPLE_OPTION_FLAGS[name]}: does not apply to {family.label} model")
    if init is not None and init != "data" and init not in family.sample_inits:
        raise ValueError(f"--init {init}: does not apply to {family.label} model")


def _data_for_init(family, model, saved_chains, init, data_name):
    """The dataset rows for --init data (explicit, or the model's own process)."""
    import bmsample

    if (init or family.default_sample_init(model, saved_chains)) != "data":
        return None
    name = data_name or (model.process or {}).get("data")
    if name is None:
        raise ValueError("data: --init data needs --data (the model does not record its dataset)")
    return bmsample.load_dataset(name, dtype=model.dtype).data


@main.command("eval")
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@click.argument("data")
@click.option("--times", help="Comma-separated sampling times [0, 1, 2, 5, ... up to 10 k, with k].")
@click.option("--chains", type=int, default=1000, show_default=True, help="Fresh chains per evaluation.")
@click.option("--init", help="Initial law [the model's process].")
@click.option("--sampler", help="Sampler [the model's].")
@click.option("--aats/--no-aats", default=True, show_default=True, help="Adversarial accuracy per time.")
@click.option("--aats-samples", type=int, default=1000, show_default=True,
              help="Data rows and samples in the AATS pool (each).")
@click.option("--log-likelihood", "ll_method", type=click.Choice(["auto", "exact", "ais", "none"]), default="none",
              show_default=True, help="Equilibrium log-likelihood of DATA (meaningful at equilibrium only).")
@click.option("--ais-chains", type=int, default=100, show_default=True)
@click.option("--ais-betas", type=int, default=10000, show_default=True)
@click.option("--mixing", "mixing_steps", type=int, default=0,
              help="Also run 100 chains for this many steps: autocorrelation times and memory of p0.")
@click.option("--seed", type=int, help="Random seed [fresh].")
@click.option("--threads", type=int, help="Threads [CPUs available to this process].")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write every number as JSON.")
@click.option("--png", "png_path", type=click.Path(path_type=Path),
              help="Plot the errors against t (needs the plot extra: pip install 'bmsample[plot]').")
@click.option("--overwrite", is_flag=True, help="Replace existing output files (--json, --png).")
@handle_errors
@announces_compiling
def evaluate_command(model_path, data, times, chains, init, sampler, aats, aats_samples, ll_method, ais_chains,
                     ais_betas, mixing_steps, seed, threads, json_path, png_path, overwrite):
    """Compare fresh samples of MODEL with DATA as a function of sampling time.

    At every time t: rms errors of the means and of the connected
    correlations, their Pearson coefficient, the mean energy and the
    adversarial accuracy (AATS with AA_truth and AA_syn; all three near 0.5 =
    indistinguishable, "!" where the two disagree).  For an Rdm-k model
    the errors are smallest near t = k."""
    import numpy as np

    import bmsample
    from bmsample import evaluation
    from bmsample.io import atomic_write, check_output_file
    from bmsample.metrics import AA_DISAGREEMENT, aa_disagree

    for path, option in ((json_path, "json"), (png_path, "png")):
        if path is not None:
            check_output_file(path, option, overwrite)
    loaded = bmsample.read_model_file(model_path)
    model = loaded.model
    reference = bmsample.load_dataset(data, dtype="float64").data
    options = {name: value for name, value in (("init", init), ("sampler", sampler)) if value is not None}
    if loaded.chains is not None and init == "chains":
        options["chains"] = loaded.chains
    _set_threads(threads)
    seed = int(np.random.SeedSequence().entropy) if seed is None else seed
    grid = _parse_ints(times, "times") if times else None
    result = evaluation.evaluate(model, reference, times=grid, num_chains=chains, rng=seed, aats=aats,
                                 aats_samples=aats_samples, **options)
    k = result.k
    click.echo(f"{model.family}, k = {k}, {chains} chains, seed {seed}; errors against {data}")
    header = f"{'t':>6} {'means rmse':>11} {'corr rmse':>11} {'corr pearson':>13} {'energy':>11}"
    click.echo(header + (f" {'aats':>6} {'aa_truth':>8} {'aa_syn':>6}" if aats else ""))
    for row in result.rows:
        line = (f"{row['t']:>6} {row['mean_rmse']:11.4g} {row['covariance_rmse']:11.4g} "
                f"{row['covariance_pearson']:13.4f} {row['energy']:11.5g}")
        if aats:
            line += f" {row['aats']:6.3f} {row['aa_truth']:8.3f} {row['aa_syn']:6.3f}"
            line += " !" if aa_disagree(row) else ""
        click.echo(line + (" <- k" if row["t"] == k else ""))
    if aats and any(aa_disagree(row) for row in result.rows):
        click.echo(f"! AA_truth and AA_syn differ by more than {AA_DISAGREEMENT}: there AATS near 0.5 does not mean "
                   "indistinguishable (both must be near 0.5)")
    document = {"model": str(model_path), "data": data, "family": model.family, "k": k, "chains": chains,
                "seed": seed, "rows": result.rows}
    if ll_method != "none":
        document["log_likelihood"] = evaluation.log_likelihood(model, reference, method=ll_method,
                                                               ais_chains=ais_chains, ais_betas=ais_betas, rng=seed)
        ll = document["log_likelihood"]
        error = f" +- {ll['std_error']:.3g}" if "std_error" in ll else ""
        click.echo(f"log-likelihood ({ll['method']}): {ll['log_likelihood']:.5g}{error} per sample")
    if mixing_steps:
        mixing = evaluation.mixing(model, num_chains=100, steps=mixing_steps, rng=seed, **options)
        document["mixing"] = mixing
        click.echo(f"mixing over {mixing_steps} steps: energy tau {mixing['energy_tau']:.3g}, magnetisation tau "
                   f"{mixing['magnetisation_tau']:.3g} steps; p0 forgotten after {mixing['forget_time']} steps")
    if json_path is not None:
        atomic_write(json_path, lambda handle: handle.write(json.dumps(document, indent=2, default=float).encode()))
    if png_path is not None:
        from bmsample.tools.plots import plot_errors_vs_time

        plot_errors_vs_time(png_path, result, title=f"{Path(model_path).name} on {data}")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--chains", type=int, default=100, show_default=True, help="Chains in the sample grid.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace figures already in RUN_DIR/plots/.")
@handle_errors
@announces_compiling
def plot(run_dir, chains, seed, overwrite):
    """Draw what fits a run directory: training curves (log.jsonl), a sample grid
    for image data, the learned spectrum against the theory for Gaussian models.
    Writes PNGs into RUN_DIR/plots/."""
    import bmsample
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
    if model_path.is_file():
        figures.update(_model_figures(bmsample.load_model(model_path), chains, seed))
    for name in figures:
        if (run_dir / "plots").is_dir():
            check_output_file(run_dir / "plots" / name, "plot", overwrite)
    for name, write in figures.items():
        write(run_dir / "plots" / name)
        click.echo(f"wrote {run_dir / 'plots' / name}")


def _model_figures(model, chains, seed):
    """Writers of the figures that fit ``model``: a sample grid for image data, the Gaussian spectrum."""
    import bmsample
    from bmsample.tools import plots

    figures = {}
    data_name = (model.process or {}).get("data")
    image_shape = _image_shape(data_name)
    if image_shape is not None and model.family != "gaussian":
        states = bmsample.sample(model, chains, rng=seed).visible
        if model.family == "ising":
            states = (states + 1) / 2
        figures["samples.png"] = lambda path: plots.write_sample_grid(path, states, image_shape)
    if model.family == "gaussian" and data_name is not None:
        import numpy as np

        from bmsample import theory as th

        process = model.process
        values = bmsample.load_dataset(data_name, dtype="float64").data
        prediction = th.predict_gaussian_rdm(values, process["k"], process["step_size"],
                                             init=process.get("init", "uniform"),
                                             init_scale=process.get("init_scale", 1.0))
        V = prediction.eigenvectors
        learned = np.einsum("ia,ij,ja->a", V, model.coupling_matrix.astype(np.float64), V)
        figures["spectrum.png"] = lambda path: plots.plot_gaussian_spectrum(path, prediction, learned)
    return figures


def _image_shape(data_name):
    """(height, width) of a bundled image dataset, else None."""
    import bmsample
    from bmsample.datasets import BUNDLED

    if data_name not in BUNDLED:
        return None
    shape = bmsample.load_dataset(data_name).image_shape
    return tuple(shape) if shape else None


@main.command()
@click.argument("name", type=click.Choice(["gaussian", "ising", "rbm"]))
@click.option("--out", type=click.Path(path_type=Path), help="Report folder [reports/NAME].")
@click.option("--quick", is_flag=True, help="A tiny version (seconds), to check the pipeline.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=int, help="Threads [CPUs available to this process].")
@click.option("--overwrite", is_flag=True, help="Replace the files of an existing report folder.")
@handle_errors
@announces_compiling
def report(name, out, quick, seed, threads, overwrite):
    """Reproduce one of the paper's effects at CPU scale: a folder with report.md, PNGs and results.json.

    gaussian: learned spectrum vs k against the theory, the variance crossing
    at t = k, negative eigenvalues; ising: Rdm-k vs CD-k vs PCD-k error against
    sampling time on binarised digits; rbm: the same on binarised MNIST with
    AATS and sample grids."""
    from bmsample.tools.reports import REPORTS

    out = out or Path("reports") / name
    _set_threads(threads)
    REPORTS[name](out, quick=quick, seed=seed, overwrite=overwrite,
                  progress=lambda message: click.echo(message, err=True))
    click.echo(f"wrote {out / 'report.md'}")


@main.command()
@click.option("--model", "family", default="rbm", show_default=True,
              help="Family of a synthetic model, a fit --model name (grbm: gaussian-rbm; Ising: a step is one sweep).")
@click.option("--model-file", type=click.Path(path_type=Path), help="Bench a saved model instead.")
@click.option("--visibles", type=int, default=784, show_default=True, help="Visible units (Gaussian, Ising: N).")
@click.option("--hiddens", type=int, default=500, show_default=True, help="Hidden units (RBMs).")
@click.option("--chains", default="100,1000", show_default=True, help="Comma-separated chain counts.")
@click.option("--dtype", default="float32", show_default=True, help="Comma-separated dtypes.")
@click.option("--steps", type=int, default=10, show_default=True, help="Steps per timed call.")
@click.option("--repeats", type=int, default=15, show_default=True, help="Interleaved repeats.")
@click.option("--threads", type=int, help="Threads for kernels and BLAS [CPUs available to this process].")
@click.option("--device", default="cpu", show_default=True,
              help="cpu, cuda, cuda:N or auto: on a GPU, the device steps against the device's product kernel.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the rows as JSON.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --json file.")
@click.option("--epoch", is_flag=True, help="Also time RBM training epochs against their GEMM floor.")
@click.option("--epoch-data", default="mnist", show_default=True, help="Dataset of the timed epochs.")
@click.option("--epoch-samples", type=int, default=10000, show_default=True, help="Rows of that dataset used.")
@click.option("--schemes", default="rdm,pcd", show_default=True, help="Comma-separated schemes of the epochs.")
@click.option("-k", "k", type=int, default=10, show_default=True, help="Gibbs steps per update in the epochs.")
@click.option("--batch-size", type=int, default=100, show_default=True, help="Minibatch size of the epochs.")
@handle_errors
@announces_compiling
def bench(family, model_file, visibles, hiddens, chains, dtype, steps, repeats, threads, device, json_path, overwrite,
          epoch, epoch_data, epoch_samples, schemes, k, batch_size):
    """Sampler steps per second and their ratio to the bare GEMMs of the same shapes.

    Both are timed in this process, interleaved repeat by repeat (warm-up
    excluded); the ratio is 1.00 at the BLAS limit (RBMs: v W and h W^T;
    Gaussian: x J; Ising: s J, the GEMM of all local fields, which a
    sequential sweep cannot reach).  With --epoch, also one
    training epoch per scheme (updates/s, and its time over the bare time of
    every matrix product of the epoch)."""
    import bmsample
    from bmsample._backend import resolve_backend
    from bmsample._validation import check_choice
    from bmsample.io import atomic_write, check_output_file
    from bmsample.tools import bench as benchmark

    if json_path is not None:
        check_output_file(json_path, "json", overwrite)
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
    _set_threads(threads)
    rows = benchmark.run(family, visibles, hiddens, _parse_ints(chains, "chains"), dtype.split(","), model=model,
                         steps=steps, repeats=repeats, threads=threads, backend=backend)
    click.echo(benchmark.format_rows(rows))
    document = [{"kind": "step", **row.as_dict()} for row in rows]
    if epoch_rows_of is not None:
        data, schemes = epoch_rows_of
        epochs = [benchmark.measure_epoch(data, hiddens, scheme=scheme, k=k, batch_size=batch_size, dtype=name,
                                          repeats=max(1, repeats // 5), threads=threads)
                  for name in dtype.split(",") for scheme in schemes]
        click.echo(benchmark.format_epoch_rows(epochs))
        document += [{"kind": "epoch", **row.as_dict()} for row in epochs]
    if json_path is not None:
        atomic_write(json_path, lambda handle: handle.write(json.dumps(document, indent=2).encode()))


@main.group()
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
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Also write the table as JSON.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --json file.")
@handle_errors
def theory_gaussian(data, steps, step_size, init, init_scale, continuous, model_path, json_path, overwrite):
    """Predicted Rdm-k spectrum of J for DATA, next to maximum likelihood.

    One row per principal axis of the data covariance (variance lambda):
    the Rdm-k eigenvalue j*, the CD-k / PCD-k value (discretised ML), the ML
    value 1 / lambda and, with --model, the trained model's v^T J v."""
    import numpy as np

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
        V = prediction.eigenvectors
        learned = np.einsum("ia,ij,ja->a", V, model.coupling_matrix.astype(np.float64), V)
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


@main.command()
@handle_errors
def datasets():
    """List the bundled datasets."""
    import bmsample

    rows = bmsample.list_datasets()
    click.echo(f"{'name':<14} {'samples x features':<20} {'values':<15} licence")
    for row in rows:
        shape = f"{row['shape'][0]} x {row['shape'][1]}"
        click.echo(f"{row['name']:<14} {shape:<20} {row['values']:<15} {row['licence']}")


@main.command()
@handle_errors
def info():
    """Versions, threads, Numba threading layer, GPU availability."""
    import numba
    import numpy as np

    import bmsample
    from bmsample._threads import thread_info

    details = thread_info()
    click.echo(f"bmsample {bmsample.__version__}")
    click.echo(f"python {sys.version.split()[0]}, numpy {np.__version__}, numba {numba.__version__}, "
               f"click {metadata.version('click')}")
    click.echo(f"cpus available {details['available_cpus']}, numba threads {details['numba_threads']} "
               f"(at most {details['numba_thread_limit']}: NUMBA_NUM_THREADS), default threads "
               f"{details['default_threads']}, threading layer {details['numba_threading_layer']}")
    for blas in details["blas"]:
        click.echo(f"blas {blas['library']} {blas['version']}, threads {blas['threads']}")
    click.echo(f"gpu {_gpu_status()}")


def _gpu_status():
    try:
        from numba import cuda
    except Exception:  # noqa: BLE001 - any import failure means no GPU
        return "not usable (numba-cuda not installed)"
    try:
        if cuda.is_available():
            return f"usable: {cuda.get_current_device().name.decode()}"
    except Exception:  # noqa: BLE001
        pass
    return "not usable (no CUDA driver or device)"


if __name__ == "__main__":  # pragma: no cover
    main()
