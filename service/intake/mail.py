"""Reading email as evidence: mailbox files and single messages in, parsed messages with DKIM results out.

Pure: no database, no evidence store. The import pipeline (`service/intake/service.py`) decides what to record."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class RawMessage:
    """One message exactly as it arrived, and where it came from (shown in the job's report)."""

    raw: bytes
    origin: str  # "takeout.mbox, message 17", "reports.zip: week-3.eml", "IMAP INBOX uid 4711", "SMTP"


@dataclass(frozen=True)
class Skipped:
    """A message (or a part of a mailbox file) that could not be read, with the reason in plain words."""

    origin: str
    reason: str


class DkimOutcome(StrEnum):
    passed = "pass"
    failed = "fail"
    none = "none"


@dataclass(frozen=True)
class DkimResult:
    outcome: DkimOutcome
    domain: str | None = None  # the signing domain (d=)
    selector: str | None = None  # s=
    key_record: bytes | None = None  # the DNS TXT record as fetched now, kept as evidence (keys are rotated)
    detail: str | None = None  # why it failed, in plain words


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    sha256: str


@dataclass(frozen=True)
class ParsedMail:
    raw_sha256: str
    external_id: str  # the Message-ID, or "sha256:<raw_sha256>" when there is none
    message_id: str | None
    occurred_at: datetime  # aware, UTC; the same instant as the Date header
    date_note: str | None  # set when Date was missing or absurd and the earliest Received was used instead
    from_address: str  # lower-cased addr-spec
    from_name: str | None
    to: list[str]
    cc: list[str]
    subject: str | None
    text: str  # a text rendition of the body
    thread_id: str | None  # X-GM-THRID, else the first References id, else In-Reply-To
    labels: list[str] = field(default_factory=list)  # X-Gmail-Labels
    attachments: list[Attachment] = field(default_factory=list)
    dkim: DkimResult = DkimResult(DkimOutcome.none)
