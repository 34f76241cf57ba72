"""临湖区's own platform in the demo: a second installation (its database and var/ under
``var/demo/district/``, the city's port + 10) registered at the city as a catalogue node (目录管理节点),
so that ``make demo`` shows a district's catalogue federated into the city's.

    seed_district(city_ctx)  ->  var/demo/district/district.env

At the city, through the onboarding actions: 临江市临湖区人民政府 files its 登记申请 with the 接入方式
目录管理节点, the platform approves it, and the city's CA issues it a certificate (key and certificate
under ``var/demo/district/upper/``).  At the district, its own CA (under its var/, for its departments),
and in its own database: 临湖区卫生健康局 and
临湖区民政局, a cataloguer each and a reviewer, and their resources catalogued, reviewed and
published through the catalogue's actions - one of them withdrawn again.  ``district.env`` holds the
district's settings (``GOVSHARE_DB_URL``, ``GOVSHARE_VAR``, ``GOVSHARE_PORT``, ``GOVSHARE_UPPER_*``):
``make demo`` serves the district with them, and its federation loop pushes the catalogue up.
Every step is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from directory.accounts import create_user, register_department
from directory.bootstrap import bootstrap_node
from directory.catalogue import workflow
from directory.demo import credit_code_for
from governance import onboarding
from registry.db import make_engine, migrate, session_factory, unit_of_work
from registry.models import CatalogueEntry, Department, User
from registry.settings import Settings
from trust import pki
from trust.actions import Context
from trust.auth import Caller

#: the district at the city: a department whose 接入方式 is 目录管理节点
NODE = {"code": "lhq", "name": "临江市临湖区人民政府", "credit_code": credit_code_for("00260100"),
        "division_code": "330102", "connection_mode": "catalogue_node", "contact_name": "周文静",
        "contact_phone": "0571-86001234", "contact_email": "zhouwj@lhq.example.cn",
        "description": "临湖区政务信息资源目录: 以目录管理节点接入市共享交换平台, 上报本区已发布目录"}
#: the district's own departments: code -> (name, credit code)
DEPARTMENTS = {"wjw": ("临湖区卫生健康局", credit_code_for("00260101")),
               "mzj": ("临湖区民政局", credit_code_for("00260102"))}
PORT_OFFSET = 10
PASSWORD = "Demo-Pass-2026"


def _entry(name: str, classification: str, abstract: str, items: list[tuple[str, str, int | None]], **more) -> dict:
    return {"classification": classification, "name": name, "provider_unit": more.pop("unit", ""),
            "abstract": abstract, "format_class": "接口", "format_type": "WebService",
            "items": [{"name": n, "data_type": t, "length": length} for n, t, length in items],
            "sharing_type": more.pop("sharing_type", "无条件共享"), "sharing_method": "接口",
            "open_to_public": False, "update_cycle": more.pop("update_cycle", "每日"),
            "access_point": more.pop("access_point"), **more}


#: what each department catalogues: (cataloguer, metadata); the last one is withdrawn again
CATALOGUE = [
    ("lhq.wjw", _entry("临湖区出生医学证明信息", "101002",
                       "临湖区各助产机构签发的出生医学证明, 按新生儿姓名和出生日期查询。",
                       [("新生儿姓名", "C", 50), ("出生日期", "D", None), ("出生地点", "C", 200)],
                       unit="妇幼健康科", sharing_type="有条件共享",
                       sharing_condition="仅限办理户籍登记和社会救助业务使用",
                       access_point="http://10.20.1.5/birth/service")),
    ("lhq.wjw", _entry("临湖区死亡医学证明信息", "101003", "临湖区医疗机构签发的死亡医学证明。",
                       [("姓名", "C", 50), ("公民身份号码", "C", 18), ("死亡日期", "D", None)], unit="医政医管科",
                       sharing_type="有条件共享", sharing_condition="仅限办理户籍注销和殡葬业务使用",
                       access_point="http://10.20.1.5/death/service")),
    ("lhq.mzj", _entry("临湖区最低生活保障对象信息", "101001", "临湖区城乡低保对象, 按公民身份号码核对。",
                       [("公民身份号码", "C", 18), ("姓名", "C", 50), ("保障金额", "N", 10)], unit="社会救助科",
                       update_cycle="每月", access_point="http://10.20.2.7/dibao/service")),
    ("lhq.mzj", _entry("临湖区婚姻登记信息(2019年以前)", "101004", "临湖区 2019 年以前的婚姻登记档案, 已并入市级系统。",
                       [("公民身份号码", "C", 18), ("登记日期", "D", None)], unit="婚姻登记处",
                       access_point="http://10.20.2.7/marriage/service")),
]


def district_folder(settings: Settings) -> Path:
    return settings.var_dir / "demo" / "district"


def district_settings(city: Settings) -> Settings:
    folder = district_folder(city)
    upper = folder / "upper"
    return replace(city, db_url=f"sqlite:///{folder / 'govshare.db'}", var_dir=folder,
                   port=city.port + PORT_OFFSET, public_url="", node_domain="lhq.govshare.local",
                   upper_url=city.base_url, upper_key=str(upper / "lhq.key"), upper_cert=str(upper / "lhq.pem"),
                   upper_ca=str(city.var_dir / "pki" / "ca.pem"), upper_reconcile_seconds=60)


def seed_district(ctx: Context, echo: Callable[[str], None] = print) -> Path | None:
    """Register the district at the city (``ctx``: the city's platform) and seed the district's own
    platform; the path of ``district.env``, or None without the city's CA."""
    if pki.ca_certificate(ctx.settings) is None:
        return None
    settings = district_settings(ctx.settings)
    _register_at_city(ctx, settings)
    _seed_platform(settings, echo)
    env = district_folder(ctx.settings) / "district.env"
    env.write_text(
        "# 临湖区's platform (目录管理节点 of the city's), written by govshare demo seed: make demo serves it\n"
        f"GOVSHARE_DB_URL={settings.db_url}\nGOVSHARE_VAR={settings.var_dir}\nGOVSHARE_PORT={settings.port}\n"
        f"GOVSHARE_HOST={settings.host}\nGOVSHARE_PUBLIC_URL=\nGOVSHARE_NODE_DOMAIN={settings.node_domain}\n"
        f"GOVSHARE_UPPER_URL={settings.upper_url}\nGOVSHARE_UPPER_KEY={settings.upper_key}\n"
        f"GOVSHARE_UPPER_CERT={settings.upper_cert}\nGOVSHARE_UPPER_CA={settings.upper_ca}\n"
        f"GOVSHARE_UPPER_RECONCILE={settings.upper_reconcile_seconds}\nGOVSHARE_SCHEDULER=0\n", encoding="utf-8")
    return env


def _register_at_city(ctx: Context, district: Settings) -> None:
    with unit_of_work(ctx.sessions) as session:
        known = session.scalar(select(Department).where(Department.code == NODE["code"]))
    if known is None:
        filed = onboarding.apply(ctx.again(), **NODE)
        onboarding.approve(ctx.again(), application_id=filed.id)
    key, cert = Path(district.upper_key), Path(district.upper_cert)
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        with unit_of_work(ctx.sessions) as session:
            issued = pki.issue(session, ctx.settings, session.scalar(select(Department).where(
                Department.code == NODE["code"])))
            key.write_bytes(issued.key_pem())
            key.chmod(0o600)
            cert.write_bytes(issued.cert_pem())


def _seed_platform(settings: Settings, echo: Callable[[str], None]) -> None:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    if pki.ca_certificate(settings) is None:  # its own CA, for its departments (and its /ready): not the city's
        pki.init_ca(settings, common_name="临湖区 政务信息资源共享交换平台 CA", organization="临江市临湖区人民政府")
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    sessions = session_factory(engine)
    try:
        with unit_of_work(sessions) as session:
            bootstrap_node(session, settings)
            if session.scalar(select(Department).where(Department.code == "wjw")) is None:
                for code, (name, credit) in DEPARTMENTS.items():
                    department = register_department(session, settings, code=code, name=name, credit_code=credit)
                    create_user(session, username=f"lhq.{code}", password=PASSWORD, department=department,
                                roles=("cataloguer", "provider"))
                create_user(session, username="lhq.reviewer", password=PASSWORD, department=None,
                            roles=("reviewer",))
            done = set(session.scalars(select(CatalogueEntry.name)))
        codes = []
        for username, metadata in CATALOGUE:
            if metadata["name"] in done:
                continue
            cataloguer, reviewer = _as(sessions, settings, username), _as(sessions, settings, "lhq.reviewer")
            code = workflow.create(cataloguer, metadata=metadata).resource_code
            workflow.submit(cataloguer, resource_code=code)
            workflow.approve(reviewer, resource_code=code)
            workflow.publish(reviewer, resource_code=code)
            codes.append(code)
        if codes and CATALOGUE[-1][1]["name"] not in done:
            workflow.withdraw(_as(sessions, settings, CATALOGUE[-1][0]), resource_code=codes[-1],
                              reason="已并入市级婚姻登记系统, 本区不再提供")
        echo(f"  临湖区's platform (目录管理节点): {len(CATALOGUE)} entries catalogued, {settings.db_url}; "
             f"registered at the city as {NODE['code']} ({NODE['name']}); its portal's logins: "
             f"{', '.join(f'lhq.{code}' for code in DEPARTMENTS)} (目录管理员/提供方), lhq.reviewer (审核员), "
             f"password {PASSWORD}")
    finally:
        engine.dispose()


def _as(sessions, settings: Settings, username: str) -> Context:
    with unit_of_work(sessions) as session:
        user = session.scalar(select(User).where(User.username == username))
        caller = Caller.of_user(user, "cli")
    return Context(caller, sessions, settings)
