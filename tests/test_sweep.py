"""Sweeps: spec expansion and checks, run names and seeds, restart states, runs on Dask, the CLI."""

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import bmsample
from bmsample.cli.main import main
from bmsample.tools import sweep
from bmsample.training import TrainingConfig

TINY = {"num_hiddens": 4, "batch_size": 10, "updates": 3}
PAPER_GRID = {"k": [1, 2, 5, 10, 20, 50], "seed": [0, 1, 2]}


def one_hot_data(tmp_path):
    """40 rows of 4 one-hot bits: small, and learning rate 1e38 makes it diverge at once."""
    path = tmp_path / "one_hot.npy"
    np.save(path, np.eye(4)[[0, 1, 2, 3] * 10])
    return path


def spec(tmp_path, **parts):
    return {"data": str(one_hot_data(tmp_path)), "fit": dict(TINY), **parts}


# Expansion, names and seeds (no Dask)


def test_paper_grid_gives_one_run_per_k_and_seed_in_grid_order():
    expanded = sweep.expand_sweep({"data": "digits", "fit": TINY, "grid": PAPER_GRID})
    assert expanded.keys == ("k", "seed")
    assert [run.name for run in expanded.runs] == [f"k={k},seed={s}" for k in PAPER_GRID["k"] for s in (0, 1, 2)]
    assert [(run.config.k, run.config.seed) for run in expanded.runs] == [
        (k, s) for k in PAPER_GRID["k"] for s in (0, 1, 2)]
    assert all(run.config.num_hiddens == 4 and run.config.updates == 3 for run in expanded.runs)


def test_runs_are_crossed_with_the_grid_and_named_by_effective_values():
    expanded = sweep.expand_sweep({"data": "digits", "fit": {"k": 3}, "grid": {"seed": [0, 1]},
                                   "runs": [{"scheme": "cd"}, {"scheme": "pcd", "k": 7}]})
    assert [run.name for run in expanded.runs] == [
        "scheme=cd,k=3,seed=0", "scheme=cd,k=3,seed=1", "scheme=pcd,k=7,seed=0", "scheme=pcd,k=7,seed=1"]
    assert expanded.runs[0].values == {"scheme": "cd", "k": 3, "seed": 0}


def test_derived_seeds_depend_on_the_run_alone():
    def seeds(ks, sweep_seed=0):
        expanded = sweep.expand_sweep({"data": "digits", "grid": {"k": ks}, "sweep_seed": sweep_seed})
        return {run.name: run.config.seed for run in expanded.runs}

    first = seeds([1, 2, 5])
    assert len(set(first.values())) == 3
    assert all(0 <= seed < 2**63 for seed in first.values())
    assert seeds([5, 10, 1, 2]).items() >= first.items()  # reordering and adding values keeps the seeds
    assert first == seeds([1, 2, 5])
    assert set(seeds([1, 2, 5], sweep_seed=1).values()).isdisjoint(first.values())
    assert first["k=1"] == sweep.run_seed(0, {"k": 1})


def test_seed_in_fit_settings_is_used_as_given():
    expanded = sweep.expand_sweep({"data": "digits", "fit": {"seed": 7}, "grid": {"k": [1, 2]}})
    assert [run.config.seed for run in expanded.runs] == [7, 7]


def test_run_names_are_safe_distinct_and_bounded():
    values = {"k": 10, "learning_rate": 1e-05, "centered": True}
    assert sweep.run_name(values) == "k=10,learning_rate=1e-05,centered=true"
    assert sweep.run_name({}) == "run"
    odd = [sweep.run_name({"data": text}) for text in ("a/b", "a,b=c", "a%2Fb", "a b", "..")]
    assert len(set(odd)) == len(odd)
    assert all("/" not in name and " " not in name for name in odd)
    long = sweep.run_name({"init": "x" * 300})
    assert len(long) == sweep.MAX_NAME_LENGTH and long != sweep.run_name({"init": "x" * 301})


