"""A department joins the platform from nothing (登记阶段, issue 16), as a real one would: an empty
database, the centre's own commands (``govshare db``, ``pki``, ``admin``, ``catalogue``) run as
processes, the server a process of its own requiring WS-Security, the department's 登记申请 filed
on the portal's public form, its key made by ``openssl`` at the department and only the CSR sent -
no demo code, no fixture writing to the database.  Then its application system's signed
QueryRecords is answered; its suspension refuses the same call; reinstated, it is answered again;
its certificate revoked, it is refused for good."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import zeep
from zeep.exceptions import Fault

from client.wss import PlatformSignature
from xsd import registry, samples
from xsd.batch import records_digest

from .conftest import free_port

ROOT = Path(__file__).parents[1]
POPULATION = "{http://govshare.local/xsd/population/1.0}"
PERSON = registry.lookup(f"{POPULATION}Person")
#: the two departments joining: 临江市公安局 provides 户籍人口基础信息, 临江市医疗保障局 reads it
PROVIDER = {"code": "gaj", "name": "临江市公安局", "credit_code": "11330100002501917U"}
CONSUMER = {"code": "ybj", "name": "临江市医疗保障局", "credit_code": "11330100002501925N"}


class Centre:
    """The centre's installation: its database and var/ directory, its commands and its server."""

    def __init__(self, folder: Path):
        self.var = folder / "var"
        self.env = {**os.environ, "GOVSHARE_DB_URL": f"sqlite:///{folder / 'govshare.db'}",
                    "GOVSHARE_VAR": str(self.var), "GOVSHARE_SCHEDULER": "0", "GOVSHARE_WSS": "require"}
        self.server: subprocess.Popen | None = None
        self.url = ""

    def govshare(self, *args: str, stdin: str | None = None, fails: bool = False) -> str:
        """Run ``govshare ARGS`` as the platform's operator would; its output (stderr when it ``fails``)."""
        run = subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=self.env, input=stdin,
                             capture_output=True, text=True, timeout=120)
        if fails:
            assert run.returncode == 2, (args, run.stdout, run.stderr)
            return run.stderr
        assert run.returncode == 0, (args, run.stdout, run.stderr)
        return run.stdout

    def serve(self) -> None:
        port = free_port()
        self.env["GOVSHARE_PORT"] = str(port)
        self.url = f"http://127.0.0.1:{port}"
        log = (self.var / "serve.log").open("w")
        self.server = subprocess.Popen([sys.executable, "-m", "server", "serve", "--no-scheduler", "--port", str(port)],
                                       cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.server.poll() is None, (self.var / "serve.log").read_text()
            try:
                if requests.get(f"{self.url}/exchange?wsdl", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError("govshare serve did not come up: " + (self.var / "serve.log").read_text())

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=30)


@pytest.fixture
def centre(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (Debian: openssl)")  # the department's side makes its key with it
    made = Centre(tmp_path)
    made.var.mkdir()
    yield made
    made.stop()


def _apply_on_the_portal(centre: Centre, department: dict, mode: str) -> int:
    """File the 登记申请 on the public 申请登记 page, as the department's contact would (no account)."""
    browser = requests.Session()
    page = browser.get(f"{centre.url}/portal/register", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": token, **department, "division_code": "330100", "connection_mode": mode,
            "contact_name": "王晓明", "contact_phone": "0571-87001234", "contact_email": "wangxm@ybj.example.cn",
            "description": "医保待遇审核时核验参保人身份"}
    answer = browser.post(f"{centre.url}/portal/register", data=form, timeout=30)
    assert answer.status_code == 200, answer.text
    number = re.search(r"#(\d+)", answer.text)
    assert number and "已提交" in answer.text, answer.text
    return int(number.group(1))


def _openssl_csr(folder: Path, cn: str) -> tuple[Path, Path]:
    """The department makes its key pair and a PKCS#10 request; the key stays in ``folder``."""
    key, csr = folder / f"{cn}.key", folder / f"{cn}.csr"
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                    "-subj", f"/C=CN/O=Linjiang/CN={cn}"], check=True, capture_output=True, timeout=60)
    return key, csr


def _certified(centre: Centre, engineer: str, system: str, folder: Path) -> tuple[Path, Path, str]:
    """``system``'s key (made at the department), its certificate (the department's ``engineer`` sends
    the CSR, the security administrator approves it) and the certificate's serial."""
    key, csr = _openssl_csr(folder, system)
    asked = centre.govshare("admin", "cert", "request", "--user", engineer, "--system", system, str(csr))
    number = re.search(r"request #(\d+)", asked).group(1)
    cert = folder / f"{system}.pem"
    approved = centre.govshare("admin", "cert", "approve", number, "--out", str(cert))
    return key, cert, re.search(r"certificate (\S+) for", approved).group(1)


def _exchange(centre: Centre, key: Path, cert: Path):
    ca = centre.var / "pki" / "ca.pem"
    signature = PlatformSignature(str(key), str(cert), ca_pem=ca.read_bytes())
    return zeep.Client(f"{centre.url}/exchange?wsdl", wsse=signature).service


