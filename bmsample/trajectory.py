"""The models saved along one training run: parallel trajectory tempering and the log-likelihood along them.

A *trajectory* is the sequence of models one run saved, by update: its log-spaced checkpoints, the extra
parameter-only models of ``fit(trajectory=N)`` and the final model.  Early models are close to the
independent-site law of the data and mix at once; each later one is a small change of the one before.  Two
tools use this (Béreux, Decelle, Furtlehner, Rosset and Seoane, ICLR 2025):

* **Parallel trajectory tempering** (``trajectory_tempering``) runs M chains under each of a ladder of these
  models, from the final one (replica 0) down to the independent-site law (the last replica), and swaps the
  states of chain m of neighbouring replicas r, r + 1 with probability min(1, e^Delta),

      Delta = log p*_r(x_{r+1}) + log p*_{r+1}(x_r) - log p*_r(x_r) - log p*_{r+1}(x_{r+1}),

  which leaves the product of the models' laws invariant: the chains of replica 0 sample the final model's
  equilibrium, and the cheap early models carry them between its modes.  Even pairs swap on even sweeps and
  odd pairs on odd ones, with uniforms from the chains' counter-based streams.  ``models="auto"`` picks the
  ladder so that every neighbour pair's estimated swap acceptance is at least ``target_acceptance``, and warns
  where the saved models are too sparse for that, with the number of models it would take.
* **Trajectory AIS** (``trajectory_log_partition``, ``trajectory_log_likelihood``) anneals chains from the
  independent-site law (exact log Z) through every saved model in order, with the AIS weights
  log w += log p*_t(x) - log p*_{t-1}(x) and ``steps`` Gibbs steps under model t after each: one run estimates
  log Z of every model of the run, with error bars from the weights.

Families plug in through ``Family.trajectory`` (a ``TrajectoryChains``); the Bernoulli RBM has one.
"""

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import _steps
from ._recording import Recorder
from ._rng import ChainStreams, reference_uniforms, seed_sequence
from ._threads import single_threaded_blas
from ._validation import check_bool, check_int, check_memory, check_real, check_times

__all__ = ["Trajectory", "TrajectoryChains", "TrajectoryTemperingResult", "TrajectoryAISResult",
           "TrajectoryWarning", "load_trajectory", "trajectory_tempering", "trajectory_log_partition",
           "trajectory_log_likelihood", "extra_models_needed"]

#: Folder of a run directory holding the parameter-only models of ``fit(trajectory=N)``.
TRAJECTORY_FOLDER = "trajectory"


class TrajectoryWarning(UserWarning):
    """The saved models are too sparse for the swap acceptance asked for."""


class TrajectoryChains:
    """How one family's chains run under each model of a trajectory, for ``bmsample.trajectory``.

    Model index 0 is the family's exactly samplable independent-site law; 1 ... T are the trajectory's models
    in order.  States have shape (R, M, num_units): M chains at each of R places (replicas), row m of place r
    with stream r M + m.  ``models`` and ``others`` are int64 arrays of shape (R,) of model indices (-1: none).

    Attributes
    ----------
    num_models : int
        T + 1.
    scratch_slots : tuple of two int
        Model indices that ``interpolate`` may fill.
    log_z_base : float
        Exact log Z of model 0 in the normalisation of ``log_weights``.
    task : str
    record_dtype : numpy dtype
    """

    task = "trajectory tempering"
    record_dtype = np.float32

    def base_states(self, num_rows, streams):
        """Exact draws of model 0, shape (num_rows, num_units), in the chains' dtype."""
        raise NotImplementedError

    def workspace(self, num_replicas, num_chains):
        raise NotImplementedError

    def log_weights(self, states, workspace, models, others):
        """(own, other), float64 (R, M): log p*_{models[r]} and log p*_{others[r]} of ``states[r]`` (exact,
        normalised as ``log_z_base`` says; 0 where the index is -1).  Keeps the fields of both in ``workspace``."""
        raise NotImplementedError

    def exchange(self, states, workspace, firsts, accept):
        """Swap chain m of places r and r + 1 for each r of ``firsts`` where ``accept[i, m]``, and their fields:
        each chain takes the field of its new place's model kept by ``log_weights``."""
        raise NotImplementedError

    def advance(self, workspace):
        """The ``others`` fields of the last ``log_weights`` become the fields of the next ``step``."""
        raise NotImplementedError

    def step(self, states, workspace, models, streams, fields_ready=True):
        """One step of each place's model kernel in place (its fields are those kept unless ``fields_ready`` is
        False)."""
        raise NotImplementedError

    def interpolate(self, slot, first, second, fraction):
        """Make model ``slot`` the model whose parameters are (1 - fraction) theta_first + fraction theta_second."""
        raise NotImplementedError

    def data_log_weights(self, index, data):
        """log p*_index of the rows of ``data`` (float64)."""
        raise NotImplementedError