@pytest.mark.parametrize("bad, error, message", [
    ({"grid": {"k": [1]}}, ValueError, "data: missing"),
    ({"data": 3, "grid": {"k": [1]}}, TypeError, "data: expected"),
    ({"data": "nope", "grid": {"k": [1]}}, ValueError, "data: 'nope' is neither"),
    ({"data": "digits"}, ValueError, "give a [grid] table"),
    ({"data": "digits", "grid": {"k": [1]}, "extra": 1}, ValueError, "sweep: unknown key(s) extra"),
    ({"data": "digits", "grid": {"k": [1]}, "sweep_seed": -1}, ValueError, "sweep_seed:"),
    ({"data": "digits", "grid": {}}, ValueError, "grid: empty table"),
    ({"data": "digits", "grid": {"k": []}}, ValueError, "grid.k: expected a non-empty list"),
    ({"data": "digits", "grid": {"k": 3}}, ValueError, "grid.k: expected a non-empty list"),
    ({"data": "digits", "grid": {"k": [[1]]}}, TypeError, "grid.k: expected a number, string or boolean"),
    ({"data": "digits", "grid": {"k": [1, 2, 1]}}, ValueError, "grid.k: the value 1 appears twice"),
    ({"data": "digits", "grid": {"hidden": [1]}}, ValueError, "grid: unknown setting(s) hidden"),
    ({"data": "digits", "fit": {"steps": 3}, "grid": {"k": [1]}}, ValueError, "fit: unknown setting(s) steps"),
    ({"data": "digits", "grid": {"k": [0]}}, ValueError, "run k=0: k: expected an integer >= 1"),
    ({"data": "digits", "grid": {"k": ["2"]}}, TypeError, "run k='2': k: expected an integer"),
    ({"data": "digits", "grid": {"learning_rate": [1, 1.0]}}, ValueError, "run learning_rate=1.0 appears twice"),
    ({"data": "digits", "runs": []}, ValueError, "runs: expected a non-empty list"),
    ({"data": "digits", "runs": [3]}, TypeError, "runs[0]: expected a table"),
    ({"data": "digits", "runs": [{"k": 2}, {"k": 2}]}, ValueError, "k=2 appears twice (runs[0] and runs[1])"),
    ({"data": "digits", "runs": [{"k": 10}, {}]}, ValueError, "k=10 appears twice (runs[0] and runs[1])"),
    ({"data": "digits", "grid": {"k": [1]}, "runs": [{"k": 2}]}, ValueError, "runs[0].k: also in [grid]"),
])
def test_bad_specs_are_refused_naming_the_key(bad, error, message):
    with pytest.raises(error) as raised:
        sweep.expand_sweep(bad)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_file_data_path_is_relative_to_the_toml_file(tmp_path, monkeypatch):
    one_hot_data(tmp_path)
    (tmp_path / "scan.toml").write_text('data = "one_hot.npy"\n[grid]\nk = [1]\n')
    monkeypatch.chdir(tmp_path.parent)
    expanded = sweep.expand_sweep(sweep.read_sweep_file(tmp_path / "scan.toml"))
    assert expanded.data == str((tmp_path / "one_hot.npy").resolve())
    plan = sweep.plan_sweep(tmp_path / "scan.toml")
    assert plan.out == Path("sweeps/scan") and plan.states == {"k=1": sweep.NEW}
    assert not (tmp_path.parent / "sweeps").exists()  # planning writes nothing


# Run directory states (no Dask)


def test_run_states_new_unfinished_finished_and_refusals(tmp_path):
    data = np.load(one_hot_data(tmp_path))
    config = TrainingConfig(**TINY, seed=0).validated()
    run_dir = tmp_path / "run"
    assert sweep.run_state(run_dir, config) == sweep.NEW
    run_dir.mkdir()
    assert sweep.run_state(run_dir, config) == sweep.NEW
    bmsample.fit(data, config, out=run_dir)
    assert sweep.run_state(run_dir, config) == sweep.FINISHED
    (run_dir / "model.npz").unlink()
    assert sweep.run_state(run_dir, config) == sweep.UNFINISHED
    other = TrainingConfig(**{**TINY, "k": 2}, seed=0).validated()
    with pytest.raises(ValueError, match=r"holds a run of other settings \(k 10, not 2\)"):
        sweep.run_state(run_dir, other)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds files that are not a run"):
        sweep.run_state(foreign, config)


# Runs on Dask: one cluster of two single-threaded worker processes for the module


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local.scheduler_address


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def assert_same_model(path, expected):
    loaded = bmsample.read_model_file(path)
    for name, array in expected.to_arrays().items():
        np.testing.assert_array_equal(loaded.model.to_arrays()[name], array)


