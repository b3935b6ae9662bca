"""Parallel tempering: replicas of a model on a ladder of inverse temperatures, swapping states.

The ladder ``1 = beta_0 > beta_1 > ... > beta_{R-1} >= 0`` joins the model
(beta = 1) to an independent-site law p_0 that is sampled exactly (beta = 0):

    log p*_beta(x) = beta log p*(x) + (1 - beta) log p_0(x)

up to a term that does not depend on beta.  Each family says what that is
and how its chains step at any beta (``Family.tempering``, a
``TemperedChains``): for a Bernoulli RBM it is the visible law of the RBM
(beta W, (1 - beta) a0 + beta a, beta b), the path of AIS; for spins
exp(-beta E(s) + (1 - beta) h0 . s).

One *sweep* is one round of swaps and then one step of the family's kernel
at every replica's beta.  The swaps use the energies of the states the step
is about to move, computed from the fields the step needs anyway (for an RBM
the hidden field v W).  Chain m of replica r and chain m of replica r + 1
exchange their states with the Metropolis probability min(1, e^Delta),

    Delta = log p*_r(x_{r+1}) + log p*_{r+1}(x_r) - log p*_r(x_r) - log p*_{r+1}(x_{r+1}),

which leaves the product of the replicas' laws invariant.  Even pairs (0, 1),
(2, 3), ... swap on even sweeps and odd pairs (1, 2), (3, 4), ... on odd
ones: the deterministic even-odd scheme, whose walkers cross the ladder in a
time linear in R instead of quadratic (Okabe et al. 2001; Syed, Bouchard-Côté,
Deligiannidis and Doucet, JRSS B 2022).  The swap uniforms come from the
chains' counter-based streams (one draw per sweep), so a seed gives the same
chains with any number of threads.

``betas="auto"`` tunes the ladder during a warm-up that is not part of the
output: rounds of doubling length, after each of which the betas move so
that every neighbour pair has the same mean swap probability (equal shares of
the measured communication barrier Lambda = sum of the pairs' rejection
rates, Syed et al. Algorithm 4).  Without ``replicas`` the number of replicas
is chosen too, so that the equal probability is nearest ``target_acceptance``:
R = 1 + round(Lambda / (1 - target)).
"""

from dataclasses import dataclass, field

import numpy as np

from . import _steps
from ._backend import resolve_backend
from ._recording import Recorder
from ._rng import ChainStreams, reference_uniforms, seed_sequence
from ._threads import single_threaded_blas
from ._validation import check_bool, check_int, check_memory, check_real, check_times

__all__ = ["TemperedChains", "TemperingResult", "TemperingState", "parallel_tempering", "check_betas",
           "swap_probabilities"]

#: Most replicas ``betas="auto"`` chooses.
MAX_AUTO_REPLICAS = 128
#: Replicas of the first auto ladder when ``replicas`` is not given.
AUTO_START_REPLICAS = 8
#: Default sweeps of an auto ladder's warm-up, and the length of its first round.
DEFAULT_WARMUP = 496
FIRST_ROUND = 16
#: Spins (and other families whose fields are updated in place) recompute their fields this often.
REFRESH_SWEEPS = 64


