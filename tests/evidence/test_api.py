import hashlib

from service.config import get_settings
from tests import factories


def upload(api, content: bytes, filename: str = "report.pdf", media_type: str = "application/pdf"):
    return api.post("/api/v1/evidence", files={"file": (filename, content, media_type)})


def stored_files() -> set:
    root = get_settings().evidence_dir
    return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_upload_download_and_attach(api, session):
    content = b"%PDF-1.4 weekly report\n" * 100
    response = upload(api, content, filename="../../etc/Weekly report.pdf")
    assert response.status_code == 201, response.text
    meta = response.json()
    assert meta == {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content),
                    "media_type": "application/pdf", "filename": "Weekly report.pdf",
                    "created_at": meta["created_at"]}
    again = upload(api, content, filename="copy.pdf")
    assert again.status_code == 201 and again.json()["sha256"] == meta["sha256"]
    download = api.get(f"/api/v1/evidence/{meta['sha256']}")
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    # Asked to open it in the browser: a PDF may be.
    opened = api.get(f"/api/v1/evidence/{meta['sha256']}", params={"inline": "true"})
    assert opened.headers["content-disposition"].startswith("inline;") and opened.content == content
    engagement = factories.make_engagement(session, member=api.member)
    record = api.post(f"/api/v1/engagements/{engagement.id}/records", json={
        "kind": "report_sent", "occurred_at": "2026-02-06T17:00:00Z", "attachments": [meta["sha256"]],
        "body": {"summary": "Weekly report"}})
    assert record.status_code == 201 and record.json()["attachments"] == [meta["sha256"]]


def test_other_workspace_cannot_read_or_attach_my_file(api, other_api, session):
    sha = upload(api, b"private contract").json()["sha256"]
    theirs = other_api.get(f"/api/v1/evidence/{sha}")
    assert theirs.status_code == 404
    assert theirs.content == other_api.get(f"/api/v1/evidence/{'0' * 64}").content
    engagement = factories.make_engagement(session, member=other_api.member)
    response = other_api.post(f"/api/v1/engagements/{engagement.id}/records", json={
        "kind": "note", "occurred_at": "2026-02-06T17:00:00Z", "attachments": [sha], "body": {"summary": "x"}})
    assert response.status_code == 422 and "attachments" in response.text


def test_oversized_upload_is_413_and_leaves_nothing(api, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_upload_mb", 1)
    before = stored_files()
    response = upload(api, b"x" * (1024 * 1024 + 10))
    assert response.status_code == 413
    assert stored_files() == before
    assert list((get_settings().evidence_dir / "tmp").iterdir()) == []


def test_bad_uploads(api):
    assert api.post("/api/v1/evidence", json={"file": "x"}).status_code == 422
    assert api.post("/api/v1/evidence", files={"other": ("a.txt", b"abc")}).status_code == 422
    assert api.post("/api/v1/evidence", data={"file": "just text"},
                    files={"x": ("a", b"")}).status_code == 422
    assert upload(api, b"").status_code == 422
    hostile = upload(api, b"<script>alert(1)</script>", filename="<img onerror=x>.html", media_type="text/html")
    assert hostile.status_code == 201
    # HTML is never opened as a page of ours, even when asked.
    for params in ({}, {"inline": "true"}):
        download = api.get(f"/api/v1/evidence/{hostile.json()['sha256']}", params=params)
        assert download.headers["content-disposition"].startswith("attachment;")
    assert api.get(f"/api/v1/evidence/{hostile.json()['sha256']}", params={"inline": "maybe"}).status_code == 422


def test_viewer_cannot_upload(anon, session, owner):
    _, token = factories.make_token(session, member=owner, scope="read")
    response = anon.post("/api/v1/evidence", files={"file": ("a.txt", b"abc")},
                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
