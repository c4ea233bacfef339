"""`docket verify BUNDLE.zip`: every check of DESIGN §5, offline, with nothing but this package.

The zip is never extracted: entry names are checked first, then each entry is read once, streaming, and
hashed; only the small ledger and tag files are kept in memory. Each problem names the zip entry it is about."""

import base64
import binascii
import hashlib
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import rfc8785

from service.ledger import merkle, note
from service.ledger.report import Report

CHUNK = 1 << 20
# A ledger file bigger than this is not one Docket wrote (leaf-hashes.txt for a million records is 65 MB).
MAX_KEPT = 512 << 20
ENTRY = re.compile(r"data/ledger/entries/(0|[1-9][0-9]*)\.(leaf|body)\.json")
EXHIBIT = re.compile(r"data/exhibits/E[0-9]{4,}-[A-Za-z0-9._-]+")
CONSISTENCY = re.compile(r"data/ledger/consistency/([1-9][0-9]*)\.txt")
REQUIRED = ("data/README.txt", "data/chronology.html", "data/chronology.csv", "data/statement.html",
            "data/ledger/checkpoint", "data/ledger/key.vkey", "data/ledger/leaf-hashes.txt")
TAG_FILES = ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt")
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


def _check_names(archive: zipfile.ZipFile, report: Report) -> bool:
    """Refuses the whole bundle before reading any content if one entry could write outside its folder."""
    seen: set[str] = set()
    for info in archive.infolist():
        reason = _unsafe(info)
        if reason is None and info.filename in seen:
            reason = "appears twice in the zip (tools disagree on which copy they extract)"
        seen.add(info.filename)
        if reason:
            report.problem(info.orig_filename, f"unsafe zip entry: {reason}; nothing was extracted or checked")
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
                    if keep:
                        if size > MAX_KEPT:
                            raise ValueError(f"larger than {MAX_KEPT >> 20} MB")
                        parts.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
            report.problem(info.filename, f"cannot be read from the zip ({exc})")
            continue
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
            leaf = json.loads(data)
            canonical = rfc8785.dumps(leaf) == data
        except (ValueError, rfc8785.CanonicalizationError) as exc:
            report.problem(where, f"is not a JSON leaf ({exc})")
            continue
        if not isinstance(leaf, dict):
            report.problem(where, "is not a JSON object")
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
    return leaves


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


def _check_layout(bag: _Bag, report: Report) -> None:
    for rel in REQUIRED:
        if rel not in bag.hashes:
            report.problem(bag.at(rel), "is missing from the bundle")
    known = set(REQUIRED)
    for rel in sorted(bag.hashes):
        if not rel.startswith("data/") or rel in known or rel.startswith("data/exhibits/"):
            continue
        if not (ENTRY.fullmatch(rel) or CONSISTENCY.fullmatch(rel)):
            report.problem(bag.at(rel), "is not part of a Docket bundle (a file added?)")


def verify_bundle(path: Path, *, key: str | None) -> Report:
    """Checks a bundle zip; every problem names its entry. Works on partial bundles."""
    path = Path(path)
    report = Report(f"Evidence bundle {path.name}")
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problem(str(path), f"is not a readable zip file ({exc})")
        return report
    with archive:
        if not _check_names(archive, report):
            return report
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        root = _find_root(names, report, str(path))
        if root is None:
            return report
        bag = _read(archive, root, report)
    info = _check_bag(bag, report)
    _check_layout(bag, report)
    signed = _check_checkpoint(bag, key, report)
    if signed is None:
        return report
    _check_bag_info(bag, info, signed, report)
    hashes = _leaf_hashes(bag, signed, report)
    leaves = _check_entries(bag, signed, hashes, report)
    _check_exhibits(bag, leaves, report)
    _check_consistency(bag, signed, report)
    disclosed = len(leaves)
    report.facts["records"] = (f"all {signed.size}" if disclosed == signed.size
                               else f"{disclosed} of {signed.size} disclosed (a partial bundle)")
    if not key:
        report.notes.append(UNPINNED)
    if disclosed < signed.size:
        report.notes.append(f"A partial bundle: the other {signed.size - disclosed} records are present only as "
                            "hashes, which prove the disclosed ones belong to the signed record.")
    return report
