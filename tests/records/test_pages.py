"""The timeline on the engagement page: reading, quick-add, amend, retract; CSRF, viewers and escaping."""

import hashlib
import json
import re
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from service.evidence.service import register_evidence
from service.records.kinds import KINDS
from service.records.models import Record
from service.records.service import get_record
from tests import factories

HX = {"HX-Request": "true"}


@pytest.fixture
def engagement(session, owner):
    return factories.make_engagement(session, member=owner)


def add(client, engagement, headers=None, **fields):
    data = {"csrf_token": client.csrf, "kind": "call", "occurred_at": "2026-02-02T10:30", "summary": "Called Tom",
            "direction": "out", **fields}
    return client.post(f"/engagements/{engagement.id}/records", data=data, headers=headers or {},
                       follow_redirects=False)


def upload(client, content: bytes, filename: str, media_type: str = "application/pdf") -> str:
    response = client.post("/api/v1/evidence", files={"file": (filename, content, media_type)},
                           headers={"X-CSRF-Token": client.csrf})
    assert response.status_code == 201, response.text
    return response.json()["sha256"]


def test_timeline_groups_by_day_and_shows_each_record(browser_session, session, owner, engagement):
    factories.append(session, member=owner, engagement=engagement, kind="call", summary="Pipeline call",
                     occurred_at=datetime(2026, 2, 2, 9, tzinfo=UTC), direction="out", participants=["Tom Hale"])
    factories.append(session, member=owner, engagement=engagement, kind="invoice_issued",
                     occurred_at=datetime(2026, 2, 3, 9, tzinfo=UTC), invoice_number="INV-7", amount_minor=125000,
                     currency="GBP")
    html = browser_session.get(f"/engagements/{engagement.id}").text
    assert 'id="r1"' in html and 'id="r2"' in html and 'id="record-1"' not in html
    assert "Monday 2 February 2026" in html and "Tuesday 3 February 2026" in html
    assert "→ out" in html and "With Tom Hale" in html
    assert "£1,250.00" in html and "INV-7" in html
    assert '<svg class="icon"' in html
    # Recorded long after it happened.
    assert re.search(r"recorded \d+ days later", html)
    # Side panel: chart with a title and description, ledger panel with the verify fragment loaded on demand.
    assert '<title id="chart-title">' in html and "<desc" in html
    assert f'hx-get="/engagements/{engagement.id}/verify"' in html
    assert f'href="/engagements/{engagement.id}/facts"' in html
    assert f'href="/engagements/{engagement.id}/bundle"' in html


def test_next_page_continues_the_day_without_repeating_its_heading(browser_session, session, owner, engagement):
    for n in range(55):
        factories.append(session, member=owner, engagement=engagement, summary=f"Call {n}",
                         occurred_at=datetime(2026, 2, 2, 8, n, tzinfo=UTC))
    first = browser_session.get(f"/engagements/{engagement.id}").text
    assert first.count("Monday 2 February 2026") == 1
    more = re.search(r'hx-get="(/engagements/\d+\?cursor=[^"]+)"', first).group(1).replace("&amp;", "&")
    page = browser_session.get(more, headers=HX).text
    assert "Call 54" in page and "Monday 2 February 2026" not in page and "<html" not in page


def test_quick_add_with_kind_fields_and_an_attachment(browser_session, session, engagement):
    sha = upload(browser_session, b"%PDF-1.4 invoice", "INV-9.pdf")
    response = add(browser_session, engagement, kind="invoice_issued", summary="", invoice_number="INV-9",
                   amount="1,200.50", currency="GBP", due_on="2026-02-20", attachments=sha)
    assert response.status_code == 303, response.text
    record = session.exec(select(Record).where(Record.engagement_id == engagement.id,
                                               Record.kind == "invoice_issued")).one()
    assert record.attachments == [sha]
    html = browser_session.get(f"/engagements/{engagement.id}").text
    assert "£1,200.50" in html and "INV-9.pdf" in html and f'/api/v1/evidence/{sha}' in html
    paid = add(browser_session, engagement, kind="payment_received", summary="Paid", amount="1200.50",
               currency="GBP", refs=str(record.idx))
    assert paid.status_code == 303, paid.text


