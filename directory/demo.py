"""Demo data: the departments of 临江市 (a fictional city) and a published catalogue of sharing
interfaces, each with its WSDL and access point.  The departments and their accounts are taken on
by ``governance.demo`` through the onboarding actions; :func:`seed_catalogue` then has each
department's cataloguer publish and catalogue its resources, and the platform's reviewer approve
and publish them.

``govshare demo seed`` is idempotent: a second run finds everything in place.

Unified social credit codes (统一社会信用代码, GB 32100) are built like real ones for 机关
(registration authority 1, kind 1): ``11`` + division code + a GB 11714 organisation
code (8 characters and its check digit) + the GB 32100 check digit.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from stdnum.cn import uscc

from registry.models import CatalogueEntry, Department
from registry.settings import Settings

from .accounts import find_user

CITY_DIVISION = "330100"
CONTRACTS = Path(__file__).resolve().parent.parent / "wsdl" / "contracts"
DEMO_PASSWORD = "Govshare-demo1"  # meets the password policy (trust.passwords): 10+ characters of 3 classes

_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_GB11714_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def organisation_code(body8: str) -> str:
    """A GB 11714 organisation code: eight characters and their check character."""
    total = sum(_GB11714_ALPHABET.index(c) * w for c, w in zip(body8, _GB11714_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body8 + {10: "X", 11: "0"}.get(check, str(check))


def credit_code_for(org8: str, division: str = CITY_DIVISION) -> str:
    body = "11" + division + organisation_code(org8)
    return body + uscc.calc_check_digit(body)


@dataclass(frozen=True)
class DemoDepartment:
    code: str
    name: str
    english: str
    org8: str
    description: str
    connection_mode: str = "app_system"  # governance.onboarding.CONNECTION_MODES


DEPARTMENTS = (
    DemoDepartment("sjj", "临江市政务服务和数据管理局", "Government Services and Data Administration", "00250101",
                   "负责全市政务信息资源共享交换平台的建设和运行, 组织编制政务信息资源目录。"),
    DemoDepartment("gaj", "临江市公安局", "Public Security Bureau", "00250102",
                   "户籍管理、居民身份证、出入境和交通管理信息的提供方。", "front_node"),
    DemoDepartment("mzj", "临江市民政局", "Civil Affairs Bureau", "00250103",
                   "婚姻登记、社会组织、社会救助和殡葬管理信息的提供方。"),
    DemoDepartment("scjgj", "临江市市场监督管理局", "Administration for Market Regulation", "00250104",
                   "市场主体登记、行政许可和行政处罚信息的提供方。"),
    DemoDepartment("tjj", "临江市统计局", "Statistics Bureau", "00250105",
                   "国民经济核算、价格指数和统计公报信息的提供方。"),
    DemoDepartment("zrzyj", "临江市自然资源和规划局", "Natural Resources and Planning Bureau", "00250106",
                   "基础测绘、不动产登记、国土空间规划和地名地址信息的提供方。"),
    DemoDepartment("rsj", "临江市人力资源和社会保障局", "Human Resources and Social Security Bureau", "00250107",
                   "就业登记、社会保险参保和养老保险待遇信息的提供方。"),
    DemoDepartment("wjw", "临江市卫生健康委员会", "Health Commission", "00250108",
                   "出生医学证明、死亡医学证明和医疗卫生机构信息的提供方。"),
    DemoDepartment("jyj", "临江市教育局", "Education Bureau", "00250109",
                   "学籍、学校和教育服务信息的提供方。"),
    DemoDepartment("swj", "国家税务总局临江市税务局", "Taxation Bureau", "00250110",
                   "税务登记、纳税信用和发票信息的提供方。"),
    DemoDepartment("fgw", "临江市发展和改革委员会", "Development and Reform Commission", "00250111",
                   "固定资产投资项目、价格监管和社会信用信息的提供方。"),
    DemoDepartment("zjj", "临江市住房和城乡建设局", "Housing and Urban-Rural Development Bureau", "00250112",
                   "建设工程、房屋交易和市政设施信息的提供方。"),
    DemoDepartment("sthjj", "临江市生态环境局", "Ecology and Environment Bureau", "00250113",
                   "环境质量监测、污染源和环境执法信息的提供方。"),
    DemoDepartment("yjglj", "临江市应急管理局", "Emergency Management Bureau", "00250114",
                   "应急预案、应急资源、危险化学品和安全生产信息的提供方。"),
)

# Information items (信息项) of the four kinds of sharing interface.
PERSON_ITEMS = [
    {"name": "公民身份号码", "data_type": "C", "length": 18}, {"name": "姓名", "data_type": "C", "length": 50},
    {"name": "性别", "data_type": "C", "length": 1}, {"name": "民族", "data_type": "C", "length": 2},
    {"name": "出生日期", "data_type": "D"}, {"name": "户籍地址", "data_type": "C", "length": 200},
    {"name": "户籍地行政区划代码", "data_type": "C", "length": 6}, {"name": "人员状态", "data_type": "C", "length": 2},
]
ENTITY_ITEMS = [
    {"name": "统一社会信用代码", "data_type": "C", "length": 18}, {"name": "名称", "data_type": "C", "length": 200},
    {"name": "类型", "data_type": "C", "length": 4}, {"name": "法定代表人", "data_type": "C", "length": 50},
    {"name": "成立日期", "data_type": "D"}, {"name": "注册资本", "data_type": "Y"},
    {"name": "住所", "data_type": "C", "length": 200}, {"name": "经营状态", "data_type": "C", "length": 2},
]
INDICATOR_ITEMS = [
    {"name": "指标代码", "data_type": "C", "length": 20}, {"name": "指标名称", "data_type": "C", "length": 100},
    {"name": "行政区划代码", "data_type": "C", "length": 6}, {"name": "统计期", "data_type": "C", "length": 8},
    {"name": "指标值", "data_type": "N", "length": 20}, {"name": "计量单位", "data_type": "C", "length": 20},
]
SPATIAL_ITEMS = [
    {"name": "要素标识", "data_type": "C", "length": 40}, {"name": "要素类型", "data_type": "C", "length": 10},
    {"name": "行政区划代码", "data_type": "C", "length": 6}, {"name": "几何", "data_type": "M"},
    {"name": "面积", "data_type": "B"}, {"name": "坐标参照系", "data_type": "C", "length": 20},
]
KINDS = {
    "person": ("population-query.wsdl", PERSON_ITEMS),
    "entity": ("legal-entity-query.wsdl", ENTITY_ITEMS),
    "indicator": ("macro-economy-query.wsdl", INDICATOR_ITEMS),
    "spatial": ("spatial-query.wsdl", SPATIAL_ITEMS),
}

U, C, N = "无条件共享", "有条件共享", "不予共享"

# (department, slug, classification, name, internal unit, kind, sharing, update cycle, open to the public)
RESOURCES = (
    ("gaj", "citizen-identity", "101001001", "公民身份信息", "人口管理支队", "person", C, "实时", False),
    ("gaj", "household-registration", "101001002", "户籍登记信息", "人口管理支队", "person", C, "每日", False),
    ("gaj", "residence-registration", "101001003", "居住登记信息", "人口管理支队", "person", C, "每日", False),
    ("gaj", "household-cancellation", "101003002", "注销户口信息", "人口管理支队", "person", U, "每日", False),
    ("gaj", "floating-population", "101008", "流动人口信息", "治安管理支队", "person", C, "每周", False),
    ("gaj", "exit-entry-documents", "301003", "出入境证件信息", "出入境管理支队", "person", N, "每日", False),
    ("gaj", "vehicle-registration", "301004", "机动车登记信息", "交通警察支队", "person", C, "每日", False),
    ("mzj", "marriage-registration", "101004001", "结婚登记信息", "婚姻登记处", "person", C, "每日", False),
    ("mzj", "divorce-registration", "101004002", "离婚登记信息", "婚姻登记处", "person", C, "每日", False),
    ("mzj", "social-organisations", "102004", "社会组织登记信息", "社会组织管理局", "entity", U, "每周", True),
    ("mzj", "minimum-living-allowance", "203004", "最低生活保障对象信息", "社会救助处", "person", C, "每月", False),
    ("mzj", "funeral-services", "302004", "殡葬服务信息", "社会事务处", "person", C, "每月", False),
    ("scjgj", "enterprise-establishment", "102002001", "企业设立登记信息", "登记注册处", "entity", U, "实时", True),
    ("scjgj", "enterprise-change", "102002002", "企业变更登记信息", "登记注册处", "entity", U, "每日", True),
    ("scjgj", "enterprise-cancellation", "102002003", "企业注销登记信息", "登记注册处", "entity", U, "每日", True),
    ("scjgj", "business-licences", "105002001", "营业执照信息", "登记注册处", "entity", U, "实时", True),
    ("scjgj", "food-licences", "204001", "食品生产经营许可信息", "食品生产监管处", "entity", U, "每日", True),
    ("scjgj", "administrative-penalties", "303003", "市场监管行政处罚信息", "执法稽查局", "entity", U, "每周", True),
    ("tjj", "gdp", "106001001", "地区生产总值", "国民经济核算处", "indicator", U, "每季度", True),
    ("tjj", "industry-value-added", "106001002", "三次产业增加值", "国民经济核算处", "indicator", U, "每季度", True),
    ("tjj", "cpi", "106004001", "居民消费价格指数", "城市调查队", "indicator", U, "每月", True),
    ("tjj", "ppi", "106004002", "工业生产者价格指数", "城市调查队", "indicator", U, "每月", True),
    ("tjj", "fixed-asset-investment", "106003", "固定资产投资统计信息", "投资统计处", "indicator", U, "每月", True),
    ("tjj", "statistical-bulletin", "304002", "国民经济和社会发展统计公报", "综合处", "indicator", U, "每年", True),
    ("zrzyj", "digital-line-maps", "103001001", "数字线划图", "测绘地理信息处", "spatial", C, "每年", False),
    ("zrzyj", "orthophoto-maps", "103001002", "数字正射影像图", "测绘地理信息处", "spatial", C, "每年", False),
    ("zrzyj", "land-use", "103002001", "土地利用现状信息", "调查监测处", "spatial", U, "每年", True),
    ("zrzyj", "real-estate-registration", "103002002", "不动产登记信息", "不动产登记中心", "spatial", C, "实时", False),
    ("zrzyj", "place-names", "103006", "地名地址信息", "测绘地理信息处", "spatial", U, "每月", True),
    ("zrzyj", "administrative-divisions", "103007", "行政区划信息", "测绘地理信息处", "spatial", U, "每年", True),
    ("rsj", "employment-registration", "101006", "就业登记信息", "就业促进处", "person", C, "每日", False),
    ("rsj", "pension-insurance", "203001", "养老保险参保信息", "养老保险处", "person", C, "每月", False),
    ("rsj", "unemployment-insurance", "203002", "失业保险待遇信息", "失业保险处", "person", C, "每月", False),
    ("wjw", "birth-certificates", "101002001", "出生医学证明信息", "妇幼健康处", "person", C, "每日", False),
    ("wjw", "death-certificates", "101003001", "死亡医学证明信息", "妇幼健康处", "person", C, "每日", False),
    ("wjw", "medical-institutions", "202001", "医疗卫生机构信息", "医政医管处", "entity", U, "每月", True),
    ("jyj", "student-status", "101005", "学生学籍信息", "基础教育处", "person", C, "每半年", False),
    ("jyj", "schools", "201001", "学校基本信息", "发展规划处", "entity", U, "每年", True),
    ("swj", "tax-registration", "102005", "税务登记信息", "征管和科技发展处", "entity", C, "每日", False),
    ("swj", "tax-credit", "104001", "纳税信用等级信息", "纳税服务处", "entity", U, "每年", True),
    ("fgw", "energy-consumption", "207003", "能源消费统计信息", "能源处", "indicator", U, "每季度", True),
    ("fgw", "dishonest-entities", "104004", "失信惩戒对象信息", "社会信用处", "entity", U, "每周", True),
    ("zjj", "construction-projects", "209002", "建设工程项目信息", "建筑市场监管处", "entity", U, "每周", True),
    ("zjj", "housing-transactions", "209003", "商品房交易信息", "房地产市场监管处", "spatial", C, "每日", False),
    ("sthjj", "air-quality", "211001", "环境空气质量监测信息", "生态环境监测处", "indicator", U, "实时", True),
    ("sthjj", "pollution-sources", "211002", "重点污染源信息", "环境执法支队", "entity", U, "每月", True),
    ("yjglj", "hazardous-chemicals", "205001", "危险化学品企业信息", "危化品监管处", "entity", C, "每月", False),
    ("yjglj", "emergency-resources", "212002", "应急物资储备信息", "救灾和物资保障处", "spatial", N, "每月", False),
)

CONDITIONS = {
    "person": "仅限依法履行职责的政府部门在办理相关行政事务时使用, 需提交使用申请并经提供方审核同意",
    "entity": "仅限监管执法和公共服务事项办理使用, 需提交使用申请并经提供方审核同意",
    "indicator": "仅限政府部门内部决策分析使用, 未公开前不得对外发布",
    "spatial": "仅限规划编制、审批和监管使用, 涉密数据按保密规定管理",
}
NOT_SHARED_BASIS = "《中华人民共和国保守国家秘密法》及相关保密规定: 涉及国家秘密, 不予共享"


#: the demo's logical resource (逻辑集中): 公民身份信息, answered live by 公安局's own service
LOGICAL_SLUG = "citizen-identity"


def household_db(settings: Settings) -> Path:
    """The database of 临江市公安局's own household registry (the demo provider service)."""
    return settings.var_dir / "gaj-household.db"


