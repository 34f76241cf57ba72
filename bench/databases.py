"""Throwaway databases for the benchmarks, on the servers of this machine."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MARIADB_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


@contextmanager
def throwaway_database(admin_url: str, name: str, keep: bool = False, wait: bool = True) -> Iterator[str]:
    """A fresh database ``name`` on the PostgreSQL or MariaDB server of ``admin_url``; its URL.

    Dropped afterwards unless ``keep``; without ``wait`` by a process of its own that nobody waits
    for (PostgreSQL checkpoints as it drops a database, tens of seconds on a busy disk: a test
    suite need not wait for that).
    """
    postgresql = make_url(admin_url).get_backend_name() == "postgresql"
    drop = f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if postgresql else "")
    create = f"CREATE DATABASE {name}" + ("" if postgresql else " CHARACTER SET utf8mb4")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(drop))
        conn.execute(text(create))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep and wait:
            with admin.connect() as conn:
                conn.execute(text(drop))
        elif not keep:
            drop_later(admin_url, drop)
        admin.dispose()


def drop_later(admin_url: str, drop: str) -> None:
    """Run ``drop`` (a DROP DATABASE) on ``admin_url``'s server from a detached process."""
    code = ("import sys; from sqlalchemy import create_engine, text; "
            "create_engine(sys.argv[1], isolation_level='AUTOCOMMIT').connect().execute(text(sys.argv[2]))")
    subprocess.Popen([sys.executable, "-c", code, admin_url, drop], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def postgresql_version(admin_url: str) -> str | None:
    try:
        engine = create_engine(admin_url)
        with engine.connect() as conn:
            found = conn.scalar(text("SHOW server_version"))
        engine.dispose()
        return str(found)
    except Exception:  # noqa: BLE001 - a missing server only leaves the field empty
        return None
