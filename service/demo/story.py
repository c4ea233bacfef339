"""First start: an owner, their workspace, and a clearly labelled demo of a dispute Docket is built for."""

from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, select

from service.accounts.models import Role, Workspace
from service.accounts.service import add_member, create_login_link, create_user, create_workspace, first_owner
from service.clients.models import ClientCreate
from service.clients.service import create_client
from service.config import get_settings
from service.demo.pdf import text_pdf
from service.engagements.models import EngagementCreate
from service.engagements.service import create_engagement
from service.evidence.service import register_evidence
from service.evidence.store import evidence_store
from service.records.kinds import KindName
from service.records.models import RecordCreate
from service.records.service import append_record

OWNER_EMAIL = "owner@docket.localhost"


def bootstrap(session: Session) -> str:
    """Creates the first owner and workspace, and the demo, on an empty database; returns a login link."""
    owner = first_owner(session)
    if owner is None:
        empty = session.exec(select(Workspace.id)).first() is None
        owner = create_user(session, email=OWNER_EMAIL, name="Owner")
        add_member(session, workspace=create_workspace(session, name="My workspace"), user=owner, role=Role.owner)
        if empty:
            add_member(session, workspace=load_demo(session), user=owner, role=Role.owner)
    return f"{get_settings().base_url}/login/link/{create_login_link(session, user=owner)}"


