"""C2SP signed notes and tlog checkpoints with Ed25519 (DESIGN §4.4), and sealing of workspace keys.

Follows C2SP `signed-note` and `tlog-checkpoint` v1.0.0: the body is ``origin\\nsize\\nbase64(root)\\n``; a
signature line is ``— <name> <base64(key id || signature)>``; key id = SHA-256(name || 0x0A || 0x01 || pub)[:4].
"""

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ED25519 = b"\x01"
SIGNATURE_DASH = "\u2014"
SEAL_INFO = b"docket signing key v1"


class NoteError(ValueError):
    """A note, checkpoint or verifier key that does not parse or does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    if not origin or any(c.isspace() for c in origin) or "+" in origin:
        raise NoteError(f"origin {origin!r} must be non-empty with no spaces and no '+'")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint(body: str) -> Checkpoint:
    if not body.endswith("\n"):
        raise NoteError("checkpoint does not end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) != 3:
        raise NoteError(f"checkpoint has {len(lines)} lines, expected 3 (origin, size, root)")
    origin, size_text, root_text = lines
    if not origin:
        raise NoteError("checkpoint origin is empty")
    if not size_text.isascii() or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError(f"checkpoint size {size_text!r} is not a decimal number")
    root = _b64decode(root_text, "checkpoint root")
    if len(root) != 32:
        raise NoteError(f"checkpoint root is {len(root)} bytes, expected 32")
    return Checkpoint(origin, int(size_text), root)


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    return f"{name}+{key_id(name, public_key).hex()}+{base64.b64encode(ED25519 + public_key).decode()}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes, bytes]:
    """Returns (name, key id, raw public key)."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("verifier key must be <name>+<key id>+<key>")
    name, hex_id, encoded = parts
    key = _b64decode(encoded, "verifier key")
    if len(key) != 33 or key[:1] != ED25519:
        raise NoteError("verifier key is not an Ed25519 key")
    public_key = key[1:]
    if hex_id != key_id(name, public_key).hex():
        raise NoteError("verifier key id does not match its name and key")
    return name, bytes.fromhex(hex_id), public_key


def sign_note(body: str, name: str, private_key: Ed25519PrivateKey) -> str:
    public_key = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signature = private_key.sign(body.encode())
    encoded = base64.b64encode(key_id(name, public_key) + signature).decode()
    return f"{body}\n{SIGNATURE_DASH} {name} {encoded}\n"


def open_note(text: str, vkey: str) -> Checkpoint:
    """Verifies a signed checkpoint against a verifier key and returns what it says."""
    return parse_checkpoint(open_signed_note(text, vkey))


def open_signed_note(text: str, vkey: str) -> str:
    """Verifies any signed note (a checkpoint, a bundle's seal) against a verifier key and returns its text."""
    name, wanted_id, public_key = parse_verifier_key(vkey)
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise NoteError("note has no signature block")
    body, signature_lines = text[:split + 1], text[split + 2:-1].split("\n")
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    for line in signature_lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != SIGNATURE_DASH:
            raise NoteError(f"malformed signature line {line!r}")
        blob = _b64decode(parts[2], "signature")
        if parts[1] != name or blob[:4] != wanted_id:
            continue
        try:
            verifier.verify(blob[4:], body.encode())
        except InvalidSignature:
            raise NoteError(f"signature by {name} does not verify") from None
        return body
    raise NoteError(f"note is not signed by {name} (key id {wanted_id.hex()})")


def new_signing_key() -> tuple[bytes, bytes]:
    """A fresh Ed25519 key pair as (raw private 32 bytes, raw public 32 bytes)."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw, public


def _sealing_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SEAL_INFO).derive(secret.encode())


def seal_private_key(raw: bytes, secret: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(_sealing_key(secret)).encrypt(nonce, raw, SEAL_INFO)


def unseal_private_key(blob: bytes, secret: str) -> Ed25519PrivateKey:
    try:
        raw = AESGCM(_sealing_key(secret)).decrypt(blob[:12], blob[12:], SEAL_INFO)
    except InvalidTag:
        raise NoteError("the workspace signing key does not open with this DOCKET_SECRET_KEY") from None
    return Ed25519PrivateKey.from_private_bytes(raw)