@dataclass
class Trajectory:
    """Models of one family and shape saved along one run, by update.

    Attributes
    ----------
    models : list of models
    updates : list of int
        The update after which each was saved, increasing.
    source : str or None
        The run directory it was read from.
    """

    models: list
    updates: list
    source: str | None = None

    def __post_init__(self):
        from . import families

        if len(self.models) < 1 or len(self.models) != len(self.updates):
            raise ValueError("trajectory: needs at least one model, each with its update")
        family = families.of_model(self.models[-1])
        shapes = _parameter_shapes(self.models[-1])
        for model, update in zip(self.models, self.updates):
            if families.of_model(model) is not family:
                raise ValueError(f"trajectory: the model at update {update} is {families.of_model(model).label} "
                                 f"model, the final one {family.label} model")
            if model.dtype != self.models[-1].dtype or _parameter_shapes(model) != shapes:
                raise ValueError(f"trajectory: the model at update {update} has another shape or dtype than the "
                                 "final one")
        if list(self.updates) != sorted(set(self.updates)):
            raise ValueError("trajectory: updates must be strictly increasing")
        self.family = family

    def chains(self, base="data"):
        if self.family.trajectory is None:
            raise ValueError(f"trajectory: not available for {self.family.label} model")
        return self.family.trajectory(self.models, base=base)


def _parameter_shapes(model):
    """Shapes of a model's parameter arrays (not of what it records about its data)."""
    return {name: array.shape for name, array in model.to_arrays().items() if not name.startswith("data_")}


def _saved_update(path, loaded):
    metadata = loaded.metadata
    for key in ("trajectory", "checkpoint"):
        if isinstance(metadata.get(key), dict) and "update" in metadata[key]:
            return int(metadata[key]["update"])
    process = getattr(loaded.model, "process", None) or {}
    if "total_updates" in process:
        return int(process["total_updates"])
    raise ValueError(f"trajectory: {path} does not say after which update it was saved")


def load_trajectory(run_dir):
    """The models a ``fit`` run directory saved, by update (``trajectory/``, ``checkpoints/``, ``model.npz``).

    Raises
    ------
    ValueError
        ``run_dir`` is not a run directory, holds models of different families or shapes, or fewer than two.
    """
    from . import io

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"trajectory: {run_dir} is not a run directory")
    paths = sorted((run_dir / TRAJECTORY_FOLDER).glob("update_*.npz")) + sorted(
        (run_dir / "checkpoints").glob("*.npz"))
    if (run_dir / "model.npz").is_file():
        paths.append(run_dir / "model.npz")
    by_update = {}
    for path in paths:
        loaded = io.read_model_file(path)
        by_update[_saved_update(path, loaded)] = loaded.model
    if len(by_update) < 2:
        raise ValueError(f"trajectory: {run_dir} holds {len(by_update)} saved model(s); a trajectory needs at least "
                         "2 (fit writes them in checkpoints/, and fit --trajectory N adds N more)")
    updates = sorted(by_update)
    return Trajectory([by_update[u] for u in updates], updates, str(run_dir))


