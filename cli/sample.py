"""``bmsample sample``: states from a saved model, by default through its training process."""

import sys
from pathlib import Path

import click

from . import options
from ._shell import EXIT_INTERRUPTED, announces_compiling, fail, handle_errors, image_shape, set_threads


@click.command()
@click.argument("model_path", metavar="MODEL|RUN_DIR", type=click.Path(path_type=Path))
@options.chains
@click.option("--steps", type=int, help="Sampler steps [the model's k].")
@click.option("--init", metavar="LAW",
              help="Initial law [the model's training process]: rbm uniform|bias|data|chains; "
                   "gaussian zeros|uniform|gaussian|data; gaussian-rbm zeros|gaussian|data; "
                   "ising uniform|bias|data|chains.")
@click.option("--init-scale", type=float, help="Real p0 width [the model's].")
@click.option("--sampler", metavar="SAMPLER",
              help="gaussian langevin|gibbs; ising heat-bath|random-site|metropolis [the model's].")
@click.option("--step-size", type=float, help="Langevin step [the model's].")
@click.option("--temperature", type=float, help="gaussian temperature [the model's].")
@click.option("--data", "data_name", help="Dataset for --init data [the training data].")
@click.option("--record", help="Comma-separated times at which to store the chains, e.g. 0,1,10.")
@click.option("--record-moments", is_flag=True,
              help="gaussian: store only the chain means and covariances at the --record times; ising: the "
                   "magnetisations and correlations.")
@click.option("--means", is_flag=True, help="rbm: also store P(v=1|h) of the last half-step.")
@options.seed
@options.threads
@options.out
@options.overwrite
@click.option("--png", "png_path", type=click.Path(path_type=Path),
              help="Also write a grid of the first 100 samples (image data: the model's dataset's shape).")
@options.device
@click.option("--tempering", type=click.Choice(["pt", "ptt"]),
              help="Sample the equilibrium law instead: parallel tempering of MODEL (pt), or trajectory tempering "
                   "over the models a run saved (ptt, RUN_DIR); --chains is then per replica [100] and --steps the "
                   "sweeps after the warm-up [1000].")
@click.option("--replicas", type=int, help="pt: replicas R [chosen for a swap probability of 0.3 with --betas auto].")
@click.option("--betas", "betas_source", default="auto", show_default=True,
              help="pt: 'auto' (tuned in the warm-up) or a file of inverse temperatures from 1 down (.npy, or text).")
@click.option("--warmup", type=int,
              help="Warm-up sweeps, not in the output [pt: 496 with --betas auto, else 0; ptt: 100].")
@click.option("--target-acceptance", type=float,
              help="ptt: least swap acceptance of neighbouring models when choosing them [0.25].")
