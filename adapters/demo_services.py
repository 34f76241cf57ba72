"""The demo department's own legacy-style SOAP service: 临江市公安局's household registry
(户籍管理系统), answering the contract ``wsdl/contracts/population-query.wsdl`` from a table
it owns.  It is what a logical resource (逻辑集中) forwards to: the platform keeps no copy
of these people and asks the bureau live.

    POST /  SOAPAction: "http://govshare.local/interfaces/population/QueryPerson"
    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
      <soap:Body>
        <pq:QueryPerson xmlns:pq="http://govshare.local/interfaces/population">
          <pq:idNumber>330102199001021235</pq:idNumber>
          <pq:purpose>政务信息资源共享: 临江市民政局 查询 户籍登记信息</pq:purpose>
        </pq:QueryPerson>
      </soap:Body>
    </soap:Envelope>
    ->
    <pq:QueryPersonResponse>
      <pq:found>true</pq:found>
      <pq:person>
        <pq:idNumber>330102199001021235</pq:idNumber><pq:name>张伟</pq:name><pq:sex>1</pq:sex>
        <pq:ethnicity>01</pq:ethnicity><pq:birthDate>1990-01-02</pq:birthDate>
        <pq:domicileDivision>330102</pq:domicileDivision>
        <pq:domicileAddress>浙江省临江市上城区解放路8号</pq:domicileAddress>
        <pq:deceased>false</pq:deceased><pq:updated>2024-05-01T09:30:00+08:00</pq:updated>
      </pq:person>
    </pq:QueryPersonResponse>

Bad input gets a SOAP 1.1 Fault (HTTP 500) whose detail is the contract's ``tns:ServiceFault``::

    <soap:Fault><faultcode>soap:Client</faultcode>
      <faultstring>公民身份号码 330102199001021234 校验位错误 (应为 5)</faultstring>
      <detail><pq:ServiceFault><pq:code>InvalidIdNumber</pq:code><pq:message>...</pq:message>
      </pq:ServiceFault></detail></soap:Fault>

``GET ?wsdl`` serves the contract with its ``soap:address`` set to the address asked for.
The bureau's table (``HJ_RK``, 户籍人口) has the terse pinyin-initial column names of the
legacy systems the platform meets (SFZH 身份证号, XM 姓名, CSRQ 出生日期 as YYYYMMDD, ...);
mapping them to the contract is this service's job, as it would be the bureau's.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import closing
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from wsgiref.util import request_uri

from faker import Faker
from lxml import etree
from stdnum.cn import ric

from registry.clock import CHINA
from trust.xml import safe_parser

CONTRACT = Path(__file__).resolve().parent.parent / "wsdl" / "contracts" / "population-query.wsdl"
PQ_NS = "http://govshare.local/interfaces/population"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
PQ = "{%s}" % PQ_NS
SOAP = "{%s}" % SOAP11_NS

#: A QueryPerson is a few hundred bytes; anything much larger is not one.
MAX_REQUEST_BYTES = 64 * 1024
#: The bureau's records carry China Standard Time, as its clerks entered them.
DEFAULT_SEED = 20240501

# Districts of 临江市 (GB/T 2260 codes of the 3301 prefecture) and the first year each code was
# in force: a 公民身份号码's address code is the code in force when the number was issued, and
# python-stdnum's strict check wants it valid in the birth year, so older people get counties.
DISTRICTS = (
    ("330102", "上城区", 1983), ("330105", "拱墅区", 1983), ("330106", "西湖区", 1983),
    ("330108", "滨江区", 1996), ("330122", "桐庐县", 0), ("330127", "淳安县", 0),
)
ROADS = ("解放路", "延安路", "中山路", "建国路", "凤起路", "体育场路", "文三路", "江南大道", "滨盛路", "迎春路")
# GB/T 3304: mostly 汉族, and 回, 苗, 布依, 土家 and 畲族 (the people native to Zhejiang's hills)
ETHNICITIES = ("01",) * 18 + ("03", "06", "09", "15", "19")
MARRIED = ("20", "21", "22", "23", "30", "40")  # GB/T 2261.2: married, remarried, widowed, divorced
EDUCATION = ("10", "20", "30", "40", "60", "70", "80", "90")  # GB/T 4658 groups
SCHOOLING = ("60", "70", "80")  # the groups someone still at school has reached

COLUMNS = ("SFZH", "XM", "CYM", "XB", "MZ", "CSRQ", "CSDQH", "HJDQH", "HJDZ", "XZZ", "HYZK", "XL", "SWBZ",
           "GXSJ")
CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS HJ_RK (
    SFZH  CHAR(18) PRIMARY KEY,  -- 公民身份号码
    XM    VARCHAR(50) NOT NULL,  -- 姓名
    CYM   VARCHAR(50),           -- 曾用名
    XB    CHAR(1) NOT NULL,      -- 性别 GB/T 2261.1
    MZ    CHAR(2) NOT NULL,      -- 民族 GB/T 3304
    CSRQ  CHAR(8) NOT NULL,      -- 出生日期 YYYYMMDD
    CSDQH CHAR(6),               -- 出生地区划
    HJDQH CHAR(6) NOT NULL,      -- 户籍地区划
    HJDZ  VARCHAR(200) NOT NULL, -- 户籍地址
    XZZ   VARCHAR(200),          -- 现住址
    HYZK  CHAR(2),               -- 婚姻状况 GB/T 2261.2
    XL    CHAR(2),               -- 学历 GB/T 4658
    SWBZ  CHAR(1) NOT NULL,      -- 死亡标志 0/1
    GXSJ  VARCHAR(19) NOT NULL   -- 更新时间 YYYY-MM-DD HH:MM:SS, China Standard Time
)
"""