def _as_trajectory(trajectory):
    if isinstance(trajectory, Trajectory):
        return trajectory
    if isinstance(trajectory, (str, Path)):
        return load_trajectory(trajectory)
    models = list(trajectory)
    return Trajectory(models, list(range(len(models))))


# --- parallel trajectory tempering ------------------------------------------------------------------------------

@dataclass
class TrajectoryTemperingResult:
    """Output of ``trajectory_tempering``.

    Attributes
    ----------
    visible : ndarray, shape (M, num_units)
        The chains of the final model (replica 0) after the last sweep: samples of its equilibrium law.
    sweeps, warmup : int
    updates : list of int or None
        The ladder, replica by replica: the update of each model, None for the independent-site law (last).
    acceptance, swap_probability : ndarray, shape (R - 1,)
        Accepted fraction and mean Metropolis probability of the swaps between replicas r and r + 1.
    round_trips : int
        Walkers' completed trips final model -> independent-site law -> final model.
    times : list of int
    recorded : ndarray, shape (len(times), M, num_units) or None
        The final model's chains at the recorded sweeps.
    replica_history : ndarray of int16, shape (sweeps + 1, R, M) or None
        ``[t, r0, m]``: the replica at sweep t of the walker that started at replica r0 in column m.
    replica_states : ndarray, shape (R, M, num_units)
    selection : dict
        How the ladder was chosen: target, the pilot's estimated acceptance of each pair it chose
        (``estimated_acceptance``), the warm-up's measured acceptance of the final ladder's pairs
        (``warmup_acceptance``) after ``refinements`` rounds of adding models where it fell short, and where the
        saved models fall short of the target (``shortfalls``: updates, acceptance, models missing; measured
        when there was a warm-up).
    """

    visible: np.ndarray
    sweeps: int
    warmup: int
    updates: list
    acceptance: np.ndarray
    swap_probability: np.ndarray
    round_trips: int
    times: list
    recorded: np.ndarray | None
    replica_history: np.ndarray | None
    replica_states: np.ndarray
    selection: dict = field(default_factory=dict)

    def diagnostics(self):
        """JSON-able diagnostics (``bmsample sample RUN_DIR --tempering ptt``'s file)."""
        return {"method": "ptt", "sweeps": self.sweeps, "warmup": self.warmup, "replicas": len(self.updates),
                "chains_per_replica": int(self.visible.shape[0]), "updates": self.updates,
                "acceptance": _floats(self.acceptance), "swap_probability": _floats(self.swap_probability),
                "round_trips": int(self.round_trips), "selection": self.selection}


def _floats(values):
    return [None if not np.isfinite(v) else float(v) for v in values]


def extra_models_needed(acceptance, target):
    """About how many models between two saved ones would bring each neighbour pair's swap acceptance to
    ``target``, from their measured ``acceptance``.

    For a Gaussian log swap ratio of variance s^2 (and mean -s^2 / 2, as between close laws), the acceptance is
    2 Phi(-s / 2), and n equal steps along a smooth path divide s by n; so n = ceil(s(acceptance) / s(target)).
    """
    from scipy.stats import norm

    acceptance = max(float(acceptance), 1e-12)
    if acceptance >= target:
        return 0
    spread = -2 * norm.ppf(acceptance / 2)
    return int(np.ceil(spread / (-2 * norm.ppf(target / 2)) - 1e-9)) - 1


