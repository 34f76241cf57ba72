"""``govshare demo seed`` as the action ``demo.seed``: the demo city, its records, its departments'
legacy sources loaded by their adapters, and its certificates.

The seed runs as the platform's operator (``Caller.platform("cli")``) and leaves one audit entry,
and one more for each adapter run (``sync.run``).  For every adapter file of a demo department,
it generates the source where the file points - unless it is already there - and runs the
adapter once, so the demo centre holds the records and the quarantine shows the dirt::

    seed_sources(ctx)
      gaj-household: generated 2000 rows (190 with dirt) at sqlite:///var/demo/gaj-legacy.db; run #1 succeeded
                     read 2000 = loaded 1944 + unchanged 0 + quarantined 36 + filtered 20
      mzj-marriage: ...

The runs are full runs: they read every row (and detect deletes), whatever the adapter's
change tracking.  Sources already present are left as they are (seeding twice changes nothing
in them).  A source that cannot be generated or reached (a MariaDB URL in the environment,
the server down) is reported, never fatal to the rest of the demo: its run fails and is
listed, with why, among the failed runs in 交换监控.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from directory import demo
from exchange.demo import seed_records
from governance import demo as members
from registry.errors import AdapterConfigError, GovshareError, InvalidInput
from registry.settings import Settings
from trust import console
from trust.actions import Context, action
from trust.demo import DEMO_P12_PASSWORD, seed_certificates

from .. import sync
from ..config import AdapterConfig, load_adapter
from ..demo_services import seed_people
from ..demo_sources import generate_household_registry
from .civil_affairs import generate_marriage_registry
from .common import Manifest
from .district import PORT_OFFSET, seed_district
from .market_regulation import generate_enterprise_registry
from .natural_resources import generate_address_points, generate_parcels
from .node import seed_node
from .statistics import generate_indicator_workbook

DEPARTMENTS = Path(__file__).resolve().parent.parent / "departments"
#: 公安局's registry: its size and seed are also the people 民政局's registry shares
GAJ_ROWS, GAJ_SEED = 2000, 7
#: the adapter 公安局's front-end node runs beside its database, rather than the centre
NODE_ADAPTER = "gaj-household"


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


@dataclass(frozen=True)
class Seeded:
    """What the demo holds after seeding."""

    counts: dict[str, int]  # departments, published resources
    records: dict[str, tuple[int, int]]  # resource -> (records in the core tier, in quarantine)
    sources: dict[str, str]  # adapter -> what seeding its source did
    certificates: int  # issued now
    people: list[str]  # 公民身份号码 the demo 公安局 service knows


@action("demo.seed")
def seed(ctx: Context, *, scale: float = 1.0, echo: Callable[[str], None] = print) -> Seeded:
    """Create whatever part of the demo is missing (each part is idempotent); ``scale`` multiplies
    the rows of the departments' legacy sources, ``echo`` is told each step."""
    if scale <= 0:
        raise InvalidInput(f"scale: {scale} is not a positive number", field="scale", zh="规模必须大于 0。")
    sessions, settings = ctx.sessions, ctx.settings
    counts = members.seed(sessions, settings)
    people = seed_people(demo.household_db(settings))
    legacy = legacy_household_url(settings)
    legacy_file = Path(legacy.removeprefix("sqlite:///")) if legacy.startswith("sqlite:///") else None
    if legacy_file is None or not legacy_file.exists():
        if legacy_file is not None:
            legacy_file.parent.mkdir(parents=True, exist_ok=True)
        manifest = generate_household_registry(legacy, max(1, round(2000 * scale)), seed=7)
        echo(f"  临江市公安局 legacy 户籍 database HJ_RKXX: {manifest.rows} rows at {legacy} "
             f"(dirt: {sum(manifest.counts.values())} rows); 公安局's front-end node reads it (gaj-household)")
    echo("demo data in place: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    records = seed_records(sessions, settings)
    for name, (accepted, quarantined) in records.items():
        echo(f"  {name}: {accepted} records in the core tier, {quarantined} in quarantine")
    issued = seed_certificates(sessions, settings)
    echo(f"  certificates: {issued} issued; keys and PKCS#12 (password {DEMO_P12_PASSWORD}) under "
         f"{settings.var_dir / 'demo' / 'certs'}, CA at {settings.var_dir / 'pki' / 'ca.pem'}")
    node = seed_node(sessions, settings, adapters={NODE_ADAPTER: (DEPARTMENTS / f"{NODE_ADAPTER}.toml", legacy)})
    if node is not None:
        echo(f"  临江市公安局's front-end node (前置交换节点): govshare node run {node}; it runs {NODE_ADAPTER}")
    at_node = (NODE_ADAPTER,) if node is not None else ()
    sources = seed_sources(ctx.again(), scale=scale, echo=echo, at_node=at_node)
    centre = centre_adapters(settings, at_node)
    echo(f"  the centre's adapter files: {centre} (GOVSHARE_ADAPTERS of make demo's server; "
         f"{', '.join(at_node) or 'none'} at a front-end node)")
    district = seed_district(ctx.again(), echo=echo)
    if district is not None:
        echo(f"  临湖区's platform: its settings in {district} (make demo serves it on the city's port + "
             f"{PORT_OFFSET}; its catalogue flows up into the city's)")
    ctx.note(detail=", ".join(f"{v} {k}" for k, v in counts.items()))
    return Seeded(counts, records, sources, issued, [p["idNumber"] for p in people])


def legacy_household_url(settings: Settings) -> str:
    """The demo 公安局 legacy database the gaj-household adapter reads ($GOVSHARE_GAJ_URL)."""
    return os.environ.get("GOVSHARE_GAJ_URL") or f"sqlite:///{settings.var_dir / 'demo' / 'gaj-legacy.db'}"


def command(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    """``govshare demo seed``: seed as the platform's operator, then print the demo's logins."""

    def work() -> None:
        seeded = seed(console.context(sessions, settings))
        demo.print_credentials(settings)
        print("  ID numbers it knows, e.g.: " + ", ".join(seeded.people[:3]))

    return console.run(work)


def centre_adapters(settings: Settings, at_node: Collection[str], folder: Path = DEPARTMENTS) -> Path:
    """The demo centre's adapter folder (``var/demo/adapters``): a link to each of ``folder``'s
    files but those of adapters a front-end node runs, whose files moved to the node - so the
    centre's scheduler leaves them alone.  Made again each time (the repository's files may have
    changed); its path."""
    centre = settings.var_dir / "demo" / "adapters"
    centre.mkdir(parents=True, exist_ok=True)
    for old in centre.glob("*.toml"):
        old.unlink()
    for path in sorted(folder.glob("*.toml")):
        if path.stem not in at_node:
            (centre / path.name).symlink_to(path.resolve())
    return centre


def seed_sources(ctx: Context, *, folder: Path = DEPARTMENTS, scale: float = 1.0,
                 echo: Callable[[str], None] = print, at_node: Collection[str] = ()) -> dict[str, str]:
    """Generate each missing demo source and run its adapter once (``sync.run``, as ``ctx``'s
    caller) unless a department's front-end node runs it (``at_node``); adapter name -> outcome
    line.  ``scale`` multiplies the number of rows (tests seed a tenth of the demo)."""
    outcomes: dict[str, str] = {}
    for source in DEMO_SOURCES:
        try:
            config = load_adapter(folder / f"{source.adapter}.toml")
        except AdapterConfigError as exc:
            outcomes[source.adapter] = f"not seeded: {exc}"
            echo(f"  {source.adapter}: {outcomes[source.adapter]}")
            continue
        if config.name in at_node:  # its source is the node's to read (the seed made 公安局's registry above)
            outcomes[source.adapter] = "runs at its department's front-end node (前置交换节点)"
            echo(f"  {source.adapter}: {outcomes[source.adapter]}")
            continue
        try:
            made = _generate(config, source, max(1, round(source.rows * scale)))
        except (SQLAlchemyError, OSError) as exc:  # the run below fails on it too, and is listed as failed
            made = f"not generated: {exc.__class__.__name__}: {str(exc).splitlines()[0]}; "
        try:
            run = sync.run(ctx.again(), adapter=config.name, full=True, folder=folder)
        except (GovshareError, SQLAlchemyError, OSError) as exc:
            outcomes[source.adapter] = f"{made}failed: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
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
