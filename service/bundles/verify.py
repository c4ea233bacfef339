"""`docket verify BUNDLE.zip`: every check of DESIGN §5, offline, with nothing but this package.

The zip is never extracted: entry names are checked first, then each entry is read once, streaming, and
hashed; only the small ledger and tag files are kept in memory. Each problem names the zip entry it is about."""

import base64
import binascii
import hashlib
import json
import lzma
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import rfc8785

from service.bundles.derive import (
    DERIVED,
    RENDERER,
    Inputs,
    InputsError,
    ascii_name,
    bag_info,
    build_view,
    parse_inputs,
)
from service.bundles.seal import SEAL_NAME, SealError, parse_seal
from service.engagements.models import Terms
from service.ledger import merkle, note
from service.ledger.report import Report
from service.records.service import number_exhibits

CHUNK = 1 << 20
# A ledger file bigger than this is not one Docket wrote (leaf-hashes.txt for a million records is 65 MB), and
# all of them together are held in memory: a bound on both keeps a hostile zip from taking the machine's memory.
MAX_KEPT = 256 << 20
MAX_KEPT_TOTAL = 1 << 30
# Docket stores exhibits and deflates only text, which shrinks a few times at most; a zip bomb shrinks by
# thousands. Refused before a byte is inflated, from the sizes the zip declares (zipfile never inflates an entry
# past its declared size, and the sizes read are checked again as they come).
MAX_RATIO = 200
RATIO_SLACK = 1 << 20  # a small file may shrink a lot (a page of blanks) without being a bomb
TOTAL_SLACK = 64 << 20
READABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
ENTRY = re.compile(r"data/ledger/entries/(0|[1-9][0-9]*)\.(leaf|body)\.json")
EXHIBIT = re.compile(r"data/exhibits/E[0-9]{4,}-[A-Za-z0-9._-]+")
CONSISTENCY = re.compile(r"data/ledger/consistency/([1-9][0-9]*)\.txt")
REQUIRED = ("data/README.txt", "data/chronology.html", "data/chronology.csv", "data/statement.html",
            "data/ledger/checkpoint", "data/ledger/key.vkey", "data/ledger/leaf-hashes.txt")
INPUTS = "data/inputs.json"
V1_UNCHECKED = ("A version 1 bundle (bag-info.txt names no Docket-Bundle-Version, and it has no seal): its records, "
                "exhibits and signature were checked, but its derived documents (README.txt, chronology.html, "
                "chronology.csv, statement.html) were NOT checked against the records, and nothing proves that "
                "no file was changed and its hash listed again. Read them as the exporter's account, and rely on "
                "the records.")
PARTIAL_STATEMENT = ("In a partial bundle the statement's sentences are computed on the whole record, so they cannot "
                     "be derived again from the disclosed records: they were checked against the seal and their "
                     "citations (every record a sentence cites is disclosed, with its exhibits), not re-derived.")
WHOLE_STATEMENT = ("The derived documents (README.txt, chronology.html, chronology.csv and statement.html, with "
                   "every sentence of the statement) were rendered again from the records and inputs.json and are "
                   "identical.")
UNPINNED = ("The key was taken from the bundle itself (ledger/key.vkey): that proves the bundle is intact and "
            "consistent, not who made it. Pin the contractor's key with --key, from a source independent of this "
            "bundle (a checkpoint they sent earlier, the contract, their website), to prove authorship.")


@dataclass
class _Bag:
    root: str  # the bag's folder inside the zip, with its slash ("" when the bag is at the top)
    hashes: dict[str, str] = field(default_factory=dict)  # bag-relative path -> sha256 hex
    sizes: dict[str, int] = field(default_factory=dict)
    kept: dict[str, bytes] = field(default_factory=dict)  # everything but the exhibits

    def at(self, rel: str) -> str:
        return self.root + rel

    def text(self, rel: str) -> str | None:
        data = self.kept.get(rel)
        return None if data is None else data.decode("utf-8", "replace")


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    name = info.orig_filename
    if "\x00" in name:
        return "has a NUL byte in its name"
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "has an absolute path"
    if "\\" in name:
        return "has a backslash in its path"
    if ".." in name.split("/"):
        return "climbs out of the bundle with '..'"
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        return "is a symbolic link"
    return None


