"""The client as a department installs it: its own distribution (client/pyproject.toml) built into a
wheel and installed into a fresh virtualenv that holds nothing else - not the platform, not its
test tools - so a test that drives ``govshare-client`` from there shows what a department gets.

Nothing is downloaded: the wheel is built with this environment's setuptools (``--no-build-isolation``),
and the client's declared dependencies (its wheel's ``Requires-Dist``, followed through theirs)
are lent from this environment, each distribution's own files linked into one folder that the
new environment reads through a ``.pth`` file.  A module the client imports without declaring
its distribution is then missing there, as it would be at a department.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement  # pytest's own dependency

ROOT = Path(__file__).parents[2]


@dataclass(frozen=True)
class Installed:
    """A fresh virtualenv with only the client (and what it declares) installed."""

    folder: Path
    wheel: Path

    @property
    def python(self) -> Path:
        return self.folder / "bin" / "python"

    @property
    def command(self) -> Path:
        return self.folder / "bin" / "govshare-client"


def build_wheel(into: Path) -> Path:
    """The client's wheel, built from a copy of client/ (the checkout stays as it is)."""
    source = into / "src"
    shutil.copytree(ROOT / "client", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-build-isolation", "--no-deps",
                            "--no-index", "--wheel-dir", str(into / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (into / "dist").glob("govshare_client-*.whl")
    return wheel


def _requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode()
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]


def _name(requirement: str) -> str | None:
    """A requirement's distribution, or None when its marker leaves it out here (an extra, another platform)."""
    parsed = Requirement(requirement)
    return parsed.name if parsed.marker is None or parsed.marker.evaluate({"extra": ""}) else None


def _closure(requirements: list[str]) -> list[metadata.Distribution]:
    """The distributions of ``requirements`` in this environment, and theirs, once each."""
    found: dict[str, metadata.Distribution] = {}
    todo = [n for n in map(_name, requirements) if n]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a conditional dependency this Python does not need
        found[key] = dist
        todo.extend(n for n in map(_name, dist.requires or []) if n)
    return list(found.values())


def _lend(dists: list[metadata.Distribution], folder: Path) -> None:
    """Link each distribution's top-level files (its packages, modules and .dist-info) into ``folder``."""
    folder.mkdir()
    for dist in dists:
        site = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or () if not str(f).startswith("..")}
        for top in tops:
            target = folder / top
            if not target.exists() and (site / top).exists():
                target.symlink_to(site / top)


def install(into: Path) -> Installed:
    """Build the wheel, make a virtualenv without pip or anything else, and install the wheel into it."""
    wheel = build_wheel(into)
    venv = into / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], capture_output=True,
                          text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    lent = into / "lent"
    _lend(_closure(_requires(wheel)), lent)
    [site] = (venv / "lib").glob("python3*/site-packages")
    (site / "lent-dependencies.pth").write_text(f"{lent}\n", encoding="utf-8")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                                "--quiet", "--no-index", "--no-build-isolation", str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return Installed(venv, wheel)
