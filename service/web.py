"""Server-rendered pages: a whole page, or for htmx requests just the named block the request targets."""

import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2_fragments.fastapi import Jinja2Blocks
from pydantic import ValidationError

from service.engagements.models import Jurisdiction
from service.errors import DomainError
from service.fields import utc_in_range
from service.money import fmt_money
from service.records.kinds import FAMILIES, KINDS

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
HTMX = "htmx-2.0.11.min.js"

templates = Jinja2Blocks(directory=WEB_DIR / "templates")


def form_int(text: str) -> int | None:
    """A whole number typed into a form, or None: ASCII digits only (str.isdigit takes "²", which int() refuses),
    and few enough of them for a database integer."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def form_errors(exc: ValidationError | DomainError, *, default: str = "form",
                rename: Mapping[str, str] | Callable[[str], str] | None = None) -> dict[str, str]:
    """What a form got wrong, as {field: message} for the form to show beside each field: a validation error's
    location as a dotted name (list positions left out), a domain error's `field`, `default` where neither names
    one, then `rename` for a form whose field is named otherwise than the model's. The message loses the
    "field: " it may start with (the form shows it beside the field) and pydantic's "Value error, "; the first
    error of a field is the one shown."""
    if isinstance(exc, DomainError):
        found = [(exc.field or "", exc.message)]
    else:
        found = [(".".join(str(p) for p in e["loc"] if not isinstance(p, int)), e["msg"].removeprefix("Value error, "))
                 for e in exc.errors()]
    if isinstance(rename, Mapping):
        names = rename
        rename = lambda field: names.get(field, field)  # noqa: E731
    errors: dict[str, str] = {}
    for field, message in found:
        message = message.removeprefix(f"{field}: ") if field else message
        field = field or default
        errors.setdefault(rename(field) if rename else field, message)
    return errors


def form_datetime(text: str) -> datetime:
    """A datetime-local field (no zone: the pages say UTC), or a time with an offset, as UTC. ValueError if it is
    neither."""
    value = datetime.fromisoformat(text)
    return utc_in_range(value if value.tzinfo else value.replace(tzinfo=UTC))


def _when(value: datetime | date | None, fmt: str = "%d %b %Y %H:%M") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(fmt) + " UTC"
    return value.strftime("%d %b %Y")


def _filesize(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return ""


def _jurisdiction(code: str) -> str:
    return Jurisdiction(code).label if code in set(Jurisdiction) else code


templates.env.filters.update(money=fmt_money, when=_when, filesize=_filesize, jurisdiction=_jurisdiction,
                             pretty=lambda v: json.dumps(v, indent=2, ensure_ascii=False))
templates.env.globals.update(KINDS=KINDS, FAMILIES=FAMILIES, HTMX=HTMX)


def redirect(request: Request, url: str) -> Response:
    """After a successful form post: a 303 for a plain form; for htmx, a full page load (HX-Redirect), since
    swapping the next page into the form's target would nest one page inside another."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


def render(request: Request, template: str, context: dict, *, block: str | list[str] | None = None,
           status_code: int = 200) -> HTMLResponse:
    """Renders `block` alone (or a list of blocks, one after another) when htmx asked for it, else the whole
    page."""
    context = {"principal": getattr(request.state, "principal", None), **context}
    if block and is_htmx(request):
        blocks = {"block_names": block} if isinstance(block, list) else {"block_name": block}
        return templates.TemplateResponse(request, template, context, status_code=status_code, **blocks)
    return templates.TemplateResponse(request, template, context, status_code=status_code)
