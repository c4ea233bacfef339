"""C2SP signed checkpoints (DESIGN §4.4) and sealed workspace keys."""

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service.ledger import note

NAME = "docket.localhost/acme"
ROOT = hashlib.sha256(b"root").digest()


@pytest.fixture()
def key():
    raw, public = note.new_signing_key()
    return Ed25519PrivateKey.from_private_bytes(raw), public


def test_a_signed_checkpoint_has_the_c2sp_shape_and_opens(key):
    private, public = key
    body = note.checkpoint_body(f"{NAME}/7", 12, ROOT)
    text = note.sign_note(body, NAME, private)
    lines = text.split("\n")
    assert lines[:4] == [f"{NAME}/7", "12", base64.b64encode(ROOT).decode(), ""]
    assert lines[4].startswith(f"\u2014 {NAME} ") and lines[5] == ""
    blob = base64.b64decode(lines[4].split(" ")[2])
    assert blob[:4] == hashlib.sha256(NAME.encode() + b"\n\x01" + public).digest()[:4]
    assert len(blob) == 68
    vkey = note.verifier_key(NAME, public)
    encoded_key = base64.b64encode(b"\x01" + public).decode()
    assert vkey == f"{NAME}+{blob[:4].hex()}+{encoded_key}"
    assert note.open_note(text, vkey) == note.Checkpoint(f"{NAME}/7", 12, ROOT)


def test_tampering_or_another_key_is_refused(key):
    private, public = key
    text = note.sign_note(note.checkpoint_body(f"{NAME}/7", 12, ROOT), NAME, private)
    vkey = note.verifier_key(NAME, public)
    with pytest.raises(note.NoteError, match="does not verify"):
        note.open_note(text.replace("\n12\n", "\n13\n"), vkey)
    _, other_public = note.new_signing_key()
    with pytest.raises(note.NoteError, match="not signed by"):
        note.open_note(text, note.verifier_key(NAME, other_public))
    with pytest.raises(note.NoteError, match="key id does not match"):
        note.open_note(text, vkey.replace(vkey.split("+")[1], "00000000"))
    with pytest.raises(note.NoteError, match="no signature block"):
        note.open_note(text.split("\n\n")[0] + "\n", vkey)


@pytest.mark.parametrize("body,message", [
    ("o\n1\n", "3"),
    ("o\n01\n" + base64.b64encode(ROOT).decode() + "\n", "decimal"),
    ("o\n1\nnot base64!\n", "base64"),
    ("o\n1\n" + base64.b64encode(b"short").decode() + "\n", "32"),
    ("o\n1\n" + base64.b64encode(ROOT).decode() + "\nextension\n", "lines"),
])
def test_malformed_checkpoints(body, message):
    with pytest.raises(note.NoteError, match=message):
        note.parse_checkpoint(body)


def test_origins_with_spaces_or_plus_are_refused():
    for origin in ("a b", "a+b", ""):
        with pytest.raises(note.NoteError):
            note.checkpoint_body(origin, 1, ROOT)


def test_sealed_keys_open_only_with_the_same_secret(key):
    raw, public = note.new_signing_key()
    blob = note.seal_private_key(raw, "secret one")
    assert raw not in blob
    opened = note.unseal_private_key(blob, "secret one")
    assert note.open_note(note.sign_note(note.checkpoint_body("o/1", 1, ROOT), "o", opened),
                          note.verifier_key("o", public)).size == 1
    with pytest.raises(note.NoteError, match="DOCKET_SECRET_KEY"):
        note.unseal_private_key(blob, "secret two")
