"""The portal's roles and what each may do.

The portal's five roles are the account role strings of ``directory.accounts.ROLES``, the
same ones the catalogue workflow and sharing governance check::

    平台管理员             admin        everything, for every department
    目录管理员 / 审核员     cataloguer   catalogues its department's resources (编目)
                           reviewer     reviews and publishes entries (审核, 发布)
    提供方                 provider     answers 使用申请 and 纠错 reports on its resources
    使用方                 consumer     searches, applies (使用申请), runs unified queries, files 纠错
    审计员                 auditor      searches and verifies the audit log, reads monitoring and 考核

``CAPABILITIES`` gates the navigation and each view; the domain functions check again
(``NotPermitted``, ``GovernanceError``) - the portal only hides what would be refused.
"""

from __future__ import annotations

from collections.abc import Iterable

ROLE_LABELS = {
    "admin": "平台管理员",
    "cataloguer": "目录管理员",
    "reviewer": "审核员",
    "provider": "提供方",
    "consumer": "使用方",
    "auditor": "审计员",
}

#: capability -> roles that have it
CAPABILITIES: dict[str, frozenset[str]] = {
    "search": frozenset(ROLE_LABELS),
    "catalogue": frozenset({"admin", "cataloguer", "provider"}),
    "review": frozenset({"admin", "reviewer"}),
    "apply": frozenset({"admin", "consumer"}),
    "inbox": frozenset({"admin", "provider", "cataloguer"}),
    "query": frozenset({"admin", "consumer"}),
    "monitor": frozenset({"admin", "auditor"}),
    "quarantine": frozenset({"admin"}),
    "audit": frozenset({"admin", "auditor"}),
    "correction_file": frozenset({"admin", "consumer"}),
    "correction_answer": frozenset({"admin", "provider", "cataloguer"}),
    "assessment": frozenset({"admin", "auditor", "reviewer"}),
}


def can(roles: Iterable[str], capability: str) -> bool:
    return bool(set(roles) & CAPABILITIES[capability])


def labels(roles: Iterable[str]) -> list[str]:
    return [ROLE_LABELS.get(r, r) for r in roles]
