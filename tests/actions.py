"""The world the action tests run in, and how a package states who may run its actions.

Each package's tests declare, in ``tests/<package>/auth_cases*.py``, one :class:`Case` per
action: the roles allowed to run it, the department the caller belongs to, and inputs an
allowed caller could run it with in the :class:`World`.  ``tests/test_action_auth.py`` runs
every action once per role against a fresh copy of the world and checks that the roles not
allowed are refused (``NotPermitted``) and the allowed ones are not; it fails when an action
has no case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trust.auth import ROLES

ALL_ROLES = tuple(ROLES)


@dataclass(frozen=True)
class World:
    """What exists before an action runs: 公安局 (gaj) publishes a 有条件共享 resource
    (``conditional``) and a 无条件共享 one (``unconditional``) with one person each; 民政局 (mzj)
    consumes; each department has one user per role (``gaj-provider``, ``mzj-consumer``, ...);
    mzj has applied for ``conditional`` (``application``)."""

    conditional: str
    unconditional: str
    person: str  # the 公民身份号码 of the person in both resources
    application: int
    gaj_credit_code: str
    mzj_credit_code: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """Who may run an action, and with what."""

    allowed: frozenset[str]
    inputs: Callable[[World], dict[str, Any]] = lambda world: {}
    department: str = "mzj"  # the department of the caller trying it


def case(allowed: str | set[str], inputs: Callable[[World], dict[str, Any]] = lambda world: {},
         department: str = "mzj") -> Case:
    roles = set(ALL_ROLES) if allowed == "everyone" else {allowed} if isinstance(allowed, str) else allowed
    return Case(frozenset(roles), inputs, department)
