"""Alembic migrations are the only way a schema is made: the models must not drift from them."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service import models  # noqa: F401  (registers every table)
from service.db import SQLModel


def test_autogenerate_finds_no_drift(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []
