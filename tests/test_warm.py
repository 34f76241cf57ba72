"""A serving process is warmed before its first request (server.warm, issue 20): every warm-up
request is answered, nothing is written, and the platform's objects leave the garbage collector."""

from __future__ import annotations

import gc
import logging

import pytest
from sqlalchemy import func, select

import server
from registry.models import AuditEntry, DirectoryGeneration, RequestRecord, UddiEntity


def _state(sessions) -> tuple:
    with sessions() as session:
        return (session.scalar(select(func.count()).select_from(AuditEntry)),
                session.scalar(select(func.count()).select_from(UddiEntity)),
                session.scalar(select(DirectoryGeneration.value)))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # nothing here depends on the database
def test_warming_answers_every_request_writes_nothing_and_freezes_the_platform(settings, sessions, caplog):
    app = server.build_app(settings, sessions)
    before = _state(sessions)
    paths = {path for path, _action, _body in server._warm_requests()}
    assert paths == {"/diagnostics", "/uddi/inquiry"}  # read-only services: no exchange, no publication
    caplog.set_level(logging.WARNING, logger="govshare")
    gc.unfreeze()
    try:
        server.warm(app)
        assert gc.get_freeze_count() > 100_000  # the platform's schemas, mappers and statements
    finally:
        gc.unfreeze()  # the rest of the test run collects as before
    assert not [r.getMessage() for r in caplog.records if "warming" in r.getMessage()]
    assert _state(sessions) == before
    app.request_log.flush()  # and the warm-up is not a client's request in 运行监测
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(RequestRecord)) == 0
