"""onboarding (登记): department applications, application systems, certificate requests, the
password policy's and lock-out's columns, and the system an audit entry, an application and a grant name

Departments get their connection mode, contact and status (active | suspended); accounts their
failed sign-ins, lock-out, password age, first-sign-in change and password history (existing
passwords count as set at this upgrade).  An audit entry's hash covers ``system_code`` when it has
one (``trust.audit.canonical`` leaves a null one out, so earlier entries verify as before).

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("department") as batch:
        batch.add_column(sa.Column("connection_mode", sa.String(16), nullable=False, server_default="app_system"))
        batch.add_column(sa.Column("contact_name", sa.String(50), nullable=False, server_default=""))
        batch.add_column(sa.Column("contact_phone", sa.String(30), nullable=False, server_default=""))
        batch.add_column(sa.Column("contact_email", sa.String(100), nullable=False, server_default=""))
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="active"))
        batch.add_column(sa.Column("suspended_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("suspension_reason", sa.Text(), nullable=False, server_default=""))

    op.create_table(
        "department_application",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("english_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("connection_mode", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact_name", sa.String(50), nullable=False),
        sa.Column("contact_phone", sa.String(30), nullable=False),
        sa.Column("contact_email", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("submitted_from", sa.String(64), nullable=False, server_default=""),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("department.id"), nullable=True),
    )
    op.create_index("ix_department_application_status", "department_application", ["status"])

    op.create_table(
        "app_system",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("department.id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("suspended_at", sa.DateTime(), nullable=True),
        sa.Column("suspension_reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_app_system_department_id", "app_system", ["department_id"])

    op.create_table(
        "certificate_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("department.id"), nullable=False),
        sa.Column("system_id", sa.Integer(), sa.ForeignKey("app_system.id"), nullable=True),
        sa.Column("csr_pem", sa.Text(), nullable=False),
        sa.Column("key_fingerprint", sa.String(64), nullable=False),
        sa.Column("renews", sa.String(40), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("certificate_serial", sa.String(40), nullable=True),
    )
    op.create_index("ix_certificate_request_department_id", "certificate_request", ["department_id"])
    op.create_index("ix_certificate_request_status", "certificate_request", ["status"])

    with op.batch_alter_table("certificate") as batch:
        batch.add_column(sa.Column("system_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_certificate_system_id", "app_system", ["system_id"], ["id"])
        batch.create_index("ix_certificate_system_id", ["system_id"])
    for table in ("sharing_application", "sharing_grant"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("system_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(f"fk_{table}_system_id", "app_system", ["system_id"], ["id"])
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(sa.Column("system_code", sa.String(64), nullable=True))

    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("password_changed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("password_history", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("created", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(64), nullable=False, server_default=""))
    op.execute(sa.text("UPDATE app_user SET password_changed_at = CURRENT_TIMESTAMP, password_history = '[]'"))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        for column in ("created_by", "created", "password_history", "must_change_password", "password_changed_at",
                       "locked_until", "failed_logins"):
            batch.drop_column(column)
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("system_code")
    for table in ("sharing_grant", "sharing_application"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_system_id", type_="foreignkey")
            batch.drop_column("system_id")
    with op.batch_alter_table("certificate") as batch:
        batch.drop_index("ix_certificate_system_id")
        batch.drop_constraint("fk_certificate_system_id", type_="foreignkey")
        batch.drop_column("system_id")
    op.drop_table("certificate_request")
    op.drop_table("app_system")
    op.drop_table("department_application")
    with op.batch_alter_table("department") as batch:
        for column in ("suspension_reason", "suspended_at", "status", "contact_email", "contact_phone",
                       "contact_name", "connection_mode"):
            batch.drop_column(column)