def test_without_javascript_files_are_attached_by_round_trips(browser_session, session, engagement):
    url = f"/engagements/{engagement.id}/records/attach?csrf_token={browser_session.csrf}"
    typed = {"kind": "report_sent", "occurred_at": "2026-02-02T10:30", "summary": "Week 5 report",
             "period_from": "2026-01-26"}
    first = browser_session.post(url, data=typed, files={"file": ("week 5.pdf", b"%PDF-1.4 week 5", "application/pdf")})
    assert first.status_code == 200 and "<html" in first.text
    pdf = hashlib.sha256(b"%PDF-1.4 week 5").hexdigest()
    # The page comes back with what was typed, and the file attached.
    assert '<option value="report_sent" selected>' in first.text and 'value="Week 5 report"' in first.text
    assert 'value="2026-01-26"' in first.text
    assert f'name="attachments" value="{pdf}"' in first.text and "week 5.pdf" in first.text

    second = browser_session.post(url, data={**typed, "attached": pdf},
                                  files={"file": ("call notes.txt", b"notes", "text/plain")})
    notes = hashlib.sha256(b"notes").hexdigest()
    assert f'name="attachments" value="{pdf}"' in second.text and f'name="attachments" value="{notes}"' in second.text

    done = add(browser_session, engagement, kind="report_sent", summary="Week 5 report", attachments=[pdf, notes])
    assert done.status_code == 303, done.text
    record = session.exec(select(Record).where(Record.engagement_id == engagement.id,
                                               Record.kind == "report_sent")).one()
    assert record.attachments == [pdf, notes]

    nothing = browser_session.post(url, data=typed, files={"file": ("empty.txt", b"", "text/plain")})
    assert nothing.status_code == 422 and 'id="attachments-error"' in nothing.text
    no_token = browser_session.post(f"/engagements/{engagement.id}/records/attach", data=typed,
                                    files={"file": ("x.txt", b"x", "text/plain")})
    assert no_token.status_code == 403


def test_kind_fields_block_swaps_for_htmx(browser_session, engagement):
    fragment = browser_session.get(f"/engagements/{engagement.id}/records/fields?kind=meeting_cancelled",
                                   headers=HX).text
    assert fragment.lstrip().startswith('<fieldset id="kind_fields"')
    assert 'name="meeting_at"' in fragment and 'name="cancelled_by"' in fragment and 'name="refs"' in fragment
    invoice = browser_session.get(f"/engagements/{engagement.id}/records/fields?kind=invoice_issued",
                                  headers=HX).text
    assert all(f'name="{n}"' in invoice for n in ("invoice_number", "amount", "currency", "due_on"))


def test_without_javascript_the_form_switches_kind_by_round_trip(browser_session, engagement):
    response = add(browser_session, engagement, kind="notice_given", summary="kept", show_fields="1")
    assert response.status_code == 200
    assert 'name="given_by"' in response.text and 'value="kept"' in response.text


def test_errors_come_back_next_to_their_fields(browser_session, engagement):
    response = add(browser_session, engagement, headers=HX, kind="invoice_issued", invoice_number="",
                   amount="12.345", currency="GBP")
    assert response.status_code == 422
    html = response.text
    assert html.lstrip().startswith('<form id="record_form"')
    assert 'id="amount-error"' in html and "is not an amount" in html
    missing = add(browser_session, engagement, headers=HX, kind="payment_received", amount="10", currency="GBP")
    assert missing.status_code == 422 and 'id="refs-error"' in missing.text
    late = add(browser_session, engagement, headers=HX, occurred_at="2099-01-01T10:00")
    assert late.status_code == 422 and 'id="occurred_at-error"' in late.text


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"kind": "call", "duration_minutes": "²"}, "duration_minutes", "is not a whole number"),
    ({"kind": "call", "duration_minutes": "9" * 5000}, "duration_minutes", "is not a whole number"),
    ({"kind": "payment_received", "amount": "10", "currency": "GBP", "refs": "²"}, "refs", ""),
    ({"kind": "invoice_issued", "invoice_number": "1", "amount": "1e400", "currency": "GBP"}, "amount",
     "is not an amount"),
    ({"kind": "terms_changed", "changes": "[" * 100_000}, "changes", "is not JSON"),
])
def test_hostile_form_values_are_named_not_a_server_error(browser_session, session, engagement, fields, field,
                                                          message):
    size = engagement.tree_size
    response = add(browser_session, engagement, headers=HX, **fields)
    assert response.status_code == 422 and f'id="{field}-error"' in response.text and message in response.text
    session.refresh(engagement)
    assert engagement.tree_size == size


