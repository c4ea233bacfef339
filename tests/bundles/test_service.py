"""Exporting bundles (DESIGN §5): layout, contents, partial bundles, the export record, streaming."""

import csv
import io
import json
import zipfile
from datetime import date

import bagit
import pytest
from sqlmodel import select

from service.bundles.derive import ascii_name
from service.bundles.service import Subset, parse_subset, prepare_bundle
from service.bundles.verify import verify_bundle
from service.bundles.writer import CHUNK, stream_bundle
from service.config import get_settings
from service.errors import Invalid
from service.evidence.store import EvidenceStore
from service.facts.service import engagement_facts
from service.ledger import merkle, note
from service.records.models import Record
from tests import factories
from tests.bundles.helpers import EMAIL, PDF, bag_dir, build_engagement, check_everywhere, export, read_zip, vkey


@pytest.fixture
def member(session):
    return factories.make_member(session)


@pytest.fixture
def engagement(session, member):
    return build_engagement(session, member=member)


def test_a_whole_bundle_is_a_valid_bag_with_the_designed_layout(session, member, engagement, tmp_path):
    size_before = engagement.tree_size
    plan = export(session, member=member, engagement=engagement, path=tmp_path / "b.zip", recipient="Harper LLP")
    check_everywhere(tmp_path / "b.zip", tmp_path / "x", key=vkey(member))
    root, files = read_zip(tmp_path / "b.zip")
    assert root == f"docket-{engagement.id}-{size_before}/"
    n = size_before
    assert set(files) == {
        "bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt", "docket-seal.txt",
        "data/inputs.json", "data/README.txt",
        "data/chronology.html", "data/chronology.csv", "data/statement.html", "data/ledger/checkpoint",
        "data/ledger/key.vkey", "data/ledger/leaf-hashes.txt", "data/ledger/consistency/8.txt",
        *(f"data/ledger/entries/{i}.leaf.json" for i in range(n)),
        *(f"data/ledger/entries/{i}.body.json" for i in range(n)),
        "data/exhibits/E0001-Re-invoice.eml", "data/exhibits/E0002-Weekly-report-No1.pdf"}
    assert files["bagit.txt"] == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    assert files["data/exhibits/E0001-Re-invoice.eml"] == EMAIL
    assert files["data/exhibits/E0002-Weekly-report-No1.pdf"] == PDF
    info = dict(line.split(": ", 1) for line in files["bag-info.txt"].decode().splitlines())
    payload = [data for name, data in files.items() if name.startswith("data/")]
    assert info["Payload-Oxum"] == f"{sum(map(len, payload))}.{len(payload)}"
    assert info["Docket-Tree-Size"] == str(n) and info["Docket-Root-Hash"] == plan.root.hex()
    assert info["Docket-Log-Origin"] == plan.origin and info["Source-Organization"] == member.workspace.name
    assert {"External-Identifier", "External-Description", "Bagging-Date"} <= set(info)

    checkpoint = note.open_note(files["data/ledger/checkpoint"].decode(), vkey(member))
    assert (checkpoint.size, checkpoint.root) == (n, plan.root)
    hashes = [bytes.fromhex(h) for h in files["data/ledger/leaf-hashes.txt"].decode().split()]
    assert merkle.root_from_leaf_hashes(hashes) == checkpoint.root
    records = {r.idx: r for r in session.exec(select(Record).where(Record.engagement_id == engagement.id))}
    for i in range(n):
        assert files[f"data/ledger/entries/{i}.leaf.json"] == records[i].leaf
        assert files[f"data/ledger/entries/{i}.body.json"] == records[i].body
        assert hashes[i] == records[i].leaf_hash
    assert files["data/ledger/key.vkey"].decode().strip() == vkey(member)


