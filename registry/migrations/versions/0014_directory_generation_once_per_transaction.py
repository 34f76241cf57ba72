"""directory: bump the generation once per transaction on PostgreSQL

Revision ID: 0014
Revises: 0013

psycopg's executemany runs one statement per row, so a statement trigger fired per row, and a
bulk load of 100,000 services updated the one counter row 400,000 times in one transaction
(each update a new row version to walk past).  The trigger now notes in a transaction-local
setting that it has bumped the counter, and does it once per transaction.
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ONCE = """
CREATE OR REPLACE FUNCTION bump_directory_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('govshare.directory_bumped', true) IS DISTINCT FROM txid_current()::text THEN
    UPDATE directory_generation SET value = value + 1 WHERE id = 1;
    PERFORM set_config('govshare.directory_bumped', txid_current()::text, true);
  END IF;
  RETURN NULL;
END $$
"""
EVERY = """
CREATE OR REPLACE FUNCTION bump_directory_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE directory_generation SET value = value + 1 WHERE id = 1; RETURN NULL; END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ONCE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(EVERY)
