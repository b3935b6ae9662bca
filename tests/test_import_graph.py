"""No module of the package imports itself back through others, also through imports inside functions.

The sample/device/train modules of a family once imported each other in circles (the device code needing
helpers of the sampler, the sampler importing the device code when a GPU runs); the helpers they share now
live below both (``model``, ``_cpu``, ``gaussian.stability``).
"""

import ast
from pathlib import Path

import bmsample

PACKAGE = Path(bmsample.__file__).parent
SOURCE = Path(__file__).resolve().parents[1]  # the checkout: pyproject.toml, bmsample/, cli/, data/


def _modules():
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name, path, modules):
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found = candidate if candidate in modules else target
                if found in modules and found != name:
                    yield found


def _cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_the_package_has_no_import_cycles():
    modules = _modules()
    graph = {name: set(_imports(name, path, modules)) for name, path in modules.items()}
    assert "bmsample.rbm.device" in graph["bmsample.rbm.sample"]  # imports inside functions are edges too
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_imports_no_tool():
    """Reports, sweeps, bench and plots (``bmsample.tools``) sit on the core; only the CLI and users import them.

    Installed from a wheel the CLI is ``bmsample.cli`` inside the package; it is no core module either.
    """
    modules = _modules()
    tools = {name for name in modules if name.startswith("bmsample.tools")}
    assert {"bmsample.tools.bench", "bmsample.tools.reports.rbm"} <= tools
    core = {name for name in modules if name not in tools and not name.startswith("bmsample.cli")}
    assert {"bmsample.training.loop", "bmsample.rbm.sample"} <= core
    importers = {name: sorted(set(_imports(name, modules[name], modules)) & tools) for name in core}
    assert {name: found for name, found in importers.items() if found} == {}


def test_every_package_is_installed():
    """Each sub-package of the source tree is listed in pyproject.toml (a wheel would drop the others).

    Read from the checkout, not from the installed package: a wheel install has no pyproject.toml beside it.
    """
    import re

    text = (SOURCE / "pyproject.toml").read_text()
    listed = set(re.findall(r'"([\w.]+)"', re.search(r"^packages = \[(.*?)\]", text, re.S | re.M).group(1)))
    packages = {".".join(path.parent.relative_to(SOURCE).parts) for path in (SOURCE / "bmsample").rglob("__init__.py")}
    assert "bmsample.training" in packages
    assert packages - listed == set()


def test_every_relative_import_names_a_module_of_the_package():
    """Also those inside functions, which only run on some paths (a moved module's ``from .x`` breaks there)."""
    modules = _modules()
    broken = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                if target not in modules and not all(f"{target}.{a.name}" in modules for a in node.names):
                    broken.append(f"{name}: from {'.' * node.level}{node.module or ''}")
    assert broken == []