def _check_names(archive: zipfile.ZipFile, zip_size: int, report: Report) -> bool:
    """Refuses the whole bundle before reading any content if one entry could write outside its folder, is
    encrypted or in a method Docket does not read, or would inflate to far more than the zip holds."""
    seen: set[str] = set()
    total = 0
    for info in archive.infolist():
        reason = _unsafe(info)
        if reason is None and info.filename in seen:
            reason = "appears twice in the zip (tools disagree on which copy they extract)"
        if reason is None and info.flag_bits & 0x1:
            reason = "is encrypted (a bundle never is)"
        if reason is None and info.compress_type not in READABLE:
            reason = f"is compressed with method {info.compress_type}, which a bundle never uses"
        if reason is None and info.file_size > MAX_RATIO * info.compress_size + RATIO_SLACK:
            reason = (f"would inflate from {info.compress_size:,} to {info.file_size:,} bytes, more than "
                      f"{MAX_RATIO} times: a zip bomb")
        seen.add(info.filename)
        total += info.file_size
        if reason:
            report.problem(info.orig_filename, f"unsafe zip entry: {reason}; nothing was extracted or checked")
    if report.ok and total > MAX_RATIO * zip_size + TOTAL_SLACK:
        report.problem(archive.filename or "the zip", f"unsafe zip: its entries would inflate to {total:,} bytes "
                                                      f"from {zip_size:,}, more than {MAX_RATIO} times: a zip bomb; "
                                                      "nothing was extracted or checked")
    return report.ok


def _find_root(names: list[str], report: Report, where: str) -> str | None:
    if "bagit.txt" in names:
        return ""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1:
        top = tops.pop()
        if f"{top}/bagit.txt" in names:
            return top + "/"
    report.problem(where, "no bagit.txt at the top of the zip or of its one folder: not a BagIt bundle")
    return None


def _read(archive: zipfile.ZipFile, root: str, report: Report) -> _Bag:
    bag = _Bag(root=root)
    kept_total = 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        if not info.filename.startswith(root):
            report.problem(info.filename, "lies outside the bag's folder")
            continue
        rel = info.filename[len(root):]
        keep = not rel.startswith("data/exhibits/")
        digest = hashlib.sha256()
        size = 0
        parts: list[bytes] = []
        try:
            with archive.open(info) as source:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    if size > info.file_size:
                        raise ValueError(f"inflates past the {info.file_size:,} bytes the zip declares")
                    if keep:
                        if size > MAX_KEPT:
                            raise ValueError(f"larger than {MAX_KEPT >> 20} MB")
                        if kept_total + size > MAX_KEPT_TOTAL:
                            raise ValueError(f"the ledger and tag files together pass {MAX_KEPT_TOTAL >> 20} MB")
                        parts.append(chunk)
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, RuntimeError,
                NotImplementedError) as exc:
            # OSError: a corrupt bzip2 stream; RuntimeError: zipfile's word for an encrypted entry.
            report.problem(info.filename, f"cannot be read from the zip ({type(exc).__name__}: {exc})")
            continue
        if keep:
            kept_total += size
        bag.hashes[rel], bag.sizes[rel] = digest.hexdigest(), size
        if keep:
            bag.kept[rel] = b"".join(parts)
        report.count("files")
        report.count("bytes hashed", size)
    return bag


def _manifest(bag: _Bag, rel: str, report: Report) -> dict[str, str] | None:
    text = bag.text(rel)
    if text is None:
        return None
    listed: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, _, path = line.strip().partition(" ")
        path = path.strip().lstrip("*")
        # RFC 8493 §2.1.3: CR, LF and % in a path are percent-encoded.
        path = re.sub(r"%0[dD]", "\r", re.sub(r"%0[aA]", "\n", path)).replace("%25", "%")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", digest) or not path:
            report.problem(bag.at(rel), f"line {number} is not '<sha256> <path>'")
            continue
        if path in listed:
            report.problem(bag.at(rel), f"lists {path} twice")
        listed[path] = digest.lower()
    return listed


def _check_listed(bag: _Bag, manifest: dict[str, str], name: str, report: Report) -> None:
    for path, digest in manifest.items():
        if path not in bag.hashes:
            report.problem(bag.at(path), f"is listed in {name} but missing from the bundle (a file removed?)")
        elif bag.hashes[path] != digest:
            report.problem(bag.at(path), f"does not match its hash in {name} (the file was changed)")


