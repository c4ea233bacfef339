"""The timeline in a real Chromium: quick-add with the kind's own fields and a file attached, amend and see the
history, retract, verify, copy the receipt (read back from the clipboard), and screenshots at laptop and phone
widths; then the same page with JavaScript switched off."""

import re
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from service.db import new_session
from tests import factories
from tests.browser.signin import open_link

pytestmark = pytest.mark.browser


def png(width: int = 48, height: int = 32) -> bytes:
    """A small real PNG (a blue block), so the inline preview has something to draw."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x1f\x5f\xbf" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def engagement_id(engine, owner_link):
    member, _ = owner_link
    with new_session(engine, write=True) as session:
        client = factories.make_client(session, member=member, name="Halden Analytics Ltd")
        engagement = factories.make_engagement(session, member=member, client=client,
                                               title="Outbound sales, UK mid-market")
        start = datetime(2026, 2, 2, 9, tzinfo=UTC)
        factories.append(session, member=member, engagement=engagement, kind="call", occurred_at=start,
                         summary="Kick-off call with Tim", direction="out", participants=["Tom Hale"])
        factories.append(session, member=member, engagement=engagement, kind="email",
                         occurred_at=start + timedelta(days=1), summary="Sent the target account list",
                         direction="out")
        factories.append(session, member=member, engagement=engagement, kind="meeting",
                         occurred_at=start + timedelta(days=3), summary="Pipeline review", direction="internal")
        return engagement.id


def test_add_with_a_file_amend_retract_and_copy_the_receipt(page, owner_link, engagement_id, tmp_path,
                                                           sample_file, output_dir):
    _, link = owner_link
    open_link(page, link)
    page.goto(f"/engagements/{engagement_id}")
    expect(page.locator("#verify")).to_contain_text("Passed")

    # Quick-add an invoice: choosing the kind brings its own fields; attach a PDF and an image.
    form = page.locator("#record_form")
    form.get_by_label("Kind").select_option("invoice_issued")
    expect(form.get_by_label("Invoice number")).to_be_visible()
    form.get_by_label("When (UTC)").fill("2026-02-06T12:00")
    form.get_by_label("Summary").fill("Invoice for January")
    form.get_by_label("Invoice number").fill("INV-0042")
    form.get_by_label("Amount").fill("4,500.00")
    image = tmp_path / "signed timesheet.png"
    image.write_bytes(png())
    form.get_by_label("Attach files").set_input_files([str(sample_file), str(image)])
    expect(form.locator("input[name=attachments]")).to_have_count(2)
    form.get_by_role("button", name="Append").click()
    invoice = page.locator("#timeline article.record", has_text="Invoice for January")
    expect(invoice).to_contain_text("£4,500.00")
    expect(invoice).to_contain_text("Weekly report 12.pdf")
    expect(invoice.get_by_role("img", name="signed timesheet.png")).to_be_visible()
    assert invoice.get_by_role("img").evaluate("img => img.naturalWidth") == 48
    # The facts panel, fetched after the page loaded, already counts the invoice: long overdue, flagged red.
    facts = page.locator("#facts_panel")
    expect(facts.locator("a.level.red", has_text="£4,500.00 overdue")).to_be_visible()
    expect(facts).to_contain_text("£4,500.00 invoiced")

    # Amend the first call from the record itself; a reason is required, and the history is one click away.
    call = page.locator("#r1")
    call.get_by_text("Amend or retract").click()
    call.get_by_label("Corrected summary").fill("Kick-off call with Tom")
    call.get_by_label("Reason for the amendment").fill("the client's name is Tom, not Tim")
    call.get_by_role("button", name="Amend").click()
    expect(call).to_contain_text("Kick-off call with Tom")
    expect(call.locator(".badge.amended")).to_be_visible()
    call.get_by_text("Amended 1 time").click()
    expect(call.locator("details.history")).to_contain_text("Kick-off call with Tim")
    expect(call.locator("details.history")).to_contain_text("the client's name is Tom, not Tim")

    # Retract the email: struck through, with its reason.
    email = page.locator("#r2")
    email.get_by_text("Amend or retract").click()
    email.get_by_role("button", name="Retract").click()  # the browser refuses: the reason is required
    assert email.get_by_label("Reason for retracting").evaluate("el => el.validity.valueMissing")
    expect(email).not_to_contain_class("retracted")
    email.get_by_label("Reason for retracting").fill("logged on the wrong engagement")
    email.get_by_role("button", name="Retract").click()
    expect(email).to_have_class("record retracted family-interaction")
    expect(email.locator(".summary del")).to_have_text("Sent the target account list")
    expect(email).to_contain_text("logged on the wrong engagement")
    # The ledger panel followed the two corrections.
    expect(page.locator("#ledger dd").first).to_have_text("7")

    # Copy the receipt: it is signed, recorded as shared, and lands on the clipboard.
    ledger = page.locator("#ledger")
    ledger.get_by_label("Receipt for").fill("Tom Hale, Halden Analytics")
    ledger.get_by_role("button", name="Copy receipt").click()
    expect(page.locator("#ledger")).to_contain_text("Copied to the clipboard.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#receipt-text").text_content()
    assert "docket verify" in copied and "\n— " in copied
    expect(page.locator("#verify")).to_contain_text("Passed")

    page.reload()
    expect(page.locator("#timeline")).to_contain_text("Checkpoint 7 shared with Tom Hale, Halden Analytics")
    page.screenshot(path=str(output_dir / "timeline.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("#timeline")).to_contain_text("Invoice for January")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(output_dir / "timeline-phone.png"), full_page=True)
    # On a phone the quick-add form waits behind its summary, so the timeline comes first.
    expect(page.locator("#record_form")).to_be_hidden()
    page.get_by_text("Add a record", exact=True).first.click()
    expect(page.locator("#record_form").get_by_label("Summary")).to_be_visible()


@pytest.fixture
def page_expecting_422(browser, live_server):
    """Like conftest's `page`, except that Chromium's console line for a 422 is expected: a form's validation
    answer is a 422 by design (DESIGN §6), and Chromium logs every 4xx fetch as a console error."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "status of 422" not in
            msg.text else None)
    yield page
    context.close()
    assert not errors, f"the page logged errors: {errors}"