Environ = dict
StartResponse = Callable[..., object]


class ServiceFault(Exception):
    """A fault of the contract: ``faultcode`` is ``Client`` (the request) or ``Server`` (us)."""

    def __init__(self, code: str, message: str, faultcode: str = "Client"):
        super().__init__(message)
        self.code = code
        self.message = message
        self.faultcode = faultcode


# --------------------------------------------------------------------------- the bureau's data


def seed_people(db_path: str | Path, n: int = 200, seed: int = DEFAULT_SEED) -> list[dict]:
    """(Re)fill the bureau's ``HJ_RK`` table with ``n`` people; the same seed gives the same people.

    Returns them as contract PersonRecord field dicts (``idNumber``, ``name``, ``birthDate``
    as ISO text, ``deceased`` as bool, ...), in the order they were generated.
    """
    rows = list(_generate(n, seed))
    with closing(sqlite3.connect(db_path)) as db, db:
        db.execute(CREATE_TABLE)
        db.execute("DELETE FROM HJ_RK")
        db.executemany(f"INSERT INTO HJ_RK ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                       [tuple(row[c] for c in COLUMNS) for row in rows])
    return [_person(row) for row in rows]


def _generate(n: int, seed: int) -> Iterable[dict]:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    taken: set[str] = set()
    recorded = datetime(2024, 5, 1, 9, 0)
    while len(taken) < n:
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 72 * 365))
        sex = rng.choice("12")
        birthplace = rng.choice([d for d in DISTRICTS if d[2] <= born.year])
        order = rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)  # 顺序码: odd for men, even for women
        first17 = f"{birthplace[0]}{born:%Y%m%d}{order:03d}"
        id_number = first17 + check_digit(first17)
        if id_number in taken:
            continue
        taken.add(id_number)
        code, district, _since = rng.choice(DISTRICTS)
        address = f"浙江省临江市{district}{rng.choice(ROADS)}{rng.randint(1, 400)}号"
        age = 2024 - born.year
        yield {
            "SFZH": id_number,
            "XM": fake.name_male() if sex == "1" else fake.name_female(),
            "CYM": fake.name() if rng.random() < 0.05 else None,
            "XB": sex,
            "MZ": rng.choice(ETHNICITIES),
            "CSRQ": f"{born:%Y%m%d}",
            "CSDQH": birthplace[0],
            "HJDQH": code,
            "HJDZ": address,
            "XZZ": address if rng.random() < 0.7 else f"浙江省临江市{rng.choice(DISTRICTS)[1]}{rng.choice(ROADS)}"
                                                       f"{rng.randint(1, 400)}号{rng.randint(1, 30)}幢",
            "HYZK": "10" if age < 22 else rng.choice(("10",) + MARRIED),
            "XL": rng.choice(EDUCATION if age >= 22 else SCHOOLING) if age >= 7 else None,
            "SWBZ": "1" if age > 60 and rng.random() < 0.15 else "0",
            "GXSJ": f"{recorded - timedelta(minutes=rng.randrange(0, 3 * 365 * 24 * 60)):%Y-%m-%d %H:%M:%S}",
        }