def _bag_info(bag: _Bag) -> dict[str, str]:
    info: dict[str, str] = {}
    last = None
    for line in (bag.text("bag-info.txt") or "").splitlines():
        if line[:1] in (" ", "\t") and last:
            info[last] += " " + line.strip()
        elif ":" in line:
            last, _, value = line.partition(":")
            last = last.strip()
            info.setdefault(last, value.strip())
    return info


def _check_bag(bag: _Bag, report: Report) -> dict[str, str]:
    """RFC 8493 validity: what `bagit.py --validate` and `sha256sum -c` check."""
    declared = dict(line.split(": ", 1) for line in (bag.text("bagit.txt") or "").splitlines() if ": " in line)
    if declared.get("BagIt-Version") != "1.0" or declared.get("Tag-File-Character-Encoding") != "UTF-8":
        report.problem(bag.at("bagit.txt"), "does not declare BagIt-Version 1.0 and UTF-8 tag files")
    payload = {rel for rel in bag.hashes if rel.startswith("data/")}
    manifest = _manifest(bag, "manifest-sha256.txt", report)
    if manifest is None:
        report.problem(bag.at("manifest-sha256.txt"), "is missing: the payload cannot be checked")
        manifest = {}
    _check_listed(bag, manifest, "manifest-sha256.txt", report)
    for rel in sorted(payload - set(manifest)):
        report.problem(bag.at(rel), "is in the payload but not in manifest-sha256.txt (a file added?)")
    for rel in manifest:
        if not rel.startswith("data/"):
            report.problem(bag.at("manifest-sha256.txt"), f"lists {rel}, which is not under data/")

    tagmanifest = _manifest(bag, "tagmanifest-sha256.txt", report)
    if tagmanifest is None:
        report.problem(bag.at("tagmanifest-sha256.txt"), "is missing: the tag files cannot be checked")
        tagmanifest = {}
    _check_listed(bag, tagmanifest, "tagmanifest-sha256.txt", report)
    for rel in sorted(set(bag.hashes) - payload - set(tagmanifest) - {"tagmanifest-sha256.txt"}):
        report.problem(bag.at(rel), "is not listed in tagmanifest-sha256.txt (a file added?)")

    info = _bag_info(bag)
    oxum = info.get("Payload-Oxum", "")
    actual = f"{sum(bag.sizes[rel] for rel in payload)}.{len(payload)}"
    if oxum != actual:
        report.problem(bag.at("bag-info.txt"), f"Payload-Oxum says {oxum or 'nothing'}, but the payload holds "
                                               f"{actual} (bytes.files)")
    return info


@dataclass
class _Signed:
    origin: str
    size: int
    root: bytes
    vkey: str


def _check_checkpoint(bag: _Bag, key: str | None, report: Report) -> _Signed | None:
    where = bag.at("data/ledger/checkpoint")
    text = bag.text("data/ledger/checkpoint")
    if text is None:
        return None
    split = text.find("\n\n")
    try:
        stated = note.parse_checkpoint(text[:split + 1] if split >= 0 else text)
    except note.NoteError as exc:
        report.problem(where, f"is not a checkpoint: {exc}")
        return None
    bundled = (bag.text("data/ledger/key.vkey") or "").strip()
    vkey = key.strip() if key else bundled
    source = "--key" if key else bag.at("data/ledger/key.vkey")
    try:
        name, key_id, _ = note.parse_verifier_key(vkey)
    except note.NoteError as exc:
        report.problem(source, f"is not a usable verifier key: {exc}")
        return _Signed(stated.origin, stated.size, stated.root, vkey)
    report.facts.update({"origin": stated.origin, "size": str(stated.size), "root": stated.root.hex(),
                         "key id": key_id.hex(),
                         "key": "pinned with --key" if key else "taken from the bundle (ledger/key.vkey), not pinned"})
    if key and bundled != vkey:
        report.problem(bag.at("data/ledger/key.vkey"), "is not the key pinned with --key")
    try:
        note.open_note(text, vkey)
    except note.NoteError as exc:
        whose = "the key pinned with --key" if key else "the bundle's key"
        report.problem(where, f"the signature does not verify under {whose}: {exc}")
    if not stated.origin.startswith(name + "/"):
        report.problem(where, f"its origin {stated.origin} is not a log of the key {name}")
    report.count("signatures")
    return _Signed(stated.origin, stated.size, stated.root, vkey)


