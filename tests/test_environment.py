"""What a container or a cluster node imposes: a read-only home and install, no Numba cache to write."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import NEUTRAL_CWD, permission_bound_preexec

import bmsample
import bmsample.cli
from bmsample.cli.main import COMPILE_NOTICE


def _read_only_copy(site):
    """The package as an install nobody may write to: bmsample/ with cli/ and data/ inside, no caches."""
    package = Path(bmsample.__file__).parent
    target = site / "bmsample"
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in (("cli", Path(bmsample.cli.__file__).parent), ("data", package.parent / "data")):
        if not (target / name).is_dir():  # an editable install maps them from the top level
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    for path in [site, *site.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture(scope="module")
def read_only(tmp_path_factory):
    """run(*argv) -> CompletedProcess: Python with a read-only home and bmsample install, TMPDIR writable."""
    root = tmp_path_factory.mktemp("read-only")
    site, home, temporary = root / "site", root / "home", root / "tmp"
    site.mkdir()
    _read_only_copy(site)
    home.mkdir(mode=0o555)
    temporary.mkdir()
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("NUMBA_CACHE", "XDG_"))}
    environment.update(HOME=str(home), TMPDIR=str(temporary), PYTHONPATH=str(site))
    preexec = permission_bound_preexec()
    probe = subprocess.run(["sh", "-c", f"touch {site}/probe"], preexec_fn=preexec, capture_output=True)
    assert probe.returncode != 0, "the copied install is still writable"

    def run(*argv, timeout=300):
        return subprocess.run([sys.executable, *map(str, argv)], capture_output=True, text=True, env=environment,
                              cwd=NEUTRAL_CWD, timeout=timeout, preexec_fn=preexec)

    run.temporary = temporary
    run.site = site
    return run


@pytest.mark.parametrize("command", [["--help"], ["info"], ["datasets"]])
def test_help_info_and_datasets_need_no_kernels_and_no_cache(read_only, command):
    proc = read_only("-m", "bmsample.cli.main", *command)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no cache warning: nothing was even decorated
    code = ("import sys, bmsample.cli.main as m; from click.testing import CliRunner; "
            f"r = CliRunner().invoke(m.main, {command!r}); assert r.exit_code == 0, r.output; "
            "print(sorted(n for n in sys.modules if n == 'numba' or n.endswith('_cpu')))")
    loaded = read_only("-c", code)
    assert loaded.returncode == 0, loaded.stderr
    assert "_cpu" not in loaded.stdout and ("numba" not in loaded.stdout or command == ["info"])


def test_without_a_writable_cache_kernels_cache_in_a_private_temporary_folder(read_only, tmp_path):
    model = bmsample.BernoulliRBM(np.full((4, 3), 0.5), np.zeros(4), np.zeros(3))
    model.process = {"scheme": "rdm", "k": 2, "init": "uniform"}
    bmsample.save_model(tmp_path / "tiny.npz", model)
    out = tmp_path / "samples.npz"
    proc = read_only("-m", "bmsample.cli.main", "sample", tmp_path / "tiny.npz", "--chains", 5, "--seed", 0,
                     "--out", out)
    assert proc.returncode == 0, proc.stderr
    folder = read_only.temporary / f"bmsample-numba-{os.getuid()}"
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: no writable Numba cache (the bmsample install and ~/.cache are read-only); "
                        f"compiled kernels are cached in {folder} (set NUMBA_CACHE_DIR to choose a folder)"]
    assert "Traceback" not in proc.stderr
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert list(folder.rglob("*.nbi")), "nothing was cached"
    with np.load(out, allow_pickle=False) as archive:
        assert archive["visible"].shape == (5, 4)
    assert not list(read_only.site.rglob("__pycache__"))
    assert proc.stderr.count(COMPILE_NOTICE) == 1  # a cold cache says why the first run is slow...
    again = read_only("-m", "bmsample.cli.main", "sample", tmp_path / "tiny.npz", "--chains", 5, "--seed", 0,
                      "--out", tmp_path / "again.npz")
    assert again.returncode == 0 and again.stderr.splitlines() == warnings  # ... and a warm one loads, silently


def test_a_temporary_cache_folder_of_someone_else_is_not_used(tmp_path, monkeypatch):
    """Numba's cache files are pickles: a folder another user could write must not be loaded from."""
    from bmsample import _jit

    monkeypatch.setattr(_jit.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(_jit, "_cache_fallback", None)
    monkeypatch.setattr(_jit.config, "CACHE_DIR", _jit.config.CACHE_DIR)
    monkeypatch.setenv("NUMBA_CACHE_DIR", "")
    folder = _jit.fallback_cache_dir()
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)  # world-writable, as if planted by another user
    with pytest.warns(_jit.CacheWarning, match="kernels are compiled in every run"):
        _jit._use_fallback_cache()
    assert _jit._cache_fallback == ""
