"""Core metadata (核心元数据) of a catalogue entry and the rules it must satisfy.

The metadata of one entry, as a department's cataloguer gives it (JSON or a dict)::

    {
      "classification": "101002",                       # 信息资源分类 (类/项/目/细目 code)
      "name": "出生医学证明信息",                         # 信息资源名称
      "provider_unit": "妇幼健康科",                      # 提供方内部部门
      "abstract": "本市出生医学证明签发信息……",             # 信息资源摘要
      "format_class": "数据库", "format_type": "oracle",   # 信息资源格式 (分类 + 类型)
      "items": [                                         # 信息项
        {"name": "新生儿姓名", "data_type": "C", "length": 50},
        {"name": "出生日期", "data_type": "D"}
      ],
      "sharing_type": "有条件共享",                        # 共享类型
      "sharing_condition": "仅限公安、民政部门办理户籍和救助业务使用",  # 共享条件
      "sharing_method": "接口",                           # 共享方式
      "open_to_public": false, "open_condition": "",      # 开放属性: 是否向社会开放, 开放条件
      "update_cycle": "每日",                             # 更新周期
      "publish_date": "2024-05-01",                       # 发布日期 (set on publishing if absent)
      "related_codes": ["101001/000001"],                 # 关联资源代码
      "wsdl_path": "wsjw/birth-certificate.wsdl",         # the sharing interface's WSDL (optional)
      "access_point": "http://10.1.2.3/birth/service",    # its endpoint (optional)
      "logical": false                                   # 逻辑集中: answered live by the provider's service
    }

The provider (提供方) and provider code (提供方代码, the 统一社会信用代码) come from the
provider department, the resource code (资源代码) is generated — neither is typed in.

Rules beyond "required" and "one of the listed values":

* 共享条件 is required for 有条件共享 and refused otherwise; 不予共享 needs its legal
  basis (不予共享依据: 法律、法规和政策依据), and such a resource has no 共享方式 and
  cannot be open to the public.
* 开放属性: a resource open to the public (向社会开放) states its 开放条件 — "无条件开放"
  is a valid statement — and a closed one has none, so the two never disagree.
* 信息项 data types are GB/T 21063.3's C N Y D T L M G B I F.  字符型 C needs a length of
  1-4000, 数值型 N and 浮点型 F a length (total digits) of 1-38; the other types have
  a size fixed by the type and take no length.
* The classification is a 项, 目 or 细目: a bare 类 (基础/主题/部门) is too coarse to
  catalogue under.
* Free text has a length limit (``MAX_LENGTHS``): GB/T 21063.3 and the 编制指南 give the
  elements as free text (自由文本) without a number, so the limits are the columns' widths
  for the short elements and, for the long ones (摘要, 共享条件, 依据, 开放条件), what a reader
  takes in at a glance - the 政府信息公开目录 practice keeps a 内容概述 within 300-500 字.

Every broken rule is a :class:`~registry.errors.MetadataError` naming the field, the rule in
English (command line, logs) and in Chinese with the field's label (the portal)::

    MetadataError("abstract", "at most 1000 characters", "got 5000", zh="最多 1000 个字 (现有 5000 个)",
                  label="资源摘要")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import stdnum.cn.uscc

from registry.errors import InvalidMetadata, MetadataError

from ..taxonomies import FORMAT_TYPES, SHARING_METHODS, SHARING_TYPES, UPDATE_CYCLES
from . import classification
from .codes import parse_code

CUSTOM_FORMAT = "自定义"
UNCONDITIONAL, CONDITIONAL, NOT_SHARED = SHARING_TYPES

#: 信息项数据类型 (GB/T 21063.3): letter -> name
DATA_TYPES = {
    "C": "字符型", "N": "数值型", "Y": "货币型", "D": "日期型", "T": "日期时间型", "L": "逻辑型",
    "M": "备注型", "G": "通用型", "B": "双精度型", "I": "整型", "F": "浮点型",
}
#: types whose length the cataloguer must give: letter -> (smallest, largest)
LENGTH_RANGES = {"C": (1, 4000), "N": (1, 38), "F": (1, 38)}

#: every field a cataloguer may give; everything else is refused as unknown
FIELDS = (
    "classification", "name", "provider_unit", "abstract", "format_class", "format_type", "items",
    "sharing_type", "sharing_condition", "not_shared_basis", "sharing_method", "open_to_public",
    "open_condition", "update_cycle", "publish_date", "related_codes", "wsdl_path", "access_point", "logical",
)
REQUIRED = ("classification", "name", "abstract", "format_class", "format_type", "items", "sharing_type",
            "open_to_public", "update_cycle")
#: the longest text of each field: the column widths of registry.models.CatalogueEntry, and for the
#: long free text what a catalogue reader takes in (see the module docstring)
MAX_LENGTHS = {"name": 200, "provider_unit": 200, "abstract": 1000, "format_class": 20, "format_type": 40,
               "sharing_condition": 500, "not_shared_basis": 500, "open_condition": 500, "wsdl_path": 255,
               "access_point": 1000}
ITEM_NAME_MAX = 100
#: the most related resource codes (关联资源代码) an entry names
RELATED_MAX = 50

#: the Chinese name of each field (核心元数据), as the portal's form labels it
FIELD_LABELS = {
    "classification": "资源分类", "name": "资源名称", "provider_unit": "提供方内部部门", "abstract": "资源摘要",
    "format_class": "格式分类", "format_type": "格式类型", "items": "信息项", "sharing_type": "共享类型",
    "sharing_condition": "共享条件", "not_shared_basis": "不予共享依据", "sharing_method": "共享方式",
    "open_to_public": "是否向社会开放", "open_condition": "开放条件", "update_cycle": "更新周期",
    "publish_date": "发布日期", "related_codes": "关联资源代码", "wsdl_path": "WSDL 路径", "access_point": "服务地址",
    "logical": "逻辑集中", "provider": "提供方", "provider_code": "提供方代码", "resource_code": "资源代码",
    "category": "资源类别", "provider_name": "提供方名称", "status": "状态", "status_reason": "状态原因",
    "service_key": "服务键", "version": "版本", "created": "创建时间", "modified": "修改时间", "metadata": "元数据",
}
_ITEM_PARTS = {"name": "名称", "data_type": "数据类型", "length": "长度"}
_INDEXED = re.compile(r"^(items|related_codes)\[(\d+)\](?:\.(\w+))?$")

_URL_RE = re.compile(r"^https?://[^\s/]+(/\S*)?$")


@dataclass(frozen=True)
class ItemSpec:
    """An information item (信息项): name, data type (数据类型) and length (数据长度)."""

    name: str
    data_type: str
    length: int | None = None


@dataclass(frozen=True)
class Metadata:
    """Metadata that passed every rule, normalised (trimmed text, canonical spellings)."""

    classification: str
    name: str
    provider_unit: str
    abstract: str
    format_class: str
    format_type: str
    items: tuple[ItemSpec, ...]
    sharing_type: str
    sharing_condition: str
    not_shared_basis: str
    sharing_method: str
    open_to_public: bool
    open_condition: str
    update_cycle: str
    publish_date: date | None
    related_codes: tuple[str, ...]
    wsdl_path: str
    access_point: str
    logical: bool = False  # 逻辑集中: answered live by the provider's own service

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, in the shape :func:`validate_metadata` accepts."""
        out = asdict(self)
        out["items"] = [asdict(i) for i in self.items]
        out["related_codes"] = list(self.related_codes)
        out["publish_date"] = self.publish_date.isoformat() if self.publish_date else None
        return out


