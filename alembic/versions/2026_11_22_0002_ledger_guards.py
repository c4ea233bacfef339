"""The database guards the ledger: no UPDATE or DELETE of what the leaves commit to (DESIGN §3.1)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = ("record", "record_ref", "merkle_node", "checkpoint", "evidence")
# The opening terms are committed to by the engagement_opened leaf; later changes are terms_changed records.
TERMS = ("workspace_id", "client_id", "started_on", "trial_ends_on", "notice_days", "notice_form",
         "payment_terms_days", "rate_minor", "currency", "rate_unit", "jurisdiction", "deliverables")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'docket ledger: {table} rows are append-only ({event} refused)'); END"
                )
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in TERMS)
        op.execute(
            "CREATE TRIGGER engagement_terms_fixed BEFORE UPDATE ON engagement "
            f"WHEN {changed} OR NEW.tree_size < OLD.tree_size "
            "BEGIN SELECT RAISE(ABORT, 'docket ledger: engagement terms are fixed and the ledger only grows'); END"
        )
        op.execute(
            "CREATE TRIGGER engagement_no_delete BEFORE DELETE ON engagement "
            "BEGIN SELECT RAISE(ABORT, 'docket ledger: engagement rows are append-only (DELETE refused)'); END"
        )
        return
    op.execute(
        """
        CREATE FUNCTION docket_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'docket ledger: % rows are append-only (% refused)', TG_TABLE_NAME, TG_OP;
        END $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION docket_append_only()"
        )
    changed = " OR ".join(f"OLD.{c}::text IS DISTINCT FROM NEW.{c}::text" for c in TERMS)
    op.execute(
        f"""
        CREATE FUNCTION docket_engagement_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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
    op.execute(
        "CREATE TRIGGER engagement_guard BEFORE UPDATE OR DELETE ON engagement "
        "FOR EACH ROW EXECUTE FUNCTION docket_engagement_guard()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{event}")
        op.execute("DROP TRIGGER engagement_terms_fixed")
        op.execute("DROP TRIGGER engagement_no_delete")
        return
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.execute("DROP TRIGGER engagement_guard ON engagement")
    op.execute("DROP FUNCTION docket_engagement_guard()")
    op.execute("DROP FUNCTION docket_append_only()")
