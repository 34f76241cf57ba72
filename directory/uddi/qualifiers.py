"""findQualifiers (spec 5.1.4): given by short name or by tModel key.

    <findQualifiers>
      <findQualifier>approximateMatch</findQualifier>
      <findQualifier>uddi:uddi.org:findqualifier:caseinsensitivematch</findQualifier>
    </findQualifiers>
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from registry.errors import UddiError

from .store import q

SUPPORTED = (
    "exactMatch", "approximateMatch", "caseSensitiveMatch", "caseInsensitiveMatch",
    "diacriticSensitiveMatch", "sortByNameAsc", "sortByNameDesc", "sortByDateAsc", "sortByDateDesc",
    "andAllKeys", "orAllKeys", "orLikeKeys",
)
KNOWN_UNSUPPORTED = (
    "binarySortOrder", "UTS-10", "diacriticInsensitiveMatch", "combineCategoryBags", "serviceSubset",
    "bindingSubset", "signaturePresent", "suppressProjectedServices",
)
_BY_NAME = {name.lower(): name for name in SUPPORTED + KNOWN_UNSUPPORTED}
_BY_NAME.update({f"uddi:uddi.org:findqualifier:{name.lower()}": name for name in SUPPORTED + KNOWN_UNSUPPORTED})
_BY_NAME["uddi:uddi.org:sortorder:binarysortorder"] = "binarySortOrder"
_BY_NAME["uddi:uddi.org:sortorder:uts-10"] = "UTS-10"

_EXCLUSIVE = (
    ("exactMatch", "approximateMatch"),
    ("caseSensitiveMatch", "caseInsensitiveMatch"),
    ("sortByNameAsc", "sortByNameDesc"),
    ("sortByDateAsc", "sortByDateDesc"),
    ("andAllKeys", "orAllKeys"),
    ("andAllKeys", "orLikeKeys"),
    ("orAllKeys", "orLikeKeys"),
)


@dataclass(frozen=True)
class Qualifiers:
    names: frozenset[str]

    @property
    def approximate(self) -> bool:
        return "approximateMatch" in self.names

    @property
    def case_insensitive(self) -> bool:
        return "caseInsensitiveMatch" in self.names

    def key_logic(self, default: str) -> str:
        """'and', 'or' or 'orlike' for combining keyedReferences / tModelKeys."""
        if "andAllKeys" in self.names:
            return "and"
        if "orAllKeys" in self.names:
            return "or"
        if "orLikeKeys" in self.names:
            return "orlike"
        return default

    def sort(self, default_by_name: bool = True) -> list[tuple[str, bool]]:
        """[(field, descending)] in order of precedence."""
        order = []
        for name, field_, desc in (("sortByNameAsc", "name", False), ("sortByNameDesc", "name", True),
                                   ("sortByDateAsc", "date", False), ("sortByDateDesc", "date", True)):
            if name in self.names:
                order.append((field_, desc))
        if not any(f == "name" for f, _ in order) and default_by_name and not any(f == "date" for f, _ in order):
            order.insert(0, ("name", False))
        if not any(f == "date" for f, _ in order):
            order.append(("date", False))
        return order


def parse(request: etree._Element) -> Qualifiers:
    container = request.find(q("findQualifiers"))
    names = set()
    if container is not None:
        for fq in container.findall(q("findQualifier")):
            raw = (fq.text or "").strip()
            name = _BY_NAME.get(raw.lower())
            if name is None:
                raise UddiError("E_unsupported", f"findQualifier '{raw}' is not a UDDI v3 find qualifier")
            if name in KNOWN_UNSUPPORTED:
                raise UddiError("E_unsupported", f"findQualifier '{name}' is not supported by this node; "
                                f"supported: {', '.join(SUPPORTED)}")
            names.add(name)
    for a, b in _EXCLUSIVE:
        if a in names and b in names:
            raise UddiError("E_invalidCombination", f"findQualifiers {a} and {b} cannot be used together")
    return Qualifiers(frozenset(names))