def test_a_time_with_an_offset_is_kept_as_the_same_instant(browser_session, session, engagement):
    assert add(browser_session, engagement, occurred_at="2026-02-02T10:30+05:00").status_code == 303
    session.refresh(engagement)
    record = get_record(session, engagement=engagement, index=engagement.tree_size - 1)
    assert record.occurred_at == datetime(2026, 2, 2, 5, 30, tzinfo=UTC)


def test_amend_and_retract_from_the_record(browser_session, session, owner, engagement):
    call = factories.append(session, member=owner, engagement=engagement, summary="Called Tim", details="About Q2")
    url = f"/engagements/{engagement.id}/records/{call.idx}"
    no_reason = browser_session.post(f"{url}/amend", headers=HX, data={
        "csrf_token": browser_session.csrf, "summary": "Called Tom", "details": "About Q2", "reason": ""})
    assert no_reason.status_code == 422 and no_reason.text.lstrip().startswith('<article class="record current')
    assert "say why" in no_reason.text and 'value="Called Tom"' in no_reason.text
    # Without JavaScript the record's own page comes back with the form and its error.
    plain = browser_session.post(f"{url}/retract", data={"csrf_token": browser_session.csrf, "reason": " "})
    assert plain.status_code == 422 and "<html" in plain.text
    assert f'id="x{call.idx}-reason-error"' in plain.text and "say why" in plain.text

    amended = browser_session.post(f"{url}/amend", headers=HX, data={
        "csrf_token": browser_session.csrf, "summary": "Called Tom", "details": "About Q2", "direction": "out",
        "reason": "wrong name"})
    assert amended.status_code == 200 and '<section id="ledger" class="card ledger"' in amended.text
    assert 'hx-swap-oob="true"' in amended.text
    assert "Called Tom" in amended.text and "Amended 1 time" in amended.text and "wrong name" in amended.text
    assert "Called Tim" in amended.text  # the original, one click away

    retracted = browser_session.post(f"{url}/retract", data={"csrf_token": browser_session.csrf,
                                                             "reason": "never happened"}, follow_redirects=False)
    assert retracted.status_code == 303 and retracted.headers["location"].endswith(f"#r{call.idx}")
    html = browser_session.get(f"/engagements/{engagement.id}").text
    article = html[html.index(f'id="r{call.idx}"'):]
    article = article[:article.index("</article>")]
    assert "<del>Called Tom</del>" in article and "never happened" in article
    assert "Amend or retract" not in article
    # Links between records go to the record's own page: the other record may not be on this page of the list.
    record_url = f"/engagements/{engagement.id}/records"
    assert f'(record <a href="{record_url}/{call.idx + 2}">#{call.idx + 2}</a>)' in article
    assert f'Amendment <a href="{record_url}/{call.idx + 1}">' in article
    assert f'Corrects <a href="{record_url}/{call.idx}">#{call.idx}</a>' in html
    again = browser_session.post(f"{url}/retract", headers=HX,
                                 data={"csrf_token": browser_session.csrf, "reason": "twice"})
    assert again.status_code == 422 and "already retracted" in again.text


