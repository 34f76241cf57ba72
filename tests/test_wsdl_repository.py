"""The WSDL repository (D3): what may be stored where, and how stored WSDLs are served."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import pytest
import stdnum.cn.uscc

from directory.accounts import register_department
from registry.db import unit_of_work
from registry.models import Department
from wsdl.repository import InvalidWsdlPath, WsdlPathTaken, check_path, get_wsdl, store_wsdl, wsdl_app
from wsdl.validation import InvalidWsdl

CONTRACTS = Path(__file__).resolve().parent.parent / "wsdl" / "contracts"
POPULATION = (CONTRACTS / "population-query.wsdl").read_bytes()
SPATIAL = (CONTRACTS / "spatial-query.wsdl").read_bytes()
PATH = "gaj/population-query.wsdl"


def credit_code(n: int) -> str:
    body = f"113301000{n:08d}"
    return body + stdnum.cn.uscc.calc_check_digit(body)


@pytest.fixture
def departments(sessions, settings) -> dict[str, int]:
    with unit_of_work(sessions) as session:
        return {code: register_department(session, settings, code=code, name=name, credit_code=credit_code(n)).id
                for n, (code, name) in enumerate([("gaj", "市公安局"), ("zrzyj", "市自然资源和规划局")], 1)}


def store(sessions, dept_id: int | None, content: bytes = POPULATION, path: str = PATH):
    with unit_of_work(sessions) as session:
        dept = session.get(Department, dept_id) if dept_id is not None else None
        return store_wsdl(session, path=path, content=content, department=dept)


def call(app, path: str, method: str = "GET", **headers) -> tuple[str, dict[str, str], bytes]:
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, **headers}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO()
    answer = {}

    def start_response(status, response_headers):
        answer["status"], answer["headers"] = status, dict(response_headers)

    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


@pytest.mark.parametrize("path", ["gaj/population-query.wsdl", "a.wsdl", "gaj/v1.2/x_y-z.wsdl"])
def test_safe_paths_are_accepted(path):
    assert check_path(path) == path


@pytest.mark.parametrize("path", [
    "../etc/passwd.wsdl", "gaj/../x.wsdl", "/gaj/x.wsdl", "Gaj/X.wsdl", "gaj//x.wsdl", "gaj/x.xml", "gaj/人口.wsdl",
    "gaj/.hidden.wsdl", "gaj/a b.wsdl", "a" * 300 + ".wsdl",
])
def test_unsafe_paths_are_refused(path):
    with pytest.raises(InvalidWsdlPath):
        check_path(path)


def test_uddi_paths_are_reserved_for_the_oasis_contract():
    with pytest.raises(InvalidWsdlPath, match="reserved"):
        check_path("uddi/uddi_api_v3_binding.wsdl")


def test_stored_wsdl_keeps_its_bytes_namespace_and_hash(sessions, departments):
    store(sessions, departments["gaj"])
    with sessions() as session:
        doc = get_wsdl(session, PATH)
    assert doc.content.encode("utf-8") == POPULATION
    assert doc.sha256 == hashlib.sha256(POPULATION).hexdigest()
    assert doc.target_namespace == "http://govshare.local/interfaces/population"
    assert doc.department_id == departments["gaj"]


def test_storing_again_replaces_the_document(sessions, departments):
    store(sessions, departments["gaj"])
    store(sessions, departments["gaj"], content=SPATIAL)
    with sessions() as session:
        doc = get_wsdl(session, PATH)
    assert doc.sha256 == hashlib.sha256(SPATIAL).hexdigest()
    assert doc.target_namespace == "http://govshare.local/interfaces/spatial"


def test_another_department_cannot_replace_a_wsdl(sessions, departments):
    store(sessions, departments["gaj"])
    with pytest.raises(WsdlPathTaken):
        store(sessions, departments["zrzyj"], content=SPATIAL)
    with sessions() as session:
        assert get_wsdl(session, PATH).sha256 == hashlib.sha256(POPULATION).hexdigest()


def test_invalid_wsdl_is_not_stored(sessions, departments):
    with pytest.raises(InvalidWsdl):
        store(sessions, departments["gaj"], content=POPULATION.replace(b'use="literal"', b'use="encoded"'))
    with sessions() as session:
        assert get_wsdl(session, PATH) is None


def test_gbk_wsdl_is_stored_as_utf8(sessions, departments):
    gbk = POPULATION.decode("utf-8").replace('encoding="UTF-8"', 'encoding="GBK"').encode("gbk")
    store(sessions, departments["gaj"], content=gbk)
    with sessions() as session:
        content = get_wsdl(session, PATH).content
    assert content.startswith("<?xml version='1.0' encoding='UTF-8'?>")
    assert "公民身份号码" in content


def test_stored_wsdl_is_served_as_xml_with_an_etag(sessions, departments):
    store(sessions, departments["gaj"])
    status, headers, body = call(wsdl_app(sessions), f"/wsdl/{PATH}")
    assert status == "200 OK"
    assert headers["Content-Type"] == "text/xml; charset=utf-8"
    assert headers["ETag"] == f'"{hashlib.sha256(POPULATION).hexdigest()}"'
    assert body == POPULATION


def test_unchanged_wsdl_answers_not_modified(sessions, departments):
    store(sessions, departments["gaj"])
    etag = f'"{hashlib.sha256(POPULATION).hexdigest()}"'
    status, _headers, body = call(wsdl_app(sessions), f"/wsdl/{PATH}", HTTP_IF_NONE_MATCH=etag)
    assert status == "304 Not Modified"
    assert body == b""


def test_unknown_wsdl_is_a_clear_404(sessions):
    status, headers, body = call(wsdl_app(sessions), "/wsdl/gaj/nothing.wsdl")
    assert status == "404 Not Found"
    assert headers["Content-Type"].startswith("text/plain")
    assert b"no WSDL is stored at /wsdl/gaj/nothing.wsdl" in body


def test_only_get_and_head_are_allowed(sessions):
    status, headers, _body = call(wsdl_app(sessions), f"/wsdl/{PATH}", method="PUT")
    assert status == "405 Method Not Allowed"
    assert headers["Allow"] == "GET, HEAD"
