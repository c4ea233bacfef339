"""Facts: reference rates an owner adds, signal thresholds, and a contract late-payment rate in the terms

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

The new terms column joins the columns the engagement guard keeps fixed (the engagement_opened leaf commits to
the terms), so the guard is recreated with it on both engines.
"""
import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TERMS = ("workspace_id", "client_id", "started_on", "trial_ends_on", "notice_days", "notice_form",
         "payment_terms_days", "rate_minor", "currency", "rate_unit", "jurisdiction", "deliverables")


def _guard(terms: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in terms)
        op.execute("DROP TRIGGER engagement_terms_fixed")
        op.execute(
            "CREATE TRIGGER engagement_terms_fixed BEFORE UPDATE ON engagement "
            f"WHEN {changed} OR NEW.tree_size < OLD.tree_size "
            "BEGIN SELECT RAISE(ABORT, 'docket ledger: engagement terms are fixed and the ledger only grows'); END"
        )
        return
    changed = " OR ".join(f"OLD.{c}::text IS DISTINCT FROM NEW.{c}::text" for c in terms)
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION docket_engagement_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'docket ledger: engagement rows are append-only (DELETE refused)';
          END IF;
          IF {changed} OR NEW.tree_size < OLD.tree_size THEN
            RAISE EXCEPTION 'docket ledger: engagement terms are fixed and the ledger only grows';
          END IF;
          RETURN NEW;
        END $$
        """
    )


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: on SQLite a copy would drop the ledger guard triggers.
    op.add_column("engagement", sa.Column("late_interest_bp", sa.Integer(), nullable=True))
    _guard(TERMS + ("late_interest_bp",))

    op.create_table(
        "reference_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("series", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"], name="fk_reference_rate_workspace_id_workspace"),
        sa.PrimaryKeyConstraint("id", name="pk_reference_rate"),
        sa.UniqueConstraint("workspace_id", "series", "effective_on",
                            name="uq_reference_rate_workspace_id_series_effective_on"),
    )
    op.create_index("ix_reference_rate_workspace_id", "reference_rate", ["workspace_id"], unique=False)
    op.create_table(
        "signal_threshold",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("signal", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("amber", sa.Integer(), nullable=False),
        sa.Column("red", sa.Integer(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspace.id"],
                                name="fk_signal_threshold_workspace_id_workspace"),
        sa.PrimaryKeyConstraint("workspace_id", "signal", name="pk_signal_threshold"),
    )


def downgrade() -> None:
    op.drop_table("signal_threshold")
    op.drop_index("ix_reference_rate_workspace_id", table_name="reference_rate")
    op.drop_table("reference_rate")
    _guard(TERMS)
    # SQLite 3.35+ drops a column in place, keeping the table and its triggers.
    op.drop_column("engagement", "late_interest_bp")
