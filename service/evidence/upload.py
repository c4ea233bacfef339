"""Receives a multipart upload straight into the evidence store, one chunk at a time.

Starlette's form parser spools a file to a temporary file and we would then copy it again; parsing the
stream ourselves hashes and writes each chunk once, and stops at the size limit without reading the rest."""

import mimetypes
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.exceptions import HTTPException
from starlette.requests import Request

from service.errors import Invalid, TooLarge
from service.evidence.store import EvidenceStore, PendingFile

_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_FIELD_LIMIT = 4096


@dataclass
class Upload:
    """A file received in full but not yet stored: the route decides, then keeps or discards it."""

    sha256: str
    size: int
    media_type: str
    filename: str
    fields: dict[str, str]
    pending: PendingFile

    @contextmanager
    def kept(self) -> Iterator[None]:
        """Stores the file once the block accepting it completes, before the transaction that references it
        commits (DESIGN §3.4); the temporary file goes either way, so a refused upload leaves nothing."""
        try:
            yield
            self.pending.commit()
        finally:
            self.pending.discard()


def _text(raw: bytes) -> str:
    """A header parameter as browsers send it: UTF-8 (RFC 7578 §4.2), or Latin-1 from older clients."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def clean_filename(raw: str) -> str:
    name = re.split(r"[\\/]", raw)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:255] or "file"


def clean_media_type(raw: str | None, filename: str) -> str:
    value = (raw or "").split(";")[0].strip().lower()
    if not value or value == "application/octet-stream":
        value = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return value if _MEDIA_TYPE.match(value) else "application/octet-stream"


async def receive_upload(request: Request, store: EvidenceStore, limit: int, field: str = "file") -> Upload:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise Invalid(f"send the file as multipart/form-data with a part named '{field}'", field=field)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 1024 * 1024:
        raise TooLarge(f"the upload is larger than the limit of {limit // (1024 * 1024)} MB")

    headers: dict[str, bytes] = {}
    header_name = bytearray()
    header_value = bytearray()
    part: dict = {}
    fields: dict[str, str] = {}
    pending: PendingFile | None = None
    received: dict = {}

    def on_part_begin():
        headers.clear()
        part.clear()

    def on_header_field(data, start, end):
        header_name.extend(data[start:end])

    def on_header_value(data, start, end):
        header_value.extend(data[start:end])

    def on_header_end():
        # Kept as bytes: decoding here and encoding again for the parameter parser mangled UTF-8 file names.
        headers[header_name.decode("latin-1").lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished():
        nonlocal pending
        _, options = parse_options_header(headers.get("content-disposition", b""))
        name = _text(options.get(b"name", b""))
        part["name"] = name
        if name == field and b"filename" in options:
            if received:
                raise Invalid(f"send one file per upload in the '{field}' part", field=field)
            filename = clean_filename(_text(options[b"filename"]))
            media_type = clean_media_type(headers.get("content-type", b"").decode("latin-1"), filename)
            received.update(filename=filename, media_type=media_type)
            pending = store.writer(limit)
            part["file"] = True
        else:
            part["value"] = bytearray()

    def on_part_data(data, start, end):
        if part.get("file"):
            pending.write(data[start:end])
        else:
            part["value"].extend(data[start:end])
            if len(part["value"]) > _FIELD_LIMIT:
                raise Invalid(f"form field {part['name']!r} is too long", field=part["name"])

    def on_part_end():
        if not part.get("file"):
            fields[part.get("name", "")] = part.get("value", b"").decode("utf-8", "replace")

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": lambda: received.update(complete=True),
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if not received.pop("complete", False):
            # A body cut off before its closing boundary may be missing the end of the file.
            raise Invalid("the upload ended before the form's closing boundary; send it again", field=field)
        if pending is None:
            raise Invalid(f"no file in the '{field}' part of the form", field=field)
        if pending.size == 0:
            raise Invalid("the file is empty", field=field)
        sha256 = pending.finish()
    except Exception as exc:
        if pending is not None:
            pending.discard()
        if isinstance(exc, Invalid | TooLarge | HTTPException):
            raise
        raise Invalid(f"the upload is not a well-formed multipart form ({exc})", field=field) from None
    return Upload(sha256=sha256, size=pending.size, fields=fields, pending=pending, **received)
