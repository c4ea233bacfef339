"""The leaf envelope of DESIGN §4.2: one function builds it for appends, for `verify` and for bundles."""

import re

import rfc8785

# Strings made only of these characters are their own JCS serialisation inside quotes.
_PLAIN = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")


# What JCS escapes inside a string (and DEL, which _PLAIN leaves to rfc8785), and how many of those bytes the
# envelope of a leaf with no attachments holds of its own: the quotes around its 10 keys and 6 string values.
_SPECIAL = bytes(range(0x20)) + b'"\\\x7f'
_ENVELOPE_QUOTES = 32


def _envelope(origin: str, index: int, kind: str, occurred_at: str, recorded_at: str, actor: str, body_sha256: str,
              attachments: str, refs: str) -> bytes:
    """The leaf with every value written in as it stands and the keys in JCS order: its RFC 8785 form when no
    string needs escaping."""
    return (f'{{"actor":"{actor}","attachments":[{attachments}],"body_sha256":"{body_sha256}",'
            f'"index":{index},"kind":"{kind}","log":"{origin}","occurred_at":"{occurred_at}",'
            f'"recorded_at":"{recorded_at}","refs":[{refs}],"v":1}}').encode()


def leaf_bytes(*, origin: str, index: int, kind: str, occurred_at: str, recorded_at: str, actor: str,
               body_sha256: str, attachments: list[str], refs: list[int]) -> bytes:
    """The RFC 8785 bytes of the leaf. Times are already formatted (seconds and microseconds, `Z`)."""
    if _PLAIN.fullmatch("".join((origin, kind, occurred_at, recorded_at, actor, body_sha256, *attachments))) and all(
            type(r) is int for r in refs):
        return _envelope(origin, index, kind, occurred_at, recorded_at, actor, body_sha256,
                         ",".join(f'"{a}"' for a in attachments), ",".join(map(str, refs)))
    return rfc8785.dumps({"v": 1, "log": origin, "index": index, "kind": kind, "occurred_at": occurred_at,
                          "recorded_at": recorded_at, "actor": actor, "body_sha256": body_sha256,
                          "attachments": list(attachments), "refs": list(refs)})


def is_plain_leaf(leaf: bytes, origin: str, index: int, kind: str, occurred_at: str, recorded_at: str, actor: str,
                  body_sha256: str) -> bool:
    """Whether `leaf` is leaf_bytes(...) of a record with no attachments and no refs, checked after the fact
    rather than by vetting each value first (`verify` asks a million times): equal to the envelope, all ASCII,
    and no byte JCS would escape beyond the envelope's own quotes. False means only "ask leaf_bytes"."""
    return (leaf == _envelope(origin, index, kind, occurred_at, recorded_at, actor, body_sha256, "", "")
            and leaf.isascii() and len(leaf) - len(leaf.translate(None, _SPECIAL)) == _ENVELOPE_QUOTES)