def test_amending_an_invoice_corrects_its_own_fields(browser_session, session, owner, engagement):
    invoice = factories.append(session, member=owner, engagement=engagement, kind="invoice_issued",
                               summary="January", invoice_number="INV-7", amount_minor=125000, currency="GBP",
                               participants=["Tom Hale", "Ann Lee"])
    timeline = browser_session.get(f"/engagements/{engagement.id}").text
    correct = f"/engagements/{engagement.id}/records/{invoice.idx}/correct"
    # The forms come when asked for: in place for htmx, as a page of their own without JavaScript.
    assert f'href="{correct}"' in timeline and "/amend" not in timeline
    fragment = browser_session.get(correct, headers=HX).text
    assert fragment.lstrip().startswith(f'<article class="record current family-money" id="r{invoice.idx}"')
    page = browser_session.get(correct).text
    assert "<html" in page and "Amend or retract record" in page
    form = page[page.index(f'action="/engagements/{engagement.id}/records/{invoice.idx}/amend"'):]
    form = form[:form.index("</form>")]
    # The amend form starts from the current version, amounts in major units.
    assert 'name="amount" value="1250.00"' in form and 'name="invoice_number" value="INV-7"' in form
    assert 'value="Tom Hale, Ann Lee"' in form
    due_on = json.loads(invoice.body)["due_on"]  # filled in by the server from the payment terms
    assert f'name="due_on" value="{due_on}"' in form

    url = f"/engagements/{engagement.id}/records/{invoice.idx}/amend"
    fields = {"csrf_token": browser_session.csrf, "summary": "January", "invoice_number": "INV-7",
              "currency": "GBP", "due_on": due_on, "direction": "out", "participants": "Tom Hale",
              "reason": "typo in the amount"}
    bad = browser_session.post(url, headers=HX, data={**fields, "amount": "12.5.0"})
    assert bad.status_code == 422 and f'id="a{invoice.idx}-amount-error"' in bad.text
    assert "is not an amount" in bad.text and 'value="12.5.0"' in bad.text

    ok = browser_session.post(url, headers=HX, data={**fields, "amount": "1,520.00"})
    assert ok.status_code == 200, ok.text
    assert "£1,520.00" in ok.text and "Amended 1 time" in ok.text
    amendment = session.exec(select(Record).where(Record.engagement_id == engagement.id,
                                                  Record.kind == "amendment")).one()
    corrected = json.loads(amendment.body)["body"]
    assert corrected == {"summary": "January", "invoice_number": "INV-7", "amount_minor": 152000,
                         "currency": "GBP", "due_on": due_on, "participants": ["Tom Hale"],
                         "direction": "out"}


def test_receipt_records_the_share_and_returns_the_signed_text(browser_session, session, engagement):
    response = browser_session.post(f"/engagements/{engagement.id}/receipt", headers=HX, data={
        "csrf_token": browser_session.csrf, "recipient": "Tom Hale", "method": "email"})
    assert response.status_code == 200, response.text
    assert response.text.lstrip().startswith('<section id="ledger"') and 'id="receipt-text"' in response.text
    assert "docket verify" in response.text
    shared = session.exec(select(Record).where(Record.engagement_id == engagement.id,
                                    Record.kind == "checkpoint_shared")).one()
    assert b"Tom Hale" in shared.body
    html = browser_session.get(f"/engagements/{engagement.id}").text
    assert '<pre class="checkpoint"' in html


def test_verify_fragment(browser_session, engagement):
    fragment = browser_session.get(f"/engagements/{engagement.id}/verify", headers=HX).text
    assert fragment.lstrip().startswith('<div id="verify" class="verify ok"') and "Passed" in fragment


@pytest.mark.parametrize(("path", "data"), [
    ("/records", {"kind": "call", "occurred_at": "2026-02-02T10:30", "summary": "x"}),
    ("/records/0/amend", {"summary": "x", "reason": "y"}),
    ("/records/0/retract", {"reason": "y"}),
    ("/receipt", {"recipient": "Tom"}),
])
def test_every_write_needs_the_csrf_token(browser_session, session, engagement, path, data):
    before = engagement.tree_size
    for token in (None, "wrong"):
        sent = dict(data, **({"csrf_token": token} if token else {}))
        response = browser_session.post(f"/engagements/{engagement.id}{path}", data=sent, follow_redirects=False)
        assert response.status_code == 403, (path, response.status_code)
    session.refresh(engagement)
    assert engagement.tree_size == before