def check_digit(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check digit of an ID number's first 17 digits."""
    # stdnum's calc_check_digit drops the last character of what it is given
    return ric.calc_check_digit(first17 + "?")


def _person(row: dict | sqlite3.Row) -> dict:
    """A row of ``HJ_RK`` -> the contract's PersonRecord fields (None for what the bureau lacks)."""
    return {
        "idNumber": row["SFZH"], "name": row["XM"], "formerName": row["CYM"], "sex": row["XB"],
        "ethnicity": row["MZ"], "birthDate": datetime.strptime(row["CSRQ"], "%Y%m%d").date().isoformat(),
        "birthplaceDivision": row["CSDQH"], "domicileDivision": row["HJDQH"], "domicileAddress": row["HJDZ"],
        "residenceAddress": row["XZZ"], "maritalStatus": row["HYZK"], "educationLevel": row["XL"],
        "deceased": row["SWBZ"] == "1",
        "updated": datetime.strptime(row["GXSJ"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA).isoformat(),
    }


def _find(db_path: Path, id_number: str) -> dict | None:
    try:
        # read-only: a query service has no business writing, and a missing file must not be created
        with closing(sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            db.row_factory = sqlite3.Row
            row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM HJ_RK WHERE SFZH = ?", (id_number,)).fetchone()
    except sqlite3.Error as exc:
        raise ServiceFault("ServiceUnavailable", f"户籍数据库不可用: {exc}", "Server") from exc
    return None if row is None else _person(row)


# --------------------------------------------------------------------------- the contract


@cache
def _contract() -> etree._ElementTree:
    return etree.parse(str(CONTRACT), safe_parser())


@cache
def _request_schema() -> etree.XMLSchema:
    """The contract's own types, so that a request is checked against what the WSDL promises."""
    schema = _contract().find(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema")
    return etree.XMLSchema(etree.fromstring(etree.tostring(schema), safe_parser()))


def contract_wsdl(location: str) -> bytes:
    """The contract WSDL with its port's ``soap:address`` at ``location``."""
    root = etree.fromstring(etree.tostring(_contract()), safe_parser())
    for address in root.iterfind(f"{{{WSDL_NS}}}service/{{{WSDL_NS}}}port/{{{WSDL_SOAP_NS}}}address"):
        address.set("location", location)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def query_person(db_path: Path, request: etree._Element) -> etree._Element:
    """One ``pq:QueryPerson`` -> its ``pq:QueryPersonResponse``; bad input raises ServiceFault."""
    schema = _request_schema()
    if not schema.validate(request):
        raise ServiceFault("InvalidRequest", f"QueryPerson 不符合接口约定: {schema.error_log.last_error.message}")
    id_number = request.findtext(PQ + "idNumber")
    check = check_digit(id_number[:17])
    if id_number[17] != check:
        raise ServiceFault("InvalidIdNumber", f"公民身份号码 {id_number} 校验位错误 (应为 {check})")
    person = _find(db_path, id_number)
    response = etree.Element(PQ + "QueryPersonResponse", nsmap={"pq": PQ_NS})
    etree.SubElement(response, PQ + "found").text = _bool(person is not None)
    if person is None:
        return response
    asked_name = request.findtext(PQ + "name")
    if asked_name is not None:
        etree.SubElement(response, PQ + "nameMatches").text = _bool(asked_name.strip() == person["name"])
    record = etree.SubElement(response, PQ + "person")
    for name, value in person.items():  # already in the contract's PersonRecord order
        if value is not None:
            etree.SubElement(record, PQ + name).text = _bool(value) if isinstance(value, bool) else value
    return response


def _bool(value: bool) -> str:
    return "true" if value else "false"


# --------------------------------------------------------------------------- SOAP 1.1 over HTTP


def household_service_app(db_path: str | Path) -> Callable[[Environ, StartResponse], list[bytes]]:
    """The WSGI application of 临江市公安局's household registry service over ``db_path``."""
    db_path = Path(db_path)

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET" and environ.get("QUERY_STRING", "").lower() == "wsdl":
            return _reply(start_response, "200 OK", contract_wsdl(request_uri(environ, include_query=False)))
        if method != "POST":
            body = "临江市公安局户籍信息查询服务: POST SOAP 1.1 QueryPerson requests; the contract is at ?wsdl\n"
            return _reply(start_response, "405 Method Not Allowed", body.encode(), "text/plain; charset=utf-8",
                          [("Allow", "GET, POST")])
        try:
            response = query_person(db_path, _operation(environ))
        except ServiceFault as fault:
            return _reply(start_response, "500 Internal Server Error", _fault_envelope(fault))
        return _reply(start_response, "200 OK", _envelope(response))

    return app


def _operation(environ: Environ) -> etree._Element:
    """The QueryPerson element of a POSTed SOAP 1.1 envelope, parsed without DTDs or entities."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0 or length > MAX_REQUEST_BYTES:
        raise ServiceFault("InvalidRequest", f"请求须为 1 至 {MAX_REQUEST_BYTES} 字节的 SOAP 报文 (收到 {length} 字节)")
    try:
        root = etree.fromstring(environ["wsgi.input"].read(length), safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ServiceFault("MalformedRequest", f"请求不是格式正确的 XML: {exc}") from exc
    if root.getroottree().docinfo.internalDTD is not None:
        raise ServiceFault("MalformedRequest", "请求不得包含 DTD")
    if root.tag == "{%s}Envelope" % SOAP12_NS:
        raise ServiceFault("VersionMismatch", "本服务只接受 SOAP 1.1 报文")
    body = root.find(SOAP + "Body") if root.tag == SOAP + "Envelope" else None
    operation = next(iter(body.iterchildren(etree.Element)), None) if body is not None else None
    if operation is None:
        raise ServiceFault("MalformedRequest", "请求须为 SOAP 1.1 Envelope, 其 Body 中为 QueryPerson")
    if operation.tag != PQ + "QueryPerson":
        raise ServiceFault("UnknownOperation", f"本服务没有操作 {operation.tag}, 只有 {PQ}QueryPerson")
    return operation


def _envelope(payload: etree._Element) -> bytes:
    envelope = etree.Element(SOAP + "Envelope", nsmap={"soap": SOAP11_NS})
    etree.SubElement(envelope, SOAP + "Body").append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _fault_envelope(fault: ServiceFault) -> bytes:
    soap_fault = etree.Element(SOAP + "Fault", nsmap={"soap": SOAP11_NS})
    # SOAP 1.1 has a VersionMismatch fault code of its own; everything else is Client or Server
    faultcode = "VersionMismatch" if fault.code == "VersionMismatch" else fault.faultcode
    etree.SubElement(soap_fault, "faultcode").text = f"soap:{faultcode}"
    etree.SubElement(soap_fault, "faultstring").text = fault.message
    detail = etree.SubElement(etree.SubElement(soap_fault, "detail"), PQ + "ServiceFault", nsmap={"pq": PQ_NS})
    etree.SubElement(detail, PQ + "code").text = fault.code
    etree.SubElement(detail, PQ + "message").text = fault.message
    return _envelope(soap_fault)


def _reply(start_response: StartResponse, status: str, body: bytes, content_type: str = "text/xml; charset=utf-8",
           extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *(extra or [])])
    return [body]


def serve_household_service(host: str, port: int, db_path: str | Path) -> None:
    """Serve the household registry at ``http://host:port/`` (blocking), seeding an empty database first."""
    from waitress import serve

    db_path = Path(db_path)
    if not db_path.exists():
        seed_people(db_path)
    print(f"临江市公安局 household registry serving on http://{host}:{port}/  (WSDL: ?wsdl)", flush=True)
    serve(household_service_app(db_path), host=host, port=port, threads=4, ident="gaj-hjgl")