def _at(start: date, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(start + timedelta(days=day), time(hour, minute), UTC)


def load_demo(session: Session) -> Workspace:
    workspace = create_workspace(session, name="Demo: Halden Analytics dispute", is_demo=True)
    actor = "user:demo"
    today = date.today()
    # Always a Friday about five months ago: a fixed weekday keeps the story's working-day figures the same.
    start = today - timedelta(days=150 + today.weekday())
    client = create_client(session, workspace=workspace, data=ClientCreate(
        name="Halden Analytics Ltd", notes="UK B2B analytics SaaS, 60 staff. Introduced by a former colleague.",
        contacts=[{"name": "Tom Reed", "role": "CEO", "email": "tom.reed@halden.example"},
                  {"name": "Priya Shah", "role": "Head of Sales", "email": "priya.shah@halden.example"}]))
    engagement = create_engagement(session, workspace=workspace, actor=actor, data=EngagementCreate(
        client_id=client.id, title="Outbound sales, UK mid-market", started_on=start,
        trial_ends_on=start + timedelta(days=42), notice_days=30, notice_form="written", payment_terms_days=14,
        rate_minor=45000, currency="GBP", rate_unit="day", jurisdiction="uk",
        deliverables=["Weekly pipeline report", "Eight qualified meetings a month", "Leads handed over in the CRM"]))
    store = evidence_store()

    def attach(filename: str, content: bytes) -> str:
        pending = store.writer(len(content))
        pending.write(content)
        sha256 = pending.commit()
        register_evidence(session, workspace=workspace, sha256=sha256, size=len(content),
                          media_type="application/pdf", filename=filename)
        return sha256

    def add(kind: KindName, when: datetime, refs: list[int] | None = None, attachments: list[str] | None = None,
            **body) -> int:
        record = append_record(session, workspace=workspace, engagement=engagement, actor=actor, data=RecordCreate(
            kind=kind, occurred_at=when, body=body, refs=refs or [], attachments=attachments or []))
        return record.idx

    team = ["Tom Reed (CEO)", "Priya Shah (Head of Sales)"]
    add(KindName.meeting, _at(start, 0, 9, 30), summary="Kick-off: ideal customer profile, target list, weekly cadence",
        participants=team, duration_minutes=90, location="Halden office, Leeds", direction="internal")
    add(KindName.email, _at(start, 1, 16), direction="out", subject="Kick-off notes and 30-day plan",
        awaits_reply=False, summary="Sent kick-off notes and the 30-day outreach plan", participants=["Priya Shah"])
    leads = ["Brightwater Logistics", "Calder Foods", "Pennine Health Group", "Ashford Retail", "Kestrel Insurance",
             "Morland Engineering", "Tyne Valley Energy"]
    for week in range(21):
        day = 4 + 7 * week
        if _at(start, day, 17) > datetime.now(UTC) - timedelta(days=5) or day > 121:
            break
        meetings = [3, 2, 4, 3, 2, 5, 3, 2, 4, 3, 3, 2, 4, 2, 3, 3, 2, 1][week % 18]
        pdf = text_pdf(f"Weekly pipeline report - week {week + 1}", [
            f"Period: {start + timedelta(days=day - 4)} to {start + timedelta(days=day)}",
            f"Qualified meetings booked this week: {meetings}",
            f"Accounts contacted: {38 + week * 3}; replies: {6 + week % 5}",
            "Pipeline notes and next steps are in the CRM under 'BD - Sam'.",
        ])
        report = attach(f"pipeline-report-week-{week + 1:02d}.pdf", pdf)
        add(KindName.report_sent, _at(start, day, 17), attachments=[report], participants=team, meetings_set=meetings,
            summary=f"Weekly pipeline report, week {week + 1}: {meetings} qualified meetings booked",
            period_from=(start + timedelta(days=day - 4)).isoformat(),
            period_to=(start + timedelta(days=day)).isoformat())
        if week % 3 == 2 and leads:
            add(KindName.lead_handed_over, _at(start, day + 1, 11), lead_name=leads.pop(0),
                summary="Qualified lead handed over to Priya with call notes", company="see report")
    add(KindName.email, _at(start, 40, 10, 5), direction="in", participants=["Priya Shah"],
        summary="Priya: 'Great start, the Calder Foods meeting went really well'")

    scheduled = add(KindName.meeting_scheduled, _at(start, 45, 15), meeting_at=_at(start, 47, 10).isoformat(),
                    summary="Pipeline review with Tom Reed booked for Wednesday 10:00", participants=["Tom Reed"])
    add(KindName.meeting_cancelled, _at(start, 47, 8, 40), refs=[scheduled], meeting_at=_at(start, 47, 10).isoformat(),
        cancelled_by="client", summary="Tom cancelled the pipeline review 80 minutes before it was due",
        reason="'Something came up'")
    scheduled = add(KindName.meeting_scheduled, _at(start, 60, 12), meeting_at=_at(start, 62, 14).isoformat(),
                    summary="Rescheduled pipeline review with Tom Reed", participants=["Tom Reed"])
    add(KindName.no_show, _at(start, 62, 14, 20), refs=[scheduled], meeting_at=_at(start, 62, 14).isoformat(),
        party="client", summary="Tom did not join the rescheduled review; waited 20 minutes")
    for day, hour in ((64, 9), (66, 11), (69, 16)):
        add(KindName.call, _at(start, day, hour), direction="out", participants=["Tom Reed"], outcome="no answer",
            summary="Called Tom to rebook the pipeline review; no answer, left voicemail")

    add(KindName.email, _at(start, 58, 23, 10), direction="in", participants=["Tom Reed"], subject="Forecast",
        summary="Tom, late on a Saturday night: 'Need the Q2 forecast numbers on my desk by 8am Monday'")
    promise = add(KindName.commitment, _at(start, 52, 11), promised_by="client", participants=["Tom Reed"],
                  promise="Sign the 12-month renewal once the Q2 board has met", due_on=(start + timedelta(days=100))
                  .isoformat(), summary="Tom on a call: the renewal will be signed after the Q2 board meeting")
    proposal = attach("renewal-proposal.pdf", text_pdf("Renewal proposal", [
        "Twelve months from the end of the current term, same day rate, same deliverables.",
        "Eight qualified meetings a month; weekly pipeline report."]))
    for n, day in enumerate((80, 87, 94)):
        add(KindName.email, _at(start, day, 9, 30), direction="out", attachments=[proposal], participants=["Tom Reed"],
            subject="Renewal proposal", summary="Sent the renewal proposal " + ("again, no reply to the last one"
                                                                               if n else "Tom asked for"))
    add(KindName.commitment_broken, _at(start, 104, 12), refs=[promise], direction="internal",
        summary="The Q2 board met on Tuesday; no renewal signed and no word from Tom")

    invoices = []
    for number, (day, days_billed, paid_day) in enumerate(((30, 20, 44), (60, 20, 76), (91, 21, 112)), start=1):
        amount = days_billed * 45000
        idx = add(KindName.invoice_issued, _at(start, day, 9), invoice_number=f"SO-2026-{number:03d}",
                  amount_minor=amount, currency="GBP",
                  summary=f"Invoice SO-2026-{number:03d}: {days_billed} days at £450")
        invoices.append(idx)
        add(KindName.payment_received, _at(start, paid_day, 12), refs=[idx], amount_minor=amount, currency="GBP",
            method="bank transfer", summary=f"Payment for SO-2026-{number:03d} received")

    notice = add(KindName.notice_given, _at(start, 118, 15, 30), given_by="client", form="oral", direction="in",
                 participants=["Tom Reed"], summary="Tom ended the engagement on a phone call: 'we are going another "
                 "way'. No written notice.")
    add(KindName.email, _at(start, 118, 17), direction="out", refs=[notice], participants=["Tom Reed"],
        subject="Confirming our call today", summary="Asked for written notice as the contract requires and set out "
        "the 30-day notice period and handover")
    add(KindName.access_revoked, _at(start, 123, 8, 15), system="HubSpot CRM", revoked_by="client",
        summary="CRM login disabled without warning, 25 days before the notice period ends")
    add(KindName.email, _at(start, 123, 9), direction="out", participants=["Priya Shah"],
        summary="Asked for CRM access back to complete the handover; no reply")
    handover = attach("handover-pack.pdf", text_pdf("Handover pack", [
        "Open opportunities: 14; meetings booked in the next 30 days: 5",
        "Account notes for every lead handed over since kick-off",
        "Prepared from my own records after CRM access was removed."]))
    add(KindName.deliverable_delivered, _at(start, 126, 16), attachments=[handover], participants=team,
        deliverable="Handover pack", summary="Sent the handover pack compiled from my own records")
    final = add(KindName.invoice_issued, _at(start, 130, 9), invoice_number="SO-2026-004", amount_minor=25 * 45000,
                currency="GBP", summary="Final invoice SO-2026-004: 25 days (work to the end of the notice period)")
    add(KindName.email, _at(start, 146, 10, 12), direction="in", participants=["Tom Reed"], refs=[final],
        summary="Tom: 'We will not pay. You delivered no leads, meetings or market intelligence.'")
    add(KindName.payment_refused, _at(start, 146, 10, 12), refs=[final],
        reason="Client says nothing was delivered", summary="Payment of the final invoice refused")
    return workspace