def field_label(field: str) -> str:
    """The Chinese name of a metadata field: ``items[2].length`` -> 信息项 2 的长度."""
    indexed = _INDEXED.match(field)
    if indexed is None:
        return FIELD_LABELS.get(field, field)
    kind, n, part = indexed.groups()
    if kind == "related_codes":
        return f"关联资源代码第 {n} 个"
    return f"信息项 {n}" + (f" 的{_ITEM_PARTS.get(part, part)}" if part else "")


def problem(field: str, rule: str, message: str = "", zh: str = "") -> MetadataError:
    """A broken rule of ``field``, in English and (``zh``, the rule in words) in Chinese."""
    return MetadataError(field, rule, message, zh=zh, label=field_label(field))


def check_provider_code(credit_code: str) -> MetadataError | None:
    """The 提供方代码 must be a valid 统一社会信用代码 (GB 32100)."""
    try:
        stdnum.cn.uscc.validate(credit_code)
    except Exception as exc:  # noqa: BLE001 - stdnum raises more than ValidationError on odd input
        detail = getattr(exc, "message", exc.__class__.__name__)
        return problem("provider_code", "must be a valid 统一社会信用代码 (GB 32100)", f"{credit_code!r}: {detail}",
                       "提供部门登记的统一社会信用代码无效, 请联系平台管理员更正部门登记信息")
    return None