def household_address(settings: Settings) -> str:
    """Where ``govshare serve --demo-provider`` serves that registry: the next port up."""
    return f"http://{settings.host}:{settings.port + 1}/"


def _access_point(settings: Settings, code: str, slug: str) -> str:
    return household_address(settings) if slug == LOGICAL_SLUG else f"{settings.base_url}/services/{code}/{slug}"


def _wsdl_for(kind: str, address: str) -> bytes:
    contract, _items = KINDS[kind]
    text = (CONTRACTS / contract).read_text(encoding="utf-8")
    placeholder = f"http://127.0.0.1:8080/services/{contract.removesuffix('.wsdl')}"
    return text.replace(placeholder, address).encode("utf-8")


def _entry_data(dept: Department, row: tuple, wsdl_path: str, access_point: str) -> dict:
    _code, slug, cls, name, unit, kind, sharing, cycle, public = row
    data = {
        "classification": cls, "name": name, "provider_unit": unit,
        "abstract": f"{dept.name}{unit}掌握的{name}, 通过共享交换平台以 Web Service 接口提供查询。",
        "format_class": "接口", "format_type": "WebService", "items": KINDS[kind][1],
        "sharing_type": sharing, "update_cycle": cycle, "open_to_public": public,
        "wsdl_path": wsdl_path, "access_point": access_point, "logical": slug == LOGICAL_SLUG,
    }
    if sharing == C:
        data["sharing_condition"] = CONDITIONS[kind]
    if sharing == N:
        data["not_shared_basis"] = NOT_SHARED_BASIS
    else:
        data["sharing_method"] = "接口"
    if public:
        data["open_condition"] = "无条件开放"
    return data


