"""A department's engineer with nothing but the client (MISSION C1, the seed's 应用系统节点 mode): the
client's own distribution installed into a fresh virtualenv (tests/client/installed.py), a centre
run as processes from an empty database requiring WS-Security, and the README's "Connect your
department" followed - everything at the departments' side done with ``govshare-client`` from
that virtualenv, in a folder of its own, configured by a TOML file:

- 公安局's engineer sends its export (a CSV, as its system writes one) of 户籍变动信息, a
  有条件共享 resource;
- 医疗保障局's engineer discovers the resource in the directory, reads its metadata and WSDL,
  is refused the records (no grant), applies (使用申请); 公安局's provider approves it in the
  portal; the engineer sees the application approved and the grant, reads the records and pulls
  the changes from a watermark the client keeps.

The centre's side (registration, cataloguing, certificates) is done as its operators do it, with
its commands and its portal.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.client.installed import Installed, install
from tests.portal.conftest import Browser
from tests.test_onboarding_e2e import CONSUMER, PROVIDER, Centre, _apply_on_the_portal, _certified
from xsd import samples

PASSWORD = "Engineer-2026!"
COLUMNS = ["idNumber", "name", "sex", "ethnicity", "birthDate", "domicileDivision", "domicileAddress", "status"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    return install(tmp_path_factory.mktemp("client-only"))


def test_the_installed_client_is_the_client_alone(installed, tmp_path):
    def runs(code: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(installed.python), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                              env=_environ(), timeout=60)

    assert runs("import client.exchange, client.directory, client.files, client.cli").returncode == 0
    for platform_module in ("server", "registry", "exchange", "governance", "spyne"):
        assert "ModuleNotFoundError" in runs(f"import {platform_module}").stderr, platform_module
    helped = subprocess.run([str(installed.command), "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "discover" in helped.stdout and "submit" in helped.stdout


def _environ() -> dict[str, str]:
    """The engineer's environment: none of this checkout's Python settings."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("GOVSHARE_", "PYTHON", "VIRTUAL_ENV"))} | {"PYTHONNOUSERSITE": "1"}


class Engineer:
    """A department's engineer at a folder of their own: a key, a certificate, a client.toml."""

    def __init__(self, installed: Installed, folder: Path, platform: str, key: Path, cert: Path, ca: Path):
        self.installed, self.folder = installed, folder
        (folder / "client.toml").write_text(
            f'platform = "{platform}"\nkey = "{key.name}"\ncert = "{cert.name}"\nca = "{ca.name}"\n', encoding="utf-8")

    def client(self, *args: str, fails: bool = False) -> subprocess.CompletedProcess:
        run = subprocess.run([str(self.installed.command), "--config", "client.toml", *args], capture_output=True,
                             text=True, cwd=self.folder, env=_environ(), timeout=180)
        assert run.returncode == (2 if fails else 0), (args, run.stdout, run.stderr)
        return run

    def json(self, *args: str):
        return json.loads(self.client("--output", "json", *args).stdout)


def _catalogued(centre: Centre, folder: Path) -> str:
    """公安局's 户籍变动信息, 有条件共享, catalogued, reviewed and published at the centre."""
    metadata = folder / "entry.json"
    metadata.write_text(json.dumps({
        "classification": "101001003", "name": "户籍变动信息", "provider_unit": "人口管理支队",
        "abstract": "户籍迁入迁出、出生死亡登记引起的变动信息。", "format_class": "接口", "format_type": "WebService",
        "items": [{"name": "公民身份号码", "data_type": "C", "length": 18},
                  {"name": "姓名", "data_type": "C", "length": 50}],
        "sharing_type": "有条件共享", "sharing_condition": "仅限医保待遇审核使用", "sharing_method": "接口",
        "update_cycle": "每日", "open_to_public": False, "access_point": f"{centre.url}/exchange"},
        ensure_ascii=False), encoding="utf-8")
    code = centre.govshare("catalogue", "create", str(metadata), "--user", "gaj-cat").strip()
    centre.govshare("catalogue", "submit", code, "--user", "gaj-cat")
    centre.govshare("catalogue", "approve", code)
    centre.govshare("catalogue", "publish", code)
    return code


def test_an_engineer_discovers_applies_is_approved_in_the_portal_reads_and_submits_with_the_client_only(
        installed, tmp_path):
    centre = Centre(tmp_path)
    centre.var.mkdir()
    try:
        _journey(installed, centre, tmp_path)
    finally:
        centre.stop()


