"""govshare-client, as a department's engineer runs it (a process of its own, settings from a TOML
file and the environment) against a real server requiring WS-Security: discover, show, query,
changes with its state file, submit a file (again: nothing taken twice), whoami; refusals as one
line with the code, the Chinese message beside it, and the documented exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import free_port
from tests.trust.conftest import world  # noqa: F401 - the fixture
from xsd import samples

ROOT = Path(__file__).parents[2]
POPULATION = "{http://govshare.local/xsd/population/1.0}"


@pytest.fixture
def client(world, tmp_path):  # noqa: F811
    """govshare-client set up as 民政局's engineer would: a TOML file beside the key and certificates."""
    folder = tmp_path / "mzj"
    folder.mkdir()
    (folder / "ca.pem").write_bytes(world.ca_pem)
    (folder / "client.toml").write_text(f'platform = "{world.url}"\nkey = "{world.mzj.key}"\n'
                                        f'cert = "{world.mzj.cert}"\nca = "ca.pem"\n', encoding="utf-8")

    def run(*args: str, config: Path | None = folder / "client.toml", env: dict | None = None, cwd=folder):
        environ = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_CLIENT_")}
        if config is not None:
            environ["GOVSHARE_CLIENT_CONFIG"] = str(config)
        return subprocess.run([sys.executable, "-m", "client.cli", *args], capture_output=True, text=True,
                              timeout=120, env={**environ, **(env or {}), "PYTHONPATH": str(ROOT)}, cwd=cwd)

    run.folder = folder
    return run


def test_discover_show_query_and_whoami(client, world):  # noqa: F811
    found = client("--output", "json", "discover", "--keyword", "户籍")
    assert found.returncode == 0, found.stderr
    [resource] = json.loads(found.stdout)
    assert (resource["code"], resource["provider_code"]) == (world.resource, world.gaj.credit_code)
    shown = json.loads(client("show", world.resource).stdout)
    assert shown["name"] == "户籍人口基础信息" and shown["sharing_type"] == "无条件共享"
    query = client("--output", "json", "query", world.resource, "--key", world.person_key, "--purpose", "低保审核")
    assert query.returncode == 0, query.stderr
    [record] = json.loads(query.stdout)
    assert record["idNumber"].startswith(world.person_key[:6]) and "1 records" in query.stderr
    table = client("--output", "csv", "query", world.resource, "--key", world.person_key)
    assert table.stdout.splitlines()[0].startswith("idNumber,")
    who = client("whoami")
    assert who.returncode == 0 and world.mzj.credit_code in who.stdout and "CN=mzj" in who.stdout


def test_changes_keep_their_watermark_and_submit_takes_a_file_once(client, world):  # noqa: F811
    first = client("changes", world.resource)
    assert first.returncode == 0, first.stderr
    assert [json.loads(line)["operation"] for line in first.stdout.splitlines()] == ["upsert"]
    assert (client.folder / f"changes-{world.resource.replace('/', '-')}.json").exists()
    assert client("changes", world.resource).stdout == ""  # nothing new since
    root = etree.Element("Persons")
    for person in samples.population_records(12, seed=36):
        root.append(person)
    export = client.folder / "export.xml"
    export.write_bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True))
    as_gaj = {"GOVSHARE_CLIENT_KEY": str(world.gaj.key), "GOVSHARE_CLIENT_CERT": str(world.gaj.cert)}  # env wins
    sent = client("submit", world.resource, str(export), "--batch-size", "5", env=as_gaj)
    assert sent.returncode == 0, sent.stderr
    assert "12 records sent: 12 accepted, 0 quarantined, 0 in batches the platform had already" in sent.stderr
    again = client("submit", world.resource, str(export), "--batch-size", "5", env=as_gaj)
    assert "12 records sent: 12 accepted, 0 quarantined, 12 in batches the platform had already" in again.stderr
    later = client("changes", world.resource)
    assert len(later.stdout.splitlines()) == 12