def test_validation_errors_show_next_to_the_field(page_expecting_422, owner_link, engagement_id):
    page = page_expecting_422
    _, link = owner_link
    open_link(page, link)
    page.goto(f"/engagements/{engagement_id}#record-3")
    # An old-style link lands on the record under its new id.
    expect(page).to_have_url(f"{page.url.split('#')[0]}#r3")
    form = page.locator("#record_form")
    form.get_by_label("Kind").select_option("payment_received")
    expect(form.get_by_label("Which invoice")).to_be_visible()
    form.get_by_label("When (UTC)").fill("2026-02-06T12:00")
    form.get_by_label("Amount").fill("12.345")
    # The browser's own checks would stop this; switch them off to see the server's answer in place.
    page.locator("#record_form").evaluate("f => f.noValidate = true")
    form.get_by_role("button", name="Append").click()
    expect(page.locator("#amount-error")).to_contain_text("is not an amount")
    expect(page.locator("#record_form").get_by_label("Amount")).to_have_attribute("aria-invalid", "true")


def test_the_timeline_works_without_javascript(browser, live_server, owner_link, engagement_id, sample_file):
    """Same page with JavaScript off: kind fields by round trip, a file attached by its upload button, append,
    filter by a plain GET form, amend from the record's own page."""
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    _, link = owner_link
    open_link(page, link)
    page.goto(f"/engagements/{engagement_id}")
    form = page.locator("#record_form")
    form.get_by_label("Kind").select_option("report_sent")
    form.get_by_role("button", name="Show this kind's fields").click()
    expect(form.get_by_label("Period from")).to_be_visible()
    form.get_by_label("When (UTC)").fill("2026-02-06T16:00")
    form.get_by_label("Summary").fill("Weekly report, week 1")
    form.get_by_label("Attach files").set_input_files(str(sample_file))
    form.get_by_role("button", name="Upload the chosen file").click()
    expect(form.locator(".uploads")).to_contain_text("Weekly report 12.pdf")
    expect(form.get_by_label("Summary")).to_have_value("Weekly report, week 1")
    form.get_by_role("button", name="Append").click()
    report = page.locator("#timeline article.record", has_text="Weekly report, week 1")
    expect(report).to_contain_text("Weekly report 12.pdf")

    page.locator("form.filters").get_by_label("Kind").select_option("report_sent")
    page.locator("form.filters").get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"\?kind=report_sent"))
    expect(page.locator("#timeline article.record")).to_have_count(1)

    report.get_by_role("link", name="Amend or retract").click()
    page.get_by_label("Corrected summary").fill("Weekly report, week 1 (with the pipeline sheet)")
    page.get_by_label("Reason for the amendment").fill("the title left out the sheet")
    page.get_by_role("button", name="Amend").click()
    amended = page.locator("#timeline article.record", has_text="with the pipeline sheet")
    expect(amended.locator(".badge.amended")).to_be_visible()
    context.close()