def _journey(installed: Installed, centre: Centre, tmp_path: Path) -> None:
    centre.govshare("db", "upgrade")
    centre.govshare("pki", "init")
    centre.serve()
    for department in (PROVIDER, CONSUMER):
        number = _apply_on_the_portal(centre, department, "app_system")
        centre.govshare("admin", "department", "approve", str(number))
    accounts = (("gaj-cat", "gaj", "cataloguer,provider"), ("ybj-eng", "ybj", "cataloguer,consumer"))
    for user, department, roles in accounts:
        centre.govshare("admin", "user", "create", user, "--department", department, "--roles", roles,
                        "--password-stdin", "--no-temporary", stdin=PASSWORD + "\n")
    code = _catalogued(centre, tmp_path)
    centre.govshare("admin", "system", "register", "--user", "gaj-cat", "--code", "hukou", "--name", "户籍管理系统")
    centre.govshare("admin", "system", "register", "--user", "ybj-eng", "--code", "daiyu", "--name", "医保待遇审核系统")
    engineers = {}
    for user, system in (("gaj-cat", "gaj.hukou"), ("ybj-eng", "ybj.daiyu")):
        folder = tmp_path / system
        folder.mkdir()
        key, cert, _serial = _certified(centre, user, system, folder)
        ca = folder / "ca.pem"
        ca.write_bytes((centre.var / "pki" / "ca.pem").read_bytes())
        engineers[system] = Engineer(installed, folder, centre.url, key, cert, ca)
    gaj, ybj = engineers["gaj.hukou"], engineers["ybj.daiyu"]

    # 公安局's engineer sends the export its system wrote: a CSV with a header of the format's fields
    people = [{k: str(v) for k, v in p.items() if k in COLUMNS} for p in samples.population_fields(30, seed=61)]
    with (gaj.folder / "变动.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(people)
    sent = gaj.client("submit", code, "变动.csv", "--batch-size", "8")
    assert len(sent.stdout.splitlines()) == 4 and "30 records sent: 30 accepted, 0 quarantined" in sent.stderr

    # 医疗保障局's engineer finds it, reads what the directory says of it and its WSDL
    [found] = ybj.json("discover", "--keyword", "户籍变动", "--sharing-type", "有条件共享")
    assert (found["code"], found["provider_code"]) == (code, PROVIDER["credit_code"])
    shown = ybj.json("show", code)
    assert shown["name"] == "户籍变动信息" and shown["sharing_type"] == "有条件共享"
    ybj.client("wsdl", code, "--out", "户籍变动信息.wsdl")
    assert b"QueryRecords" in (ybj.folder / "户籍变动信息.wsdl").read_bytes()

    # no grant yet: refused, one line saying what to do, exit 2
    keys = [p["idNumber"] for p in people[:5]]
    refused = ybj.client("query", code, "--key", keys[0], fails=True)
    assert refused.stderr.startswith("error: ") and "apply" in refused.stderr.lower(), refused.stderr

    # 使用申请, answered in the portal by 公安局's provider
    filed = ybj.client("apply", code, "--purpose", "医保待遇审核时核验参保人户籍变动", "--until", "2099-12-31",
                       "--field", "idNumber", "--field", "name")
    number = int(filed.stdout.split("#")[1].split()[0])
    assert [(a["id"], a["status"]) for a in ybj.json("applications")] == [(number, "submitted")]
    portal = Browser(centre.url)
    signed_in = portal.login("gaj-cat", PASSWORD)
    assert signed_in.status_code == 200 and "退出" in signed_in.text, signed_in.text[:300]
    inbox = portal.get("/inbox")
    assert f'href="/portal/applications/{number}">审批</a>' in inbox.text
    assert "医保待遇审核时核验参保人户籍变动" in inbox.text
    page = portal.get(f"/applications/{number}")  # approved on its page, the two fields asked for ticked
    assert 'name="fields" value="idNumber" checked' in page.text and 'name="fields" value="name" checked' in page.text
    decided = portal.post(f"/applications/{number}/decide", [("decision", "approve"), ("until", "2099-12-31"),
                                                             ("fields", "idNumber"), ("fields", "name")])
    assert decided.status_code == 200 and "已同意使用申请" in decided.text, decided.text[:300]
    assert [(a["id"], a["status"]) for a in ybj.json("applications")] == [(number, "approved")]
    [grant] = ybj.json("grants")
    assert (grant["resource_code"], grant["application_id"]) == (code, number)

    # now the records: what was granted of them, and the changes from a watermark the client keeps
    read = ybj.json("query", code, *(a for k in keys for a in ("--key", k)), "--purpose", "医保待遇审核")
    by_key = {p["idNumber"]: p["name"] for p in people[:5]}
    assert {r["name"] for r in read} == set(by_key.values()) and len(read) == 5
    assert all(set(r) <= {"idNumber", "name"} for r in read)  # the fields applied for, no more
    changes = ybj.client("changes", code)
    assert len(changes.stdout.splitlines()) == 30 and "30 changes" in changes.stderr
    again = ybj.client("changes", code)
    assert again.stdout == "" and "0 changes" in again.stderr  # the watermark was kept