def test_sweep_trains_every_run_as_fit_would_and_records_failures(tmp_path, cluster):
    grid = {"k": [1, 2], "learning_rate": [0.1, 1e38], "batch_size": [10, 100]}
    the_spec = spec(tmp_path, grid=grid)
    lines = []
    result = sweep.run_sweep(the_spec, tmp_path / "out", scheduler=cluster, progress=lines.append)
    runs = sweep.expand_sweep(the_spec).runs
    assert [row["run"] for row in result.rows] == [run.name for run in runs]
    status = {row["run"]: row["status"] for row in result.rows}
    assert status == {run.name: ("failed" if run.config.batch_size == 100 else
                                 "diverged" if run.config.learning_rate == 1e38 else "done") for run in runs}
    assert len(result.failures) == 6 and len(lines) == 8
    assert all(line.startswith("[") and "/8] " in line for line in lines)
    data = np.load(tmp_path / "one_hot.npy")
    for run, row in zip(runs, result.rows):
        if row["status"] == "done":
            expected = bmsample.fit(data, run.config)
            assert_same_model(tmp_path / "out" / run.name / "model.npz", expected.model)
            last = expected.history[-1]
            assert (row["updates"], row["magnetisation_rmse"]) == (3, last["magnetisation_rmse"])
            assert row["message"] == ""
        elif row["status"] == "diverged":
            diverged_at = re.match(r"training diverged at update (\d+) \(epoch \d+\): ", row["message"])
            assert row["updates"] == int(diverged_at.group(1)) - 1  # the last update logged before
        else:
            assert row["message"] == "ValueError: batch_size: 100 is larger than the 40 samples"
            assert row["updates"] is None
    table = read_csv(tmp_path / "out" / "summary.csv")
    assert [row["run"] for row in table] == [row["run"] for row in result.rows]
    assert table[0]["seed"] == str(runs[0].config.seed) and table[0]["k"] == "1"
    document = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert document["keys"] == ["k", "learning_rate", "batch_size"] and document["runs"] == result.rows


def test_restart_skips_finished_runs_and_resumes_the_rest(tmp_path, cluster):
    out = tmp_path / "out"
    first = sweep.run_sweep(spec(tmp_path, grid={"k": [1, 2, 3]}), out, scheduler=cluster)
    assert [row["status"] for row in first.rows] == ["done"] * 3
    uninterrupted = bmsample.load_model(out / "k=2" / "model.npz")
    (out / "k=2" / "model.npz").unlink()  # as if interrupted after its checkpoint at update 2
    (out / "k=2" / "checkpoints" / "update_00000003.npz").unlink()
    finished = {name: os.stat(out / name / "model.npz").st_mtime_ns for name in ("k=1", "k=3")}
    second = sweep.run_sweep(spec(tmp_path, grid={"k": [1, 2, 3, 4]}), out, scheduler=cluster)
    assert [row["status"] for row in second.rows] == ["skipped", "done", "skipped", "done"]
    assert {name: os.stat(out / name / "model.npz").st_mtime_ns for name in finished} == finished
    assert [row["magnetisation_rmse"] for row in second.rows[:3]] == [row["magnetisation_rmse"] for row in first.rows]
    assert (out / "k=2" / "checkpoints" / "update_00000003.npz").is_file()
    assert_same_model(out / "k=2" / "model.npz", uninterrupted)
    assert len(read_csv(out / "summary.csv")) == 4


def test_a_run_another_process_trains_is_reported_busy_and_the_others_go_on(tmp_path, cluster):
    from bmsample.training.rundir import RunLock

    out = tmp_path / "out"
    (out / "k=2").mkdir(parents=True)
    holder = RunLock(out / "k=2")  # as if a second sweep (or a fit) were training it now
    try:
        result = sweep.run_sweep(spec(tmp_path, grid={"k": [1, 2]}), out, scheduler=cluster)
    finally:
        holder.release()
    assert [row["status"] for row in result.rows] == ["done", "busy"]
    assert result.rows[1]["message"].startswith(f"out: {(out / 'k=2').resolve()} is in use: process {os.getpid()} on ")
    assert result.failures == [result.rows[1]]
    assert not (out / "k=2" / "config.json").exists()