def test_the_export_is_recorded_after_the_bundles_checkpoint(session, member, engagement, tmp_path):
    plan = export(session, member=member, engagement=engagement, path=tmp_path / "b.zip",
                  subset=Subset(kinds=("invoice_issued",)), recipient="  Harper\nLLP ")
    session.refresh(engagement)
    assert plan.record_index == plan.size and engagement.tree_size == plan.size + 1
    record = session.exec(select(Record).where(Record.engagement_id == engagement.id, Record.idx == plan.size)).one()
    body = json.loads(record.body)
    assert record.kind == "bundle_exported" and record.actor == member.actor
    assert body["size"] == plan.size and note.parse_checkpoint(plan.checkpoint_note.split("\n\n")[0] + "\n").root \
        == plan.root
    assert body["subset"] == {"kinds": ["invoice_issued"]} and body["recipient"] == "Harper LLP"
    # The next bundle proves it extends the checkpoint this one carried.
    again = export(session, member=member, engagement=engagement, path=tmp_path / "c.zip")
    assert [c.size for c in again.consistency] == [8, plan.size]
    check_everywhere(tmp_path / "c.zip", tmp_path / "x", key=vkey(member))


def test_a_partial_bundle_discloses_only_the_chosen_records_and_their_corrections(session, member, engagement,
                                                                                    tmp_path):
    subset = parse_subset(occurred_from=None, occurred_to=None, kinds=["call"], indices=[4], engagement=engagement)
    plan = export(session, member=member, engagement=engagement, path=tmp_path / "p.zip", subset=subset)
    check_everywhere(tmp_path / "p.zip", tmp_path / "x", key=vkey(member))
    _, files = read_zip(tmp_path / "p.zip")
    # The call (3) with its amendment (6), and the invoice (4) asked for by index; nothing else.
    disclosed = sorted(int(n.split("/")[-1].split(".")[0]) for n in files if n.endswith(".leaf.json"))
    assert disclosed == [3, 4, 6] and plan.partial
    assert sorted(n for n in files if n.endswith(".body.json")) == [
        f"data/ledger/entries/{i}.body.json" for i in (3, 4, 6)]
    assert [n for n in files if n.startswith("data/exhibits/")] == ["data/exhibits/E0002-Weekly-report-No1.pdf"]
    assert len(files["data/ledger/leaf-hashes.txt"].split()) == plan.size == 10
    assert b"Tom Reed" not in b"".join(v for k, v in files.items() if "ledger/entries" in k)
    html = files["data/chronology.html"].decode()
    assert "3 of 10" in html and "partial bundle" in html and "Call with Priya" in html
    assert "Sent the plan" not in html and "Re: invoice.eml" not in html
    report = verify_bundle(tmp_path / "p.zip", key=vkey(member))
    assert report.facts["records"] == "3 of 10 disclosed (a partial bundle)"
    assert any("partial bundle" in n for n in report.notes)


def test_the_statement_of_facts_cites_into_the_chronology(session, member, engagement, tmp_path):
    plan = export(session, member=member, engagement=engagement, path=tmp_path / "b.zip")
    _, files = read_zip(tmp_path / "b.zip")
    html = files["data/statement.html"].decode()
    assert html.startswith("<!doctype html>") and "<script" not in html
    facts = engagement_facts(session, workspace=member.workspace, engagement=engagement, as_of=plan.exported_at.date())
    # Computed on the ledger as the bundle's checkpoint has it: the export's own record came after.
    assert facts.tree_size == plan.size + 1 and json.loads(files["data/inputs.json"])["statement"] is None
    # The invoice line: its figure, its record linked into the chronology, its exhibit.
    assert "Invoice INV-7 for £9,000.00" in html
    assert 'href="chronology.html#record-4">#4</a>' in html and "exhibit E0002" in html
    assert html.count("<li value=") >= 3
    assert "left out here" not in html and "only some of the records" not in html


def test_a_partial_bundle_states_only_the_facts_resting_on_what_it_discloses(session, member, engagement,
                                                                           tmp_path):
    facts_before = engagement_facts(session, workspace=member.workspace, engagement=engagement)
    export(session, member=member, engagement=engagement, path=tmp_path / "p.zip", subset=Subset(indices=(4, 5)))
    check_everywhere(tmp_path / "p.zip", tmp_path / "x", key=vkey(member))
    _, files = read_zip(tmp_path / "p.zip")
    html = files["data/statement.html"].decode()
    statement = json.loads(files["data/inputs.json"])["statement"]
    shown = statement["lines"]
    assert shown and all(c["index"] in (4, 5) for line in shown for c in line["refs"])
    assert [line["text"] for line in shown] == [line.text for line in facts_before.statement
                                                if all(c.index in (4, 5) for c in line.refs) and line.refs]
    assert "Invoice INV-7" in html and "Call with" not in html
    withheld = statement["withheld"]
    assert withheld > 0 and f"{withheld} line" in html and "left out here" in html
    assert html.count("<li value=") == len(shown)


