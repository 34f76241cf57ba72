"""Errors of the catalogue (目录) — every refusal says what was refused and why.

Invalid metadata is reported all at once, one line per broken rule::

    invalid catalogue metadata (2 errors):
      sharing_condition: required when sharing_type is 有条件共享
      items[2].data_type: must be one of C N Y D T L M G B I F (got 'X')
"""

from __future__ import annotations


class CatalogueError(Exception):
    """Base of every error a catalogue action raises; its message is meant for users."""


class MetadataError(CatalogueError):
    """One broken metadata rule (元数据校验错误): which field, which rule, and the detail."""

    def __init__(self, field: str, rule: str, message: str = ""):
        self.field = field
        self.rule = rule
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}" + (f" ({self.message})" if self.message else "")

    def __repr__(self) -> str:
        return f"MetadataError({self.field!r}, {self.rule!r}, {self.message!r})"


class InvalidMetadata(CatalogueError):
    """Metadata refused; ``errors`` lists every broken rule, not just the first."""

    def __init__(self, errors: list[MetadataError]):
        self.errors = list(errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        plural = "error" if len(self.errors) == 1 else "errors"
        super().__init__(f"invalid catalogue metadata ({len(self.errors)} {plural}):\n{lines}")

    @property
    def fields(self) -> set[str]:
        return {e.field for e in self.errors}

    def rule_for(self, field: str) -> str | None:
        """The rule broken by ``field`` (the first, if it broke several), or None."""
        return next((e.rule for e in self.errors if e.field == field), None)


class EntryNotFound(CatalogueError):
    """No catalogue entry with this resource code is visible to the user."""

    def __init__(self, code: str):
        self.code = code
        super().__init__(f"no catalogue entry {code} (资源代码) is visible to you")


class IllegalTransition(CatalogueError):
    """The action does not apply to an entry in its current status (状态)."""

    def __init__(self, code: str, action: str, status: str, allowed: list[str]):
        self.code, self.action, self.status, self.allowed = code, action, status, allowed
        can = ", ".join(allowed) if allowed else "nothing"
        super().__init__(f"cannot {action} {code}: it is {status}; from {status} the allowed actions are: {can}")


class NotPermitted(CatalogueError):
    """The user's roles or department do not allow the action."""

    def __init__(self, username: str, action: str, why: str):
        self.username, self.action = username, action
        super().__init__(f"{username} may not {action}: {why}")


class ReasonRequired(CatalogueError):
    """Refusal (退回) and withdrawal (下架) must say why."""

    def __init__(self, action: str):
        self.action = action
        super().__init__(f"reason: required to {action} an entry")


class CodeAllocationFailed(CatalogueError):
    """No free resource code after several attempts (heavy concurrent cataloguing)."""


class PublicationFailed(CatalogueError):
    """The directory refused the entry's businessService; nothing was published."""
