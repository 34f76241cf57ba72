"""The administration command line's side of the action layer: who a command acts as, and how
its refusals read.

    $ govshare sharing apply --user mzj.li --resource 101001002/000001 --purpose 低保资格核查 ...
      acts as the account mzj.li (its department and roles), channel "cli"
    $ govshare audit verify
      acts as the platform's operator at the console (the admin, security and auditor roles), channel "cli"

A refusal or an error of the platform prints ``error: <message>`` on stderr and exits with
``EXIT_USER`` (2: the command's input or the caller's rights) or ``EXIT_PLATFORM`` (1).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from registry.errors import EXIT_OK, GovshareError, NotFound
from registry.models import User
from registry.settings import Settings

from .actions import Context
from .auth import Caller, refuse_suspended


def caller(sessions: sessionmaker[Session], username: str | None) -> Caller:
    """The account ``username`` at the console; without one, the platform's operator."""
    if username is None:
        return Caller.platform("cli")
    with sessions() as session:
        user = session.scalar(select(User).where(User.username == username).options(joinedload(User.department)))
        if user is None:
            raise NotFound(f"no user {username!r}", code="UnknownUser", field="user")
        refuse_suspended(user.department)
        return Caller.of_user(user, "cli")


def context(sessions: sessionmaker[Session], settings: Settings, username: str | None = None) -> Context:
    return Context(caller(sessions, username), sessions, settings)


def run(work: Callable[[], int | None]) -> int:
    """``work``'s exit status (0 when it returns None); an error as one line on stderr."""
    try:
        return work() or EXIT_OK
    except GovshareError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_status