class TemperedChains:
    """How one family's chains run at any inverse temperature, for ``parallel_tempering``.

    All replicas' chains are the rows of one state array, each row with the
    Philox stream of its index and, every sweep, the beta of the replica it
    is at (``row_betas``).  A swap exchanges the betas of two rows, not their
    states: the chains never move, so no state or field is copied.

    Attributes
    ----------
    task : str
        The run in words, for a backend's refusal.
    record_dtype : numpy dtype
        How recorded states are stored.
    to_data_units : callable or None
        Applied to states before they reach the caller.
    """

    task = "parallel tempering"
    record_dtype = np.float32
    to_data_units = None

    def base_states(self, num_rows, streams):
        """Exact draws of p_0 (beta = 0), shape (num_rows, num_units), in the units the chains run in."""
        raise NotImplementedError

    def workspace(self, num_rows):
        """Scratch for ``num_rows`` rows (checks the memory it needs)."""
        raise NotImplementedError

    def prepare(self, state, workspace, fresh, betas, new_betas):
        """Make the fields of ``state`` ready for ``step``, and return the swaps' log-weight gaps from them.

        ``fresh``: the states changed other than by ``step`` since the last call.  The gaps are
        log p*_{new_betas[row]}(x_row) - log p*_{betas[row]}(x_row) of every row (float64, 0 where the two betas
        are equal), exact but for a constant of the two betas (a term of the state that does not depend on beta
        cancels).
        """
        raise NotImplementedError

    def step(self, state, workspace, row_betas, streams):
        """One step of the family's kernel in place on every row at its beta ``row_betas[row]``."""
        raise NotImplementedError

    def upload(self, state, workspace):
        """The ladder changed the host ``state`` (new chains, or rows moved): a copy elsewhere must follow."""

    def download(self, state, workspace):
        """Bring the host ``state`` up to date before the ladder reads it (a device's rows)."""

    def on_device(self, backend):
        """This process with its rows on the CUDA ``backend`` (for ``parallel_tempering(backend=...)``)."""
        raise ValueError(f"backend: parallel tempering ({self.task}) runs on the CPU for now")


@dataclass
class TemperingState:
    """Everything a tempering run needs to continue exactly (``parallel_tempering(..., resume=state)``).

    Attributes
    ----------
    betas : ndarray, shape (R,)
    states : ndarray, shape (R, M, num_units)
        The chains of the rows r0 * M + m, in the units the chains run in (row order, not replica order).
    rows : ndarray of int, shape (R, M)
        ``rows[r, m]``: the row at replica r in column m.
    directions : ndarray of int8, shape (R, M)
        Per row: 0 before its chain reached an end of the ladder, 1 after beta_0 (it goes up), 2 after
        beta_{R-1} (it comes back).
    sweeps_done : int
        Sweeps run since the output started: its parity says which pairs swap next.
    streams : dict
        ``ChainStreams.state()``.
    """

    betas: np.ndarray
    states: np.ndarray
    rows: np.ndarray
    directions: np.ndarray
    sweeps_done: int
    streams: dict

    def to_arrays(self):
        """(arrays, metadata) for a checkpoint file: arrays by name, and JSON-able values."""
        arrays = {"betas": self.betas, "states": self.states, "rows": self.rows, "directions": self.directions}
        return arrays, {"sweeps_done": self.sweeps_done, "streams": dict(self.streams)}

    @classmethod
    def from_arrays(cls, arrays, metadata):
        return cls(np.asarray(arrays["betas"], np.float64), np.asarray(arrays["states"]),
                   np.asarray(arrays["rows"], np.int64), np.asarray(arrays["directions"], np.int8),
                   int(metadata["sweeps_done"]), dict(metadata["streams"]))


