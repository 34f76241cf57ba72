"""公安局's front-end node (前置交换节点) in the demo: its configuration under ``var/demo/node/``, and
a first export waiting in its drop folder, so that ``make demo`` shows data flowing through a node.

``make demo`` starts it beside the centre (``govshare node run var/demo/node/node.toml``): it
runs 公安局's adapter (``gaj-household``, reading the 户籍 database beside it, which the centre's
scheduler then no longer does) and takes the export into its outbox, delivers both signed with
公安局's certificate, keeps the receipts, reports a heartbeat (the portal's 前置节点), and serves
a local gateway on the centre's port + 2 for 公安局's legacy systems that cannot sign.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.models import CatalogueEntry, Department
from registry.settings import Settings
from xsd import samples

#: the fields of the demo export, in the order 公安局's system writes them
EXPORT_COLUMNS = ("idNumber", "name", "sex", "ethnicity", "birthDate", "domicileDivision", "domicileAddress", "status")
EXPORT_ROWS, EXPORT_SEED = 200, 2026


def node_folder(settings: Settings) -> Path:
    return settings.var_dir / "demo" / "node"


def seed_node(sessions: sessionmaker[Session], settings: Settings,
              adapters: Mapping[str, tuple[Path, str]] | None = None) -> Path | None:
    """Write 公安局's node configuration (again: the centre's address may have changed) and, the
    first time, an export in its drop folder; the configuration's path, or None without 公安局's
    published 户籍登记信息 or its certificate.  ``adapters``: name -> (adapter file, its source as
    the node reaches it), the adapters the node runs beside 公安局's databases."""
    certs = settings.var_dir / "demo" / "certs"
    with sessions() as session:
        code = _household_resource(session)
    if code is None or not (certs / "gaj.key").exists():
        return None
    folder = node_folder(settings)
    drop = folder / "outbound" / "hukou"
    drop.mkdir(parents=True, exist_ok=True)
    config = folder / "node.toml"
    config.write_text(
        "# 临江市公安局's front-end node (前置交换节点), written by govshare demo seed; see README,\n"
        "# \"The front-end exchange node\".\n\n"
        f'[centre]\nurl = "{settings.base_url}"\nca = "{settings.var_dir / "pki" / "ca.pem"}"\nheartbeat = 30\n\n'
        f'[identity]\nkey = "{certs / "gaj.key"}"\ncert = "{certs / "gaj.pem"}"\n\n'
        '[store]\nurl = "sqlite:///node.db"\n\n'
        "[delivery]\nbatch_size = 100\nretry_first = 2.0\nretry_max = 60.0\npoll = 2.0\n\n"
        "# export files of the 户籍 system put here are sent to 户籍登记信息\n"
        f'[[outbound]]\nname = "hukou"\nfolder = "outbound/hukou"\nresource = "{code}"\n\n'
        "# legacy systems of 公安局 that cannot sign call the centre's exchange through here\n"
        f'[gateway]\nlisten = "{settings.host}:{settings.port + 2}"\n\n'
        '[[gateway.system]]\ncode = "gaj.legacy"\naddresses = ["127.0.0.1"]\n'
        + "".join(_adapter(name, file, source, code) for name, (file, source) in (adapters or {}).items()),
        encoding="utf-8")
    if not (folder / "node.db").exists() and not any(drop.iterdir()):
        _export(drop / "户籍变动-首批.csv")
    return config


def _adapter(name: str, file: Path, source: str, resource: str) -> str:
    """An ``[[adapter]]`` of the node: the centre's adapter file, reading 公安局's database here."""
    if source.startswith("sqlite:///") and not source.startswith("sqlite:////"):
        source = f"sqlite:///{Path(source.removeprefix('sqlite:///')).resolve()}"  # the node's folder is not the cwd
    return (f"\n# {name}: 公安局's 户籍 database, read here beside it rather than from the centre\n"
            f'[[adapter]]\nfile = "{file.resolve()}"\nsource = "{source}"\nresource = "{resource}"\n'
            "interval = 900\n")


def _household_resource(session: Session) -> str | None:
    gaj = session.scalar(select(Department).where(Department.code == "gaj"))
    if gaj is None:
        return None
    return session.scalar(select(CatalogueEntry.resource_code).where(
        CatalogueEntry.provider_id == gaj.id, CatalogueEntry.name == "户籍登记信息",
        CatalogueEntry.status == "published"))


def _export(path: Path) -> None:
    """The 户籍 system's export of people it registered since the last one, as CSV."""
    part = path.with_name(f".{path.name}.part")
    with part.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for person in samples.population_fields(EXPORT_ROWS, EXPORT_SEED):
            writer.writerow([person.get(c, "") for c in EXPORT_COLUMNS])
    part.rename(path)