def test_a_department_joins_from_an_empty_database_and_its_system_reads_signed_until_suspended_or_revoked(
        centre, tmp_path):
    centre.govshare("db", "upgrade")
    assert "CA" in centre.govshare("pki", "init") or (centre.var / "pki" / "ca.pem").exists()
    centre.serve()

    # 登记: both departments apply on the public form; the platform administrator approves
    applied = {d["code"]: _apply_on_the_portal(centre, d, "app_system") for d in (PROVIDER, CONSUMER)}
    pending = centre.govshare("admin", "department", "applications", "--status", "submitted")
    filed = sorted(line.split("\t")[2] for line in pending.splitlines() if line.startswith("#"))
    assert filed == ["gaj", "ybj"], pending
    assert CONSUMER["credit_code"] in pending and "医疗保障局" in pending
    for code, number in applied.items():
        assert f"{code} registered" in centre.govshare("admin", "department", "approve", str(number))

    # the directory: an ordinary UDDI inquiry finds the new department's businessEntity with its 统一社会信用代码
    inquiry = zeep.Client(f"{centre.url}/uddi/inquiry?wsdl").service
    found = inquiry.find_business(name=[{"_value_1": CONSUMER["name"]}])
    keys = [info.businessKey for info in found.businessInfos.businessInfo]
    assert len(keys) == 1
    entity = inquiry.get_businessDetail(businessKey=keys).businessEntity[0]
    assert [k.keyValue for k in entity.identifierBag.keyedReference] == [CONSUMER["credit_code"]]

    # 公安局 catalogues 户籍人口基础信息 (无条件共享); the platform reviews and publishes it
    centre.govshare("admin", "user", "create", "gaj-cat", "--department", "gaj", "--roles", "cataloguer,provider",
                    "--name", "公安局目录管理员")
    metadata = tmp_path / "entry.json"
    metadata.write_text(json.dumps({
        "classification": "101001002", "name": "户籍人口基础信息", "provider_unit": "人口管理支队",
        "abstract": "户籍人口基础信息, 按公民身份号码共享。", "format_class": "接口", "format_type": "WebService",
        "items": [{"name": "公民身份号码", "data_type": "C", "length": 18},
                  {"name": "姓名", "data_type": "C", "length": 50}],
        "sharing_type": "无条件共享", "sharing_method": "接口", "update_cycle": "每日", "open_to_public": False,
        "access_point": f"{centre.url}/exchange"}, ensure_ascii=False), encoding="utf-8")
    resource = centre.govshare("catalogue", "create", str(metadata), "--user", "gaj-cat").strip()
    centre.govshare("catalogue", "submit", resource, "--user", "gaj-cat")
    centre.govshare("catalogue", "approve", resource)
    assert "published" in centre.govshare("catalogue", "publish", resource)

    # 对接: each registers its application system; each system's key is made at the department, its CSR certified
    at_gaj, at_ybj = tmp_path / "gaj-side", tmp_path / "ybj-side"
    at_gaj.mkdir(), at_ybj.mkdir()
    centre.govshare("admin", "user", "create", "ybj-eng", "--department", "ybj", "--roles", "cataloguer,consumer",
                    "--name", "医疗保障局信息中心")
    centre.govshare("admin", "system", "register", "--user", "gaj-cat", "--code", "hukou", "--name", "户籍管理系统")
    centre.govshare("admin", "system", "register", "--user", "ybj-eng", "--code", "daiyu", "--name", "医保待遇审核系统")
    gaj_key, gaj_cert, _ = _certified(centre, "gaj-cat", "gaj.hukou", at_gaj)
    ybj_key, ybj_cert, ybj_serial = _certified(centre, "ybj-eng", "ybj.daiyu", at_ybj)
    assert not list(centre.var.rglob("ybj.daiyu.key"))  # the private key never reached the centre

    # 公安局's system submits one person, signed; 医疗保障局's system reads it, signed
    person = next(samples.population_records(1, seed=11))
    header = {"batchId": str(uuid.uuid4()), "providerCode": PROVIDER["credit_code"], "resourceCode": resource,
              "recordType": f"{POPULATION}Person", "formatVersion": PERSON.version, "sequenceNumber": 1,
              "created": datetime.now(UTC), "recordCount": 1, "digest": records_digest([person])}
    receipt = _exchange(centre, gaj_key, gaj_cert).SubmitBatch(Batch={"header": header,
                                                                      "records": {"_value_1": [person]}})
    assert (receipt.received, receipt.accepted, receipt.quarantined) == (1, 1, 0), receipt
    id_number = person.findtext(f"{POPULATION}idNumber")
    reader = _exchange(centre, ybj_key, ybj_cert)

    def query():
        return reader.QueryRecords(requester=CONSUMER["credit_code"], resourceCode=resource, key=[id_number])

    assert query().total == 1
    trail = centre.govshare("audit", "search", "--operation", "exchange.query_records", "--department", "ybj")
    assert "ybj.daiyu" in trail and ybj_serial.lower() in trail.lower()

    # 暂停接入: the same signed call is refused with a clear fault, and nothing is deleted
    centre.govshare("admin", "department", "suspend", "ybj", "--reason", "接入安全检查未通过")
    with pytest.raises(Fault) as refused:
        query()
    assert refused.value.code.endswith("FailedAuthentication")
    assert "ybj is suspended" in refused.value.message and "接入安全检查未通过" in refused.value.message
    centre.govshare("admin", "department", "reinstate", "ybj")
    assert query().total == 1

    # revoked, the certificate signs nothing any more
    centre.govshare("admin", "cert", "revoke", ybj_serial, "--reason", "keyCompromise")
    with pytest.raises(Fault) as revoked:
        query()
    assert revoked.value.code.endswith("FailedAuthentication")
    assert "revoked" in revoked.value.message.lower() or "吊销" in revoked.value.message
