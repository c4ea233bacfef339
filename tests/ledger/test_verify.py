"""The database guards the ledger, and `docket verify --db` catches whatever gets past it (DESIGN §3–4).

Each tamper goes behind the application's back with raw SQL, after switching the guard off inside the test's
own transaction (rolled back afterwards), and must be caught with its own message."""

import secrets

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from service.errors import Conflict
from service.evidence.store import evidence_store
from service.ledger import merkle, verify
from service.ledger import service as ledger
from service.ledger.leaf import leaf_bytes
from service.ledger.verify import verify_database, verify_engagement
from tests import factories

GUARDED = ("record", "merkle_node", "checkpoint", "evidence")


@pytest.fixture
def engagement(session, api):
    engagement = factories.make_engagement(session, member=api.member)
    for n in range(9):
        factories.append(session, member=api.member, engagement=engagement, summary=f"call {n}")
    return engagement


def sql(session, statement: str, **params):
    return session.connection().execute(text(statement), params)


def unguard(session, table: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        sql(session, f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
    else:
        sql(session, f"DROP TRIGGER {table}_no_update")
        sql(session, f"DROP TRIGGER {table}_no_delete")


def problems(session, api, engagement) -> list[str]:
    session.expire_all()
    report = verify_engagement(session, workspace=api.member.workspace, engagement=engagement)
    return [f"{p.where}: {p.message}" for p in report.problems]


@pytest.mark.parametrize("table", GUARDED)
@pytest.mark.parametrize("statement", ["UPDATE {table} SET {column} = {column}", "DELETE FROM {table}"])
def test_raw_sql_cannot_change_the_ledger(session, api, engagement, table, statement):
    factories.append(session, member=api.member, engagement=engagement, attachments=[
        api.post("/api/v1/evidence", files={"file": ("a.txt", secrets.token_bytes(64))}).json()["sha256"]])
    ledger.sign_current_checkpoint(session, workspace=api.member.workspace, engagement=engagement)
    column = {"record": "kind", "merkle_node": "hash", "checkpoint": "note", "evidence": "filename"}[table]
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        sql(session, statement.format(table=table, column=column))


def test_raw_sql_cannot_change_terms_or_shrink_the_ledger(session, engagement):
    for statement in ("UPDATE engagement SET rate_minor = 1", "UPDATE engagement SET tree_size = 1",
                      "DELETE FROM engagement"):
        with pytest.raises(DBAPIError, match="docket ledger"), session.begin_nested():
            sql(session, statement)
    with session.begin_nested():
        sql(session, "UPDATE engagement SET title = 'Renamed'")  # not committed to by any leaf


def test_an_untouched_ledger_verifies(session, api, engagement):
    ledger.sign_current_checkpoint(session, workspace=api.member.workspace, engagement=engagement)
    assert problems(session, api, engagement) == []


def test_an_edited_leaf_is_caught(session, api, engagement):
    unguard(session, "record")
    sql(session, "UPDATE record SET leaf = :leaf WHERE engagement_id = :e AND idx = 3",
        leaf=engagement_leaf(session, engagement, 3).replace(b'"kind":"call"', b'"kind":"note"'), e=engagement.id)
    found = problems(session, api, engagement)
    assert f"engagement {engagement.id}, record 3: the leaf bytes disagree with the record on: kind" in found
    assert f"engagement {engagement.id}, record 3: the stored leaf hash is not the hash of the leaf bytes" in found


def test_an_edited_body_is_caught(session, api, engagement):
    unguard(session, "record")
    body = sql(session, "SELECT body FROM record WHERE engagement_id = :e AND idx = 4", e=engagement.id).scalar()
    sql(session, "UPDATE record SET body = :b WHERE engagement_id = :e AND idx = 4",
        b=bytes(body).replace(b"call", b"meet"), e=engagement.id)
    assert problems(session, api, engagement) == [
        f"engagement {engagement.id}, record 4: the body does not hash to its body_sha256"]


def test_a_rewritten_record_with_matching_hashes_breaks_the_signed_root(session, api, engagement):
    """The careful forger recomputes the leaf and its hash: the signed checkpoint still gives them away."""
    ledger.sign_current_checkpoint(session, workspace=api.member.workspace, engagement=engagement)
    unguard(session, "record")
    sql(session, "UPDATE record SET occurred_at = :t WHERE engagement_id = :e AND idx = 2",
        t="2026-01-01 09:00:00" if session.get_bind().dialect.name == "sqlite" else "2026-01-01 09:00:00+00",
        e=engagement.id)
    leaf = engagement_leaf(session, engagement, 2).replace(b"2026-02-02T10:00:00Z", b"2026-01-01T09:00:00Z")
    sql(session, "UPDATE record SET leaf = :l, leaf_hash = :h WHERE engagement_id = :e AND idx = 2",
        l=leaf, h=merkle.leaf_hash(leaf), e=engagement.id)
    found = problems(session, api, engagement)
    assert f"engagement {engagement.id}: the leaves give a different root from the engagement's root hash" in found
    assert (f"engagement {engagement.id}, checkpoint 10: the leaves give a different root from the signed "
            "checkpoint") in found
    assert not any("record 2" in p for p in found)


def test_a_deleted_leaf_is_caught(session, api, engagement):
    unguard(session, "record")
    sql(session, "DELETE FROM record WHERE engagement_id = :e AND idx = 5", e=engagement.id)
    found = problems(session, api, engagement)
    assert f"engagement {engagement.id}, record 6: expected record 5 here: records are missing" in found
    assert f"engagement {engagement.id}: the ledger holds 9 records but the engagement says 10" in found


@pytest.mark.parametrize("kind", ['ca"ll', "ca\\ll", "ca\nll", "\\u0063all"])
def test_a_leaf_that_is_the_record_pasted_in_unescaped_is_caught(session, api, engagement, kind):
    """verify skips leaf_bytes for leaves it can rebuild itself: not for strings JCS would escape."""
    unguard(session, "record")
    leaf = engagement_leaf(session, engagement, 3).replace(b'"kind":"call"', f'"kind":"{kind}"'.encode())
    sql(session, "UPDATE record SET kind = :k, leaf = :l WHERE engagement_id = :e AND idx = 3",
        k=kind, l=leaf, e=engagement.id)
    found = problems(session, api, engagement)
    assert any(p.startswith(f"engagement {engagement.id}, record 3: the leaf bytes disagree with the record on:")
               for p in found)
    if kind == "\\u0063all":  # valid JSON that reads "call"
        assert f"engagement {engagement.id}, record 3: the leaf bytes disagree with the record on: kind" in found


def test_records_without_lists_are_checked_without_calling_leaf_bytes(session, api, engagement, monkeypatch):
    """verify takes the fast path (is_plain_leaf) for leaves without lists: were it never to match, every leaf
    would fall back to leaf_bytes (still correct, but three times slower)."""
    calls = []
    monkeypatch.setattr(verify, "leaf_bytes", lambda **fields: calls.append(fields) or leaf_bytes(**fields))
    factories.append(session, member=api.member, engagement=engagement, refs=[2])
    assert problems(session, api, engagement) == []
    assert [fields["refs"] for fields in calls] == [[2]]


@pytest.mark.parametrize(("column", "value", "message"), [
    ("leaf", "tampered", "the stored row cannot be read"),
    ("body", "tampered", "the stored row cannot be read"),
    ("idx", "three", "the stored row cannot be read: the index 'three' is not an integer"),
])
def test_a_value_of_the_wrong_type_is_reported_not_a_crash(session, api, engagement, column, value, message):
    unguard(session, "record")
    update = f"UPDATE record SET {column} = :v WHERE engagement_id = :e AND idx = 3"
    if session.get_bind().dialect.name == "postgresql":
        # PostgreSQL keeps column types: it refuses text for an integer, and takes text for bytea as bytes.
        if column == "idx":
            with pytest.raises(DBAPIError, match="integer"):
                sql(session, update, v=value, e=engagement.id)
            return
        sql(session, update, v=value, e=engagement.id)
        assert any(p.startswith(f"engagement {engagement.id}, record 3: the ")
                   for p in problems(session, api, engagement))
        return
    sql(session, update, v=value, e=engagement.id)
    found = problems(session, api, engagement)
    where = f"engagement {engagement.id}, record {value if column == 'idx' else 3}"
    assert any(p.startswith(f"{where}: {message}") for p in found), found


def test_swapped_rows_are_caught(session, api, engagement):
    unguard(session, "record")
    for old, new in ((3, -1), (4, 3), (-1, 4)):
        sql(session, "UPDATE record SET idx = :new WHERE engagement_id = :e AND idx = :old",
            new=new, old=old, e=engagement.id)
    found = problems(session, api, engagement)
    assert f"engagement {engagement.id}, record 3: the leaf bytes disagree with the record on: index" in found
    assert f"engagement {engagement.id}, record 4: the leaf bytes disagree with the record on: index" in found


def test_a_forged_checkpoint_is_caught_and_the_signer_refuses_to_go_on(session, api, engagement):
    checkpoint = ledger.sign_current_checkpoint(session, workspace=api.member.workspace, engagement=engagement)
    unguard(session, "checkpoint")
    sql(session, "UPDATE checkpoint SET note = :n WHERE id = :i", n=checkpoint.note.replace("\n10\n", "\n11\n"),
        i=checkpoint.id)
    assert any("checkpoint 10: signature:" in p for p in problems(session, api, engagement))

    # A rewritten history (leaves and stored subtrees) is never signed over an earlier checkpoint.
    unguard(session, "merkle_node")
    sql(session, "UPDATE merkle_node SET hash = :h WHERE engagement_id = :e AND level = 1 AND idx = 4",
        h=b"\x07" * 32, e=engagement.id)
    factories.append(session, member=api.member, engagement=engagement)
    with pytest.raises(Conflict, match="refusing to sign"):
        ledger.sign_current_checkpoint(session, workspace=api.member.workspace, engagement=engagement)


def test_a_changed_evidence_file_is_caught(session, api, engagement):
    content = secrets.token_bytes(2000)
    sha = api.post("/api/v1/evidence", files={"file": ("notes.txt", content)}).json()["sha256"]
    store = evidence_store()
    report = verify_database(session, store)
    assert report.ok and report.counts["files"] >= 1
    store.path(sha).chmod(0o644)
    store.path(sha).write_bytes(content[:-1] + b"!")
    report = verify_database(session, store)
    assert f"evidence {sha}: the file's content no longer matches its sha256" in [
        f"{p.where}: {p.message}" for p in report.problems]
    store.path(sha).unlink()
    report = verify_database(session, store)
    assert any(p.where == f"evidence {sha}" and "missing" in p.message for p in report.problems)


def engagement_leaf(session, engagement, idx: int) -> bytes:
    return bytes(sql(session, "SELECT leaf FROM record WHERE engagement_id = :e AND idx = :i",
                     e=engagement.id, i=idx).scalar())


def test_the_cli_prints_what_it_checked_and_exits_1_on_a_problem(cli_database):
    """`docket verify --db` end to end on its own database, as an operator would run it."""
    from service.cli import app
    from service.db import new_session

    with new_session(write=True) as session:
        member = factories.make_member(session)
        engagement = factories.make_engagement(session, member=member)
        for _ in range(4):
            factories.append(session, member=member, engagement=engagement)
    result = CliRunner().invoke(app, ["verify", "--db"])
    assert result.exit_code == 0, result.output
    assert "engagements 1, records 5" in result.output and "OK" in result.output
    with cli_database.begin() as conn:
        conn.execute(text("DROP TRIGGER record_no_update"))
        conn.execute(text("UPDATE record SET body = X'00' WHERE idx = 2"))
    result = CliRunner().invoke(app, ["verify", "--db"])
    assert result.exit_code == 1
    assert f"engagement {engagement.id}, record 2: the body does not hash to its body_sha256" in result.output
    assert CliRunner().invoke(app, ["verify"]).exit_code == 2
