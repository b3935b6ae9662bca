"""The README's commands and Python example run as written."""

import contextlib
import io
import re
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from bmsample.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def setup_commands():
    section = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ")]


def test_readme_opens_with_the_two_setup_commands_and_ci_runs_the_test_one():
    commands = setup_commands()
    assert len(commands) == 2
    assert commands[0].endswith("bmsample fit mnist --out runs/mnist")
    assert commands[1].endswith("pytest")
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line and not line.startswith("#")]
    assert ci_lines[-1] == commands[1]


def test_main_job_runs_on_the_bundled_default(tmp_path):
    out = tmp_path / "runs" / "mnist"
    result = CliRunner().invoke(main, ["fit", "mnist", "--out", str(out), "--updates", "3", "--hidden", "16",
                                       "--quiet", "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert (out / "model.npz").is_file()


def test_python_example(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    assert len(code.strip().splitlines()) <= 12
    monkeypatch.chdir(tmp_path)
    namespace, printed = {}, io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), namespace)
    assert printed.getvalue().split() == ["(500,", "64)", "10", "uniform"]
    later = namespace["later"]
    assert later.times == [10, 100, 1000] and later.recorded.shape == (3, 500, 64)
    assert set(np.unique(later.recorded)) <= {0, 1}


def test_every_subpackage_is_listed_for_installation():
    """A non-editable install ships only the packages pyproject.toml names."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(("bmsample", *p.parent.relative_to(ROOT / "bmsample").parts))
             for p in (ROOT / "bmsample").rglob("__init__.py")}
    assert "bmsample.gaussian" in found and found <= listed