def _check_bag_info(bag: _Bag, info: dict[str, str], signed: _Signed, report: Report) -> None:
    for label, value in (("Docket-Log-Origin", signed.origin), ("Docket-Tree-Size", str(signed.size)),
                         ("Docket-Root-Hash", signed.root.hex())):
        if info.get(label) != value:
            report.problem(bag.at("bag-info.txt"), f"{label} says {info.get(label) or 'nothing'}, the checkpoint "
                                                   f"says {value}")


def _leaf_hashes(bag: _Bag, signed: _Signed, report: Report) -> list[bytes]:
    where = bag.at("data/ledger/leaf-hashes.txt")
    hashes = []
    for number, line in enumerate((bag.text("data/ledger/leaf-hashes.txt") or "").splitlines(), 1):
        if not re.fullmatch(r"[0-9a-f]{64}", line):
            report.problem(where, f"line {number} is not a lowercase hex SHA-256")
            hashes.append(b"")
            continue
        hashes.append(bytes.fromhex(line))
    report.count("leaf hashes", len(hashes))
    if len(hashes) != signed.size:
        report.problem(where, f"holds {len(hashes)} leaf hashes, but the checkpoint's tree has {signed.size}")
    elif all(hashes):
        root = merkle.root_from_leaf_hashes(hashes)
        if root != signed.root:
            report.problem(where, f"the leaf hashes give root {root.hex()}, not the checkpoint's root "
                                  f"{signed.root.hex()}")
    return hashes


def _check_entries(bag: _Bag, signed: _Signed, hashes: list[bytes], report: Report) -> dict[int, dict]:
    """Every disclosed leaf at its index in leaf-hashes.txt, and every body under its leaf's body_sha256."""
    leaves: dict[int, dict] = {}
    bodies: list[int] = []
    for rel in sorted(bag.kept):
        match = ENTRY.fullmatch(rel)
        if not match:
            continue
        index, part = int(match[1]), match[2]
        if part == "body":
            bodies.append(index)
            continue
        where, data = bag.at(rel), bag.kept[rel]
        report.count("leaves")
        if index >= len(hashes) or merkle.leaf_hash(data) != hashes[index]:
            report.problem(where, f"does not hash to leaf {index} of leaf-hashes.txt (line {index + 1})")
        try:
            leaf = _load_json(data)
        except ValueError as exc:
            report.problem(where, f"is not a JSON leaf ({exc})")
            continue
        shape = _leaf_shape(leaf)
        if shape:
            report.problem(where, f"is not a Docket leaf: {shape}")
            continue
        try:
            canonical = rfc8785.dumps(leaf) == data
        except (ValueError, rfc8785.CanonicalizationError) as exc:
            report.problem(where, f"is not a JSON leaf ({exc})")
            continue
        if not canonical:
            report.problem(where, "is not in canonical RFC 8785 form")
        if leaf.get("v") != 1:
            report.problem(where, f"is leaf format {leaf.get('v')!r}, not 1")
        if leaf.get("index") != index:
            report.problem(where, f"says it is leaf {leaf.get('index')!r}, but its name says {index}")
        if leaf.get("log") != signed.origin:
            report.problem(where, f"belongs to log {leaf.get('log')!r}, not {signed.origin}")
        leaves[index] = leaf
    for index in bodies:
        rel = f"data/ledger/entries/{index}.body.json"
        report.count("bodies")
        leaf = leaves.get(index)
        if leaf is None:
            report.problem(bag.at(rel), f"has no leaf ({index}.leaf.json is missing)")
        elif bag.hashes[rel] != leaf.get("body_sha256"):
            report.problem(bag.at(rel), f"does not hash to the body_sha256 in {index}.leaf.json (the content "
                                        "was changed)")
        else:
            try:
                if not isinstance(_load_json(bag.kept[rel]), dict):
                    report.problem(bag.at(rel), "is not a JSON object")
            except ValueError as exc:
                report.problem(bag.at(rel), f"is not a JSON body ({exc})")
    return leaves


