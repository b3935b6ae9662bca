"""The README's commands and Python example run as written."""

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

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


#: Settings the README test adds to a quoted command, as the README says, to stay within CI's time.
SMALL_SETTINGS = {"bmsample fit mnist --out runs/mnist": ["--updates", "300", "--quiet"]}


def console_blocks():
    """(command, output lines, exit code) of every ``$ command`` in the README's ```console blocks."""
    runs = []
    for block in re.findall(r"```console\n(.*?)```", README, re.S):
        for line in block.splitlines():
            if line == "$ echo $?":
                runs[-1][2] = None  # the next line is the exit code
            elif line.startswith("$ "):
                runs.append([line[2:], [], 0])
            elif runs[-1][2] is None:
                runs[-1][2] = int(line)
            else:
                runs[-1][1].append(line)
    return [tuple(run) for run in runs]


def test_readme_quotes_its_commands_in_console_blocks():
    commands = [command for command, _, _ in console_blocks()]
    assert any(c.startswith("bmsample eval runs/mnist/model.npz") for c in commands)
    assert any("--sampler random-site" in c for c in commands)
    assert all(output for _, output, _ in console_blocks())


@pytest.mark.readme
def test_every_quoted_command_exits_as_shown_with_its_key_line(tmp_path):
    """Each command runs as written (after the main job, which it needs, in a shortened form), in one folder.

    The key line is the first line of the quoted output: it must appear exactly (the eval table's numbers
    come from the full-length run; here its rows, its columns and the ``<- k`` mark are checked).
    """
    setup = setup_commands()[0].split("&& ")[-1]
    main_job = run_cli(*setup.split()[1:], *SMALL_SETTINGS[setup], cwd=tmp_path, timeout=900)
    assert main_job.returncode == 0, main_job.stderr
    for command, output, code in console_blocks():
        args = command.split()[1:] + SMALL_SETTINGS.get(command, [])
        proc = run_cli(*args, cwd=tmp_path, timeout=900)
        shown = (proc.stdout + proc.stderr).splitlines()
        assert proc.returncode == code, f"{command}: {proc.stderr}"
        assert output[0] in shown, f"{command}: {shown[:3]}"
        if output[0].startswith("bernoulli_rbm, k = 10"):
            table = shown[shown.index(output[0]) + 1:]
            assert table[0] == output[1]  # the columns
            times = [row.split()[0] for row in output[2:] if row.split()[0].isdigit()]
            rows = table[1:1 + len(times)]
            assert [row.split()[0] for row in rows] == times
            assert rows[times.index("10")].endswith("<- k") and len(rows[0].split()) == len(output[2].split())
