"""The `docket` command, run as an operator runs it, against a database of its own."""

from sqlmodel import select
from typer.testing import CliRunner

from service.accounts.models import Membership, Workspace
from service.accounts.service import redeem_login_link, token_principal
from service.cli import app
from service.db import new_session
from service.demo.story import bootstrap
from service.engagements.models import Engagement
from service.ledger.verify import verify_engagement
from service.records.models import Record


def test_first_start_makes_an_owner_a_workspace_and_the_demo(cli_database):
    with new_session(write=True) as session:
        link = bootstrap(session)
        session.commit()
    with new_session(write=True) as session:
        again = bootstrap(session)
        session.commit()
        workspaces = session.exec(select(Workspace).order_by(Workspace.id)).all()
        assert [w.is_demo for w in workspaces] == [False, True]  # the demo is loaded once, on an empty database
        user = redeem_login_link(session, token=again.rsplit("/", 1)[1])
        assert {m.workspace_id for m in session.exec(select(Membership).where(Membership.user_id == user.id))} == {
            w.id for w in workspaces}
        demo = session.exec(select(Engagement).where(Engagement.workspace_id == workspaces[1].id)).one()
        kinds = session.exec(select(Record.kind).where(Record.engagement_id == demo.id)).all()
        for kind in ("engagement_opened", "report_sent", "meeting_cancelled", "no_show", "notice_given",
                     "access_revoked", "invoice_issued", "payment_refused"):
            assert kind in kinds, kind
        assert verify_engagement(session, workspace=workspaces[1], engagement=demo).ok
    assert link != again and "/login/link/" in link


def test_user_and_token_commands(cli_database):
    runner = CliRunner()
    assert runner.invoke(app, ["user", "create", "a@example.com"]).exit_code == 2  # no workspace yet
    with new_session(write=True) as session:
        bootstrap(session)
        session.commit()
    result = runner.invoke(app, ["user", "create", "Viewer@Example.com", "--role", "viewer"])
    assert result.exit_code == 0, result.output
    assert "viewer of my-workspace" in result.output and "/login/link/" in result.output
    result = runner.invoke(app, ["token", "create", "importer", "--scope", "read"])
    assert result.exit_code == 0, result.output
    with new_session() as session:
        principal = token_principal(session, token=result.output.strip())
        assert principal.workspace.slug == "my-workspace" and not principal.can_write
    assert runner.invoke(app, ["token", "create", "x", "--workspace", "nope"]).exit_code == 2
    again = runner.invoke(app, ["user", "create", "viewer@example.com"])
    assert again.exit_code == 2 and "already exists" in again.output


def test_user_link_gives_an_existing_user_a_new_way_in(cli_database):
    runner = CliRunner()
    with new_session(write=True) as session:
        bootstrap(session)
        session.commit()
    result = runner.invoke(app, ["user", "link", " Owner@Docket.localhost "])
    assert result.exit_code == 0, result.output
    with new_session(write=True) as session:
        user = redeem_login_link(session, token=result.output.strip().rsplit("/", 1)[1])
        assert user.email == "owner@docket.localhost"
    missing = runner.invoke(app, ["user", "link", "nobody@example.com"])
    assert missing.exit_code == 2 and "no user with email nobody@example.com" in missing.output
    migrated = runner.invoke(app, ["migrate"])
    assert migrated.exit_code == 0 and "docket.db: up to date at revision " in migrated.output


def test_serve_prints_a_login_link_to_where_it_listens(cli_database, monkeypatch):
    import uvicorn

    from service.config import get_settings

    started = {}
    monkeypatch.setenv("DOCKET_BASE_URL", "")  # so that the variable serve sets is removed afterwards
    monkeypatch.delenv("DOCKET_BASE_URL")
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.update(options, app=app))
    try:
        result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "8123"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "running at http://127.0.0.1:8123" in result.output
    assert "http://127.0.0.1:8123/login/link/" in result.output
    assert (started["host"], started["port"], started["app"]) == ("0.0.0.0", 8123, "service.asgi:app")


def test_migrate_says_what_it_did(tmp_path, monkeypatch):
    from service import db
    from service.config import get_settings

    monkeypatch.setenv("DOCKET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DOCKET_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        first = CliRunner().invoke(app, ["migrate"])
        assert first.exit_code == 0, first.output
        assert "fresh.db: migrated from an empty database to revision " in first.output
        assert "up to date at revision" in CliRunner().invoke(app, ["migrate"]).output
    finally:
        db.get_engine().dispose()
        db.get_engine.cache_clear()
        get_settings.cache_clear()
