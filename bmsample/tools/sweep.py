"""Sweeps: a grid or list of ``fit`` runs on Dask, restartable, summarised in one table.

A sweep is described by a mapping, usually a TOML file::

    data = "digits"        # bundled name or data file (relative to the TOML file's folder)
    sweep_seed = 0         # seeds the runs whose settings give no seed [0]

    [fit]                  # settings of every run (TrainingConfig keys)
    num_hiddens = 64
    updates = 2000

    [grid]                 # one run per combination of these values
    k = [1, 2, 5, 10, 20, 50]
    seed = [0, 1, 2]

    [[runs]]               # explicit settings: one run each, times every grid combination
    scheme = "rdm"

    [[runs]]
    scheme = "cd"

A setting belongs to one place: the grid or the runs (which both override
``[fit]``).  Every run gets the directory ``OUT/<name>``, where the name lists
the settings that the grid and the runs name (``k=10,seed=0``), and the
``fit`` files in it (``config.json``, ``log.jsonl``, ``checkpoints/``,
``model.npz`` written last).  ``OUT/summary.csv`` and ``OUT/summary.json``
hold one row per run: those settings, the seed, the status, the update count,
the training seconds and the last logged metrics.

Restarting a sweep skips the runs whose directory holds ``model.npz`` and the
same ``config.json``, resumes unfinished ones from their last checkpoint, and refuses a
directory that holds anything else (nothing is overwritten silently).

Dask (``pip install 'bmsample[dask]'``) is imported only when runs start.
"""

import csv
import hashlib
import io as text_io
import itertools
import json
import sys
import urllib.parse
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .. import io
from .._validation import check_int
from ..datasets import BUNDLED
from ..training import TrainingConfig
from ..training.rundir import RunDirectoryBusy, run_contents

SPEC_KEYS = ("data", "sweep_seed", "fit", "grid", "runs")
SETTINGS = tuple(f.name for f in fields(TrainingConfig))
#: Run states before the sweep starts.
NEW, UNFINISHED, FINISHED = "new", "unfinished", "finished"
#: Metrics shown in the printed table, the first one a run logged.
SHOWN_METRICS = ("magnetisation_rmse", "mean_rmse")
MAX_NAME_LENGTH = 160


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep.

    Attributes
    ----------
    name : str
        Directory name, e.g. ``"k=10,seed=0"``.
    values : dict
        The run's value of every setting that the grid or the runs name.
    config : TrainingConfig
        Validated settings, seed included.
    """

    name: str
    values: dict
    config: TrainingConfig


@dataclass(frozen=True)
class Sweep:
    """An expanded sweep: the ``data`` every run trains on and its ``runs``, in grid order.

    ``keys`` are the settings named by the grid and the runs (the columns
    that tell runs apart), ``sweep_seed`` the seed of runs without one.
    """

    data: str
    sweep_seed: int
    keys: tuple
    runs: tuple


@dataclass
class SweepResult:
    """Output of ``run_sweep``: the sweep folder ``out`` and one summary row (dict) per run."""

    out: Path
    rows: list

    @property
    def failures(self):
        """Rows of runs that diverged, failed, or were busy (another process was training them)."""
        return [row for row in self.rows if row["status"] in ("diverged", "failed", "busy")]


def read_sweep_file(path):
    """The sweep mapping of a TOML file, with a relative data path made relative to the file's folder.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            spec = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"sweep: {path} is not valid TOML ({exc})") from None
    data = spec.get("data")
    if isinstance(data, str) and data not in BUNDLED and not Path(data).is_absolute():
        spec["data"] = str(path.resolve().parent / data)
    return spec