@dataclass
class TemperingResult:
    """Output of ``parallel_tempering``.

    Attributes
    ----------
    visible : ndarray, shape (M, num_units)
        The beta = 1 chains after the last sweep, in data units: samples of the model's equilibrium law.
    sweeps : int
        Sweeps after the warm-up.
    betas : ndarray, shape (R,)
        The ladder that ran (after tuning, for ``betas="auto"``).
    acceptance : ndarray, shape (R - 1,)
        Accepted fraction of the swaps proposed between replicas r and r + 1 (NaN where none was proposed).
    swap_probability : ndarray, shape (R - 1,)
        Mean Metropolis probability min(1, e^Delta) of those proposals: the acceptance's expectation, with
        less noise.
    round_trips : int
        Walkers' completed trips beta_0 -> beta_{R-1} -> beta_0, all chains together.
    warmup : int
        Warm-up sweeps that ran before (tuning the ladder; not in the output).
    times : list of int
        Recorded sweeps.
    recorded : ndarray, shape (len(times), M, num_units) or None
        The beta = 1 chains at the recorded sweeps.
    replica_history : ndarray of int16, shape (sweeps + 1, R, M) or None
        ``[t, r0, m]``: the replica at sweep t of the walker that started (after warm-up) at replica r0 in
        column m (``record_replicas``).
    replica_states : ndarray, shape (R, M, num_units)
        Every replica's chains after the last sweep, in data units.
    tuning : list of dict
        The warm-up rounds: sweeps, betas and measured swap probabilities of each.
    state : TemperingState
        To continue the run.
    """

    visible: np.ndarray
    sweeps: int
    betas: np.ndarray
    acceptance: np.ndarray
    swap_probability: np.ndarray
    round_trips: int
    warmup: int
    times: list
    recorded: np.ndarray | None
    replica_history: np.ndarray | None
    replica_states: np.ndarray
    state: TemperingState
    tuning: list = field(default_factory=list)

    def diagnostics(self):
        """The run's diagnostics as JSON-able values (``bmsample sample --tempering``'s file)."""
        return {"sweeps": self.sweeps, "warmup": self.warmup, "replicas": int(self.betas.size),
                "chains_per_replica": int(self.visible.shape[0]), "betas": self.betas.tolist(),
                "acceptance": _floats(self.acceptance), "swap_probability": _floats(self.swap_probability),
                "round_trips": int(self.round_trips), "tuning": self.tuning}


def _floats(values):
    return [None if not np.isfinite(v) else float(v) for v in values]