def _load_json(data: bytes):
    """json.loads, with the ways hostile bytes break it named as a ValueError."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deep") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8: {exc.reason}") from None


_LEAF_KEYS = {"v", "log", "index", "kind", "occurred_at", "recorded_at", "actor", "body_sha256", "attachments",
              "refs"}
_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_MICROS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _leaf_shape(leaf) -> str | None:
    """What is wrong with a leaf's shape (DESIGN §4.2), or None: checked before any value is used."""
    if not isinstance(leaf, dict):
        return "not a JSON object"
    if set(leaf) != _LEAF_KEYS:
        missing, extra = sorted(_LEAF_KEYS - set(leaf)), sorted(set(leaf) - _LEAF_KEYS)
        return "; ".join(([f"lacks {', '.join(missing)}"] if missing else [])
                         + ([f"has unknown keys {', '.join(extra)[:200]}"] if extra else []))
    for name in ("v", "index"):
        if not _is_int(leaf[name]) or leaf[name] < 0:
            return f"{name} is not a whole number"
    for name in ("log", "kind", "actor"):
        if not isinstance(leaf[name], str) or not leaf[name]:
            return f"{name} is not a text"
    for name, pattern in (("occurred_at", _SECONDS), ("recorded_at", _MICROS)):
        value = leaf[name]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            return f"{name} is not an RFC 3339 UTC time"
        try:
            datetime.fromisoformat(value[:-1] + "+00:00")
        except ValueError:
            return f"{name} is not a real time ({value})"
    if not isinstance(leaf["body_sha256"], str) or not _SHA256.fullmatch(leaf["body_sha256"]):
        return "body_sha256 is not a lowercase hex SHA-256"
    if not isinstance(leaf["attachments"], list) or not all(
            isinstance(a, str) and _SHA256.fullmatch(a) for a in leaf["attachments"]):
        return "attachments is not a list of lowercase hex SHA-256"
    if not isinstance(leaf["refs"], list) or not all(_is_int(r) and 0 <= r < leaf["index"] for r in leaf["refs"]):
        return "refs is not a list of indices of earlier records"
    return None


def _check_exhibits(bag: _Bag, leaves: dict[int, dict], report: Report) -> None:
    attached: dict[str, int] = {}
    for index, leaf in leaves.items():
        for sha in leaf.get("attachments") or []:
            attached.setdefault(sha, index)
    present: set[str] = set()
    for rel, digest in sorted(bag.hashes.items()):
        if not rel.startswith("data/exhibits/"):
            continue
        report.count("exhibits")
        if not EXHIBIT.fullmatch(rel):
            report.problem(bag.at(rel), "is not named like an exhibit (exhibits/E0001-name)")
        if digest not in attached:
            report.problem(bag.at(rel), f"hashes to {digest}, which is not an attachment of any record in this "
                                        "bundle (the file was changed or added)")
        present.add(digest)
    for index, leaf in sorted(leaves.items()):
        if f"data/ledger/entries/{index}.body.json" not in bag.hashes:
            continue  # an undisclosed or redacted record may keep its files back too
        for sha in leaf.get("attachments") or []:
            if sha not in present:
                report.problem(bag.at(f"data/ledger/entries/{index}.leaf.json"),
                               f"attaches file {sha}, but no exhibit in the bundle has that hash (a file removed?)")


def _check_consistency(bag: _Bag, signed: _Signed, report: Report) -> None:
    for rel in sorted(bag.kept):
        match = CONSISTENCY.fullmatch(rel)
        if not match:
            continue
        where = bag.at(rel)
        report.count("consistency proofs")
        text = bag.text(rel)
        head, sep, earlier_note = text.partition("\n\n")
        lines = head.split("\n")
        try:
            if not sep or lines[0] != "docket consistency proof v1":
                raise ValueError("does not start with 'docket consistency proof v1'")
            size1, size2 = int(lines[1].removeprefix("from ")), int(lines[2].removeprefix("to "))
            proof = [base64.b64decode(line, validate=True) for line in lines[3:]]
        except (IndexError, ValueError, binascii.Error) as exc:
            report.problem(where, f"is not a consistency proof ({exc})")
            continue
        if size1 != int(match[1]) or size2 != signed.size:
            report.problem(where, f"proves {size1} to {size2}, but its name and the checkpoint say "
                                  f"{match[1]} to {signed.size}")
            continue
        try:
            earlier = note.open_note(earlier_note, signed.vkey)
        except note.NoteError as exc:
            report.problem(where, f"the earlier checkpoint does not verify: {exc}")
            continue
        if (earlier.origin, earlier.size) != (signed.origin, size1):
            report.problem(where, f"the earlier checkpoint is {earlier.origin} at {earlier.size}, not "
                                  f"{signed.origin} at {size1}")
            continue
        try:
            merkle.verify_consistency(size1, size2, proof, earlier.root, signed.root)
        except merkle.ProofError as exc:
            report.problem(where, f"the proof from checkpoint {size1} to {size2} fails: {exc}")