@handle_errors
@announces_compiling
def sample(model_path, chains, steps, init, init_scale, sampler, step_size, temperature, data_name, record,
           record_moments, means, seed, threads, out, overwrite, png_path, device, tempering, replicas, betas_source,
           warmup, target_acceptance):
    """Sample states from a saved MODEL (.npz) into a samples file (--out, .npz).

    By default this reproduces the model's training process: an Rdm-k model
    draws fresh chains from its p0 and runs exactly k steps.  The file holds
    visible (chains x units) and, as recorded, recorded and times, means (or
    magnetisations) with covariances (or correlations), visible_means; and
    its metadata (bmsample.io.save_samples).

    With --tempering pt the samples are the beta = 1 chains of a parallel
    tempering run (bmsample.tempering): equilibrium samples of the model,
    whatever its training process; the swap acceptance per pair, the round
    trips and the ladder are printed and kept in the file's metadata.
    With --tempering ptt, RUN_DIR is a fit run directory and the samples
    are those of its final model, by parallel trajectory tempering over the
    models saved along training (bmsample.trajectory; fit --trajectory N
    saves more of them)."""
    import bmsample
    from bmsample import families
    from bmsample._rng import fresh_seed
    from bmsample.io import check_output_file, save_samples

    out = out or Path("samples.npz")
    chains = options.one_count(chains)
    check_output_file(out, "out", overwrite)
    if png_path is not None:
        check_output_file(png_path, "png", overwrite)
    if target_acceptance is not None and tempering != "ptt":
        raise ValueError("--target-acceptance: only with --tempering ptt")
    if tempering == "ptt":
        _refuse_with_tempering(init=init, init_scale=init_scale, sampler=sampler, step_size=step_size,
                               temperature=temperature, data=data_name, record_moments=record_moments, means=means)
        if replicas is not None or betas_source != "auto":
            raise ValueError("--replicas/--betas: only with --tempering pt (ptt's ladder is the run's saved models, "
                             "chosen for --target-acceptance)")
        _sample_trajectory(model_path, chains, steps, seed, threads, out, png_path, device, warmup, target_acceptance,
                           record)
        return
    loaded = bmsample.read_model_file(model_path)
    model = loaded.model
    family = families.of_model(model)
    if tempering is not None:
        _refuse_with_tempering(init=init, init_scale=init_scale, sampler=sampler, step_size=step_size,
                               temperature=temperature, data=data_name, record_moments=record_moments, means=means)
        set_threads(threads)
        seed = fresh_seed() if seed is None else seed
        settings = {"replicas": replicas, "betas": _betas(betas_source), "warmup": warmup, "rng": seed,
                    "record": options.counts(record, "record")}
        result, run = _temper_with_progress(model, chains, 1000 if steps is None else steps, device, settings)
        if png_path is not None:
            _write_grid(png_path, model, result.visible)
        save_samples(out, result, model=str(model_path), family=model.family, seed=seed, tempering=run.diagnostics())
        click.echo(_tempering_summary(out, run, seed))
        return
    if replicas is not None or betas_source != "auto" or warmup is not None:
        raise ValueError("--replicas/--betas/--warmup: only with --tempering")
    given = {"return_means": means, "record_moments": record_moments, "sampler": sampler, "step_size": step_size,
             "temperature": temperature, "init_scale": init_scale}
    _refuse_options(family, [name for name, value in given.items() if value], init)
    data = _data_for_init(family, model, loaded.chains, init, data_name)
    set_threads(threads)
    times = options.counts(record, "record")
    seed = fresh_seed() if seed is None else seed
    settings = {"init": init, "data": data, "rng": seed, "record": times}
    given["chains"] = loaded.chains
    settings.update({name: given[name] for name in family.sample_options})
    result = _sample_with_progress(model, chains, steps, device, settings)
    if png_path is not None:
        _write_grid(png_path, model, result.visible)
    log_weights = _saved_chain_weights(loaded, result)
    save_samples(out, result, log_weights, model=str(model_path), family=model.family, seed=seed)
    click.echo(f"wrote {out}: {result.visible.shape[0]} chains x {result.visible.shape[1]} units, "
               f"{result.steps} steps from {result.init}, seed {seed}" + _weights_note(log_weights))


def _saved_chain_weights(loaded, result):
    """The log-weights of the saved chains a Jarzynski model's samples continue (the model is fixed, so steps
    leave them as they are), or None."""
    import numpy as np

    saved = loaded.arrays.get("chain_log_weights")
    if saved is None or result.init != "chains":
        return None
    return np.asarray(saved, dtype=np.float64)[:result.visible.shape[0]]


def _weights_note(log_weights):
    import numpy as np

    if log_weights is None:
        return ""
    w = np.exp(log_weights - log_weights.max())
    ess = w.sum() ** 2 / np.sum(w**2)
    return (f"; weighted chains (Jarzynski): averages must weight each row by exp(log_weights), effective sample "
            f"size {ess:.0f}")


def _sample_with_progress(model, chains, steps, device, settings):
    """``bmsample.sample`` with a live progress line on a terminal; SIGTERM or SIGINT stop it (exit 130)."""
    import bmsample

    total = steps if steps is not None else (model.process or {}).get("k")
    return _with_progress(lambda: bmsample.sample(model, chains, steps, backend=device, **settings), total, "step")


def _with_progress(call, total, unit):
    """``call()`` with a live progress line of ``total`` steps (named ``unit``) on a terminal; SIGTERM or SIGINT
    stop it (exit 130, nothing written)."""
    from bmsample import _steps

    tty = sys.stderr.isatty()

    def show(done, total, seconds):
        if tty:
            line = _steps.format_step_progress(done, total, seconds).replace("step", unit, 1)
            click.echo("\r\033[K" + line, err=True, nl=False)

    result = None
    with _steps.PreemptionGuard() as guard, _steps.progress(total or 0, show) as monitor:
        try:
            result = call()
        except _steps.StepsInterrupted:
            if not guard.requested:  # only this guard's signals stop the run quietly
                raise
        finally:
            if tty and monitor.reported:
                click.echo("\r\033[K", err=True, nl=False)
        if guard.requested:
            fail(f"stopped by {guard.requested} at {unit} {monitor.done} of {total}; nothing written",
                 EXIT_INTERRUPTED)
    return result


def _refuse_with_tempering(**given):
    """One clear error for the first option that parallel tempering does not take."""
    for name, value in given.items():
        if value:
            flag = {"means": "--means", "data": "--data"}.get(name, "--" + name.replace("_", "-"))
            raise ValueError(f"{flag}: does not apply with --tempering (its chains start from the independent-site "
                             "law and run the model's own sampler)")


