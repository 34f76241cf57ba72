"""The packages depend one way only, lowest first (README, "Map of the folders"):

    registry <- trust <- xsd, wsdl <- directory <- governance <- exchange <- adapters <- portal, server.py, federation,
    operations

and ``client`` (the department's library) imports none of them; ``node`` (a department's
front-end node) imports ``client``, ``xsd`` and the adapters' reading side only.  Every ``import`` in the
platform's code - at the top of a module or inside a function - is read from the source, so
a lazy import cannot hide an upward dependency.

The adapters' reading side runs at a department's node too, without the centre: importing it
loads nothing of the exchange or above, directly or through the packages beneath it (checked
by importing it, in a fresh interpreter)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [("registry",), ("trust",), ("xsd", "wsdl"), ("directory",), ("governance",), ("exchange",), ("adapters",),
          ("portal", "server", "federation", "operations")]
LEVEL = {package: level for level, packages in enumerate(LAYERS) for package in packages}
CLIENT_MAY_IMPORT: set[str] = set()
#: the adapters' modules a department's node runs (read, map, clean, validate), and what they must not load
READING_SIDE = ["adapters.reading", "adapters.mapping", "adapters.cleaning", "adapters.sources", "adapters.config",
                "adapters.codes"]
CENTRE = {"exchange", "governance", "directory", "portal", "server", "operations"}


def _package_of(module: str) -> str:
    return module.split(".", 1)[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every import in ``path``, relative ones resolved."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            else:
                found.append((node.lineno, node.module))
    return found


def _sources(top: str) -> list[Path]:
    return [ROOT / "server.py"] if top == "server" else sorted((ROOT / top).rglob("*.py"))


def _edges() -> dict[str, list[str]]:
    """package -> ["imported package (file:line)", ...] for imports between the platform's packages."""
    edges: dict[str, list[str]] = defaultdict(list)
    for top in [*LEVEL, "client", "node"]:
        for path in _sources(top):
            for line, imported in _imports(path):
                target = _package_of(imported)
                if target != top and target in {*LEVEL, "client", "node"}:
                    edges[top].append(f"{target} ({path.relative_to(ROOT)}:{line})")
    return edges


def test_no_package_imports_one_above_it():
    upward = [f"{package} -> {edge}" for package, targets in _edges().items() if package in LEVEL
              for edge in targets if LEVEL.get(edge.split(" ", 1)[0], -1) > LEVEL[package]]
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def test_packages_of_one_layer_do_not_import_each_other_both_ways():
    pairs = {(package, edge.split(" ", 1)[0]) for package, targets in _edges().items() for edge in targets}
    cycles = sorted(f"{a} <-> {b}" for a, b in pairs if (b, a) in pairs and a < b)
    assert not cycles, "packages that import each other: " + ", ".join(cycles)


def test_the_client_library_imports_nothing_of_the_platform():
    assert _edges().get("client", []) == []


@pytest.mark.parametrize("package", sorted(LEVEL))
def test_every_package_is_placed_in_a_layer(package):
    assert (ROOT / package).is_dir() or (ROOT / f"{package}.py").is_file()
    tops = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name not in ("tests", "bench")}
    assert tops <= {*LEVEL, "client", "node"}, f"a package with no layer: {sorted(tops - {*LEVEL, 'client', 'node'})}"


def test_the_node_imports_only_the_client_the_formats_and_the_adapters_reading_side():
    def allowed(module: str) -> bool:
        return _package_of(module) in {"client", "xsd"} or module in READING_SIDE

    found = []
    for path in _sources("node"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                # ``from adapters import reading`` imports the module adapters.reading
                modules = [node.module if allowed(node.module) else f"{node.module}.{alias.name}"
                           for alias in node.names]
            else:
                continue
            found += [f"{module} ({path.relative_to(ROOT)}:{node.lineno})" for module in modules
                      if _package_of(module) in {*LEVEL, "client"} and not allowed(module)]
    assert not found, "the node imports beyond the client, xsd and the adapters' reading side: " + ", ".join(found)


@pytest.mark.parametrize("module", READING_SIDE)
def test_the_adapters_reading_side_loads_nothing_of_the_centre(module):
    probe = (f"import json, sys, {module}; "
             f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(CENTRE)!r})))")
    ran = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == [], f"importing {module} loads the centre's modules"