def test_dates_filter_on_the_day_the_record_happened(session, member, engagement, tmp_path):
    subset = parse_subset(occurred_from=date(2026, 3, 4), occurred_to=date(2026, 3, 5), kinds=None, indices=None,
                          engagement=engagement)
    plan = export(session, member=member, engagement=engagement, path=tmp_path / "d.zip", subset=subset)
    assert sorted(e.index for e in plan.entries) == [3, 4, 6]  # the call, the invoice, the call's amendment
    check_everywhere(tmp_path / "d.zip", tmp_path / "x", key=vkey(member))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"kinds": ["telegram"]}, "kind"),
    ({"occurred_from": date(2026, 3, 5), "occurred_to": date(2026, 3, 1)}, "from"),
    ({"indices": [99]}, "index"),
    ({"indices": [-1]}, "index"),
])
def test_bad_subsets_are_refused(engagement, kwargs, field):
    args = {"occurred_from": None, "occurred_to": None, "kinds": None, "indices": None, **kwargs}
    with pytest.raises(Invalid) as caught:
        parse_subset(engagement=engagement, **args)
    assert caught.value.field == field


def test_a_subset_matching_nothing_exports_nothing_and_records_nothing(session, member, engagement):
    size = engagement.tree_size
    with pytest.raises(Invalid, match="no record matches"):
        prepare_bundle(session, workspace=member.workspace, engagement=engagement, actor=member.actor,
                       subset=Subset(kinds=("no_show",)), recipient=None,
                       store=EvidenceStore(get_settings().evidence_dir))
    session.rollback()
    session.refresh(engagement)
    assert engagement.tree_size == size


def test_the_chronology_shows_every_record_escaped_with_exhibits_and_corrections(session, member, engagement,
                                                                                 tmp_path):
    plan = export(session, member=member, engagement=engagement, path=tmp_path / "b.zip", recipient="Harper LLP")
    _, files = read_zip(tmp_path / "b.zip")
    html = files["data/chronology.html"].decode()
    assert "<script" not in html.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Outbound &lt;sales&gt; &amp; co" in html and "<link" not in html and "src=" not in html
    assert "@page" in html and "counter(page)" in html and "counter(pages)" in html and "break-after: page" in html
    for fact in (plan.root.hex(), vkey(member).split("+")[1], "Northwind Ltd", "Harper LLP", "£450.00 per day",
                 "30 days", "Checkpoint", "Exhibit index", "Weekly report №1.pdf", "E0001", "E0002"):
        assert fact in html, fact
    for i in range(plan.size):
        assert f'id="record-{i}"' in html
    assert "retracted" in html and "Retracted by record 7: sent to the wrong client" in html
    assert "Amended by record 6" in html and "As first recorded: Call with Tom" in html
    assert "Amends record 3" in html and "Refers to record 4" in html
    # Records 0-7 were written down long after they happened; the receipt (8) and the note (9) were not.
    assert html.count('class="late"') == 8
    assert f"{len(PDF):,} bytes" in html and plan.exhibits[1].sha256 in html

    rows = list(csv.DictReader(io.StringIO(files["data/chronology.csv"].decode("utf-8-sig"))))
    assert [int(r["index"]) for r in rows] == [e.index for e in plan.entries]
    email = next(r for r in rows if r["index"] == "1")
    assert email["status"] == "retracted" and email["exhibits"] == "E0001"
    assert email["summary"] == "<script>alert(1)</script> Sent the plan"
    report = next(r for r in rows if r["index"] == "2")
    assert report["summary"].startswith("'=HYPERLINK")  # never a live formula in a spreadsheet
    assert next(r for r in rows if r["index"] == "4")["amount"] == "£9,000.00"
    assert sorted(r["index"] for r in rows if not r["recorded_late"]) == ["8", "9"]

    readme = files["data/README.txt"].decode()
    for way in ("sha256sum -c manifest-sha256.txt", "bagit.py --validate", "docket verify", vkey(member)):
        assert way in readme