def expand_sweep(spec):
    """Check a sweep mapping and list its runs.

    Parameters
    ----------
    spec : dict
        Keys ``data`` (required: a bundled dataset name, or a data file,
        relative to the current folder), ``sweep_seed``, ``fit`` (table), ``grid``
        (table of non-empty lists) and ``runs`` (list of tables); at least
        one of ``grid`` and ``runs``.

    Returns
    -------
    Sweep

    Raises
    ------
    ValueError, TypeError
        One line naming the key: unknown keys, wrong types, empty grids,
        invalid settings, a setting in both the grid and a run, or two runs
        with the same settings.
    """
    if not isinstance(spec, dict):
        raise TypeError(f"sweep: expected a mapping, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"sweep: unknown key(s) {', '.join(unknown)}; known: {', '.join(SPEC_KEYS)}")
    data = _check_data(spec.get("data"))
    sweep_seed = check_int(spec.get("sweep_seed", 0), "sweep_seed", minimum=0)
    base = _check_settings(spec.get("fit", {}), "fit")
    if "grid" not in spec and "runs" not in spec:
        raise ValueError("sweep: give a [grid] table, [[runs]] entries or both")
    grid = _check_grid(spec["grid"]) if "grid" in spec else {}
    entries = _check_runs(spec["runs"], grid) if "runs" in spec else [{}]
    keys = tuple(dict.fromkeys([*(key for entry in entries for key in entry), *grid]))
    runs, origin = [], {}
    for index, entry in enumerate(entries):
        where = f"runs[{index}]" if "runs" in spec else "grid"
        for point in itertools.product(*grid.values()):
            run = _make_run({**base, **entry, **dict(zip(grid, point))}, keys, sweep_seed)
            if run.name in origin:
                places = where if origin[run.name] == where else f"{origin[run.name]} and {where}"
                raise ValueError(f"sweep: the run {run.name} appears twice ({places})")
            origin[run.name] = where
            runs.append(run)
    return Sweep(data, sweep_seed, keys, tuple(runs))


def _check_data(data):
    if data is None:
        raise ValueError("data: missing; give a bundled dataset name or a data file")
    if not isinstance(data, str):
        raise TypeError(f"data: expected a dataset name or file path, got {data!r}")
    if data in BUNDLED:
        return data
    if not Path(data).is_file():
        raise ValueError(f"data: {data!r} is neither a bundled dataset ({', '.join(BUNDLED)}) nor a file")
    return str(Path(data).resolve())  # workers may start elsewhere


def _check_settings(table, where):
    if not isinstance(table, dict):
        raise TypeError(f"{where}: expected a table of settings, got {table!r}")
    TrainingConfig.from_mapping(table, source=where)  # refuses unknown keys
    for key, value in table.items():
        _check_scalar(value, f"{where}.{key}")
    return dict(table)


def _check_scalar(value, where):
    if not isinstance(value, (int, float, str)):  # bool is an int
        raise TypeError(f"{where}: expected a number, string or boolean, got {value!r}")


def _check_grid(grid):
    if not isinstance(grid, dict):
        raise TypeError(f"grid: expected a table of lists, got {grid!r}")
    if not grid:
        raise ValueError("grid: empty table; give lists of values, or leave [grid] out")
    TrainingConfig.from_mapping(grid, source="grid")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"grid.{key}: expected a non-empty list of values, got {values!r}")
        for value in values:
            _check_scalar(value, f"grid.{key}")
        repeated = next((v for i, v in enumerate(values) if _same_value_in(v, values[:i])), None)
        if repeated is not None:
            raise ValueError(f"grid.{key}: the value {repeated!r} appears twice")
    return dict(grid)


def _same_value_in(value, values):
    """``value in values`` where True is not 1 (TOML keeps them apart, so must we)."""
    return any(type(value) is type(other) and value == other for other in values)


def _check_runs(entries, grid):
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"runs: expected a non-empty list of tables ([[runs]]), got {entries!r}")
    for index, entry in enumerate(entries):
        _check_settings(entry, f"runs[{index}]")
        both = next((key for key in entry if key in grid), None)
        if both is not None:
            raise ValueError(f"runs[{index}].{both}: also in [grid]; set each setting in one place")
    return entries


def _make_run(settings, keys, sweep_seed):
    """The validated run of ``settings``; its seed is derived when ``settings`` give none."""
    shown = ",".join(f"{key}={settings[key]!r}" for key in keys if key in settings) or "base settings"
    try:
        config = TrainingConfig(**{**settings, "seed": settings.get("seed", 0)}).validated()
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"run {shown}: {exc}") from None
    values = {key: getattr(config, key) for key in keys}
    if "seed" not in settings:
        config.seed = run_seed(sweep_seed, values)
    return SweepRun(run_name(values), values, config)


