"""What the node's tests share: a PostgreSQL database of a department's own, reached through a
switch that the test opens and closes (a TCP forwarder of its own, not a mock: the node's
driver meets a real server, and a cut connection)."""

from __future__ import annotations

import socket
import threading
import uuid

import pytest
from sqlalchemy import create_engine, text

from bench.databases import drop_later
from tests.conftest import PG_ADMIN_URL, _pg_reachable, service_unavailable


class Switch:
    """A TCP forwarder to PostgreSQL that can be switched off (connections cut, new ones refused) and on."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.on, self.open = target, True, []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.on:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def off(self) -> None:
        self.on = False
        for s in self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.open = []

    def close(self) -> None:
        self.off()
        self.listener.close()


@pytest.fixture
def switched_database():
    """An empty PostgreSQL database of the department's own: (the switch, its URL through the
    switch, its URL direct)."""
    if reason := _pg_reachable():
        service_unavailable(reason)
    name = f"dept_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    switch = Switch(("127.0.0.1", 5432))
    direct = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield switch, direct.replace("127.0.0.1:5432", f"127.0.0.1:{switch.port}"), direct
    switch.close()
    admin.dispose()
    drop_later(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # not waited for: it checkpoints