def test_the_streamed_bundle_is_valid_and_arrives_in_small_chunks(session, member, engagement, tmp_path):
    big = bytes(range(256)) * (5 * CHUNK // 256)
    from tests.bundles.helpers import store_file

    sha = store_file(session, member=member, content=big, filename="recording.mp3", media_type="audio/mpeg")
    factories.append(session, member=member, engagement=engagement, kind="call", attachments=[sha])
    plan = prepare_bundle(session, workspace=member.workspace, engagement=engagement, actor=member.actor,
                          subset=Subset(), recipient=None, store=EvidenceStore(get_settings().evidence_dir))
    sizes = []
    with (tmp_path / "s.zip").open("wb") as out:
        for chunk in stream_bundle(plan):
            sizes.append(len(chunk))
            out.write(chunk)
    assert max(sizes) < 2 * CHUNK and len(sizes) >= 5
    check_everywhere(tmp_path / "s.zip", tmp_path / "x", key=vkey(member))
    with zipfile.ZipFile(tmp_path / "s.zip") as archive:
        stored = [i for i in archive.infolist() if "/exhibits/" in i.filename]
        assert {i.compress_type for i in stored} == {zipfile.ZIP_STORED}


def test_a_damaged_evidence_file_stops_the_export(session, member, engagement, tmp_path):
    plan = prepare_bundle(session, workspace=member.workspace, engagement=engagement, actor=member.actor,
                          subset=Subset(), recipient=None, store=EvidenceStore(get_settings().evidence_dir))
    damaged = tmp_path / "copy.pdf"
    damaged.write_bytes(PDF[:-1] + b"!")
    plan.exhibits[1].source = damaged
    from service.bundles.writer import write_bundle
    from service.errors import Conflict

    with pytest.raises(Conflict, match="no longer matches its hash"):
        write_bundle(plan, tmp_path / "b.zip")
    assert list(tmp_path.iterdir()) == [damaged]


@pytest.mark.parametrize(("name", "safe"), [
    ("Weekly report №1.pdf", "Weekly-report-No1.pdf"),
    ("../../etc/passwd", "etc-passwd"),
    ("résumé final.PDF", "resume-final.PDF"),
    ("契約書.pdf", "file.pdf"),
    ("", "file"),
    ("a" * 300 + ".pdf", "a" * 80 + ".pdf"),
    ("notes", "notes"),
])
def test_exhibit_names_are_ascii_and_safe(name, safe):
    assert ascii_name(name) == safe


def test_bagit_validates_a_bag_of_a_bundle_with_no_files(session, member, tmp_path):
    engagement = factories.make_engagement(session, member=member)
    plan = export(session, member=member, engagement=engagement, path=tmp_path / "e.zip")
    assert plan.size == 1 and plan.exhibits == [] and plan.consistency == []
    check_everywhere(tmp_path / "e.zip", tmp_path / "x", key=vkey(member))
    assert bagit.Bag(str(bag_dir(tmp_path / "e.zip", tmp_path / "y"))).is_valid()


def test_a_download_broken_off_stops_cleanly(session, member, engagement):
    import threading

    from tests.bundles.helpers import store_file

    sha = store_file(session, member=member, content=bytes(5 * CHUNK), filename="big.bin")
    factories.append(session, member=member, engagement=engagement, kind="call", attachments=[sha])
    plan = prepare_bundle(session, workspace=member.workspace, engagement=engagement, actor=member.actor,
                          subset=Subset(), recipient=None, store=EvidenceStore(get_settings().evidence_dir))
    stream = stream_bundle(plan)
    assert next(stream)[:2] == b"PK"
    assert any(t.name == "bundle-hash" for t in threading.enumerate())  # mid-way through the big file
    stream.close()  # what the server does when the client goes away
    assert not any(t.name == "bundle-hash" for t in threading.enumerate())