class _Ladder:
    """States, walkers and swap statistics of a trajectory-tempering run (replica 0: the final model)."""

    def __init__(self, process, models, states, streams):
        self.process, self.models, self.states, self.streams = process, models, states, streams
        num_replicas, num_chains = states.shape[:2]
        self.workspace = process.workspace(num_replicas, num_chains)
        self.walkers = np.arange(num_replicas * num_chains).reshape(num_replicas, num_chains)
        self.sweeps_done = 0
        self.reset_statistics()

    def reset_statistics(self):
        """Statistics from now on: swaps, and round trips (walkers at the final model start one)."""
        self.directions = np.zeros(self.walkers.size, dtype=np.int8)
        self.directions[self.walkers[0]] = 1
        pairs = self.models.size - 1
        self.proposed = np.zeros(pairs, dtype=np.int64)
        self.accepted = np.zeros(pairs, dtype=np.int64)
        self.probability_sum = np.zeros(pairs)
        self.round_trips = 0

    def sweep(self):
        num_replicas, num_chains = self.states.shape[:2]
        firsts = np.arange(self.sweeps_done % 2, num_replicas - 1, 2)
        others = np.full(num_replicas, -1, dtype=np.int64)
        others[firsts], others[firsts + 1] = self.models[firsts + 1], self.models[firsts]
        own, other = self.process.log_weights(self.states, self.workspace, self.models, others)
        draw = self.streams.next_draw()
        if firsts.size:
            delta = other[firsts] + other[firsts + 1] - own[firsts] - own[firsts + 1]
            probability = np.exp(np.minimum(delta, 0.0))
            uniforms = reference_uniforms(self.streams.key, draw, np.arange(num_chains), num_replicas - 1,
                                          np.float64)
            accept = uniforms.T[firsts] < probability
            self.proposed[firsts] += num_chains
            self.accepted[firsts] += accept.sum(axis=1)
            self.probability_sum[firsts] += probability.sum(axis=1)
            self.process.exchange(self.states, self.workspace, firsts, accept)
            for r, mask in zip(firsts, accept):
                self.walkers[r, mask], self.walkers[r + 1, mask] = self.walkers[r + 1, mask], self.walkers[r, mask]
            self._count_round_trips()
        self.process.step(self.states, self.workspace, self.models, self.streams)
        self.sweeps_done += 1

    def _count_round_trips(self):
        top, bottom = self.walkers[0], self.walkers[-1]
        self.round_trips += int(np.count_nonzero(self.directions[top] == 2))
        self.directions[top] = 1
        arrived = bottom[self.directions[bottom] == 1]
        self.directions[arrived] = 2

    def replica_of_walkers(self):
        """(R * M,): the replica of each walker."""
        replica = np.empty(self.walkers.size, dtype=np.int64)
        replica[self.walkers.reshape(-1)] = np.repeat(np.arange(self.walkers.shape[0]), self.walkers.shape[1])
        return replica

    def mean_probabilities(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.probability_sum / self.proposed

    def acceptance(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.accepted / self.proposed


def _anneal_through(process, num_chains, steps, streams, keep=None, between=0):
    """Chains from model 0 through models 1 ... T, ``steps`` Gibbs steps after each AIS weight.

    ``between`` models interpolated in parameters, (1 - s) theta_{t-1} + s theta_t at s = 1 / (between + 1), ...,
    join each model to the next.  Returns the log weights, float64 (T + 1, num_chains): row t estimates
    log Z_t - log Z_0 (row 0 is 0); and, with ``keep``, the states after the steps under each model,
    (T + 1, M, num_units).
    """
    states = np.ascontiguousarray(process.base_states(num_chains, streams)[None])
    workspace = process.workspace(1, num_chains)
    log_weights = np.zeros((process.num_models, num_chains))
    kept = None
    if keep:
        check_memory(process.num_models * states.nbytes, f"{process.num_models} models of {num_chains} chains")
        kept = np.empty((process.num_models, *states.shape[1:]), dtype=states.dtype)
        kept[0] = states[0]
    running, previous = np.zeros(num_chains), 0
    with _steps.abandonable(), single_threaded_blas():
        for t in range(1, process.num_models):
            for i in range(1, between + 2):
                current = t if i == between + 1 else process.scratch_slots[i % 2]
                if current != t:
                    process.interpolate(current, t - 1, t, i / (between + 1))
                own, other = process.log_weights(states, workspace, np.array([previous]), np.array([current]))
                running += other[0] - own[0]
                process.advance(workspace)
                for s in range(steps):
                    process.step(states, workspace, np.array([current]), streams, fields_ready=s == 0)
                _steps.steps_done(steps)
                previous = current
            log_weights[t] = running
            if kept is not None:
                kept[t] = states[0]
    return log_weights, kept


def _pair_acceptance(process, workspace, samples, t, s):
    """Estimated mean swap probability between models t and s from approximate samples of each."""
    states = np.ascontiguousarray(np.stack([samples[t], samples[s]]))
    own, other = process.log_weights(states, workspace, np.array([t, s]), np.array([s, t]))
    return float(np.mean(np.exp(np.minimum(other.sum(axis=0) - own.sum(axis=0), 0.0))))


def _choose_ladder(process, samples, target, labels):
    """Model indices from the final one down to 0 whose neighbours' estimated acceptance is >= ``target``:
    from each chosen model, the farthest earlier one that still reaches it (the next one where none does).

    Returns (ladder, estimated acceptance per chosen pair, shortfalls).
    """
    workspace = process.workspace(2, samples.shape[1])
    current = process.num_models - 1
    ladder, estimated, shortfalls = [current], [], []
    with single_threaded_blas():
        while current > 0:
            chosen, chosen_acceptance = current - 1, _pair_acceptance(process, workspace, samples, current,
                                                                      current - 1)
            if chosen_acceptance < target:
                shortfalls.append({"updates": [labels[chosen], labels[current]],
                                   "acceptance": chosen_acceptance,
                                   "models_missing": extra_models_needed(chosen_acceptance, target)})
            else:
                for candidate in range(current - 2, -1, -1):
                    acceptance = _pair_acceptance(process, workspace, samples, current, candidate)
                    if acceptance < target:
                        break
                    chosen, chosen_acceptance = candidate, acceptance
            ladder.append(chosen)
            estimated.append(chosen_acceptance)
            current = chosen
    return np.array(ladder, dtype=np.int64), estimated, shortfalls


def _label(update):
    return "the independent-site law" if update is None else f"update {update}"


def _shortfall_warning(shortfalls, target):
    worst = min(shortfalls, key=lambda s: s["acceptance"])
    missing = sum(s["models_missing"] for s in shortfalls)
    low, high = worst["updates"]
    return (f"trajectory: the saved models are too sparse for a swap acceptance of {target:g}: between "
            f"{_label(low)} and {_label(high)} it is about {worst['acceptance']:.2g}, and {len(shortfalls)} "
            f"pair(s) fall short; about {missing} more model(s) there would reach it (fit --trajectory N saves N "
            "models along training)")


def trajectory_tempering(trajectory, num_chains=None, sweeps=1000, *, models="auto", target_acceptance=0.25,
                         pilot_steps=20, warmup=100, base="data", record=None, record_replicas=False, rng=None):
    """Sample the final model of a trajectory by parallel trajectory tempering (see the module doc).

    Parameters
    ----------
    trajectory : Trajectory, run directory (str or Path) or sequence of models (in training order)
    num_chains : int, optional
        M, chains per replica (default 100).
    sweeps : int
        Sweeps after the warm-up (each: one round of swaps and one step of every replica).
    models : "auto", "all" or sequence of int
        The ladder: "auto" chooses it for ``target_acceptance`` from a pilot run (chains annealed through every
        model, ``pilot_steps`` steps each); "all" uses every saved model; or indices into the trajectory's
        models (the last must be the final model's).  The independent-site law is always the last replica.
    target_acceptance : float in (0, 1)
        The least swap acceptance of neighbouring models (default 0.25): estimated by the pilot run, then
        measured in the warm-up, which adds saved models between pairs that fall short and warms up again.
        Where even consecutive saved models fall short, a ``TrajectoryWarning`` says where and how many models
        are missing.
    pilot_steps : int
        Gibbs steps under each model in the pilot run (``models="auto"``).
    warmup : int
        Sweeps run before the output starts (not in it).
    base : {"data", "uniform"}
        The independent-site law of the last replica: of the final model's training-data means, or uniform.
    record : iterable of int, optional
        Sweeps at which to keep the final model's chains.
    record_replicas : bool
        Keep every walker's replica after every sweep (``replica_history``).
    rng : None, int, SeedSequence or Generator

    Returns
    -------
    TrajectoryTemperingResult
    """
    trajectory = _as_trajectory(trajectory)
    process = trajectory.chains(base=base)
    num_chains = check_int(100 if num_chains is None else num_chains, "num_chains")
    sweeps = check_int(sweeps, "sweeps", minimum=0)
    warmup = check_int(warmup, "warmup", minimum=0)
    pilot_steps = check_int(pilot_steps, "pilot_steps")
    target = check_real(target_acceptance, "target_acceptance", 0.0, 1.0)
    times = check_times(record) if record is not None else []
    if times and times[-1] > sweeps:
        raise ValueError(f"record: times must be <= sweeps ({sweeps}), got {times[-1]}")
    record_replicas = check_bool(record_replicas, "record_replicas")
    labels = [None, *trajectory.updates]
    streams = ChainStreams.from_seed_sequence(seed_sequence(rng))
    ladder, selection = _ladder(process, models, trajectory, target, num_chains, pilot_steps, streams, labels)
    samples = selection.pop("_samples", None)
    run = _warmed_up(_Ladder(process, ladder, selection.pop("_states"), streams), warmup)
    if samples is not None and warmup:
        run, ladder = _refined(run, samples, target, warmup, labels, selection)
    if selection.get("shortfalls"):
        warnings.warn(_shortfall_warning(selection["shortfalls"], target), TrajectoryWarning, stacklevel=2)
    run.reset_statistics()
    return _production(run, sweeps, times, record_replicas, warmup, [labels[t] for t in ladder], selection)


#: Most rounds in which trajectory tempering adds models where the warm-up's swaps fell short of the target.
MAX_REFINEMENTS = 3


def _warmed_up(run, warmup):
    with _steps.abandonable(), single_threaded_blas():
        for _ in range(warmup):
            run.sweep()
            _steps.steps_done(1)
    return run


def _refined(run, samples, target, warmup, labels, selection):
    """The auto ladder, checked against the warm-up's measured swaps: where a pair falls short of ``target`` and
    saved models lie between its two, the middle one joins and the warm-up runs again (at most
    ``MAX_REFINEMENTS`` rounds, from the pilot's samples).  The pilot's estimate comes from annealed chains,
    which can miss modes that have formed, so it can be optimistic.  ``selection`` gets ``warmup_acceptance``,
    ``refinements`` and the shortfalls the measured swaps leave.

    Returns (the warmed-up run, its ladder)."""
    ladder = run.models
    for refinement in range(MAX_REFINEMENTS + 1):
        measured = run.acceptance()
        short = [r for r in range(ladder.size - 1) if measured[r] < target and ladder[r] - ladder[r + 1] > 1]
        if not short or refinement == MAX_REFINEMENTS:
            break
        middles = [(ladder[r] + ladder[r + 1]) // 2 for r in short]
        ladder = np.sort(np.concatenate([ladder, middles]))[::-1].copy()
        run = _warmed_up(_Ladder(run.process, ladder, np.ascontiguousarray(samples[ladder]), run.streams), warmup)
    selection["refinements"] = refinement
    selection["warmup_acceptance"] = [float(a) for a in measured]
    selection["shortfalls"] = [{"updates": [labels[ladder[r + 1]], labels[ladder[r]]], "acceptance": float(a),
                                "models_missing": extra_models_needed(a, target)}
                               for r, a in enumerate(measured) if a < target]
    return run, ladder


def _ladder(process, models, trajectory, target, num_chains, pilot_steps, streams, labels):
    """(ladder of model indices, selection dict with the starting states under ``_states``)."""
    final = process.num_models - 1
    if isinstance(models, str) and models == "auto":
        _, samples = _anneal_through(process, num_chains, pilot_steps, streams, keep=True)
        ladder, estimated, shortfalls = _choose_ladder(process, samples, target, labels)
        selection = {"target": target, "pilot_steps": pilot_steps, "estimated_acceptance": estimated,
                     "shortfalls": shortfalls, "_samples": samples}
        states = samples[ladder]
    else:
        if isinstance(models, str):
            if models != "all":
                raise ValueError(f"models: expected 'auto', 'all' or indices of saved models, got {models!r}")
            ladder = np.arange(final, -1, -1)
        else:
            indices = np.asarray(models)
            if indices.ndim != 1 or indices.size < 1 or not np.issubdtype(indices.dtype, np.integer):
                raise ValueError("models: expected 'auto', 'all' or a 1-d sequence of model indices")
            if np.any(indices < 0) or np.any(indices >= final) or np.any(np.diff(indices) <= 0):
                raise ValueError(f"models: indices must increase within 0 ... {final - 1}")
            if indices[-1] != final - 1:
                raise ValueError(f"models: the last index must be the final model's ({final - 1})")
            ladder = np.concatenate([indices[::-1] + 1, [0]])
        check_memory(ladder.size * num_chains * 8, f"num_chains: {num_chains} chains of {ladder.size} replicas")
        states = process.base_states(ladder.size * num_chains, streams).reshape(ladder.size, num_chains, -1)
        selection = {"target": None}
    selection["_states"] = np.ascontiguousarray(states)
    return ladder.astype(np.int64), selection


def _production(run, sweeps, times, record_replicas, warmup, updates, selection):
    num_replicas, num_chains, num_units = run.states.shape
    recorder = Recorder(times, num_chains, num_units, run.process.record_dtype)
    history = None
    if record_replicas:
        check_memory(2 * (sweeps + 1) * num_replicas * num_chains, f"record_replicas: {sweeps + 1} sweeps")
        history = np.empty((sweeps + 1, num_replicas, num_chains), dtype=np.int16)
        start = run.walkers.copy()  # walker (r0, m) is the one at replica r0 in column m now
        history[0] = run.replica_of_walkers()[start]
    recorder(0, run.states[0])
    with _steps.abandonable(), single_threaded_blas():
        for t in range(1, sweeps + 1):
            run.sweep()
            if recorder.active:
                recorder(t, run.states[0])
            if history is not None:
                history[t] = run.replica_of_walkers()[start]
            _steps.steps_done(1)
    return TrajectoryTemperingResult(run.states[0].copy(), sweeps, warmup, updates, run.acceptance(),
                                     run.mean_probabilities(), run.round_trips, times, recorder.states, history,
                                     run.states.copy(), selection)


# --- log-likelihood along the trajectory -------------------------------------------------------------------------

@dataclass
class TrajectoryAISResult:
    """Output of ``trajectory_log_partition``.

    Attributes
    ----------
    updates : list of int
        The trajectory's models.
    log_z, log_z_std_error : ndarray, shape (T,)
        Estimate of log Z of each model and its delta-method standard error sd(w) / (sqrt(n) mean(w)).
    effective_sample_size : ndarray, shape (T,)
        (sum w)^2 / sum w^2 of each model's weights, in [1, num_chains].
    log_z_base : float
        Exact log Z of the independent-site law the chains start from.
    num_chains, steps, between : int
    log_weights : ndarray, shape (T, num_chains)
        log(Z_t / Z_base) estimates, one per chain.
    """

    updates: list
    log_z: np.ndarray
    log_z_std_error: np.ndarray
    effective_sample_size: np.ndarray
    log_z_base: float
    num_chains: int
    steps: int
    between: int
    log_weights: np.ndarray


def _weight_summaries(log_weights):
    """Per row of ``log_weights`` (float64, (T, n)): log mean w, relative standard error, ESS."""
    shift = log_weights.max(axis=1, keepdims=True)
    w = np.exp(log_weights - shift)
    mean = w.mean(axis=1)
    relative_se = w.std(axis=1, ddof=1) / np.sqrt(w.shape[1]) / mean if w.shape[1] > 1 else np.full(mean.size,
                                                                                                     np.nan)
    ess = w.sum(axis=1) ** 2 / np.sum(w**2, axis=1)
    return shift[:, 0] + np.log(mean), relative_se, ess


def trajectory_log_partition(trajectory, num_chains=1000, *, steps=1, between=4, base="data", rng=None):
    """Estimate log Z of every model of a trajectory in one annealing run (see the module doc).

    Parameters
    ----------
    trajectory : Trajectory, run directory (str or Path) or sequence of models (in training order)
    num_chains : int
        Annealing runs (importance weights).
    steps : int
        Gibbs steps under each model after its weight (cost: ``steps`` steps of ``num_chains`` chains per saved
        model, plus one product for the weight).
    between : int
        Models interpolated linearly in parameters between consecutive saved ones (and between the
        independent-site law and the first), each with its weight and ``steps`` steps.  Consecutive models of a
        noisy training run differ by a random part of their SGD steps, which more saved models do not smooth:
        interpolating between sparser ones does.
    base : {"data", "uniform"}
    rng : None, int, SeedSequence or Generator

    Returns
    -------
    TrajectoryAISResult

    Notes
    -----
    E[w_t] = Z_t / Z_base exactly for every t, whatever the spacing of the models, so each log Z_t estimate is a
    stochastic lower bound like standard AIS's.  Its accuracy depends on how close consecutive models are: with
    too few saved models the weights degenerate, which the effective sample size and the error bars show.
    Meaningful only for the equilibrium law of each model.
    """
    trajectory = _as_trajectory(trajectory)
    process = trajectory.chains(base=base)
    num_chains = check_int(num_chains, "num_chains", minimum=2)
    steps = check_int(steps, "steps")
    between = check_int(between, "between", minimum=0)
    streams = ChainStreams.from_seed_sequence(seed_sequence(rng))
    log_weights, _ = _anneal_through(process, num_chains, steps, streams, between=between)
    log_mean, relative_se, ess = _weight_summaries(log_weights[1:])
    return TrajectoryAISResult(list(trajectory.updates), process.log_z_base + log_mean, relative_se, ess,
                               float(process.log_z_base), num_chains, steps, between, log_weights[1:])


def trajectory_log_likelihood(trajectory, data, **options):
    """Mean log-likelihood of the rows of ``data`` under every model of a trajectory.

    Parameters
    ----------
    trajectory : Trajectory, run directory or sequence of models
    data : array_like, shape (num_samples, num_units)
        In the units of the family's data (checked against the final model).
    **options
        Passed to ``trajectory_log_partition`` (num_chains, steps, between, base, rng).

    Returns
    -------
    dict
        ``updates``, ``log_likelihood`` and ``std_error`` (lists, one per model: mean_n log p*_t(x_n) - log Z_t
        and the standard error of log Z_t), ``log_z``, ``effective_sample_size``, ``num_chains``, ``steps``,
        ``between``.
    """
    trajectory = _as_trajectory(trajectory)
    rows = trajectory.family.comparable_data(trajectory.models[-1], data)
    result = trajectory_log_partition(trajectory, **options)
    process = trajectory.chains(base=options.get("base", "data"))
    data_terms = np.array([np.mean(process.data_log_weights(t, rows)) for t in range(1, process.num_models)])
    return {"method": "trajectory", "updates": result.updates,
            "log_likelihood": (data_terms - result.log_z).tolist(),
            "std_error": result.log_z_std_error.tolist(), "log_z": result.log_z.tolist(),
            "effective_sample_size": result.effective_sample_size.tolist(), "num_chains": result.num_chains,
            "steps": result.steps, "between": result.between}


def trajectory_metadata(update, total):
    """The metadata of a parameter-only trajectory model file."""
    return {"trajectory": {"update": int(update), "models": int(total)}}

