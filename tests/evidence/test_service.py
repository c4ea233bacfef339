"""The evidence service and store, called directly: registering a stored file, finding it, and the one store
every reader and writer gets from the settings."""

import hashlib

import pytest

from service.config import get_settings
from service.errors import NotFound, TooLarge
from service.evidence.service import evidence_by_hash, get_evidence, register_evidence
from service.evidence.store import evidence_store
from tests import factories


def store_bytes(content: bytes) -> str:
    pending = evidence_store().writer(len(content))
    pending.write(content)
    return pending.commit()


def test_registering_the_same_file_twice_keeps_the_first_name(session):
    member = factories.make_member(session)
    sha = store_bytes(b"weekly report")
    first = register_evidence(session, workspace=member.workspace, sha256=sha, size=13,
                              media_type="application/pdf", filename="report.pdf")
    again = register_evidence(session, workspace=member.workspace, sha256=sha, size=13,
                              media_type="text/plain", filename="copy.txt")
    assert again.id == first.id and (again.filename, again.media_type) == ("report.pdf", "application/pdf")
    assert get_evidence(session, workspace=member.workspace, sha256=sha).id == first.id


def test_an_empty_media_type_and_a_long_name_are_stored_within_bounds(session):
    member = factories.make_member(session)
    sha = store_bytes(b"no type")
    evidence = register_evidence(session, workspace=member.workspace, sha256=sha, size=7, media_type="",
                                 filename="x" * 300 + ".txt")
    assert evidence.media_type == "application/octet-stream" and len(evidence.filename) == 255


def test_another_workspace_cannot_find_my_file(session):
    mine, theirs = factories.make_member(session), factories.make_member(session, workspace_name="Other")
    sha = store_bytes(b"private")
    register_evidence(session, workspace=mine.workspace, sha256=sha, size=7, media_type="text/plain",
                      filename="a.txt")
    with pytest.raises(NotFound):
        get_evidence(session, workspace=theirs.workspace, sha256=sha)
    assert evidence_by_hash(session, workspace=theirs.workspace, hashes=[sha]) == {}
    assert set(evidence_by_hash(session, workspace=mine.workspace, hashes=[sha, "0" * 64])) == {sha}
    assert evidence_by_hash(session, workspace=mine.workspace, hashes=[]) == {}


def test_the_store_is_the_one_the_settings_name_and_follows_them(tmp_path, monkeypatch):
    assert evidence_store() is evidence_store()
    assert evidence_store().root == get_settings().evidence_dir
    monkeypatch.setenv("DOCKET_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert evidence_store().root == tmp_path / "evidence"
        sha = store_bytes(b"elsewhere")
        assert (tmp_path / "evidence" / sha[:2] / sha).read_bytes() == b"elsewhere"
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert evidence_store().root == get_settings().evidence_dir


def test_a_file_over_the_limit_leaves_nothing_behind():
    pending = evidence_store().writer(4)
    with pytest.raises(TooLarge):
        pending.write(b"too long")
    pending.discard()
    assert not evidence_store().exists(hashlib.sha256(b"too long").hexdigest())
    assert not pending._temp.exists()