def check_betas(betas):
    """A ladder of inverse temperatures: 1-d, at least 2, starting at 1, strictly decreasing, within [0, 1].

    Returns
    -------
    ndarray, shape (R,), float64
    """
    array = np.asarray(betas)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number) or array.dtype == bool:
        raise TypeError(f"betas: expected 'auto' or an array of numbers, got {type(betas).__name__}")
    array = array.astype(np.float64)
    if array.ndim != 1 or array.size < 2:
        raise ValueError(f"betas: expected a 1-d ladder of at least 2 inverse temperatures, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("betas: contains NaN or inf")
    if np.any(array < 0) or np.any(array > 1):
        raise ValueError(f"betas: inverse temperatures must lie in [0, 1], got {array.min():g} ... {array.max():g}")
    if array[0] != 1.0:
        raise ValueError(f"betas: the ladder must start at beta = 1 (the model), got {array[0]:g}")
    if np.any(np.diff(array) >= 0):
        raise ValueError("betas: must be strictly decreasing from 1")
    return array


def swap_probabilities(gaps):
    """min(1, e^Delta) of swaps between replicas r and r + 1; see the module doc.

    Parameters
    ----------
    gaps : ndarray, shape (2, ...)
        log p*_{r+1}(x_r) - log p*_r(x_r) and log p*_r(x_{r+1}) - log p*_{r+1}(x_{r+1}): how much more likely
        each chain is at the other's beta; Delta is their sum.
    """
    return np.exp(np.minimum(gaps[0] + gaps[1], 0.0))


def _first_of_pairs(parity, num_replicas):
    """Replicas r whose pair (r, r + 1) swaps on a sweep of ``parity``."""
    return np.arange(parity, num_replicas - 1, 2)


def _partners(parity, num_replicas):
    """Per replica, the replica it swaps with on a sweep of ``parity`` (itself where it has no partner)."""
    partner = np.arange(num_replicas)
    firsts = _first_of_pairs(parity, num_replicas)
    partner[firsts], partner[firsts + 1] = firsts + 1, firsts
    return partner


class _Ladder:
    """The chains, the replica of each row and the swap statistics while ``parallel_tempering`` runs."""

    def __init__(self, process, betas, state, rows, directions, streams, sweeps_done):
        self.process, self.streams = process, streams
        self.num_chains = state.shape[0] // betas.size
        self.state, self.rows, self.directions = state, rows, directions.reshape(-1)
        self.sweeps_done = sweeps_done
        self.workspace = process.workspace(state.shape[0])
        self._states_changed()
        self.set_betas(betas)

    def _states_changed(self):
        """The host rows are new: fields are recomputed, and a device copy follows."""
        self.fresh = True
        self.process.upload(self.state, self.workspace)

    def host_state(self):
        """The rows, up to date on the host."""
        self.process.download(self.state, self.workspace)
        return self.state

    def set_betas(self, betas):
        self.betas = betas
        self._assign()
        self.reset_statistics()

    def _assign(self):
        """Each row's replica and beta from ``rows``."""
        self.replica = np.empty(self.rows.size, dtype=np.int64)
        self.replica[self.rows.reshape(-1)] = np.repeat(np.arange(self.betas.size), self.num_chains)
        self.row_betas = self.betas[self.replica]

    def reset_statistics(self):
        pairs = self.betas.size - 1
        self.proposed = np.zeros(pairs, dtype=np.int64)
        self.accepted = np.zeros(pairs, dtype=np.int64)
        self.probability_sum = np.zeros(pairs)
        self.round_trips = 0

    def sweep(self):
        """One round of swaps, then one step of every chain at its replica's beta."""
        parity = self.sweeps_done % 2
        partner_betas = self.betas[_partners(parity, self.betas.size)[self.replica]]
        fresh = self.fresh or self.sweeps_done % REFRESH_SWEEPS == 0
        gaps = self.process.prepare(self.state, self.workspace, fresh, self.row_betas, partner_betas)
        self.fresh = False
        self._swap(parity, gaps)
        self.process.step(self.state, self.workspace, self.row_betas, self.streams)
        self.sweeps_done += 1

    def _swap(self, parity, gaps):
        num_replicas, num_chains = self.betas.size, self.num_chains
        firsts = _first_of_pairs(parity, num_replicas)
        draw = self.streams.next_draw()
        if firsts.size == 0:
            return
        low, high = self.rows[firsts], self.rows[firsts + 1]  # (pairs, M)
        probability = swap_probabilities(np.stack([gaps[low], gaps[high]]))
        uniforms = reference_uniforms(self.streams.key, draw, np.arange(num_chains), num_replicas - 1, np.float64)
        accept = uniforms.T[firsts] < probability
        self.proposed[firsts] += num_chains
        self.accepted[firsts] += accept.sum(axis=1)
        self.probability_sum[firsts] += probability.sum(axis=1)
        self.rows[firsts], self.rows[firsts + 1] = np.where(accept, high, low), np.where(accept, low, high)
        self._assign()
        self._count_round_trips()

    def _count_round_trips(self):
        bottom, top = self.rows[0], self.rows[-1]
        self.round_trips += int(np.count_nonzero(self.directions[bottom] == 2))
        self.directions[bottom] = 1
        arrived = top[self.directions[top] == 1]
        self.directions[arrived] = 2

    def replica_states(self):
        """(R, M, num_units): the chains in replica order."""
        return self.host_state()[self.rows.reshape(-1)].reshape(self.betas.size, self.num_chains, -1)

    def mean_probabilities(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.probability_sum / self.proposed

    def acceptance(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.accepted / self.proposed

    def restart_counts(self):
        """The output starts: chains in replica order again, directions and statistics from now on."""
        self.state = np.ascontiguousarray(self.host_state()[self.rows.reshape(-1)])
        self.rows = np.arange(self.rows.size).reshape(self.rows.shape)
        self.directions = _start_directions(self.rows).reshape(-1)
        self.sweeps_done = 0
        self._states_changed()
        self.set_betas(self.betas)

    def resize(self, betas):
        """Move to a new ladder; each new replica takes the chains of the old replica of nearest beta."""
        nearest = np.abs(self.betas[None, :] - betas[:, None]).argmin(axis=1)
        self.state = np.ascontiguousarray(self.host_state()[self.rows[nearest].reshape(-1)])
        if betas.size != self.betas.size:
            self.workspace = self.process.workspace(self.state.shape[0])
        self.rows = np.arange(self.state.shape[0]).reshape(betas.size, self.num_chains)
        self.directions = _start_directions(self.rows).reshape(-1)
        self._states_changed()
        self.set_betas(betas)


def _start_directions(rows):
    """Directions of the rows (R, M) at the start: those at beta_0 are on their way up, the others have no trip yet."""
    directions = np.zeros(rows.shape, dtype=np.int8)
    directions[rows[0] // rows.shape[1], rows[0] % rows.shape[1]] = 1
    return directions


def _initial_ladder(num_replicas):
    return np.linspace(1.0, 0.0, num_replicas)


def _tuned_betas(betas, probabilities, num_replicas, target):
    """A ladder that splits the measured barrier equally (see the module doc), and its size (chosen when None).

    The barrier grows by each pair's rejection rate 1 - probability from beta_0 = 1 down the ladder; the new
    betas sit at equal barrier levels, by linear interpolation between the old ones.
    """
    rejection = np.clip(1.0 - np.nan_to_num(probabilities, nan=0.0), 1e-6, 1.0)
    barrier = np.concatenate([[0.0], np.cumsum(rejection)])
    if num_replicas is None:
        num_replicas = int(np.clip(1 + np.round(barrier[-1] / (1.0 - target)), 2, MAX_AUTO_REPLICAS))
    new = np.interp(np.linspace(0.0, barrier[-1], num_replicas), barrier, betas)
    new[0], new[-1] = 1.0, betas[-1]
    return new


def _warmup_rounds(warmup):
    """Lengths of the tuning rounds: FIRST_ROUND, then doubling, the last taking what is left of ``warmup``."""
    rounds, length = [], FIRST_ROUND
    while sum(rounds) < warmup:
        rounds.append(min(length, warmup - sum(rounds)))
        length *= 2
    return rounds


def parallel_tempering(model, num_chains=None, sweeps=1000, *, replicas=None, betas="auto", target_acceptance=0.3,
                       warmup=None, base="data", record=None, record_replicas=False, rng=None, resume=None,
                       backend="cpu"):
    """Sample the equilibrium law of ``model`` by parallel tempering.

    Parameters
    ----------
    model : a model of a family with ``tempering`` (Bernoulli RBM, Gaussian-Bernoulli RBM, Ising, independent
        spins)
    num_chains : int, optional
        M, independent chains per replica (default 100; with ``resume``, the saved ones).
    sweeps : int
        Sweeps after the warm-up (each: one round of swaps and one step of every replica).
    replicas : int, optional
        R >= 2.  With ``betas="auto"`` and no ``replicas``, R is chosen for ``target_acceptance``.
    betas : "auto" or array_like, shape (R,)
        The ladder, strictly decreasing from 1 within [0, 1]; "auto" tunes it during the warm-up (see the
        module doc), starting from R equally spaced betas down to 0.
    target_acceptance : float in (0, 1)
        The swap probability an auto ladder without ``replicas`` aims at (default 0.3).
    warmup : int, optional
        Sweeps before the output starts (default: 496 for an auto ladder, 0 for a given one).  An auto ladder
        is tuned in rounds of 16, 32, 64, ... of them.
    base : {"data", "uniform"}
        p_0, the law at beta = 0: the independent-site law of the model's training-data means (the family's
        default where the model does not record them), or uniform units (a plain temperature ladder for spins).
    record : iterable of int, optional
        Sweeps (0 <= t <= sweeps) at which to keep the beta = 1 chains.
    record_replicas : bool
        Keep the replica of every walker after every sweep (``replica_history``).
    rng : None, int, SeedSequence or Generator
    resume : TemperingState, optional
        Continue a run exactly (its ladder, chains, replicas and streams; no warm-up).
    backend : {"cpu", "cuda", "cuda:N", "auto"}

    Returns
    -------
    TemperingResult
    """
    from . import families

    family = families.of_model(model)
    if family.tempering is None:
        raise ValueError(f"model: parallel tempering is not available for {family.label} model")
    process = family.tempering(model, base=base)
    sweeps = check_int(sweeps, "sweeps", minimum=0)
    times = check_times(record) if record is not None else []
    if times and times[-1] > sweeps:
        raise ValueError(f"record: times must be <= sweeps ({sweeps}), got {times[-1]}")
    record_replicas = check_bool(record_replicas, "record_replicas")
    device = resolve_backend(backend, process.task)
    if device.is_cuda:
        process = process.on_device(device)
    if resume is not None:
        ladder, warmup, tuning = _resumed(process, resume, num_chains, replicas, betas, warmup), 0, []
    else:
        ladder, warmup, tuning = _warmed_up(process, num_chains, replicas, betas, target_acceptance, warmup,
                                            seed_sequence(rng))
    return _production(ladder, sweeps, times, record_replicas, warmup, tuning)


def _ladder_size(replicas, betas):
    """(betas or None for auto, R or None) from the caller's ``replicas`` and ``betas``."""
    if replicas is not None:
        replicas = check_int(replicas, "replicas", minimum=2)
    if isinstance(betas, str):
        if betas != "auto":
            raise ValueError(f"betas: expected 'auto' or an array of inverse temperatures, got {betas!r}")
        return None, replicas
    betas = check_betas(betas)
    if replicas is not None and replicas != betas.size:
        raise ValueError(f"replicas: {replicas} disagrees with the {betas.size} betas given; give one or the other")
    return betas, betas.size


def _warmed_up(process, num_chains, replicas, betas, target, warmup, seed):
    """A ``_Ladder`` of fresh chains after the warm-up (tuning an auto ladder), the warm-up sweeps, the rounds."""
    num_chains = check_int(100 if num_chains is None else num_chains, "num_chains")
    fixed, num_replicas = _ladder_size(replicas, betas)
    target = check_real(target, "target_acceptance", 0.0, 1.0)
    warmup = check_int((0 if fixed is not None else DEFAULT_WARMUP) if warmup is None else warmup, "warmup",
                       minimum=0)
    start = fixed if fixed is not None else _initial_ladder(num_replicas or AUTO_START_REPLICAS)
    check_memory(8 * start.size * num_chains, f"num_chains: {num_chains} chains of {start.size} replicas")
    streams = ChainStreams.from_seed_sequence(seed)
    state = process.base_states(start.size * num_chains, streams)
    rows = np.arange(state.shape[0]).reshape(start.size, num_chains)
    ladder = _Ladder(process, start, state, rows, _start_directions(rows), streams, 0)
    tuning = []
    with _steps.abandonable(), single_threaded_blas():
        for length in _warmup_rounds(warmup):
            for _ in range(length):
                ladder.sweep()
                _steps.steps_done(1)
            probabilities = ladder.mean_probabilities()
            tuning.append({"sweeps": length, "betas": ladder.betas.tolist(),
                           "swap_probability": _floats(probabilities)})
            if fixed is None:
                ladder.resize(_tuned_betas(ladder.betas, probabilities, num_replicas, target))
            else:
                ladder.reset_statistics()
    ladder.restart_counts()
    return ladder, warmup, tuning


def _resumed(process, resume, num_chains, replicas, betas, warmup):
    """A ``_Ladder`` continuing ``resume`` (a ``TemperingState``); ladder arguments are refused."""
    if not isinstance(resume, TemperingState):
        raise TypeError(f"resume: expected a TemperingState, got {type(resume).__name__}")
    if replicas is not None or not (isinstance(betas, str) and betas == "auto") or warmup:
        raise ValueError("resume: continues the saved ladder; give no replicas, betas or warmup with it")
    saved = check_betas(resume.betas)
    states = np.array(resume.states)
    if states.ndim != 3 or states.shape[0] != saved.size:
        raise ValueError(f"resume: states of shape {states.shape} do not fit a ladder of {saved.size} betas")
    if num_chains is not None and check_int(num_chains, "num_chains") != states.shape[1]:
        raise ValueError(f"num_chains: the saved run has {states.shape[1]} chains per replica, not {num_chains}")
    template = process.base_states(1, ChainStreams((0, 0)))
    if states.shape[2] != template.shape[1]:
        raise ValueError(f"resume: states of {states.shape[2]} units do not fit this model's {template.shape[1]}")
    state = np.ascontiguousarray(states.reshape(-1, states.shape[2]), dtype=template.dtype)
    rows = np.array(resume.rows, np.int64)
    if rows.shape != states.shape[:2] or not np.array_equal(np.sort(rows.reshape(-1)), np.arange(rows.size)):
        raise ValueError("resume: rows is not a permutation of the saved chains")
    return _Ladder(process, saved, state, rows, np.array(resume.directions, np.int8),
                   ChainStreams.from_state(resume.streams), int(resume.sweeps_done))


def _production(ladder, sweeps, times, record_replicas, warmup, tuning):
    """The sweeps of the output, recording as asked; the ``TemperingResult``."""
    process, num_chains, num_replicas = ladder.process, ladder.num_chains, ladder.betas.size
    to_data = process.to_data_units
    recorder = Recorder(times, num_chains, ladder.state.shape[1], process.record_dtype, transform=to_data)
    history = None
    start_rows = ladder.rows.copy()  # walker (r0, m) is the row at replica r0 in column m now
    if record_replicas:
        check_memory(2 * (sweeps + 1) * num_replicas * num_chains, f"record_replicas: {sweeps + 1} sweeps")
        history = np.empty((sweeps + 1, num_replicas, num_chains), dtype=np.int16)
        history[0] = ladder.replica[start_rows]
    recorder(0, ladder.host_state()[ladder.rows[0]])
    with _steps.abandonable(), single_threaded_blas():
        for t in range(1, sweeps + 1):
            ladder.sweep()
            if t in recorder.slot:  # only then: on a device, reading the rows copies them back
                recorder(t, ladder.host_state()[ladder.rows[0]])
            if history is not None:
                history[t] = ladder.replica[start_rows]
            _steps.steps_done(1)
    states = ladder.replica_states()
    in_data = states if to_data is None else to_data(states.reshape(-1, states.shape[2])).reshape(states.shape)
    saved = TemperingState(ladder.betas.copy(), ladder.state.reshape(states.shape).copy(), ladder.rows.copy(),
                           ladder.directions.reshape(states.shape[:2]).copy(), ladder.sweeps_done,
                           ladder.streams.state())
    return TemperingResult(np.array(in_data[0]), sweeps, ladder.betas.copy(), ladder.acceptance(),
                           ladder.mean_probabilities(), ladder.round_trips, warmup, times, recorder.states, history,
                           np.array(in_data), saved, tuning)


def ladder_sweeps(model, betas, num_chains, *, base="data", rng=None):
    """A callable ``run(sweeps)`` doing that many sweeps of a ladder of fresh chains (``bmsample bench``).

    Parameters
    ----------
    model : a model of a family with ``tempering``
    betas : array_like, shape (R,)
    num_chains : int
        M, chains per replica.
    """
    from . import families

    family = families.of_model(model)
    if family.tempering is None:
        raise ValueError(f"model: parallel tempering is not available for {family.label} model")
    process = family.tempering(model, base=base)
    betas = check_betas(betas)
    num_chains = check_int(num_chains, "num_chains")
    streams = ChainStreams.from_seed_sequence(seed_sequence(rng))
    rows = np.arange(betas.size * num_chains).reshape(betas.size, num_chains)
    ladder = _Ladder(process, betas, process.base_states(rows.size, streams), rows, _start_directions(rows), streams,
                     0)

    def run(sweeps):
        with single_threaded_blas():
            for _ in range(sweeps):
                ladder.sweep()

    return run
