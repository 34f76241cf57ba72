"""The platform and the two departments of the node benchmark, and the nodes' folders.

A fresh SQLite database (in the run's temporary folder, beside the platform's ``var`` with its
CA) holding 公安局's published 户籍登记信息 (无条件共享, as ``bench.exchange.workload`` publishes
it) and 民政局 as a reading department; each has a certificate the platform CA issued, written
as PEM files.  公安局's node delivers; 民政局's node has a gateway for a legacy system::

    <tmp>/var/pki/ca.pem              the platform CA (the nodes' [centre] ca)
    <tmp>/gaj/node.toml, gaj.key/.pem 公安局's node: [[outbound]] hukou -> the resource
    <tmp>/mzj/node.toml, mzj.key/.pem 民政局's node: [gateway] for mzj.legacy calling from 127.0.0.1
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Department:
    credit_code: str
    key: Path
    cert: Path


@dataclass(frozen=True)
class World:
    db_url: str
    var_dir: Path
    ca: Path
    resource: str  # 资源代码 of 公安局's 户籍登记信息
    gaj: Department  # the provider, whose node delivers
    mzj: Department  # the consumer, whose node's gateway a legacy system calls


def prepare(folder: Path) -> World:
    """Migrate a fresh database under ``folder``, publish the resource, make the CA and the certificates."""
    from sqlalchemy import select

    import server
    from bench.exchange.workload import publish_population_resource
    from directory.accounts import register_department
    from directory.demo import credit_code_for
    from registry.db import unit_of_work
    from registry.models import Department as DepartmentRow
    from registry.settings import Settings
    from trust import pki

    var_dir = folder / "var"
    db_url = f"sqlite:///{folder / 'govshare.db'}"
    settings = Settings.from_env(db_url=db_url, var_dir=var_dir)
    sessions = server.prepare(settings)
    resource = publish_population_resource(sessions, settings)
    pki.init_ca(settings)
    issued = {}
    with unit_of_work(sessions) as session:
        gaj = session.scalar(select(DepartmentRow).where(DepartmentRow.credit_code == resource.provider_code))
        mzj = register_department(session, settings, code="mzj", name="临江市民政局",
                                  credit_code=credit_code_for("00250103"))
        for code, row in (("gaj", gaj), ("mzj", mzj)):
            made = pki.issue(session, settings, row)
            (folder / code).mkdir()
            key, cert = folder / code / f"{code}.key", folder / code / f"{code}.pem"
            key.write_bytes(made.key_pem())
            cert.write_bytes(made.cert_pem())
            issued[code] = Department(row.credit_code, key, cert)
    sessions.kw["bind"].dispose()
    return World(db_url, var_dir, pki.pki_dir(settings) / "ca.pem", resource.resource_code, issued["gaj"],
                 issued["mzj"])


def delivering_node(world: World, folder: Path, centre_url: str, batch_size: int) -> Path:
    """公安局's node.toml: one outbound stream; retries soon after the centre comes back."""
    config = folder / "node.toml"
    config.write_text(
        f'[centre]\nurl = "{centre_url}"\nca = "{world.ca}"\n\n'
        f'[identity]\nkey = "{world.gaj.key.name}"\ncert = "{world.gaj.cert.name}"\n\n'
        f"[delivery]\nbatch_size = {batch_size}\nretry_first = 0.1\nretry_max = 0.5\npoll = 0.2\n\n"
        f'[[outbound]]\nname = "hukou"\nfolder = "outbound/hukou"\nresource = "{world.resource}"\n',
        encoding="utf-8")
    (folder / "outbound" / "hukou").mkdir(parents=True)
    return config


def gateway_node(world: World, folder: Path, centre_url: str, port: int) -> Path:
    """民政局's node.toml: a gateway signing for its legacy system ``mzj.legacy`` (from 127.0.0.1)."""
    config = folder / "node.toml"
    config.write_text(
        f'[centre]\nurl = "{centre_url}"\nca = "{world.ca}"\n\n'
        f'[identity]\nkey = "{world.mzj.key.name}"\ncert = "{world.mzj.cert.name}"\n\n'
        f'[gateway]\nlisten = "127.0.0.1:{port}"\n\n'
        f'[[gateway.system]]\ncode = "mzj.legacy"\naddresses = ["127.0.0.1"]\n', encoding="utf-8")
    return config
