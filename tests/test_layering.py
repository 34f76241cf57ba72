"""The packages depend one way only, lowest first (README, "Map of the folders"):

    registry <- trust <- xsd, wsdl <- directory <- governance <- exchange <- adapters <- portal, server.py

and ``client`` (the department's library) imports none of them.  Every ``import`` in the
platform's code - at the top of a module or inside a function - is read from the source, so
a lazy import cannot hide an upward dependency."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [("registry",), ("trust",), ("xsd", "wsdl"), ("directory",), ("governance",), ("exchange",), ("adapters",),
          ("portal", "server")]
LEVEL = {package: level for level, packages in enumerate(LAYERS) for package in packages}
CLIENT_MAY_IMPORT: set[str] = set()


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
    for top in [*LEVEL, "client"]:
        for path in _sources(top):
            for line, imported in _imports(path):
                target = _package_of(imported)
                if target != top and target in {*LEVEL, "client"}:
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
    assert tops <= {*LEVEL, "client"}, f"a package with no layer: {sorted(tops - {*LEVEL, 'client'})}"