def test_refusals_and_settings_errors_are_one_line_with_the_documented_exit_status(client, world):  # noqa: F811
    unknown = client("query", "999999999/000009", "--key", "x")
    assert unknown.returncode == 2
    first, chinese = unknown.stderr.splitlines()
    assert first.startswith("error: Unknown") and chinese.strip() and chinese.strip() != first
    other = client("--requester", world.gaj.credit_code, "query", world.resource, "--key", world.person_key)
    assert other.returncode == 2 and other.stderr.startswith("error: FailedAuthentication:")
    nothing = client("discover", config=None)
    assert nothing.returncode == 2 and "no platform" in nothing.stderr
    half = client("query", world.resource, env={"GOVSHARE_CLIENT_KEY": str(client.folder / "missing.key")})
    assert half.returncode == 2 and "missing.key is not a file" in half.stderr
    down = client("discover", env={"GOVSHARE_CLIENT_PLATFORM": f"http://127.0.0.1:{free_port()}"})
    assert down.returncode == 1 and "did not answer" in down.stderr


def test_apply_follow_it_see_the_grants_and_report_a_value(client, world):  # noqa: F811
    from sqlalchemy import select

    from directory.accounts import find_user
    from governance import sharing
    from registry.db import unit_of_work
    from registry.models import Department
    from tests.conftest import as_user
    from tests.exchange.conftest import _publish

    with unit_of_work(world.sessions) as session:
        gaj = session.scalar(select(Department).where(Department.code == "gaj"))
        code = _publish(session, world.settings, gaj, find_user(session, "gaj"), find_user(session, "reviewer"),
                        "户籍变动信息", "101001003", "有条件共享")
    bad_day = client("apply", code, "--purpose", "低保资格核查", "--until", "soon")
    assert bad_day.returncode == 2 and "is not a date" in bad_day.stderr
    filed = client("apply", code, "--purpose", "低保资格核查", "--until", "2099-12-31", "--field", "name")
    assert filed.returncode == 0 and "submitted to 临江市公安局" in filed.stdout, filed.stderr
    number = int(filed.stdout.split("#")[1].split()[0])
    listed = json.loads(client("--output", "json", "applications").stdout)
    assert [(a["id"], a["status"]) for a in listed] == [(number, "submitted")]
    assert json.loads(client("--output", "json", "grants").stdout) == []
    sharing.approve(as_user(world.sessions, world.settings, "gaj"), application_id=number)
    [grant] = json.loads(client("--output", "json", "grants").stdout)
    assert (grant["resource_code"], grant["source"], grant["application_id"], grant["fields"]) == (
        code, "application", number, "name")
    reported = client("correction", world.resource, "--key", world.person_key, "--field", "name",
                      "--problem", "姓名有误")
    assert reported.returncode == 0 and ": open" in reported.stdout, reported.stderr
    [report] = json.loads(client("--output", "json", "corrections").stdout)
    assert (report["field"], report["status"]) == ("name", "open")


def test_a_csr_made_by_openssl_is_sent_and_its_certificate_fetched(client, world):  # noqa: F811
    import shutil

    from directory.accounts import create_user
    from registry.db import unit_of_work
    from tests.conftest import as_user
    from trust import certificates

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (Debian: openssl)")
    key, csr = client.folder / "next.key", client.folder / "next.csr"
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                    "-subj", "/CN=mzj"], check=True, capture_output=True, timeout=60)
    mistaken = client("csr", str(key))
    assert mistaken.returncode == 2 and mistaken.stderr.startswith("error: InvalidCsr:")
    sent = client("csr", str(csr))
    assert sent.returncode == 0 and "submitted" in sent.stdout, sent.stderr
    number = int(sent.stdout.split("#")[1].split()[0])
    with unit_of_work(world.sessions) as session:
        create_user(session, username="sec", password="pw", department=None, roles=("security",))
    serial = certificates.approve(as_user(world.sessions, world.settings, "sec"), request_id=number).certificate.serial
    [request] = json.loads(client("--output", "json", "cert-requests").stdout)
    assert (request["status"], request["certificate_serial"]) == ("issued", serial)
    fetched = client("certificate", serial, "--out", str(client.folder / "next.pem"))
    assert fetched.returncode == 0 and (client.folder / "next.pem").read_text().startswith("-----BEGIN CERTIFICATE")
    renewed = {"GOVSHARE_CLIENT_KEY": str(key), "GOVSHARE_CLIENT_CERT": str(client.folder / "next.pem")}
    who = client("whoami", env=renewed)
    assert who.returncode == 0 and serial in who.stdout