def run_seed(sweep_seed, values):
    """The seed of a run whose settings give none: a hash of the sweep seed and the run's values.

    Parameters
    ----------
    sweep_seed : int
    values : dict
        The run's value of every setting the grid and the runs name.

    Returns
    -------
    int
        In [0, 2**63).

    Notes
    -----
    ``SeedSequence(sweep_seed).spawn(n)[i]`` would tie a run's seed to its
    index, which shifts when a value is added to or removed from the grid;
    the restarted sweep would then find every later run with a different
    seed (a different ``config.json``) and refuse it.  A SHA-256 of the
    canonical JSON of (sweep seed, values) depends on the run alone, so
    editing the grid keeps the seeds, and so the finished runs, of every
    other run.  Distinct runs get independent 63-bit seeds (a collision has
    probability about n**2 / 2**64), and ``fit`` expands each through a
    ``SeedSequence``.
    """
    text = json.dumps({"sweep_seed": sweep_seed, "values": values}, sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def run_name(values):
    """Directory name of a run: ``key=value`` pairs joined by commas, e.g. ``"k=10,seed=0"``.

    Strings are percent-encoded except for letters, digits and ``-._+``, so
    the name is safe on any filesystem and distinct values give distinct
    names; a name longer than ``MAX_NAME_LENGTH`` is cut and ends in a hash of
    the whole.  A run whose settings all come from ``[fit]`` is ``"run"``.
    """
    name = ",".join(f"{key}={_format_value(value)}" for key, value in values.items()) or "run"
    if len(name) > MAX_NAME_LENGTH:
        name = f"{name[:MAX_NAME_LENGTH - 17]}~{hashlib.sha256(name.encode()).hexdigest()[:16]}"
    return name


def _format_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return urllib.parse.quote(str(value), safe="-._+")


@dataclass(frozen=True)
class SweepPlan:
    """A sweep checked against its folder: ``states`` maps each run name to NEW, UNFINISHED or FINISHED."""

    sweep: Sweep
    out: Path
    states: dict

    @property
    def pending(self):
        """The runs to train, in grid order."""
        return [run for run in self.sweep.runs if self.states[run.name] != FINISHED]


def plan_sweep(spec, out=None):
    """Expand a sweep and check its folder without writing anything.

    Parameters
    ----------
    spec : dict, str or Path
        A sweep mapping (see ``expand_sweep``) or the path of a TOML file.
    out : str or Path, optional
        Sweep folder; default ``sweeps/<file stem>`` for a file, required for a mapping.

    Returns
    -------
    SweepPlan

    Raises
    ------
    ValueError
        The folder belongs to a sweep on other data, or a run's directory
        holds another run or foreign files.
    """
    if isinstance(spec, (str, Path)):
        path, spec = Path(spec), read_sweep_file(spec)
        out = Path("sweeps") / path.stem if out is None else out
    elif out is None:
        raise ValueError("out: give the sweep folder")
    sweep, out = expand_sweep(spec), Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} exists and is not a directory")
    _check_same_data(out, sweep.data)
    return SweepPlan(sweep, out, {run.name: run_state(out / run.name, run.config) for run in sweep.runs})


def _check_same_data(out, data):
    record = out / "sweep.json"
    if record.is_file():
        previous = _read_json(record).get("data")
        if previous != data:
            raise ValueError(f"out: {out} holds a sweep on data {previous!r}, not {data!r}; choose another out")


