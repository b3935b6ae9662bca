"""Files written before the family-interface redesign still load and resume.

``tests/data/schema1_runs`` holds run directories (schema 1) that the package wrote at commit 71adb7c, before
the sampling driver, the family interface and the training package (``tests/data/make_schema1_runs.py``, run
with that version): each case's ``config.json``, ``log.jsonl``, its checkpoint at update 5 and its final
``model.npz``.  Resuming from the old checkpoint with today's code must end on the old final model, bit for bit.
"""

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

import bmsample

DATA = Path(__file__).parent / "data"
RUNS = DATA / "schema1_runs"
_spec = importlib.util.spec_from_file_location("make_schema1_runs", DATA / "make_schema1_runs.py")
maker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(maker)


@pytest.mark.parametrize("name", sorted(maker.CASES))
def test_an_old_model_file_loads_with_its_process(name):
    settings = {**maker.COMMON, **maker.CASES[name]}
    model = bmsample.load_model(RUNS / name / "model.npz")
    family = bmsample.families.of_model(model)
    assert family.name == settings["model"]
    assert model.dtype == np.float64
    assert model.process["scheme"] == settings["scheme"] and model.process["k"] == settings["k"]
    assert model.process["total_updates"] == settings["updates"]


@pytest.mark.parametrize("name", sorted(maker.CASES))
def test_an_old_run_resumes_from_its_checkpoint_to_the_old_final_model(name, tmp_path):
    settings = {**maker.COMMON, **maker.CASES[name]}
    run = tmp_path / name
    shutil.copytree(RUNS / name, run)
    old_final = bmsample.load_model(run / "model.npz")
    (run / "model.npz").unlink()  # an unfinished run: its last checkpoint is update 5
    result = bmsample.fit(maker.case_data(settings["model"]), out=run, resume=True, checkpoint_interval=1e9,
                          **settings)
    assert result.resumed_from == 5
    new, old = result.model.to_arrays(), old_final.to_arrays()
    assert new.keys() == old.keys()
    for key, array in old.items():
        assert np.array_equal(new[key], array), key
