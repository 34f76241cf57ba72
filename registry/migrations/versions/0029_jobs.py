"""Background work as jobs (issue 20): procrastinate's queue - its tables, types and functions - in the
platform's PostgreSQL database (none on SQLite, where the work runs as threads of ``govshare serve``),
``job_failure``, why each failed attempt of a job failed (procrastinate keeps no error), and
``job_tick``, the tick of a periodic job claimed by the one job that does its work.

The schema applied is the one shipped with the procrastinate release setup.cfg pins (3.10.x:
``procrastinate/sql/schema.sql``).  When the pin is raised, the release's schema migrations
(``procrastinate schema --migrations-path`` lists them, named ``{version}_{nn}_{pre|post}_*.sql``)
are applied by a new Alembic migration of ours that runs each file of the versions passed, the
``pre`` ones before the new code is deployed and the ``post`` ones after (a migration for each half
when workers of both versions must run side by side), never by ``procrastinate schema --apply``,
which would apply the whole schema again.  The tables are procrastinate's, not the models': the
schema comparison (tests/test_migrations.py) leaves out the ``procrastinate_`` names.

Revision ID: 0029
Revises: 0028
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_failure",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("task", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
    )
    op.create_index("ix_job_failure_job_id", "job_failure", ["job_id"])
    op.create_table(
        "job_tick",
        sa.Column("task", sa.String(128), primary_key=True),
        sa.Column("tick", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("claimed", sa.DateTime(), nullable=False),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    try:
        from procrastinate.schema import SchemaManager
    except ImportError as exc:
        raise RuntimeError("on PostgreSQL the platform's background jobs need procrastinate: install govshare "
                           "with its server extra (pip install 'govshare[server]'), then migrate again") from exc
    # on psycopg's own connection (the migration's transaction): the script's '%' are no placeholders
    op.get_bind().connection.driver_connection.execute(SchemaManager.get_schema())


def downgrade() -> None:
    op.drop_table("job_tick")
    op.drop_index("ix_job_failure_job_id", table_name="job_failure")
    op.drop_table("job_failure")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        DO $$ DECLARE item record; BEGIN
          FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                      JOIN pg_namespace n ON n.oid = p.pronamespace
                      WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%' LOOP
            EXECUTE 'DROP FUNCTION IF EXISTS ' || item.signature || ' CASCADE';
          END LOOP;
        END $$""")
    for table in ("procrastinate_events", "procrastinate_periodic_defers", "procrastinate_jobs",
                  "procrastinate_workers"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    for kind in ("procrastinate_job_to_defer_v1", "procrastinate_job_event_type", "procrastinate_job_status"):
        op.execute(f"DROP TYPE IF EXISTS {kind} CASCADE")
