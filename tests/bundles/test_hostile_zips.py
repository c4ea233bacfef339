"""`docket verify` on crafted zips: each exits 1 with a named problem, extracts nothing and never shows a
traceback; a zip bomb is refused before it is inflated."""

import hashlib
import json
import struct
import zipfile

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from service.bundles.verify import MAX_RATIO
from service.cli import app
from service.ledger import merkle, note
from tests import factories
from tests.bundles.helpers import build_engagement, export, read_zip, write_zip


@pytest.fixture
def bundle(session, tmp_path):
    member = factories.make_member(session)
    engagement = build_engagement(session, member=member)
    path = tmp_path / "bundle.zip"
    export(session, member=member, engagement=engagement, path=path)
    return path


def verify(path, monkeypatch, tmp_path) -> str:
    """Runs the command in an empty folder and checks that it failed cleanly and wrote nothing there."""
    work = tmp_path / "cwd"
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)
    result = CliRunner().invoke(app, ["verify", str(path)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "FAILED" in result.output
    assert list(work.iterdir()) == []
    return result.output


def _zeros(archive: zipfile.ZipFile, name: str, size: int, method=zipfile.ZIP_DEFLATED) -> None:
    info = zipfile.ZipInfo(name)
    info.compress_type = method
    with archive.open(info, "w", force_zip64=True) as target:
        block = bytes(1 << 20)
        for _ in range(size >> 20):
            target.write(block)


def test_an_entry_that_inflates_thousands_of_times_is_refused_before_it_is_read(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w") as archive:
        archive.writestr("b/bagit.txt", "BagIt-Version: 1.0\n")
        _zeros(archive, "b/data/ledger/leaf-hashes.txt", 64 << 20)
    assert bomb.stat().st_size < 200_000
    output = verify(bomb, monkeypatch, tmp_path)
    assert "b/data/ledger/leaf-hashes.txt: unsafe zip entry: would inflate from" in output
    assert f"more than {MAX_RATIO} times: a zip bomb; nothing was extracted or checked" in output
    assert "checked:" not in output  # not a byte inflated


def test_many_entries_that_together_inflate_too_far_are_refused(tmp_path, monkeypatch):
    bomb = tmp_path / "many.zip"
    with zipfile.ZipFile(bomb, "w") as archive:
        archive.writestr("b/bagit.txt", "BagIt-Version: 1.0\n")
        for n in range(150):  # each alone passes: a megabyte may shrink to nothing
            _zeros(archive, f"b/data/exhibits/E{n + 1:04d}-blank.pdf", 1 << 20)
    output = verify(bomb, monkeypatch, tmp_path)
    assert "unsafe zip: its entries would inflate to 157,286,419 bytes" in output and "a zip bomb" in output
    assert "checked:" not in output


def _patch_flags(data: bytearray, bit: int) -> bytearray:
    """Sets a general-purpose flag bit in every local and central header, as a crafted zip would."""
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            flags = struct.unpack_from("<H", data, at + offset)[0]
            struct.pack_into("<H", data, at + offset, flags | bit)
            at = data.find(signature, at + 4)
    return data


def test_an_encrypted_entry_is_named(bundle, tmp_path, monkeypatch):
    crafted = tmp_path / "encrypted.zip"
    crafted.write_bytes(bytes(_patch_flags(bytearray(bundle.read_bytes()), 0x1)))
    output = verify(crafted, monkeypatch, tmp_path)
    assert "bagit.txt: unsafe zip entry: is encrypted (a bundle never is); nothing was extracted or checked" in output


@pytest.mark.parametrize(("method", "name"), [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "LZMA")])
def test_a_corrupt_compressed_entry_is_named(bundle, tmp_path, monkeypatch, method, name):
    root, files = read_zip(bundle)
    crafted = tmp_path / f"{name}.zip"
    target = root + "data/chronology.html"
    with zipfile.ZipFile(crafted, "w") as archive:
        for rel, data in files.items():
            archive.writestr(root + rel, data, compress_type=method if root + rel == target else zipfile.ZIP_STORED)
    with zipfile.ZipFile(crafted) as archive:
        info = archive.getinfo(target)
    raw = bytearray(crafted.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for at in range(start + 24, start + min(info.compress_size, 400), 7):
        raw[at] ^= 0x5A
    crafted.write_bytes(bytes(raw))
    output = verify(crafted, monkeypatch, tmp_path)
    assert f"{target}: cannot be read from the zip (" in output


def test_a_leaf_nested_200000_deep_is_named(bundle, tmp_path, monkeypatch):
    root, files = read_zip(bundle)
    files["data/ledger/entries/3.leaf.json"] = b"[" * 200_000 + b"]" * 200_000
    write_zip(tmp_path / "deep.zip", root, files, refresh=True)
    output = verify(tmp_path / "deep.zip", monkeypatch, tmp_path)
    assert f"{root}data/ledger/entries/3.leaf.json: is not a JSON leaf (nested too deep)" in output


@pytest.mark.parametrize(("field", "value", "message"), [
    ("attachments", 5, "attachments is not a list of lowercase hex SHA-256"),
    ("refs", ["0"], "refs is not a list of indices of earlier records"),
    ("occurred_at", "2026-13-45T99:00:00Z", "occurred_at is not a real time"),
    ("index", True, "index is not a whole number"),
    ("body_sha256", None, "body_sha256 is not a lowercase hex SHA-256"),
])
def test_a_leaf_with_a_wrong_type_is_named(bundle, tmp_path, monkeypatch, field, value, message):
    root, files = read_zip(bundle)
    leaf = json.loads(files["data/ledger/entries/3.leaf.json"]) | {field: value}
    files["data/ledger/entries/3.leaf.json"] = rfc8785.dumps(leaf)
    write_zip(tmp_path / "typed.zip", root, files, refresh=True)
    output = verify(tmp_path / "typed.zip", monkeypatch, tmp_path)
    assert f"{root}data/ledger/entries/3.leaf.json: is not a Docket leaf: {message}" in output


def forge_records(files: dict, bodies: dict[int, bytes]) -> tuple[str, Ed25519PrivateKey]:
    """New bodies under leaves, leaf hashes and a checkpoint all made to match, signed by a forger's own key: only
    what the records hold can fail. Returns the key, to seal with."""
    name = json.loads(files["data/inputs.json"])["key"]["name"]
    forger = Ed25519PrivateKey.generate()
    hashes = [bytes.fromhex(h) for h in files["data/ledger/leaf-hashes.txt"].decode().split()]
    for index, body in bodies.items():
        files[f"data/ledger/entries/{index}.body.json"] = body
        leaf = json.loads(files[f"data/ledger/entries/{index}.leaf.json"])
        leaf["body_sha256"] = hashlib.sha256(body).hexdigest()
        files[f"data/ledger/entries/{index}.leaf.json"] = rfc8785.dumps(leaf)
        hashes[index] = merkle.leaf_hash(rfc8785.dumps(leaf))
    files["data/ledger/leaf-hashes.txt"] = b"".join(h.hex().encode() + b"\n" for h in hashes)
    origin = note.parse_checkpoint(files["data/ledger/checkpoint"].decode().split("\n\n")[0] + "\n").origin
    root = merkle.root_from_leaf_hashes(hashes)
    files["data/ledger/checkpoint"] = note.sign_note(note.checkpoint_body(origin, len(hashes), root), name,
                                                     forger).encode()
    files["data/ledger/key.vkey"] = (note.verifier_key(name, forger.public_key().public_bytes_raw()) + "\n").encode()
    for path in [p for p in files if p.startswith("data/ledger/consistency/")]:
        del files[path]
    info = files["bag-info.txt"].decode()
    old_root = next(line for line in info.splitlines() if line.startswith("Docket-Root-Hash:"))
    files["bag-info.txt"] = info.replace(old_root, f"Docket-Root-Hash: {root.hex()}").encode()
    return name, forger


@pytest.mark.parametrize("body", [
    {"summary": "x", "attachments": 5, "participants": 5, "salt": "0" * 32},
    {"summary": {"nested": [1, 2]}, "amount_minor": "lots", "currency": 7, "direction": ["in"], "salt": "0" * 32},
    {"invoice_number": 7, "amount_minor": None, "due_on": "never", "salt": "0" * 32},
], ids=["attachments-5", "wrong-types", "bad-invoice"])
def test_a_signed_body_with_wrong_types_is_named_not_a_traceback(bundle, tmp_path, monkeypatch, body):
    root, files = read_zip(bundle)
    forger = forge_records(files, {4: rfc8785.dumps(body)})
    write_zip(tmp_path / "body.zip", root, files, refresh=True, seal_with=forger)
    output = verify(tmp_path / "body.zip", monkeypatch, tmp_path)
    # The records themselves verify under the forger's key: it is the documents that give the change away.
    assert "data/ledger/entries/4" not in output
    assert f"{root}data/inputs.json: the documents cannot be rendered again from the records and this file: one " \
           "of them holds a value of the wrong type" in output or f"{root}data/statement.html: differs" in output


def test_a_signed_body_nested_deep_is_named(bundle, tmp_path, monkeypatch):
    root, files = read_zip(bundle)
    forger = forge_records(files, {4: b"[" * 200_000 + b"]" * 200_000})
    write_zip(tmp_path / "deep-body.zip", root, files, refresh=True, seal_with=forger)
    output = verify(tmp_path / "deep-body.zip", monkeypatch, tmp_path)
    assert f"{root}data/ledger/entries/4.body.json: is not a JSON body (nested too deep)" in output


@pytest.mark.parametrize(("inputs", "message"), [
    (b"[" * 200_000 + b"]" * 200_000, "is not valid inputs for the documents"),
    (b'{"format": "docket-bundle-inputs/v1", "exhibits": 5}', "is not valid inputs for the documents"),
    (b"\xff\xfe not json", "is not valid inputs for the documents"),
])
def test_hostile_inputs_are_named(bundle, tmp_path, monkeypatch, inputs, message):
    root, files = read_zip(bundle)
    old = hashlib.sha256(files["data/inputs.json"]).hexdigest()
    files["data/inputs.json"] = inputs
    # README.txt made to agree, so that it is the file's content, not its hash, that is judged.
    new = hashlib.sha256(inputs).hexdigest().encode()
    files["data/README.txt"] = files["data/README.txt"].replace(old.encode(), new)
    write_zip(tmp_path / "inputs.zip", root, files, refresh=True)
    output = verify(tmp_path / "inputs.zip", monkeypatch, tmp_path)
    assert f"{root}data/inputs.json: {message}" in output
