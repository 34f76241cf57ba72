"""Seed the demo departments' legacy sources and load them (``govshare demo seed``).

For every adapter file of a demo department, generate its source where the file points -
unless it is already there - and run the adapter once, so the demo centre holds the
records and the quarantine shows the dirt::

    seed_sources(sessions, settings)
      gaj-household: generated 2000 rows (190 with dirt) at sqlite:///var/demo/gaj-legacy.db; run #1 succeeded
                     read 2000 = loaded 1944 + unchanged 0 + quarantined 36 + filtered 20
      mzj-marriage: ...

The runs are full runs: they read every row (and detect deletes), whatever the adapter's
change tracking. Sources already present are left as they are (seeding twice changes nothing
in them); a
source that cannot be reached (a MariaDB URL in the environment, the server down) is reported
and skipped, never fatal to the rest of the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from registry.settings import Settings

from ..config import AdapterConfig, AdapterConfigError, load_adapter
from ..demo_sources import generate_household_registry
from ..pipeline import run_adapter
from .civil_affairs import generate_marriage_registry
from .common import Manifest
from .market_regulation import generate_enterprise_registry
from .natural_resources import generate_address_points, generate_parcels
from .statistics import generate_indicator_workbook

DEPARTMENTS = Path(__file__).resolve().parent.parent / "departments"
#: 公安局's registry: its size and seed are also the people 民政局's registry shares
GAJ_ROWS, GAJ_SEED = 2000, 7


@dataclass(frozen=True)
class DemoSource:
    """The generator of one adapter's source: ``generate(url or path, rows)``."""

    adapter: str
    rows: int
    generate: Callable[[str, int], Manifest]


DEMO_SOURCES = (
    DemoSource("gaj-household", GAJ_ROWS, lambda url, n: generate_household_registry(url, n, seed=GAJ_SEED)),
    DemoSource("mzj-marriage", 1500, lambda url, n: generate_marriage_registry(
        url, n, seed=3, people_seed=GAJ_SEED, people=GAJ_ROWS)),
    DemoSource("scjgj-enterprise", 1000, lambda url, n: generate_enterprise_registry(url, n, seed=5)),
    DemoSource("tjj-indicators", 1000, lambda path, n: generate_indicator_workbook(path, n, seed=11)),
    DemoSource("zrzyj-parcels", 500, lambda url, n: generate_parcels(url, n, seed=13)),
    DemoSource("zrzyj-address-points", 1000, lambda url, n: generate_address_points(url, n, seed=17)),
)


def seed_sources(sessions: sessionmaker[Session], settings: Settings, *, folder: Path = DEPARTMENTS,
                 scale: float = 1.0, echo: Callable[[str], None] = print) -> dict[str, str]:
    """Generate each missing demo source and run its adapter once; adapter name -> outcome line.

    ``scale`` multiplies the number of rows (tests seed a tenth of the demo).
    """
    outcomes: dict[str, str] = {}
    for source in DEMO_SOURCES:
        try:
            config = load_adapter(folder / f"{source.adapter}.toml")
        except AdapterConfigError as exc:
            outcomes[source.adapter] = f"not seeded: {exc}"
            echo(f"  {source.adapter}: {outcomes[source.adapter]}")
            continue
        try:
            made = _generate(config, source, max(1, round(source.rows * scale)))
            run = run_adapter(sessions, settings, config, full=True)
        except (SQLAlchemyError, OSError, RuntimeError) as exc:
            outcomes[source.adapter] = f"failed: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        else:
            outcomes[source.adapter] = (f"{made}run #{run.id} {run.status}  read {run.read} = loaded {run.loaded} + "
                                        f"unchanged {run.unchanged} + quarantined {run.quarantined} + filtered "
                                        f"{run.filtered}")
        echo(f"  {source.adapter}: {outcomes[source.adapter]}")
    return outcomes


def _generate(config: AdapterConfig, source: DemoSource, rows: int) -> str:
    """Generate the source unless it is there; what was made, for the outcome line."""
    where = config.source
    if where.kind == "database":
        assert where.url is not None and where.table is not None
        if _has_table(where.url, where.table):
            return ""
        manifest = source.generate(where.url, rows)
    else:
        assert where.path is not None
        if where.path.exists():
            return ""
        manifest = source.generate(str(where.path), rows)
    return f"generated {manifest.rows} rows ({sum(manifest.counts.values())} with dirt) at {manifest.url}; "


def _has_table(url: str, table: str) -> bool:
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return False  # do not let SQLite create an empty file (or fail on a missing folder) just to look
    engine = create_engine(url)
    try:
        return inspect(engine).has_table(table)
    finally:
        engine.dispose()
