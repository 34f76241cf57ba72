"""Resource classification (资源分类) per 《政务信息资源目录编制指南(试行)》.

Resources are classified by their nature (资源属性) into three 类, each split into
项, 目 and 细目 (line classification, 线分类法).  The guide fixes the 类 at one digit,
the 项 at two and the 目 at three, and leaves the 细目 open; this platform gives the
细目 three digits too, so a code's length tells its level::

    1            基础信息资源        类   (1 digit:  1 基础 / 2 主题 / 3 部门)
    101          人口                项   (+2 digits)
    101002       出生信息            目   (+3 digits)
    101002001    出生医学证明信息    细目 (+3 digits)

The tree itself is data, in ``directory/data/classification.json``; every code in it
is a value of the checked classification taxonomy in the UDDI directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

CATEGORIES = {"1": "基础信息资源", "2": "主题信息资源", "3": "部门信息资源"}
LEVELS = ("类", "项", "目", "细目")
CODE_LENGTHS = (1, 3, 6, 9)  # total digits of a code at each level


@dataclass(frozen=True)
class ClassNode:
    """One node of the classification tree (资源分类的类/项/目/细目)."""

    code: str
    name: str
    level: str  # 类 | 项 | 目 | 细目
    parent: str | None
    children: tuple[str, ...]

    @property
    def is_leaf(self) -> bool:
        return not self.children


class UnknownClassification(KeyError):
    """A code that is not in the classification tree."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code

    def __str__(self) -> str:
        return f"'{self.code}' is not a classification code (资源分类代码)"


@lru_cache(maxsize=1)
def _tree() -> dict[str, ClassNode]:
    text = resources.files("directory").joinpath("data/classification.json").read_text(encoding="utf-8")
    nodes: dict[str, ClassNode] = {}

    def walk(raw: dict, parent: str | None, depth: int) -> None:
        code, name = raw["code"], raw["name"]
        # A malformed data file must fail loudly at start-up, not misfile resources later.
        if len(code) != CODE_LENGTHS[depth] or not code.isdigit() or (parent and not code.startswith(parent)):
            raise ValueError(f"classification.json: code {code!r} does not fit under {parent!r} at level "
                             f"{LEVELS[depth]}")
        if code in nodes:
            raise ValueError(f"classification.json: code {code!r} appears twice")
        kids = raw.get("children", [])
        nodes[code] = ClassNode(code, name, LEVELS[depth], parent, tuple(k["code"] for k in kids))
        for kid in kids:
            walk(kid, code, depth + 1)

    for top in json.loads(text)["tree"]:
        walk(top, None, 0)
    return nodes


def classification_values() -> dict[str, str]:
    """Classification code -> name for every node, the value set of the classification taxonomy."""
    return {code: node.name for code, node in _tree().items()}


def is_known(code: str) -> bool:
    return code in _tree()


def node(code: str) -> ClassNode:
    """The node with ``code``; raises :class:`UnknownClassification`."""
    try:
        return _tree()[code]
    except KeyError:
        raise UnknownClassification(code) from None


def children(code: str) -> list[ClassNode]:
    return [_tree()[c] for c in node(code).children]


def path(code: str) -> list[ClassNode]:
    """The nodes from the 类 down to ``code`` itself, e.g. 基础信息资源 › 人口 › 出生信息."""
    out = [node(code)]
    while out[0].parent is not None:
        out.insert(0, _tree()[out[0].parent])
    return out


def ancestors(code: str) -> list[str]:
    """The codes above ``code``, 类 first (``101002`` -> ``["1", "101"]``)."""
    return [n.code for n in path(code)[:-1]]


def category(code: str) -> ClassNode:
    """The 类 of a code: 基础 (1), 主题 (2) or 部门 (3) 信息资源."""
    return path(code)[0]


def base_class(code: str) -> ClassNode | None:
    """The 项 a code lies in (人口 for ``101002001``); None for a bare 类."""
    nodes = path(code)
    return nodes[1] if len(nodes) > 1 else None


def is_leaf(code: str) -> bool:
    return node(code).is_leaf


def display_path(code: str) -> str:
    """``基础信息资源 › 人口 › 出生信息`` — the path as users read it."""
    return " › ".join(n.name for n in path(code))
