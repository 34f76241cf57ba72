"""Actions: every operation of the platform, one plain function that every front end calls.

    @action("sharing.apply")
    def apply(ctx: Context, *, resource_code: str, purpose: str, ...) -> Application: ...

    apply(Context(Caller.of_user(user, "portal"), sessions, settings),
          resource_code="101001002/000001", purpose="低保资格核查")

An action takes the verified caller in its :class:`Context` and plain inputs, and returns a
plain result (a dataclass, never wire XML).  Around its body, the decorator

1. opens the action's unit of work (``ctx.session``), committed when the body returns and
   rolled back when it raises;
2. calls the authorisation check of the same name (:mod:`trust.auth`), inside the unit of
   work, before the body - no front end can skip it;
3. records the call in the audit log (S4) once the unit of work has ended, in a transaction
   of its own: who (the caller's department, account, certificate and channel), what (the
   action, its resource), why (``purpose``), the result (``ok``, ``refused:<code>`` for a
   caller's error, ``fault:<code>`` for the platform's) and how many records it read or
   received (``ctx.note(record_count=...)``).  A refused or failed action keeps its entry.

A read-only action that another action runs (``ctx.again()``) reads in that action's unit of
work when it only reads too, and its entry is recorded with that action's, in the same
transaction (one commit for the unified query and its reads), whether that action succeeds or
fails - before its answer goes out.

A transport that knows more of the call than the action does - the SOAP request's and
response's bytes, a refusal before any action ran - opens an :func:`audited` scope: the action
run inside it fills the scope's entry, and the scope records it once the answer is built.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from registry import request_log
from registry.clock import utcnow
from registry.db import autocommit_sessions, unit_of_work
from registry.errors import GovshareError
from registry.settings import Settings

from . import audit
from .auth import CHECKS, Caller

log = logging.getLogger(__name__)

#: action name -> the action (every ``@action`` of every package, once its module is imported)
ACTIONS: dict[str, Callable[..., Any]] = {}



@dataclass
class _Scope:
    event: audit.AuditEvent
    taken: bool = False  # the first action run in the scope fills its entry; any other records its own


#: the transport's call being handled on this thread, if a transport opened one
_SCOPE: ContextVar[_Scope | None] = ContextVar("audited_call", default=None)

Result = TypeVar("Result")


@dataclass
class Context:
    """An action's caller and platform, and - while the action runs - its unit of work."""

    caller: Caller
    sessions: sessionmaker[Session]
    settings: Settings
    now: datetime = field(default_factory=utcnow)
    session: Session | None = None
    event: audit.AuditEvent | None = None
    #: the action that made this context (``again``): while it runs, it lends a read-only action its
    #: unit of work and records its entry
    within: Context | None = field(default=None, repr=False)
    #: while an action runs: whether its unit of work only reads, and the entries of the read-only
    #: actions it ran, recorded with its own
    reading: bool = field(default=False, repr=False)
    ran: list[audit.AuditEvent] | None = field(default=None, repr=False)

    def note(self, **fields: Any) -> None:
        """Tell the audit entry what the action learnt (``resource_code``, ``record_count``,
        ``purpose``, ``query_digest``, ``detail``)."""
        if self.event is not None:
            for name, value in fields.items():
                setattr(self.event, name, value)

    def again(self) -> Context:
        """A context for another action run by this one, for the same caller."""
        return Context(self.caller, self.sessions, self.settings, now=self.now, within=self)


def action(name: str, *, read_only: bool = False) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Make ``function(ctx, **inputs)`` the action ``name``: checked, in a unit of work, audited.
    A ``read_only`` action's unit of work writes nothing, so it runs without a transaction
    (``registry.db.autocommit_sessions``: two round trips fewer on PostgreSQL)."""

    def decorate(function: Callable[..., Result]) -> Callable[..., Result]:
        if name in ACTIONS:
            raise ValueError(f"two actions are named {name}")
        check = CHECKS.get(name)
        if check is None:
            raise ValueError(f"the action {name} has no check in trust.auth: add one with @check({name!r})")

        @functools.wraps(function)
        def run(ctx: Context, **inputs: Any) -> Result:
            scope = _SCOPE.get()
            in_scope = scope is not None and not scope.taken
            if in_scope:
                scope.taken = True
            event = scope.event if in_scope else audit.AuditEvent(name)
            event.operation = name
            _identify(event, ctx.caller)
            for known in ("resource_code", "purpose"):
                if isinstance(inputs.get(known), str) and inputs[known].strip():
                    setattr(event, known, inputs[known].strip())
            running = ctx.within if read_only and ctx.within is not None and ctx.within.ran is not None else None
            outer, ctx.event = ctx.event, event
            outer_ran, outer_reading, ctx.ran = ctx.ran, ctx.reading, []
            try:
                with _unit_of_work(ctx, read_only, running) as session:
                    ctx.session, ctx.reading = session, read_only
                    check(ctx, **inputs)
                    return function(ctx, **inputs)
            except GovshareError as error:
                event.result = ("fault:" if error.fault == "Server" else "refused:") + error.code
                event.detail = error.message
                raise
            except Exception as error:
                event.result, event.detail = "fault:InternalError", f"{error.__class__.__name__}: {error}"
                raise
            finally:
                entries = ctx.ran if in_scope else [*ctx.ran, event]
                ctx.session, ctx.event, ctx.ran, ctx.reading = None, outer, outer_ran, outer_reading
                request_log.note_from(event)  # operational monitoring's record of the SOAP call, if any
                if running is not None and running.ran is not None:  # recorded with the action that ran this one
                    running.ran.extend(entries)
                elif entries:
                    audit.record_all(ctx.sessions, ctx.settings, entries)

        run.action_name = name  # type: ignore[attr-defined]
        ACTIONS[name] = run
        return run

    return decorate


def _unit_of_work(ctx: Context, read_only: bool, running: Context | None) -> contextlib.AbstractContextManager[Session]:
    """The action's unit of work: that of the action running it (``running``) when both only read
    (nothing to commit or roll back apart), else one of its own."""
    if running is not None and running.reading and running.session is not None:
        return contextlib.nullcontext(running.session)
    return unit_of_work(autocommit_sessions(ctx.sessions) if read_only else ctx.sessions)


def _identify(event: audit.AuditEvent, caller: Caller) -> None:
    event.department_id, event.department_code = caller.department_id, caller.department_code
    event.user, event.certificate_serial, event.channel = caller.user, caller.certificate_serial, caller.channel
    event.system_code = caller.system_code


@contextlib.contextmanager
def audited(event: audit.AuditEvent) -> Iterator[audit.AuditEvent]:
    """A transport's call: the action run inside fills ``event`` (the transport adds what only it
    knows, such as the request's and response's digests, and records it when the answer is built)."""
    token = _SCOPE.set(_Scope(event))
    try:
        yield event
    finally:
        _SCOPE.reset(token)