def _check_layout(bag: _Bag, version: int, report: Report) -> None:
    required = REQUIRED + ((INPUTS,) if version >= 2 else ())
    for rel in required:
        if rel not in bag.hashes:
            report.problem(bag.at(rel), "is missing from the bundle")
    known = set(required)
    for rel in sorted(bag.hashes):
        if not rel.startswith("data/") or rel in known or rel.startswith("data/exhibits/"):
            continue
        if not (ENTRY.fullmatch(rel) or CONSISTENCY.fullmatch(rel)):
            report.problem(bag.at(rel), "is not part of a Docket bundle (a file added?)")


def _version(bag: _Bag, info: dict[str, str], report: Report) -> int:
    stated = info.get("Docket-Bundle-Version")
    if stated is None:
        for rel in (SEAL_NAME, INPUTS):
            if rel in bag.hashes:
                report.problem(bag.at("bag-info.txt"), f"names no Docket-Bundle-Version (a version 1 bundle), "
                                                       f"but the bundle holds {rel}, which only version 2 has: "
                                                       "the version line was removed?")
        return 1
    if stated != "2":
        report.problem(bag.at("bag-info.txt"), f"Docket-Bundle-Version is {stated[:20]!r}; this docket reads "
                                               "versions 1 and 2")
    return 2


def _check_seal(bag: _Bag, signed: _Signed, report: Report) -> None:
    """The seal signs the payload manifest, which lists every payload file: with it, no file can be changed,
    added or removed and its hash listed again."""
    where = bag.at(SEAL_NAME)
    text = bag.text(SEAL_NAME)
    if text is None:
        report.problem(where, "is missing: a version 2 bundle is sealed, and without the seal nothing proves that "
                              "the files are the ones the contractor exported")
        return
    report.count("seals")
    try:
        seal = parse_seal(note.open_signed_note(text, signed.vkey))
    except note.NoteError as exc:
        report.problem(where, f"the seal's signature does not verify under the key: {exc}")
        return
    except SealError as exc:
        report.problem(where, f"is not a Docket seal: it {exc}")
        return
    if (seal.origin, seal.size) != (signed.origin, signed.size):
        report.problem(where, f"seals log {seal.origin} at size {seal.size}, not the checkpoint's {signed.origin} "
                              f"at {signed.size}")
    actual = bag.hashes.get("manifest-sha256.txt")
    if actual is not None and seal.manifest_sha256 != actual:
        report.problem(where, f"seals a manifest-sha256.txt with SHA-256 {seal.manifest_sha256}, but the bundle's "
                              f"hashes to {actual}: a payload file was changed, added or removed and the manifest "
                              "written again")


_README_INPUTS = re.compile(r"\(SHA-256 ([0-9a-f]{64})\)")


