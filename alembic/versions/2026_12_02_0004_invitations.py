"""Invitations: a role offered to someone who already has an account, until they accept or decline it

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], name="fk_invitation_workspace_id_workspace"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name="fk_invitation_user_id_user"),
        sa.ForeignKeyConstraint(["invited_by"], ["user.id"], name="fk_invitation_invited_by_user"),
        sa.PrimaryKeyConstraint("id", name="pk_invitation"),
        sa.UniqueConstraint("workspace_id", "user_id", name="uq_invitation_workspace_id_user_id"),
    )
    op.create_index("ix_invitation_user_id", "invitation", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_invitation_user_id", table_name="invitation")
    op.drop_table("invitation")
