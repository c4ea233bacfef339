"""The seal (DESIGN §5.1): `docket-seal.txt`, a signed note by the workspace key over the bag's payload manifest,
so that no file of the bundle can be changed, added or removed and its hash listed again unseen."""

import re
from dataclasses import dataclass

SEAL_NAME = "docket-seal.txt"
_FIRST_LINE = "docket-bundle-seal/v1"
_MANIFEST = re.compile(r"manifest-sha256 ([0-9a-f]{64})")


class SealError(ValueError):
    pass


@dataclass(frozen=True)
class Seal:
    origin: str
    size: int
    manifest_sha256: str


def seal_text(origin: str, size: int, manifest_sha256: str) -> str:
    return f"{_FIRST_LINE}\n{origin}\n{size}\nmanifest-sha256 {manifest_sha256}\n"


def parse_seal(text: str) -> Seal:
    """The seal's text (the signed note's body, signature lines removed)."""
    lines = text.split("\n")
    if len(lines) != 5 or lines[4] != "":
        raise SealError(f"has {len(lines) - 1} lines of text, not the 4 of {_FIRST_LINE}")
    first, origin, size, manifest, _ = lines
    if first != _FIRST_LINE:
        raise SealError(f"starts with {first[:60]!r}, not {_FIRST_LINE!r}")
    if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise SealError(f"its size {size[:30]!r} is not a decimal number")
    match = _MANIFEST.fullmatch(manifest)
    if not match:
        raise SealError("its fourth line is not 'manifest-sha256 <lowercase hex SHA-256>'")
    return Seal(origin=origin, size=int(size), manifest_sha256=match[1])