def _check_inputs(bag: _Bag, signed: _Signed, leaves: dict[int, dict], report: Report) -> Inputs | None:
    where = bag.at(INPUTS)
    data = bag.kept.get(INPUTS)
    if data is None:
        return None
    written = _README_INPUTS.search(bag.text("data/README.txt") or "")
    if written and written[1] != bag.hashes[INPUTS]:
        report.problem(where, f"hashes to {bag.hashes[INPUTS]}, but README.txt, written with it, gives {written[1]}: "
                              "inputs.json was changed")
        # Documents rendered from changed inputs would differ everywhere and prove nothing more.
        return None
    try:
        inputs = parse_inputs(data)
    except InputsError as exc:
        report.problem(where, f"is not valid inputs for the documents: {exc}")
        return None
    if inputs.key.vkey.strip() != (bag.text("data/ledger/key.vkey") or "").strip():
        report.problem(where, "names a verifier key other than ledger/key.vkey")
    disclosed = {i for i in leaves if f"data/ledger/entries/{i}.body.json" in bag.hashes}
    whole = len(leaves) == signed.size

    # Every exhibit file is one inputs.json names, at its name and with its hash and size.
    named = {}
    for x in inputs.exhibits:
        named[f"data/exhibits/{x.number}-{ascii_name(x.filename)}"] = x
    for rel in sorted(r for r in bag.hashes if r.startswith("data/exhibits/")):
        x = named.get(rel)
        if x is None:
            report.problem(bag.at(rel), "is not an exhibit inputs.json names")
        elif (bag.hashes[rel], bag.sizes[rel]) != (x.sha256, x.size):
            report.problem(bag.at(rel), f"is not the file inputs.json names as {x.number} (SHA-256 {x.sha256}, "
                                        f"{x.size:,} bytes)")
    for rel in sorted(set(named) - set(bag.hashes)):
        report.problem(where, f"names exhibit {rel.removeprefix('data/')}, which the bundle does not hold")
    numbers = {x.sha256: x.number for x in inputs.exhibits}
    order = sorted(leaves.items(), key=lambda item: (item[1]["occurred_at"], item[0]))
    if whole and number_exhibits(leaf["attachments"] for _, leaf in order) != numbers:
        report.problem(where, "numbers the exhibits otherwise than the records' order does (E0001 is the first "
                              "file attached in chronology order)")

    opened = next((i for i, leaf in order if leaf["kind"] == "engagement_opened" and i in disclosed), None)
    if opened is not None:
        body = json.loads(bag.kept[f"data/ledger/entries/{opened}.body.json"])
        try:
            same = Terms.model_validate(body.get("terms")) == Terms.model_validate(inputs.engagement.terms)
        except ValueError:
            same = False
        if not same:
            report.problem(where, f"gives opening terms other than record {opened}, which opened the engagement")

    if whole and inputs.statement is not None:
        report.problem(where, "carries statement lines, but this bundle holds every record: its statement is "
                              "derived from the records, never carried")
    elif not whole and inputs.statement is None:
        report.problem(where, "carries no statement lines, but a partial bundle's statement cannot be derived "
                              "from its records")
    elif not whole:
        for line in inputs.statement.lines:
            if not line.refs:
                report.problem(where, f"statement line {line.number} cites no record")
            for cite in line.refs:
                if cite.index not in disclosed:
                    report.problem(where, f"statement line {line.number} cites record {cite.index}, which this "
                                          "bundle does not disclose")
                    continue
                expected = [numbers[sha] for sha in leaves[cite.index]["attachments"] if sha in numbers]
                # A citation names the files it rests on, which may be fewer than the record has (a sentence
                # about a retraction cites the record without its files), never others.
                if not set(cite.exhibits) <= set(expected):
                    report.problem(where, f"statement line {line.number} gives record {cite.index} the exhibits "
                                          f"{', '.join(cite.exhibits) or 'none'}, but it has "
                                          f"{', '.join(expected) or 'none'}")
    return inputs


