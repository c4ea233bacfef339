"""`verify_bundle` against tampered bundles: each change is caught, with its own message naming the entry.

Most mutations recompute the bag's manifests and Payload-Oxum afterwards, as a forger would: bag hashes are
checksums, not signatures, so only the ledger checks can catch those (and `bagit` duly accepts them)."""

import base64
import json
import zipfile

import bagit
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service.bundles.verify import UNPINNED, verify_bundle
from service.ledger import note
from tests import factories
from tests.bundles.helpers import (
    bag_dir,
    build_engagement,
    export,
    problems,
    read_zip,
    rerender,
    vkey,
    write_zip,
)

EXHIBIT = "data/exhibits/E0002-Weekly-report-No1.pdf"


@pytest.fixture
def member(session):
    return factories.make_member(session)


@pytest.fixture
def bundle(session, member, tmp_path):
    engagement = build_engagement(session, member=member)
    path = tmp_path / "bundle.zip"
    export(session, member=member, engagement=engagement, path=path)
    return path


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def other_hex_digit(data: bytes, at: int) -> bytes:
    """Still a well-formed hex line, so that it is the root that gives the change away."""
    return data[:at] + (b"1" if data[at:at + 1] == b"0" else b"0") + data[at + 1:]


def flip_text(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


def resign(files: dict, member):
    """The checkpoint signed again by a key of the same name that is not the workspace's; returns that key, to
    seal with."""
    body = files["data/ledger/checkpoint"].decode().split("\n\n")[0] + "\n"
    forger = Ed25519PrivateKey.generate()
    name = note.parse_verifier_key(vkey(member))[0]
    files["data/ledger/checkpoint"] = note.sign_note(body, name, forger).encode()
    public = forger.public_key().public_bytes_raw()
    files["data/ledger/key.vkey"] = (note.verifier_key(name, public) + "\n").encode()
    # A thorough forger signs the earlier checkpoints in the consistency proofs again too.
    for path in [p for p in files if p.startswith("data/ledger/consistency/")]:
        proof, _, earlier = files[path].decode().partition("\n\n")
        files[path] = f"{proof}\n\n{note.sign_note(earlier.split(chr(10) * 2)[0] + chr(10), name, forger)}".encode()
    return name, forger


def root_line_flip(files: dict, _member) -> None:
    lines = files["data/ledger/checkpoint"].decode().split("\n")
    root = bytearray(base64.b64decode(lines[2]))
    root[5] ^= 1
    lines[2] = base64.b64encode(bytes(root)).decode()
    files["data/ledger/checkpoint"] = "\n".join(lines).encode()


def signature_flip(files: dict, _member) -> None:
    text = files["data/ledger/checkpoint"].decode()
    head, _, line = text.rstrip("\n").rpartition(" ")
    blob = bytearray(base64.b64decode(line))
    blob[20] ^= 1
    files["data/ledger/checkpoint"] = f"{head} {base64.b64encode(bytes(blob)).decode()}\n".encode()


def swap(files: dict, a: str, b: str) -> None:
    files[a], files[b] = files[b], files[a]


MUTATIONS = {
    "an exhibit byte": (lambda f, m: f.update({EXHIBIT: flip(f[EXHIBIT], 100)}),
                        EXHIBIT, "which is not an attachment of any record in this bundle"),
    "a body byte": (lambda f, m: f.update({"data/ledger/entries/4.body.json": flip_text(
        f["data/ledger/entries/4.body.json"], b"900000", b"9000000")}),
        "data/ledger/entries/4.body.json", "does not hash to the body_sha256 in 4.leaf.json"),
    "a leaf byte": (lambda f, m: f.update({"data/ledger/entries/5.leaf.json": flip_text(
        f["data/ledger/entries/5.leaf.json"], b'"refs":[4]', b'"refs":[3]')}),
        "data/ledger/entries/5.leaf.json", "does not hash to leaf 5 of leaf-hashes.txt (line 6)"),
    "a leaf-hashes.txt byte": (lambda f, m: f.update({"data/ledger/leaf-hashes.txt": other_hex_digit(
        f["data/ledger/leaf-hashes.txt"], 65 * 2 + 10)}),
        "data/ledger/leaf-hashes.txt", "the leaf hashes give root"),
    "a checkpoint byte": (root_line_flip, "bag-info.txt", "Docket-Root-Hash says"),
    "a signature byte": (signature_flip, "data/ledger/checkpoint",
                         "the signature does not verify under the key pinned with --key: signature by"),
    "a file removed": (lambda f, m: f.pop(EXHIBIT), "data/ledger/entries/2.leaf.json",
                       "but no exhibit in the bundle has that hash (a file removed?)"),
    "a file added": (lambda f, m: f.update({"data/notes.txt": b"the client agreed to pay\n"}),
                     "data/notes.txt", "is not part of a Docket bundle (a file added?)"),
    "an exhibit added": (lambda f, m: f.update({"data/exhibits/E0009-side-letter.pdf": b"%PDF forged"}),
                         "data/exhibits/E0009-side-letter.pdf", "which is not an attachment of any record"),
    "two leaves swapped": (lambda f, m: swap(f, "data/ledger/entries/2.leaf.json", "data/ledger/entries/3.leaf.json"),
                           "data/ledger/entries/2.leaf.json", "says it is leaf 3, but its name says 2"),
    "a checkpoint signed by another key": (resign, "data/ledger/checkpoint",
                                           "the signature does not verify under the key pinned with --key"),
    "a consistency proof byte": (lambda f, m: f.update({"data/ledger/consistency/8.txt": flip_text(
        f["data/ledger/consistency/8.txt"], b"\nto 10\n", b"\nto 11\n")}),
        "data/ledger/consistency/8.txt", "proves 8 to 11, but its name and the checkpoint say 8 to 10"),
}


def test_an_untouched_bundle_passes_and_says_what_it_checked(bundle, member):
    report = verify_bundle(bundle, key=vkey(member))
    assert report.ok, report.render()
    text = report.render()
    assert report.facts["key"] == "pinned with --key" and report.facts["size"] == "10"
    assert report.counts["leaves"] == 10 and report.counts["bodies"] == 10 and report.counts["exhibits"] == 2
    assert report.counts["consistency proofs"] == 1 and report.counts["signatures"] == 1
    assert "OK: every check passed" in text and UNPINNED not in text
    unpinned = verify_bundle(bundle, key=None)
    assert unpinned.ok and UNPINNED in unpinned.notes
    assert "not pinned" in unpinned.facts["key"] and "integrity" not in unpinned.facts["key"]
    assert "proves the bundle is intact" in unpinned.render() and "not who made it" in unpinned.render()


@pytest.mark.parametrize("name", MUTATIONS)
def test_each_tampering_is_caught_with_its_own_message(bundle, member, tmp_path, name):
    mutate, where, message = MUTATIONS[name]
    root, files = read_zip(bundle)
    mutate(files, member)
    forged = tmp_path / "forged.zip"
    write_zip(forged, root, files, refresh=True)
    # The bag itself is consistent again: bagit cannot tell.
    assert bagit.Bag(str(bag_dir(forged, tmp_path / "x"))).is_valid()
    found = problems(forged, key=vkey(member))
    assert f"{root}{where}: " in "\n".join(found) and message in "\n".join(found), found
    assert any(p.startswith(f"{root}{where}: ") and message in p for p in found), found


def test_the_messages_differ_between_mutations(bundle, member, tmp_path):
    seen = {}
    for name, (mutate, _, _) in MUTATIONS.items():
        root, files = read_zip(bundle)
        mutate(files, member)
        write_zip(tmp_path / "forged.zip", root, files, refresh=True)
        seen[name] = frozenset(problems(tmp_path / "forged.zip", key=vkey(member)))
    assert all(seen.values())
    assert len(set(seen.values())) == len(seen)


def test_a_forged_key_passes_only_when_the_key_is_not_pinned(bundle, member, tmp_path):
    root, files = read_zip(bundle)
    forger = resign(files, member)
    key = json.loads(files["data/inputs.json"])["key"]
    rerender(files, key=key | {"vkey": files["data/ledger/key.vkey"].decode().strip(),
                               "id": files["data/ledger/key.vkey"].decode().split("+")[1]})
    write_zip(tmp_path / "forged.zip", root, files, refresh=True, seal_with=forger)
    unpinned = verify_bundle(tmp_path / "forged.zip", key=None)
    assert unpinned.ok and UNPINNED in unpinned.notes  # integrity, not authorship
    pinned = problems(tmp_path / "forged.zip", key=vkey(member))
    assert f"{root}data/ledger/key.vkey: is not the key pinned with --key" in pinned


@pytest.mark.parametrize(("change", "where", "message"), [
    (lambda f: f.update({EXHIBIT: flip(f[EXHIBIT], 7)}), EXHIBIT, "does not match its hash in manifest-sha256.txt"),
    (lambda f: f.pop("data/ledger/entries/3.body.json"), "data/ledger/entries/3.body.json",
     "is listed in manifest-sha256.txt but missing from the bundle"),
    (lambda f: f.update({"data/extra.txt": b"x"}), "data/extra.txt", "but not in manifest-sha256.txt"),
    (lambda f: f.update({"bag-info.txt": f["bag-info.txt"].replace(b"Payload-Oxum: ", b"Payload-Oxum: 1")}),
     "bag-info.txt", "does not match its hash in tagmanifest-sha256.txt"),
])
def test_an_invalid_bag_is_caught_by_bagit_and_by_us(bundle, member, tmp_path, change, where, message):
    root, files = read_zip(bundle)
    change(files)
    write_zip(tmp_path / "broken.zip", root, files, refresh=False)
    assert not bagit.Bag(str(bag_dir(tmp_path / "broken.zip", tmp_path / "x"))).is_valid()
    found = problems(tmp_path / "broken.zip", key=vkey(member))
    assert any(p.startswith(f"{root}{where}: ") and message in p for p in found), found


def test_a_tag_file_added_is_caught_although_bagit_allows_it(bundle, member, tmp_path):
    root, files = read_zip(bundle)
    files["fetch.txt"] = b"http://example.com/x 1 data/x\n"
    write_zip(tmp_path / "fetch.zip", root, files, refresh=False)
    found = problems(tmp_path / "fetch.zip", key=vkey(member))
    assert found == [f"{root}fetch.txt: is not listed in tagmanifest-sha256.txt (a file added?)"]


def test_payload_oxum_is_checked(bundle, member, tmp_path):
    root, files = read_zip(bundle)
    files["bag-info.txt"] = files["bag-info.txt"].replace(b"Payload-Oxum: ", b"Payload-Oxum: 9")
    write_zip(tmp_path / "oxum.zip", root, files, refresh=False)
    tagmanifest = files["tagmanifest-sha256.txt"].decode()
    import hashlib

    old = hashlib.sha256(read_zip(bundle)[1]["bag-info.txt"]).hexdigest()
    files["tagmanifest-sha256.txt"] = tagmanifest.replace(old, hashlib.sha256(files["bag-info.txt"]).hexdigest()
                                                          ).encode()
    write_zip(tmp_path / "oxum.zip", root, files, refresh=False)
    found = problems(tmp_path / "oxum.zip", key=vkey(member))
    assert any(p.startswith(f"{root}bag-info.txt: Payload-Oxum says 9") for p in found), found


@pytest.mark.parametrize("evil", ["../evil.txt", "/tmp/evil.txt", "bag/../../evil.txt", "bag\\..\\evil.txt",
                                  "C:/evil.txt"])
def test_zip_slip_entries_are_refused_before_anything_is_read(bundle, tmp_path, evil, monkeypatch):
    forged = tmp_path / "slip.zip"
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(forged, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr(zipfile.ZipInfo(evil), b"owned")
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    report = verify_bundle(forged, key=None)
    assert not report.ok and report.counts == {}
    assert [(p.where, p.message.split(":")[0]) for p in report.problems] == [(evil, "unsafe zip entry")]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert not (tmp_path.parent / "evil.txt").exists()


def test_symlinks_and_duplicate_entries_are_refused(bundle, tmp_path):
    forged = tmp_path / "link.zip"
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(forged, "w") as target:
        names = source.namelist()
        for info in source.infolist():
            target.writestr(info, source.read(info))
        link = zipfile.ZipInfo(names[0].split("/")[0] + "/data/link")
        link.external_attr = 0o120777 << 16
        target.writestr(link, "/etc/passwd")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate name: that is the point
            target.writestr(names[-1], b"second copy")
    found = problems(forged, key=None)
    assert any("is a symbolic link" in p for p in found) and any("appears twice" in p for p in found)


def test_not_a_bundle(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    assert "is not a readable zip file" in problems(tmp_path / "x.zip", key=None)[0]
    with zipfile.ZipFile(tmp_path / "y.zip", "w") as archive:
        archive.writestr("a/readme.txt", "hello")
        archive.writestr("b/readme.txt", "hello")
    assert "no bagit.txt" in problems(tmp_path / "y.zip", key=None)[0]


def test_a_bad_pinned_key_is_named(bundle):
    assert any(p.startswith("--key: is not a usable verifier key") for p in problems(bundle, key="nonsense"))