def test_viewer_sees_no_write_controls_and_cannot_write(app, session, owner, engagement):
    from fastapi.testclient import TestClient

    viewer = factories.make_member(session, role="viewer", workspace=owner.workspace)
    factories.append(session, member=owner, engagement=engagement, summary="A call")
    with TestClient(app) as client:
        factories.sign_in(client, session, user=viewer.user)
        html = client.get(f"/engagements/{engagement.id}").text
        assert "A call" in html
        for control in ('id="record_form"', "Amend or retract", 'id="receipt_form"', "Export bundle"):
            assert control not in html
        for path, data in [("/records", {"kind": "call", "occurred_at": "2026-02-02T10:30", "summary": "x"}),
                           ("/records/1/amend", {"summary": "x", "reason": "y"}),
                           ("/records/1/retract", {"reason": "y"}), ("/receipt", {"recipient": "Tom"})]:
            response = client.post(f"/engagements/{engagement.id}{path}", data={"csrf_token": client.csrf, **data},
                                   follow_redirects=False)
            assert response.status_code == 403, path
        assert client.get(f"/engagements/{engagement.id}/records/fields?kind=call", headers=HX).status_code == 403
        assert client.get(f"/engagements/{engagement.id}/records/1/correct", headers=HX).status_code == 403
        attach = client.post(f"/engagements/{engagement.id}/records/attach?csrf_token={client.csrf}",
                             files={"file": ("x.txt", b"x", "text/plain")})
        assert attach.status_code == 403


def test_summaries_and_file_names_are_escaped(browser_session, session, owner, engagement):
    hostile = '<script>alert(1)</script>" onmouseover="alert(2)'
    # Uploads keep only the last path segment of a name, so this one ("</script>" has a slash) is registered
    # directly, as an importer could.
    sha = hashlib.sha256(b"not really a png").hexdigest()
    register_evidence(session, workspace=owner.workspace, sha256=sha, size=16, media_type="image/png",
                      filename=f"{hostile}.png")
    session.commit()
    factories.append(session, member=owner, engagement=engagement, summary=hostile, details=hostile,
                     participants=[hostile], attachments=[sha])
    html = browser_session.get(f"/engagements/{engagement.id}").text
    assert "<script>alert(1)</script>" not in html
    assert '" onmouseover="' not in html and "onmouseover=\"alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34; onmouseover=&#34;alert(2)" in html
    # The image preview's alt text carries the file name escaped, too.
    assert f'<img src="/api/v1/evidence/{sha}" alt="&lt;script&gt;' in html
    # And the amend form, which puts the current summary and participants into attribute values.
    record = session.exec(select(Record).where(Record.engagement_id == engagement.id, Record.kind == "call")).one()
    form = browser_session.get(f"/engagements/{engagement.id}/records/{record.idx}/correct", headers=HX).text
    assert "<script>alert(1)</script>" not in form and '" onmouseover="' not in form
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;&#34; onmouseover=&#34;alert(2)"' in form


def test_quick_add_preselects_a_contacts_usual_direction_and_requires_one(browser_session, engagement):
    html = browser_session.get(f"/engagements/{engagement.id}").text
    form = html[html.index('id="record_form"'):html.index("</form>", html.index('id="record_form"'))]
    # The form opens on a call: outbound is chosen, and there is no empty choice to leave it unsaid.
    assert '<select name="direction" required>' in form
    assert '<option value="out" selected>out (to the client)</option>' in form
    assert '<option value="">' not in form[form.index('name="direction"'):form.index("</select>", form.index(
        'name="direction"'))]
    assert "Awaits the client&#39;s reply" in form
    # A note keeps its own default; the direction comes with the kind's fields when the kind is switched.
    note = browser_session.get(f"/engagements/{engagement.id}/records/fields?kind=note", headers=HX).text
    assert '<option value="">default: internal</option>' in note and "required" not in note.split("</select>")[0]


