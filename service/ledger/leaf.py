"""The leaf envelope of DESIGN §4.2: one function builds it for appends, for `verify` and for bundles."""

import re

import rfc8785

# Strings made only of these characters are their own JCS serialisation inside quotes.
_PLAIN = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")


def leaf_bytes(*, origin: str, index: int, kind: str, occurred_at: str, recorded_at: str, actor: str,
               body_sha256: str, attachments: list[str], refs: list[int]) -> bytes:
    """The RFC 8785 bytes of the leaf. Times are already formatted (seconds and microseconds, `Z`)."""
    if _PLAIN.fullmatch("".join((origin, kind, occurred_at, recorded_at, actor, body_sha256, *attachments))) and all(
            type(r) is int for r in refs):
        # Fast path with the keys already in JCS order: `verify` rebuilds a million of these.
        quoted = ",".join(f'"{a}"' for a in attachments)
        return (f'{{"actor":"{actor}","attachments":[{quoted}],"body_sha256":"{body_sha256}",'
                f'"index":{index},"kind":"{kind}","log":"{origin}","occurred_at":"{occurred_at}",'
                f'"recorded_at":"{recorded_at}","refs":[{",".join(map(str, refs))}],"v":1}}').encode()
    return rfc8785.dumps({"v": 1, "log": origin, "index": index, "kind": kind, "occurred_at": occurred_at,
                          "recorded_at": recorded_at, "actor": actor, "body_sha256": body_sha256,
                          "attachments": list(attachments), "refs": list(refs)})