def run_state(run_dir, config):
    """NEW, UNFINISHED or FINISHED: the state of ``run_dir`` for a run of ``config``.

    Raises
    ------
    ValueError
        ``run_dir`` holds a run of other settings, or files that are not a run.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        return NEW
    if not run_dir.is_dir():
        raise ValueError(f"out: {run_dir} exists and is not a directory")
    if not (run_dir / "config.json").is_file():
        if run_contents(run_dir):
            raise ValueError(f"out: {run_dir} holds files that are not a run; move them away or choose another out")
        return NEW
    saved, expected = _read_json(run_dir / "config.json"), json.loads(json.dumps(asdict(config)))
    if saved != expected:
        differing = ", ".join(f"{key} {saved.get(key)!r}, not {expected.get(key)!r}"
                              for key in sorted(set(saved) | set(expected)) if saved.get(key) != expected.get(key))
        raise ValueError(f"out: {run_dir} holds a run of other settings ({differing}); move it away or choose "
                         "another out")
    return FINISHED if (run_dir / "model.npz").is_file() else UNFINISHED


def _read_json(path):
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"out: cannot read {path} ({exc})") from None
    if not isinstance(document, dict):
        raise ValueError(f"out: {path} is not a JSON object")
    return document


def run_sweep(spec, out=None, *, scheduler=None, workers=None, threads_per_run=None, progress=None):
    """Train every run of a sweep on Dask and write the summary.

    Parameters
    ----------
    spec : dict, str or Path
        A sweep mapping (see ``expand_sweep``) or the path of a TOML file.
    out : str or Path, optional
        Sweep folder; default ``sweeps/<file stem>`` for a file, required for a mapping.
    scheduler : str, distributed.Client or cluster, optional
        An existing Dask cluster: scheduler address (``"tcp://host:8786"``),
        client, or cluster object (e.g. dask-jobqueue's ``SLURMCluster``).
        Default: a ``LocalCluster`` of single-threaded worker processes,
        started for the sweep and closed after it.  Workers should run one
        task at a time (one thread each): every run sets the thread counts of
        its whole process.
    workers : int, optional
        Worker processes of the local cluster; default: available CPUs //
        ``threads_per_run``, at most one per run to train.
    threads_per_run : int, optional
        Numba and BLAS threads of every run; default 1, or available CPUs //
        ``workers`` (at most ``NUMBA_NUM_THREADS``) when ``workers`` is given
        for a local cluster.
    progress : callable(str), optional
        Called with one line as each run finishes (or is skipped).

    Returns
    -------
    SweepResult

    Notes
    -----
    Finished runs are skipped; unfinished ones resume from their last checkpoint; a
    run that diverges or fails is recorded in the summary with a one-line
    message and does not stop the others.  With the local cluster, call this
    under ``if __name__ == "__main__":`` in a script (worker processes are
    spawned).
    """
    plan = plan_sweep(spec, out)
    pending = plan.pending
    threads, workers = _resources(scheduler, workers, threads_per_run, len(pending))
    out, sweep = plan.out, plan.sweep
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "sweep.json", {"data": sweep.data, "sweep_seed": sweep.sweep_seed, "keys": list(sweep.keys),
                                     "runs": [run.name for run in sweep.runs]})
    outcomes, say = {}, progress or (lambda line: None)
    for run in sweep.runs:
        if plan.states[run.name] == FINISHED:
            outcomes[run.name] = {"status": "skipped", "message": "finished earlier",
                                  "record": last_record(out / run.name)}
            say(_progress_line(len(outcomes), len(sweep.runs), run.name, outcomes[run.name]))
    if pending:
        restart = {run.name: plan.states[run.name] == UNFINISHED for run in pending}
        for run, outcome in _execute(pending, out.resolve(), sweep.data, threads, restart, scheduler, workers):
            outcomes[run.name] = outcome
            say(_progress_line(len(outcomes), len(sweep.runs), run.name, outcome))
    rows = [summary_row(run, outcomes[run.name]) for run in sweep.runs]
    write_summary(out, sweep, rows)
    return SweepResult(out, rows)


def _resources(scheduler, workers, threads_per_run, num_pending):
    """(threads per run, local worker processes or None) from the arguments and the CPUs."""
    from .._threads import available_cpus, thread_limit

    local = scheduler is None
    if not local and workers is not None:
        raise ValueError("workers: sizes the local cluster; size an existing cluster (--scheduler) itself")
    if workers is not None:
        workers = check_int(workers, "workers")
    cpus = available_cpus()
    if threads_per_run is None:  # the local workers inherit this process's NUMBA_NUM_THREADS
        threads_per_run = max(1, min(cpus // workers, thread_limit())) if workers is not None else 1
    threads_per_run = check_int(threads_per_run, "threads_per_run")
    if local and threads_per_run > thread_limit():
        raise ValueError(f"threads_per_run: at most {thread_limit()} in this process (NUMBA_NUM_THREADS), "
                         f"got {threads_per_run}")
    if not local:
        return threads_per_run, None
    workers = max(1, cpus // threads_per_run) if workers is None else workers
    return threads_per_run, max(1, min(workers, num_pending))


def _execute(runs, out, data, threads, restart, scheduler, workers):
    """Yield (run, outcome) as the runs finish on the Dask cluster."""
    from contextlib import ExitStack

    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ImportError("sweep: running a sweep needs Dask; pip install 'bmsample[dask]'") from None
    with ExitStack() as stack:
        if isinstance(scheduler, Client):
            client = scheduler
        else:
            if scheduler is None:
                scheduler = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1,
                                                             processes=True, dashboard_address=None))
            client = stack.enter_context(Client(scheduler))
        futures = {client.submit(_train_run, str(out / run.name), asdict(run.config), data, threads,
                                 restart[run.name], pure=False): run for run in runs}
        for future in as_completed(futures):
            run = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # the worker died (e.g. out of memory); the other runs go on
                outcome = {"status": "failed", "message": _one_line(exc), "record": last_record(out / run.name)}
            yield run, outcome


def _train_run(run_dir, settings, data, threads, restart):
    """Worker task: train one run into ``run_dir``; return its status, message and last log record."""
    from .._threads import set_num_threads
    from ..datasets import load_dataset
    from ..training import TrainingDiverged, fit

    status, message = "done", ""
    try:
        set_num_threads(threads)
        config = TrainingConfig(**settings)
        dataset = load_dataset(data, dtype=config.dtype)
        # An unfinished run (restart) continues exactly from its last checkpoint.
        fit(dataset.data, config, out=run_dir, resume=restart, data_name=dataset.name)
    except TrainingDiverged as exc:
        status, message = "diverged", str(exc).splitlines()[0]
    except RunDirectoryBusy as exc:  # another process trains this run (e.g. a sweep started twice)
        status, message = "busy", str(exc)
    except Exception as exc:  # recorded in the summary; the other runs go on
        status, message = "failed", _one_line(exc)
    return {"status": status, "message": message, "record": last_record(run_dir)}


def _one_line(exc):
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def last_record(run_dir):
    """The last logged record of a run directory (dict; empty if there is none)."""
    try:
        with open(Path(run_dir) / "log.jsonl") as handle:
            lines = [line for line in handle if line.strip()]
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}


def summary_row(run, outcome):
    """One summary row: run name, its values, seed, status, updates, seconds, last metrics, message."""
    record = outcome["record"]
    metrics = {key: value for key, value in record.items() if key not in ("update", "epoch", "seconds")}
    return {"run": run.name, **run.values, "seed": run.config.seed, "status": outcome["status"],
            "updates": record.get("update"), "seconds": record.get("seconds"), **metrics,
            "message": outcome["message"]}


def write_summary(out, sweep, rows):
    """Write ``summary.csv`` and ``summary.json`` in ``out`` atomically."""
    columns = list(dict.fromkeys(key for row in rows for key in row if key != "message")) + ["message"]
    table = text_io.StringIO()
    writer = csv.DictWriter(table, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    io.atomic_write(Path(out) / "summary.csv", lambda handle: handle.write(table.getvalue().encode()))
    _write_json(Path(out) / "summary.json", {"data": sweep.data, "sweep_seed": sweep.sweep_seed,
                                             "keys": list(sweep.keys), "runs": rows})


def _write_json(path, document):
    io.atomic_write(path, lambda handle: handle.write(json.dumps(document, indent=2).encode() + b"\n"))


def _shown_metric(record):
    return next((key for key in SHOWN_METRICS if key in record), None)


def _progress_line(done, total, name, outcome):
    record, status = outcome["record"], outcome["status"]
    if status in ("diverged", "failed", "busy"):
        return f"[{done}/{total}] {name}: {status}: {outcome['message']}"
    metric = _shown_metric(record)
    shown = f", {metric.replace('_', ' ')} {record[metric]:.4g}" if metric else ""
    return (f"[{done}/{total}] {name}: {status}, {record.get('update', 0)} updates, "
            f"{record.get('seconds', 0):.1f} s{shown}")


def format_summary(rows):
    """The summary as a text table: run, status, updates, seconds, main metric, message."""
    metric = next((_shown_metric(row) for row in rows if _shown_metric(row)), None)
    header = ["run", "status", "updates", "seconds"] + ([metric] if metric else []) + ["message"]
    cells = [[row["run"], row["status"], _cell(row["updates"]), _cell(row["seconds"], ".1f")]
             + ([_cell(row.get(metric), ".4g")] if metric else []) + [_shorten(row["message"], 60)] for row in rows]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip()
                     for line in [header, *cells])


def _shorten(text, width):
    return text if len(text) <= width else text[:width - 3] + "..."


def _cell(value, spec=""):
    return "" if value is None else format(value, spec)


def format_plan(plan):
    """What ``run_sweep`` would do, as text: one line per run (name, seed, state) and a count."""
    actions = {NEW: "to train", UNFINISHED: "unfinished: to train again", FINISHED: "finished: to skip"}
    width = max(len(run.name) for run in plan.sweep.runs)
    lines = [f"{run.name:<{width}}  seed {run.config.seed:<20}  {actions[plan.states[run.name]]}"
             for run in plan.sweep.runs]
    lines.append(f"{len(plan.sweep.runs)} runs in {plan.out}: {len(plan.pending)} to train, "
                 f"{len(plan.sweep.runs) - len(plan.pending)} finished")
    return "\n".join(lines)