def _betas(source):
    """'auto', or the inverse temperatures in the file ``source`` (.npy without pickles, or numbers as text)."""
    if source == "auto":
        return "auto"
    import numpy as np

    path = Path(source)
    if not path.is_file():
        raise ValueError(f"--betas: expected 'auto' or a file of inverse temperatures; {source} is not a file")
    try:
        values = (np.load(path, allow_pickle=False) if path.suffix == ".npy"
                  else np.array(path.read_text().replace(",", " ").split(), dtype=np.float64))
    except (OSError, ValueError) as exc:
        raise ValueError(f"--betas: {source} is not a list of numbers ({exc})") from None
    return values


def _temper_with_progress(model, chains, sweeps, device, settings):
    """``parallel_tempering`` with a live progress line (warm-up and sweeps); SIGTERM or SIGINT stop it (exit 130).

    Returns (SampleResult of the beta = 1 chains, TemperingResult).
    """
    from bmsample._sampling import SampleResult
    from bmsample.tempering import DEFAULT_WARMUP, parallel_tempering

    warmup = settings["warmup"]
    total = sweeps + (warmup if warmup is not None else (DEFAULT_WARMUP if isinstance(settings["betas"], str) else 0))
    run = _with_progress(lambda: parallel_tempering(model, chains, sweeps, backend=device, **settings), total, "sweep")
    result = SampleResult(run.visible, run.sweeps, "tempering", run.times, "parallel-tempering", run.recorded)
    return result, run


def _sample_trajectory(run_dir, chains, sweeps, seed, threads, out, png_path, device, warmup, target, record):
    """``sample RUN_DIR --tempering ptt``: the final model's chains of a trajectory-tempering run, written."""
    from bmsample._rng import fresh_seed
    from bmsample._sampling import SampleResult
    from bmsample.io import save_samples
    from bmsample.trajectory import load_trajectory, trajectory_tempering

    if not run_dir.is_dir():
        raise ValueError(f"--tempering ptt: expected a run directory (fit --out), got the file {run_dir}")
    if device not in (None, "cpu"):
        raise ValueError("--device: trajectory tempering runs on the CPU for now")
    trajectory = load_trajectory(run_dir)
    set_threads(threads)
    seed = fresh_seed() if seed is None else seed
    sweeps = 1000 if sweeps is None else sweeps
    settings = {"rng": seed, "record": options.counts(record, "record"),
                "warmup": 100 if warmup is None else warmup,
                "target_acceptance": 0.25 if target is None else target}
    pilot = 20 * len(trajectory.models)
    run = _with_progress(lambda: trajectory_tempering(trajectory, chains, sweeps, **settings),
                         pilot + settings["warmup"] + sweeps, "sweep")
    model = trajectory.models[-1]
    result = SampleResult(run.visible, run.sweeps, "tempering", run.times, "trajectory-tempering", run.recorded)
    if png_path is not None:
        _write_grid(png_path, model, result.visible)
    save_samples(out, result, model=str(run_dir), family=model.family, seed=seed, tempering=run.diagnostics())
    ladder = " ".join("base" if u is None else str(u) for u in run.updates)
    acceptance = " ".join("-" if value != value else f"{value:.2f}" for value in run.acceptance)
    click.echo(f"wrote {out}: {run.visible.shape[0]} chains of the final model x {run.visible.shape[1]} units, "
               f"{run.sweeps} sweeps of {len(run.updates)} replicas after {run.warmup} warm-up sweeps, seed {seed}\n"
               f"models (updates): {ladder}\n"
               f"swap acceptance per pair: {acceptance}\n"
               f"round trips final -> base -> final: {run.round_trips}")


def _tempering_summary(out, run, seed):
    """What ``sample --tempering`` prints: the file, the ladder, the swap acceptance and the round trips."""
    acceptance = " ".join("-" if value != value else f"{value:.2f}" for value in run.acceptance)
    return (f"wrote {out}: {run.visible.shape[0]} beta=1 chains x {run.visible.shape[1]} units, {run.sweeps} sweeps "
            f"of {run.betas.size} replicas after {run.warmup} warm-up sweeps, seed {seed}\n"
            f"betas: {' '.join(f'{b:.4g}' for b in run.betas)}\n"
            f"swap acceptance per pair: {acceptance}\n"
            f"round trips beta=1 -> beta={run.betas[-1]:.3g} -> beta=1: {run.round_trips}")


def _write_grid(path, model, states):
    """Sample grid PNG for models of image data (checked before anything is written)."""
    from bmsample.tools.plots import write_sample_grid

    shape = image_shape((model.process or {}).get("data"))
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