def validate_metadata(
    data: Mapping[str, Any],
    *,
    provider_code: str,
    resource_exists: Callable[[str], bool] = lambda code: True,
    own_code: str | None = None,
) -> Metadata:
    """Check ``data`` against every rule; raise :class:`InvalidMetadata` listing all broken ones.

    ``resource_exists`` tells whether a related resource code names a catalogue entry the
    cataloguer may see; ``own_code`` is the entry's own code, which it may not relate to.
    """
    errors: list[MetadataError] = []

    def fail(field: str, rule: str, message: str = "", zh: str = "") -> None:
        errors.append(problem(field, rule, message, zh))

    if not isinstance(data, Mapping):
        raise InvalidMetadata([problem("metadata", "must be an object of fields", f"got {type(data).__name__}",
                                       "须为由各字段组成的对象")])
    for key in data:
        if key not in FIELDS:
            fail(str(key), "unknown field", f"known fields: {', '.join(FIELDS)}", "不是目录元数据的字段")
    for key in REQUIRED:
        if _blank(data.get(key)):
            fail(key, "required", zh="必填")

    text = {key: _text(data, key, fail) for key in FIELDS if key not in ("items", "open_to_public",
                                                                        "publish_date", "related_codes",
                                                                        "logical")}
    for key, limit in MAX_LENGTHS.items():
        if len(text[key]) > limit:
            fail(key, f"at most {limit} characters", f"got {len(text[key])}",
                 f"最多 {limit} 个字 (现有 {len(text[key])} 个), 请精简")

    code = text["classification"]
    if code:
        if not classification.is_known(code):
            fail("classification", "must be a code of the classification tree (资源分类)", f"got {code!r}",
                 "请从资源分类表中选择")
        elif classification.node(code).level == "类":
            fail("classification", "must be a 项, 目 or 细目, not a bare 类",
                 f"{code} is {classification.node(code).name}",
                 f"须选到项、目或细目, 不能只选类 ({classification.node(code).name})")

    provider_error = check_provider_code(provider_code)
    if provider_error is not None:
        errors.append(provider_error)

    format_class, format_type = text["format_class"], _format_type(text, fail)
    sharing_method = _sharing(text, fail)
    open_to_public = _open(data, text, fail)
    if text["update_cycle"] and text["update_cycle"] not in UPDATE_CYCLES:
        fail("update_cycle", f"must be one of {' / '.join(UPDATE_CYCLES)}", f"got {text['update_cycle']!r}",
             f"须为 {'、'.join(UPDATE_CYCLES)} 之一")
    items = _items(data.get("items"), fail)
    publish_date = _date(data.get("publish_date"), fail)
    related = _related(data.get("related_codes"), resource_exists, own_code, fail)
    if text["access_point"] and not _URL_RE.match(text["access_point"]):
        fail("access_point", "must be an http:// or https:// URL", f"got {text['access_point']!r}",
             "须为以 http:// 或 https:// 开头的网址")
    logical = data.get("logical", False)
    if not isinstance(logical, bool):
        fail("logical", "must be true or false", f"got {logical!r}", "须为 是 或 否")
    elif logical and not text["wsdl_path"]:
        fail("logical", "needs wsdl_path", "a logical resource (逻辑集中) is answered live by the provider's "
             "service, which its WSDL describes", "逻辑集中的资源由提供方服务实时应答, 须同时填写 WSDL 路径")

    if errors:
        raise InvalidMetadata(errors)
    return Metadata(
        classification=code, name=text["name"], provider_unit=text["provider_unit"], abstract=text["abstract"],
        format_class=format_class, format_type=format_type, items=items, sharing_type=text["sharing_type"],
        sharing_condition=text["sharing_condition"], not_shared_basis=text["not_shared_basis"],
        sharing_method=sharing_method, open_to_public=bool(open_to_public), open_condition=text["open_condition"],
        update_cycle=text["update_cycle"], publish_date=publish_date, related_codes=related,
        wsdl_path=text["wsdl_path"], access_point=text["access_point"], logical=logical is True,
    )


def _blank(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, (list, tuple)) and not value)


def _text(data: Mapping[str, Any], key: str, fail) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        fail(key, "must be text", f"got {type(value).__name__}", "须为文本")
        return ""
    return value.strip()