def test_a_contact_posted_without_a_direction_is_refused_naming_it(browser_session, session, engagement):
    size = engagement.tree_size
    response = add(browser_session, engagement, headers=HX, direction="")
    assert response.status_code == 422 and 'id="direction-error"' in response.text
    session.refresh(engagement)
    assert engagement.tree_size == size


def test_the_form_clears_awaits_reply_and_records_meetings_set(browser_session, session, engagement):
    assert add(browser_session, engagement, kind="email", summary="Minutes of Monday", awaits_reply="no"
               ).status_code == 303
    assert add(browser_session, engagement, kind="email", summary="Can we meet?", awaits_reply="yes"
               ).status_code == 303
    # Asked of every contact, it means something only for an outbound one.
    assert add(browser_session, engagement, kind="email", summary="Thanks", direction="in", awaits_reply="yes"
               ).status_code == 303
    assert add(browser_session, engagement, kind="report_sent", summary="Week 3", direction="", meetings_set="4"
               ).status_code == 303
    session.refresh(engagement)
    bodies = [json.loads(get_record(session, engagement=engagement, index=i).body)
              for i in range(engagement.tree_size - 4, engagement.tree_size)]
    assert [b.get("awaits_reply") for b in bodies[:3]] == [False, True, None]
    assert bodies[3]["meetings_set"] == 4
    html = browser_session.get(f"/engagements/{engagement.id}").text
    assert "<dt>Awaits the client&#39;s reply</dt><dd>no</dd>" in html
    assert "<dt>Meetings set for the client</dt><dd>4</dd>" in html


def test_a_refused_reference_is_shown_beside_its_field_without_repeating_the_field(browser_session, session, owner,
                                                                                 engagement):
    call = factories.append(session, member=owner, engagement=engagement)
    response = add(browser_session, engagement, headers=HX, kind="payment_received", amount="10", currency="GBP",
                   refs=str(call.idx))
    assert response.status_code == 422
    error = re.search(r'id="refs-error">([^<]*)<', response.text).group(1)
    assert error.startswith(f"record {call.idx} is a call") and "refs:" not in response.text


def test_a_letter_sent_through_the_quick_add_form(browser_session, session, engagement):
    fields = browser_session.get(f"/engagements/{engagement.id}/records/fields?kind=letter_sent", headers=HX).text
    assert "<legend>Letter sent</legend>" in fields and '<option value="post" selected>' in fields
    assert '<option value="letter before claim">letter before claim</option>' in fields
    typed = {"kind": "letter_sent", "summary": "", "letter": "letter before claim", "recipient": "Tom Reed",
             "method": "recorded or certified post", "reply_by": "2026-02-16"}
    unattached = add(browser_session, engagement, headers=HX, **typed)
    assert unattached.status_code == 422
    assert 'id="attachments-error"' in unattached.text and "needs its file attached" in unattached.text
    sha = upload(browser_session, b"%PDF-1.4 letter before claim", "LBC.pdf")
    response = add(browser_session, engagement, attachments=sha, **typed)
    assert response.status_code == 303, response.text
    html = browser_session.get(f"/engagements/{engagement.id}").text
    assert "Letter sent: letter before claim to Tom Reed" in html and "LBC.pdf" in html
    assert "<dt>Sent by</dt><dd>recorded or certified post</dd>" in html and "<dt>Reply due by</dt>" in html
    assert 'class="record current family-dispute"' in html


def test_the_kind_filter_groups_kinds_by_family(browser_session, engagement):
    html = browser_session.get(f"/engagements/{engagement.id}").text
    groups = re.search(r'<form class="filters.*?</form>', html, re.S).group(0)
    assert '<optgroup label="Scheduling"><option value="meeting_scheduled">Meeting scheduled</option>' in groups
    assert '<optgroup label="Dispute"><option value="dispute_step">Dispute step</option>' in groups
    assert groups.count("<option value=") == len(KINDS) + 1  # and "All kinds"
