"""`docket export` and `docket verify BUNDLE` end to end, on their own database, as an operator runs them."""

import pytest
from typer.testing import CliRunner

from service.config import get_settings
from service.ledger import service as ledger
from tests.bundles.helpers import build_engagement, check_everywhere, read_zip, write_zip


@pytest.fixture
def operator(tmp_path, monkeypatch):
    """A data folder and SQLite database of its own: the command opens its own sessions and commits."""
    from service import db
    from service.db import new_session
    from service.migrate import upgrade
    from tests import factories

    monkeypatch.setenv("DOCKET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DOCKET_DATABASE_URL", f"sqlite:///{tmp_path / 'docket.db'}")
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        with db.get_engine().begin() as conn:
            upgrade(conn)
        with new_session(write=True) as session:
            member = factories.make_member(session)
            engagement = build_engagement(session, member=member)
            vkey = ledger.verifier_key(member.workspace)
        yield engagement, vkey
    finally:
        db.get_engine().dispose()
        get_settings.cache_clear()
        db.get_engine.cache_clear()


def test_export_then_verify(operator, tmp_path):
    from service.cli import app

    engagement, vkey = operator
    out = tmp_path / "bundle.zip"
    result = CliRunner().invoke(app, ["export", str(engagement.id), "--out", str(out), "--for", "Harper LLP"])
    assert result.exit_code == 0, result.output
    assert "10 of 10 records, 2 exhibits; recorded as record 10" in result.output and vkey in result.output
    check_everywhere(out, tmp_path / "x", key=vkey)

    verified = CliRunner().invoke(app, ["verify", str(out), "--key", vkey])
    assert verified.exit_code == 0, verified.output
    assert "key: pinned with --key" in verified.output and "OK: every check passed" in verified.output
    unpinned = CliRunner().invoke(app, ["verify", str(out)])
    assert unpinned.exit_code == 0 and "not who made it" in unpinned.output

    root, files = read_zip(out)
    files["data/ledger/entries/4.body.json"] = files["data/ledger/entries/4.body.json"].replace(b"900000", b"9")
    write_zip(tmp_path / "forged.zip", root, files, refresh=True)
    failed = CliRunner().invoke(app, ["verify", str(tmp_path / "forged.zip"), "--key", vkey])
    assert failed.exit_code == 1
    assert f"{root}data/ledger/entries/4.body.json: does not hash to the body_sha256" in failed.output


def test_export_a_subset(operator, tmp_path):
    from service.cli import app

    engagement, vkey = operator
    out = tmp_path / "partial.zip"
    result = CliRunner().invoke(app, ["export", str(engagement.id), "--out", str(out), "--from", "2026-03-04",
                                      "--to", "2026-03-06", "--kind", "invoice_issued", "--kind", "payment_refused",
                                      "--index", "2"])
    assert result.exit_code == 0, result.output
    assert "3 of 10 records, 1 exhibits" in result.output
    check_everywhere(out, tmp_path / "x", key=vkey)


@pytest.mark.parametrize(("args", "message"), [
    (["999", "--out", "x.zip"], "no engagement 999"),
    (["{id}", "--out", "x.zip", "--kind", "telegram"], "unknown kind"),
    (["{id}", "--out", "x.zip", "--from", "March"], "Invalid value for '--from'"),
    (["{id}", "--out", "x.zip", "--index", "42"], "42 is not a record"),
])
def test_export_refuses_bad_arguments(operator, tmp_path, monkeypatch, args, message):
    from service.cli import app

    engagement, _ = operator
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["export", *(a.format(id=engagement.id) for a in args)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "x.zip").exists()