def seed_catalogue(sessions: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    """Catalogue whatever demo resource is missing; returns what exists afterwards.

    Each department's cataloguer (the account named after it) publishes each resource's WSDL and
    catalogues it, and the platform's reviewer (``admin``) approves and publishes it - the same
    actions (and audit entries) as in the portal.  The departments and accounts must exist
    (``governance.demo.seed_members``)."""
    from trust.actions import Context
    from trust.auth import Caller

    from .catalogue import workflow
    from .wsdl_publishing import publish

    with sessions() as session:
        depts = {d.code: d for d in session.scalars(select(Department))}
        missing = [row for row in RESOURCES if session.scalar(select(CatalogueEntry.id).where(
            CatalogueEntry.provider_id == depts[row[0]].id, CatalogueEntry.name == row[3])) is None]
        acting = {name: Caller.of_user(find_user(session, name), "cli") for name in {"admin", *(r[0] for r in missing)}}
    for row in missing:
        code, slug, *_rest = row
        dept = depts[code]
        cataloguer = Context(acting[code], sessions, settings)
        reviewer = Context(acting["admin"], sessions, settings)
        path = f"{code}/{slug}.wsdl"
        address = _access_point(settings, code, slug)
        publish(cataloguer, path=path, content=_wsdl_for(row[5], address), base_url=settings.base_url,
                map_services=False)
        entry = workflow.create(cataloguer, metadata=_entry_data(dept, row, path, address))
        workflow.submit(cataloguer, resource_code=entry.resource_code)
        workflow.approve(reviewer, resource_code=entry.resource_code)
        workflow.publish(reviewer, resource_code=entry.resource_code)
    with sessions() as session:
        return {
            "departments": session.query(Department).count(),
            "published resources": session.query(CatalogueEntry).filter(CatalogueEntry.status == "published").count(),
        }


def print_credentials(settings: Settings) -> None:
    base = settings.base_url
    print(f"Demo logins (portal {base}/portal/, and UDDI get_authToken userID / cred):")
    print(f"  admin / {DEMO_PASSWORD}    系统管理员 (部门登记审核, 部门管理) and catalogue reviewer (审核员)")
    print(f"  security / {DEMO_PASSWORD} 安全管理员 (用户, 证书)")
    print(f"  reviewer / {DEMO_PASSWORD} 目录审核员 (审核, 发布)")
    print(f"  auditor / {DEMO_PASSWORD}  审计员 (审计日志检索与校验, 交换监控, 考核)")
    for d in DEPARTMENTS[1:]:
        print(f"  {d.code:<6} / {DEMO_PASSWORD}    {d.name} (目录管理员/提供方/使用方)")
    print(f"应用系统 mzj.dibao (民政局 最低生活保障审核系统) signs with {settings.var_dir / 'demo' / 'certs'}"
          "/mzj.dibao.key and .pem: its certificate was issued from its CSR, its key never left it")
    print(f"Endpoints: {base}/uddi/inquiry  {base}/uddi/publication  {base}/uddi/security  {base}/exchange  "
          "(each with ?wsdl)")
    print(f"逻辑集中 demo: 公民身份信息 is answered live by 临江市公安局's own service at "
          f"{household_address(settings)}")


def register(subparsers: argparse._SubParsersAction, run) -> None:
    """``govshare demo seed``; ``run(args, sessions, settings)`` does the seeding (server.py)."""
    demo = subparsers.add_parser("demo", help="demo data").add_subparsers(dest="demo_command", required=True)
    demo.add_parser("seed", help="create the demo departments, users, catalogue and records").set_defaults(
        handler=run)