def test_changed_settings_are_refused_before_anything_runs(tmp_path, cluster):
    out = tmp_path / "out"
    sweep.run_sweep(spec(tmp_path, grid={"k": [1]}), out, scheduler=cluster)
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    changed = spec(tmp_path, grid={"k": [1, 2]})
    changed["fit"]["num_hiddens"] = 5
    with pytest.raises(ValueError, match=r"k=1 holds a run of other settings \(num_hiddens 4, not 5\)"):
        sweep.run_sweep(changed, out, scheduler=cluster)
    other_data = {**spec(tmp_path, grid={"k": [1]}), "data": "digits"}
    with pytest.raises(ValueError, match="holds a sweep on data"):
        sweep.run_sweep(other_data, out, scheduler=cluster)
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before


def test_workers_and_threads_are_checked(tmp_path, cluster):
    with pytest.raises(ValueError, match="workers: sizes the local cluster"):
        sweep.run_sweep(spec(tmp_path, grid={"k": [1]}), tmp_path / "out", scheduler=cluster, workers=2)
    with pytest.raises(ValueError, match="threads_per_run: expected an integer >= 1"):
        sweep.run_sweep(spec(tmp_path, grid={"k": [1]}), tmp_path / "out", threads_per_run=0)
    with pytest.raises(ValueError, match="out: give the sweep folder"):
        sweep.run_sweep(spec(tmp_path, grid={"k": [1]}))
    assert not (tmp_path / "out").exists()


# Command line


def write_config(tmp_path, grid='k = [1, 2]'):
    one_hot_data(tmp_path)
    path = tmp_path / "scan.toml"
    path.write_text('data = "one_hot.npy"\nsweep_seed = 3\n\n[fit]\nnum_hiddens = 4\nbatch_size = 10\n'
                    f'updates = 3\n\n[grid]\n{grid}\n')
    return path


def invoke(args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_dry_run_lists_runs_and_writes_nothing(tmp_path):
    result = invoke(["sweep", write_config(tmp_path), "--out", tmp_path / "out", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("k=1  seed ") and lines[0].endswith("to train")
    assert lines[-1] == f"2 runs in {tmp_path / 'out'}: 2 to train, 0 finished"
    assert not (tmp_path / "out").exists()


def test_cli_runs_on_a_local_cluster_then_skips(tmp_path):
    config, out = write_config(tmp_path), tmp_path / "out"
    result = invoke(["sweep", config, "--out", out, "--workers", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-4].split() == ["run", "status", "updates", "seconds", "magnetisation_rmse", "message"]
    assert [line.split()[:3] for line in lines[-3:-1]] == [["k=1", "done", "3"], ["k=2", "done", "3"]]
    assert lines[-1] == f"wrote {out / 'summary.csv'}"
    assert [row["status"] for row in read_csv(out / "summary.csv")] == ["done", "done"]
    again = invoke(["sweep", config, "--out", out, "--dry-run"])
    assert again.output.splitlines()[-1].endswith("0 to train, 2 finished")


def test_cli_exits_1_naming_the_failed_runs(tmp_path, cluster):
    config = write_config(tmp_path, grid="learning_rate = [0.1, 1e38]")
    result = invoke(["sweep", config, "--out", tmp_path / "out", "--scheduler", cluster])
    assert result.exit_code == 1
    assert f"error: 1 of 2 runs diverged, failed or were busy; see {tmp_path / 'out' / 'summary.csv'}" in result.output


@pytest.mark.parametrize("body, message", [
    ("[grid]\nk = [1]\n", "error: data: missing"),
    ('data = "digits"\n[grid]\nk = []\n', "error: grid.k: expected a non-empty list"),
    ('data = "digits"\n[grid\n', "error: sweep:"),
])
def test_cli_bad_config_is_one_line_error(tmp_path, body, message):
    config = tmp_path / "bad.toml"
    config.write_text(body)
    result = invoke(["sweep", config, "--out", tmp_path / "out"])
    assert result.exit_code == 2
    assert result.output.startswith(message) and result.output.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_readme_sweep_example_expands_to_the_k_by_seed_scan(tmp_path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    text = readme.split("## Sweeps", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "k-scan.toml").write_text(text)
    plan = sweep.plan_sweep(tmp_path / "k-scan.toml", tmp_path / "out")
    assert [run.name for run in plan.sweep.runs] == [f"k={k},seed={s}" for k in PAPER_GRID["k"] for s in (0, 1, 2)]
    assert {run.config.epochs for run in plan.sweep.runs} == {30} and len(plan.pending) == 18
    runs_example = {"data": "digits", "runs": [{"scheme": "rdm"}, {"scheme": "cd"}], "grid": {"seed": [0, 1, 2]}}
    assert len(sweep.expand_sweep(runs_example).runs) == 6