def _format_type(text: dict[str, str], fail) -> str:
    """The canonical spelling of the format type (xml for XML), or the free type of 自定义."""
    cls, kind = text["format_class"], text["format_type"]
    if not cls:
        return kind
    if cls not in FORMAT_TYPES:
        fail("format_class", f"must be one of {' / '.join(FORMAT_TYPES)}", f"got {cls!r}",
             f"须为 {'、'.join(FORMAT_TYPES)} 之一")
        return kind
    if cls == CUSTOM_FORMAT or not kind:
        return kind
    canonical = {t.casefold(): t for t in FORMAT_TYPES[cls]}
    if kind.casefold() not in canonical:
        fail("format_type", f"must be a type of format_class {cls}: {' / '.join(FORMAT_TYPES[cls])}",
             f"got {kind!r}; use format_class {CUSTOM_FORMAT} for any other type",
             f"格式分类“{cls}”的格式类型须为 {'、'.join(FORMAT_TYPES[cls])} 之一; "
             f"其他类型请选格式分类“{CUSTOM_FORMAT}”")
        return kind
    return canonical[kind.casefold()]


def _sharing(text: dict[str, str], fail) -> str:
    """Check 共享类型 with its 共享条件, 不予共享依据 and 共享方式; return the 共享方式."""
    kind, method = text["sharing_type"], text["sharing_method"]
    if kind and kind not in SHARING_TYPES:
        fail("sharing_type", f"must be one of {' / '.join(SHARING_TYPES)}", f"got {kind!r}",
             f"须为 {'、'.join(SHARING_TYPES)} 之一")
        return method
    if kind == CONDITIONAL and not text["sharing_condition"]:
        fail("sharing_condition", f"required when sharing_type is {CONDITIONAL}", "state who may use it and for what",
             f"共享类型为{CONDITIONAL}时必填: 写明哪些部门可以使用、用于什么业务")
    if kind != CONDITIONAL and kind and text["sharing_condition"]:
        fail("sharing_condition", f"only allowed when sharing_type is {CONDITIONAL}", f"sharing_type is {kind}",
             f"只有{CONDITIONAL}的资源填写共享条件 (当前为{kind}), 请清空")
    if kind == NOT_SHARED and not text["not_shared_basis"]:
        fail("not_shared_basis", f"required when sharing_type is {NOT_SHARED}",
             "cite the law, regulation or policy (法律、法规和政策依据)",
             f"共享类型为{NOT_SHARED}时必填: 写明法律、法规和政策依据")
    if kind != NOT_SHARED and kind and text["not_shared_basis"]:
        fail("not_shared_basis", f"only allowed when sharing_type is {NOT_SHARED}", f"sharing_type is {kind}",
             f"只有{NOT_SHARED}的资源填写不予共享依据 (当前为{kind}), 请清空")
    if kind == NOT_SHARED:
        if method:
            fail("sharing_method", f"not allowed when sharing_type is {NOT_SHARED}", "nothing is shared",
                 f"{NOT_SHARED}的资源没有共享方式, 请留空")
        return method
    if kind and not method:
        fail("sharing_method", f"required when sharing_type is {kind}", zh=f"共享类型为{kind}时必填")
    elif method and method not in SHARING_METHODS:
        fail("sharing_method", f"must be one of {' / '.join(SHARING_METHODS)}", f"got {method!r}",
             f"须为 {'、'.join(SHARING_METHODS)} 之一")
    return method


def _open(data: Mapping[str, Any], text: dict[str, str], fail) -> bool | None:
    """Check 开放属性 (是否向社会开放 + 开放条件); return whether the resource is open."""
    value = data.get("open_to_public")
    if value is None:
        return None
    if value in ("是", "否"):
        value = value == "是"
    if not isinstance(value, bool):
        fail("open_to_public", "must be true or false (是 / 否)", f"got {value!r}", "须为 是 或 否")
        return None
    if value and not text["open_condition"]:
        fail("open_condition", "required when open_to_public is true", "write 无条件开放 or the conditions",
             "向社会开放时必填: 写“无条件开放”或开放的条件")
    if not value and text["open_condition"]:
        fail("open_condition", "only allowed when open_to_public is true", zh="不向社会开放时不填写开放条件, 请清空")
    if value and text["sharing_type"] == NOT_SHARED:
        fail("open_to_public", f"must be false when sharing_type is {NOT_SHARED}",
             "a resource not shared with departments is not opened to the public",
             f"{NOT_SHARED}的资源不能向社会开放")
    return value


