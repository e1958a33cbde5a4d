"""The import structure of gausslab.diffusion: one-way imports, no private cross-module calls.

Two independent checks: (1) the static graph of every import statement in the package's
source (module level, inside functions and under TYPE_CHECKING alike) has no cycle, and no
module reaches into another's private names; (2) importing gausslab.diffusion in a fresh
interpreter with an import hook never asks for a module that is still initializing (the
runtime symptom of a cycle), apart from a package's own submodules during its __init__.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import gausslab.diffusion

PACKAGE = "gausslab.diffusion"
ROOT = Path(gausslab.diffusion.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imported_modules(name: str, tree: ast.AST) -> set[str]:
    """The gausslab.diffusion modules named by the import statements of one module."""
    is_package = MODULES[name].name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            # `from package import submodule` names the submodule, not the package
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: imported_modules(name, ast.parse(p.read_text())) for name, p in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph as a list of nodes, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_static_import_graph_has_no_cycle():
    """Every import statement, wherever it sits, points down the layers."""
    assert set(GRAPH) >= {f"{PACKAGE}.process", f"{PACKAGE}.samplers.base", PACKAGE}
    assert f"{PACKAGE}.process" in GRAPH[f"{PACKAGE}.vlb"]  # the walk sees real edges
    assert find_cycle(GRAPH) is None, find_cycle(GRAPH)


def test_no_module_uses_another_modules_private_names():
    """No `from x import _name`, and no `obj._name` on anything but self / cls: modules talk
    through public names only."""
    offences = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gausslab"):
                offences += [
                    f"{name}: from {node.module} import {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
            elif (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                offences.append(f"{name}:{node.lineno}: .{node.attr}")
    assert offences == []


HOOK = """
import builtins, json, sys

real_import = builtins.__import__
entered_while_initializing = []


def initializing(name):
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and bool(getattr(spec, "_initializing", False))


def hooked(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    absolute = name
    if level:
        package = (globals or {}).get("__package__") or ""
        anchor = package.rsplit(".", level - 1)[0]
        absolute = f"{anchor}.{name}" if name else anchor
    targets = [absolute] + [f"{absolute}.{item}" for item in fromlist or () if item != "*"]
    for target in targets:
        own_package = importer == target or importer.startswith(target + ".")
        if target.startswith("gausslab") and initializing(target) and not own_package:
            entered_while_initializing.append((importer, target))
    return real_import(name, globals, locals, fromlist, level)


builtins.__import__ = hooked
import gausslab.diffusion  # noqa: E402
import importlib, pkgutil  # noqa: E401, E402

for info in pkgutil.walk_packages(gausslab.diffusion.__path__, "gausslab.diffusion."):
    importlib.import_module(info.name)  # modules the package itself does not import
builtins.__import__ = real_import
loaded = sorted(m for m in sys.modules if m.startswith("gausslab.diffusion"))
print(json.dumps({"bad": entered_while_initializing, "loaded": loaded}))
"""


def test_importing_the_package_never_reenters_a_module_that_is_initializing():
    """A fresh `import gausslab.diffusion` (then of every submodule it does not load itself):
    no module is asked for while it is still running its own imports (other than a package
    handing out its submodules)."""
    result = subprocess.run(
        [sys.executable, "-c", HOOK], capture_output=True, text=True, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["bad"] == []
    assert set(report["loaded"]) == set(MODULES)


def test_the_hook_sees_a_real_cycle(tmp_path):
    """The runtime check is not vacuous: two modules importing each other are reported."""
    package = tmp_path / "gausslab_cycle_probe"
    package.mkdir()
    (package / "__init__.py").write_text("from gausslab_cycle_probe import a\n")
    (package / "a.py").write_text("from gausslab_cycle_probe import b\n")
    (package / "b.py").write_text("import gausslab_cycle_probe.a\n")
    probe = HOOK.replace("gausslab.diffusion", "gausslab_cycle_probe").replace(
        'target.startswith("gausslab")', 'target.startswith("gausslab_cycle_probe")'
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert ["gausslab_cycle_probe.b", "gausslab_cycle_probe.a"] in report["bad"]
