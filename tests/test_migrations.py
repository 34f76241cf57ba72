"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL (beside
procrastinate's queue on PostgreSQL, migration 0029, which is the job engine's and no model's)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from registry.db import make_engine
from registry.models import Base


def _not_the_job_queue(name, type_, parent_names) -> bool:
    return not (name or "").startswith("procrastinate_")


def test_the_migrated_schema_matches_the_models(db_url):
    engine = make_engine(db_url)  # migrated to head by the fixture
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_name": _not_the_job_queue})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
