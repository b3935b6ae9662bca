"""Helpers every report shares: settings, seeds, the output folder, JSON and Markdown pieces."""

import json
import math
import warnings
from pathlib import Path

import numpy as np

from ..._validation import check_choice
from ..._version import __version__
from ...io import atomic_write
from ...training import SCHEMES

_LABELS = {"rdm": "Rdm", "cd": "CD", "pcd": "PCD"}
_COLOURS = {"rdm": "tab:red", "cd": "tab:green", "pcd": "tab:blue"}



def _resolve(name, defaults, quick_overrides, quick, given):
    """Defaults, then the quick overrides (``quick``), then the caller's settings; unknown names refused."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: unknown setting(s) of report_{name}; "
                         f"known: {', '.join(sorted(defaults))}")
    settings = dict(defaults)
    if quick:
        settings.update(quick_overrides)
    settings.update(given)
    return settings


def _check_schemes(values):
    if isinstance(values, str):
        values = [values]
    checked = [check_choice(v, "schemes", SCHEMES) for v in values]
    if not checked or len(set(checked)) != len(checked):
        raise ValueError(f"schemes: expected distinct names among {', '.join(SCHEMES)}, got {values!r}")
    return [s for s in SCHEMES if s in checked]


def _prepare_out(out, overwrite=False):
    """``out`` as a Path; refuse a file, or a non-empty directory unless ``overwrite`` (nothing is created here)."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise ValueError(f"out: {out} exists and is not a directory")
        if any(out.iterdir()) and not overwrite:
            raise ValueError(f"out: {out} exists and is not empty; pass --overwrite to replace it")
    return out


def _seeds(seed, count):
    """``count`` independent integer seeds derived from ``seed``."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count)]


def _announcer(progress, name):
    def say(message):
        if progress is not None:
            progress(f"{name}: {message}")
    return say


def _fit_progress(say, label):
    """A ``fit`` progress callback that reports every 10 % of the run."""
    def callback(record):
        if record.get("live"):
            return
        total = record.get("total_updates") or 0
        if total >= 10 and record["update"] % max(1, total // 10) == 0 and record["update"] < total:
            say(f"{label}: update {record['update']}/{total}")
    return callback


def _jsonable(x):
    """Plain JSON types; NaN and inf become None."""
    if isinstance(x, dict):
        return {str(key): _jsonable(value) for key, value in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(value) for value in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    return x


def _write_json(path, results):
    text = json.dumps(_jsonable(results), indent=1, allow_nan=False) + "\n"
    atomic_write(path, lambda handle: handle.write(text.encode()))


def _write_text(path, text):
    atomic_write(path, lambda handle: handle.write(text.encode()))


def _fmt(x, digits=4):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"


def _table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _settings_table(settings):
    def show(value):
        if isinstance(value, (list, tuple)):
            return ", ".join(_fmt(v) for v in value)
        return "default" if value is None else _fmt(value, 6)
    return _table(["setting", "value"], [[f"`{key}`", show(value)] for key, value in settings.items()])


def _header(title, name, seed, quick, seconds, intro):
    call = f"bmsample.tools.reports.report_{name}(out, seed={seed}{', quick=True' if quick else ''}, ...)"
    return [f"# {title}", "",
            f"bmsample {__version__}; seed {seed}; {'quick (tiny) settings; ' if quick else ''}"
            f"wall time {seconds:.1f} s. Made by `{call}`; every number is in `results.json`.", "",
            intro, ""]


def _warnings_section(messages):
    if not messages:
        return []
    return ["## Warnings raised during the run", ""] + [f"- {m}" for m in messages] + [""]


class _Capture:
    """Record (deduplicated) warning messages raised inside the block."""

    def __enter__(self):
        self._context = warnings.catch_warnings(record=True)
        self._records = self._context.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._context.__exit__(*exc)
        return False

    @property
    def messages(self):
        seen = []
        for record in self._records:
            text = f"{record.category.__name__}: {record.message}"
            if text not in seen:
                seen.append(text)
        return seen


def _merge(*captures):
    merged = []
    for capture in captures:
        merged += [m for m in capture.messages if m not in merged]
    return merged


def _label(scheme, k):
    return f"{_LABELS[scheme]}-{k}"


def _shown_times(times):
    """Log axes: t = 0 is drawn at 0.5."""
    shown = np.asarray(times, dtype=float)
    shown[shown == 0] = 0.5
    return shown