def _first_difference(ours: bytes, theirs: bytes, source: str = "the records give") -> str:
    """Where a stored document first departs from the one rendered again, quoted around that point (a long
    line's start would hide the change)."""
    mine, yours = ours.decode("utf-8", "replace").split("\n"), theirs.decode("utf-8", "replace").split("\n")
    for number, (a, b) in enumerate(zip(mine, yours, strict=False), 1):
        if a != b:
            at = next((n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            start = max(0, at - 50)
            return f"line {number} reads {b[start:at + 50].strip()!r} where {source} {a[start:at + 50].strip()!r}"
    return f"it has {len(yours)} lines where {source} {len(mine)}"


def _check_derived(bag: _Bag, signed: _Signed, inputs: Inputs, leaves: dict[int, dict], report: Report) -> bool:
    """Renders the derived documents again from the verified records and inputs.json, and compares; True if
    every one is identical."""
    from service.bundles.chronology import derive_documents

    bodies = {i: bag.kept[f"data/ledger/entries/{i}.body.json"] for i in leaves
              if f"data/ledger/entries/{i}.body.json" in bag.kept}
    try:
        view = build_view(bag.kept[INPUTS], inputs, checkpoint_note=bag.text("data/ledger/checkpoint") or "",
                          origin=signed.origin, size=signed.size, root=signed.root,
                          leaves={i: bag.kept[f"data/ledger/entries/{i}.leaf.json"] for i in leaves}, bodies=bodies)
        documents = derive_documents(view)
    except Exception as exc:  # noqa: BLE001 - whatever signed but hostile records do to the renderer, it is named
        report.problem(bag.at(INPUTS), f"the documents cannot be rendered again from the records and this file: "
                                       f"one of them holds a value of the wrong type ({type(exc).__name__}: "
                                       f"{str(exc)[:200]})")
        return False
    identical = True
    for rel in DERIVED:
        report.count("derived documents")
        stored = bag.kept.get(rel)
        if stored is not None and stored != documents[rel]:
            identical = False
            report.problem(bag.at(rel), "differs from the document rendered again from the records and inputs.json "
                                        f"(the file was changed): {_first_difference(documents[rel], stored)}")
    # The tag file that describes the bag is outside the seal's manifest: it is written again and compared too
    # (the Payload-Oxum it gives is the payload as it stands, which _check_bag has compared already).
    payload = [rel for rel in bag.hashes if rel.startswith("data/")]
    expected = bag_info(inputs, origin=signed.origin, size=signed.size, root=signed.root, disclosed=len(leaves),
                        payload_bytes=sum(bag.sizes[r] for r in payload), payload_files=len(payload))
    stored = bag.kept.get("bag-info.txt")
    if stored is not None and stored != expected:
        difference = _first_difference(expected, stored, "it should read")
        report.problem(bag.at("bag-info.txt"), "differs from the one written again from inputs.json and the "
                                               f"checkpoint (the file was changed): {difference}")
    return identical


def verify_bundle(path: Path, *, key: str | None) -> Report:
    """Checks a bundle zip; every problem names its entry. Works on partial bundles."""
    path = Path(path)
    report = Report(f"Evidence bundle {path.name}")
    try:
        archive = zipfile.ZipFile(path)
        zip_size = path.stat().st_size
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        report.problem(str(path), f"is not a readable zip file ({exc})")
        return report
    with archive:
        if not _check_names(archive, zip_size, report):
            return report
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        root = _find_root(names, report, str(path))
        if root is None:
            return report
        bag = _read(archive, root, report)
    info = _check_bag(bag, report)
    version = _version(bag, info, report)
    _check_layout(bag, version, report)
    signed = _check_checkpoint(bag, key, report)
    if signed is None:
        return report
    report.facts["format"] = f"version {version}" + ("" if version >= 2 else " (derived documents not checked)")
    _check_bag_info(bag, info, signed, report)
    before = len(report.problems)
    rendered = False
    hashes = _leaf_hashes(bag, signed, report)
    leaves = _check_entries(bag, signed, hashes, report)
    _check_exhibits(bag, leaves, report)
    records_ok = len(report.problems) == before
    _check_consistency(bag, signed, report)
    disclosed = len(leaves)
    whole = disclosed == signed.size
    if version >= 2:
        # Documents are rendered only from records that verified: from others they would prove nothing.
        inputs = _check_inputs(bag, signed, leaves, report) if records_ok else None
        if inputs is not None and inputs.renderer != RENDERER:
            # Not a problem: the seal still covers the documents. Rendered by other rules they would differ
            # without having been changed, and saying so would accuse an honest bundle.
            report.facts["documents"] = "sealed, not rendered again (made by another version of Docket)"
            report.notes.append(f"The derived documents were made by another version of Docket "
                                f"({inputs.renderer[:60]}; this one is {RENDERER}), whose rules may word or "
                                "compute them differently: they were checked against the seal, not rendered again. "
                                "Verify with the version that made the bundle to render them again.")
        elif inputs is not None:
            # The note that they are identical is only made when they are.
            rendered = _check_derived(bag, signed, inputs, leaves, report)
        _check_seal(bag, signed, report)
    report.facts["records"] = (f"all {signed.size}" if whole
                               else f"{disclosed} of {signed.size} disclosed (a partial bundle)")
    if not key:
        report.notes.append(UNPINNED)
    if version < 2:
        report.notes.append(V1_UNCHECKED)
    elif whole and rendered:
        report.notes.append(WHOLE_STATEMENT)
    elif not whole:
        report.notes.append(PARTIAL_STATEMENT)
    if not whole:
        report.notes.append(f"A partial bundle: the other {signed.size - disclosed} records are present only as "
                            "hashes, which prove the disclosed ones belong to the signed record.")
    return report