def _items(value: Any, fail) -> tuple[ItemSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        fail("items", "must be a list of information items", f"got {type(value).__name__}", "须为信息项的列表")
        return ()
    out, seen = [], set()
    for n, raw in enumerate(value, 1):
        where = f"items[{n}]"
        if not isinstance(raw, Mapping):
            fail(where, "must be an object with name, data_type and length", f"got {type(raw).__name__}",
                 "须有名称、数据类型和长度")
            continue
        for key in raw:
            if key not in ("name", "data_type", "length"):
                fail(f"{where}.{key}", "unknown field", "an information item has name, data_type and length",
                     "信息项只有名称、数据类型和长度")
        name = raw.get("name").strip() if isinstance(raw.get("name"), str) else ""
        if not name:
            fail(f"{where}.name", "required", zh="必填")
        elif len(name) > ITEM_NAME_MAX:
            fail(f"{where}.name", f"at most {ITEM_NAME_MAX} characters", f"got {len(name)}",
                 f"最多 {ITEM_NAME_MAX} 个字 (现有 {len(name)} 个)")
        elif name in seen:
            fail(f"{where}.name", "must be unique within the entry", f"{name!r} appears twice",
                 f"与前面的信息项重名 ({name})")
        seen.add(name)
        data_type = _data_type(raw.get("data_type"), where, fail)
        length = _length(raw.get("length"), data_type, where, fail)
        out.append(ItemSpec(name, data_type or "", length))
    return tuple(out)


def _data_type(value: Any, where: str, fail) -> str | None:
    """The type letter; the Chinese name (字符型) and lower case are accepted too."""
    by_name = {v: k for k, v in DATA_TYPES.items()}
    if isinstance(value, str) and (value.strip().upper() in DATA_TYPES or value.strip() in by_name):
        return by_name.get(value.strip(), value.strip().upper())
    if _blank(value):
        fail(f"{where}.data_type", "required", zh="必填")
    else:
        fail(f"{where}.data_type", f"must be one of {' '.join(DATA_TYPES)}",
             f"got {value!r}; " + ", ".join(f"{v}{k}" for k, v in DATA_TYPES.items()),
             "须为 " + "、".join(f"{k} {v}" for k, v in DATA_TYPES.items()) + " 之一")
    return None


def _length(value: Any, data_type: str | None, where: str, fail) -> int | None:
    if data_type is None:
        return None
    if data_type not in LENGTH_RANGES:
        if value is not None:
            fail(f"{where}.length", f"not allowed for data_type {data_type} ({DATA_TYPES[data_type]})",
                 "its size is fixed by the type", f"{DATA_TYPES[data_type]}的长度由类型决定, 请留空")
        return None
    low, high = LENGTH_RANGES[data_type]
    if value is None:
        fail(f"{where}.length", f"required for data_type {data_type} ({DATA_TYPES[data_type]})",
             zh=f"{DATA_TYPES[data_type]}须填写长度 ({low} 到 {high})")
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        fail(f"{where}.length", f"must be a whole number from {low} to {high} for data_type {data_type}",
             f"got {value!r}", f"{DATA_TYPES[data_type]}的长度须为 {low} 到 {high} 之间的整数")
        return None
    return value


def _date(value: Any, fail) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        fail("publish_date", "must be a date YYYY-MM-DD", f"got {value!r}",
             f"须为实际存在的日期, 格式 YYYY-MM-DD, 如 2026-02-28 ({value} 不是)")
        return None


def _related(value: Any, exists: Callable[[str], bool], own_code: str | None, fail) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        fail("related_codes", "must be a list of resource codes", f"got {type(value).__name__}",
             "须为资源代码的列表")
        return ()
    if len(value) > RELATED_MAX:
        fail("related_codes", f"at most {RELATED_MAX} codes", f"got {len(value)}",
             f"最多关联 {RELATED_MAX} 个资源 (现有 {len(value)} 个)")
        return ()
    out: list[str] = []
    for n, raw in enumerate(value, 1):
        where = f"related_codes[{n}]"
        code = raw.strip() if isinstance(raw, str) else ""
        try:
            parse_code(code)
        except ValueError:
            fail(where, "must be a resource code 分类码/顺序码 such as 101002/000023", f"got {raw!r}",
                 f"“{raw}”不是资源代码: 格式为 分类码/顺序码, 如 101002/000023")
            continue
        if code == own_code:
            fail(where, "must not be the entry's own code", code, f"{code} 是本条目自己的代码, 不能关联自身")
        elif code in out:
            fail(where, "must not repeat a related code", code, f"{code} 重复")
        elif not exists(code):
            fail(where, "must name an existing catalogue resource", f"no resource {code} is visible to you",
                 f"没有您可见的资源代码为 {code} 的目录条目")
        else:
            out.append(code)
    return tuple(out)
