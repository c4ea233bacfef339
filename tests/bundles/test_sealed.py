"""Bundle v2 (DESIGN §5.1): every file is checked. The derived documents are rendered again from the records and
inputs.json and compared byte for byte, and the seal covers the payload manifest: editing any file and rebuilding
the bag's manifests the standard way fails `docket verify --key`, naming the file."""

import base64
import hashlib
import json
import zipfile

import bagit
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from service.bundles.derive import dump_inputs
from service.bundles.service import Subset
from service.bundles.verify import PARTIAL_STATEMENT, V1_UNCHECKED, WHOLE_STATEMENT, verify_bundle
from service.cli import app
from service.ledger import note
from tests import factories
from tests.bundles.helpers import bag_dir, build_engagement, export, problems, read_zip, rerender, vkey, write_zip


@pytest.fixture
def member(session):
    return factories.make_member(session)


@pytest.fixture
def engagement(session, member):
    return build_engagement(session, member=member)


@pytest.fixture
def bundle(session, member, engagement, tmp_path):
    path = tmp_path / "bundle.zip"
    export(session, member=member, engagement=engagement, path=path)
    return path


def edit(name: str, old: bytes, new: bytes):
    def change(files: dict) -> None:
        assert old in files[name], (name, old)
        files[name] = files[name].replace(old, new, 1)
    return change


def flip_seal_signature(files: dict) -> None:
    head, _, line = files["docket-seal.txt"].decode().rstrip("\n").rpartition(" ")
    blob = bytearray(base64.b64decode(line))
    blob[30] ^= 1
    files["docket-seal.txt"] = f"{head} {base64.b64encode(bytes(blob)).decode()}\n".encode()


# (change, the file named, what is said about it). The manifests are rebuilt after each change.
MUTATIONS = {
    "a sentence in statement.html": (
        edit("data/statement.html", "Invoice INV-7 for £9,000.00".encode(), "Invoice INV-7 for £90,000.00".encode()),
        "data/statement.html", "differs from the document rendered again from the records and inputs.json"),
    "a cell in chronology.csv": (
        edit("data/chronology.csv", "£9,000.00".encode(), "£900.00".encode()),
        "data/chronology.csv", "differs from the document rendered again"),
    "a line in chronology.html": (
        edit("data/chronology.html", b"Call with Priya", b"Call with Priya, who agreed to pay"),
        "data/chronology.html", "line "),
    "a line of README.txt": (
        edit("data/README.txt", b"It holds all 10 records.", b"It holds all 12 records."),
        "data/README.txt", "differs from the document rendered again"),
    "the as-of day in inputs.json": (
        lambda files: files.update({"data/inputs.json": dump_inputs(
            json.loads(files["data/inputs.json"]) | {"as_of": "2027-06-30"})}),
        "data/inputs.json", "inputs.json was changed"),
    "the client's name in inputs.json": (
        edit("data/inputs.json", b'"client": "Northwind Ltd"', b'"client": "Northwind Holdings Ltd"'),
        "data/inputs.json", "but README.txt, written with it, gives"),
    "the description in bag-info.txt": (
        edit("bag-info.txt", b"with Northwind Ltd; all 10 records", b"with Northwind Ltd; all 10 records; agreed"),
        "bag-info.txt", "differs from the one written again from inputs.json and the checkpoint"),
    "the seal's signature": (flip_seal_signature, "docket-seal.txt", "the seal's signature does not verify"),
    "the seal's size": (edit("docket-seal.txt", b"\n10\n", b"\n11\n"), "docket-seal.txt",
                        "the seal's signature does not verify"),
    "the seal removed": (lambda files: files.pop("docket-seal.txt"), "docket-seal.txt", "is missing"),
    "a payload file added": (lambda files: files.update({"data/side-letter.txt": b"The client agreed.\n"}),
                             "docket-seal.txt", "a payload file was changed, added or removed"),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_each_file_edited_and_the_manifests_rebuilt_fails_naming_the_file(bundle, member, tmp_path, name):
    change, where, message = MUTATIONS[name]
    root, files = read_zip(bundle)
    change(files)
    forged = tmp_path / "forged.zip"
    write_zip(forged, root, files, refresh=True)
    assert bagit.Bag(str(bag_dir(forged, tmp_path / "x"))).is_valid()  # the bag alone cannot tell
    found = problems(forged, key=vkey(member))
    assert any(p.startswith(f"{root}{where}: ") and message in p for p in found), found


def test_the_verify_command_names_the_edited_document_and_the_seal(bundle, member, tmp_path):
    root, files = read_zip(bundle)
    MUTATIONS["a sentence in statement.html"][0](files)
    write_zip(tmp_path / "forged.zip", root, files, refresh=True)
    result = CliRunner().invoke(app, ["verify", str(tmp_path / "forged.zip"), "--key", vkey(member)])
    assert result.exit_code == 1
    assert f"{root}data/statement.html: differs from the document rendered again from the records and " \
           "inputs.json (the file was changed): line " in result.output
    assert "Invoice INV-7 for £90,000.00" in result.output and "Invoice INV-7 for £9,000.00" in result.output
    assert f"{root}docket-seal.txt: seals a manifest-sha256.txt with SHA-256" in result.output
    assert "are identical" not in result.output  # the all-clear note is only given when it is true
    assert "Traceback" not in result.output


def test_bagit_python_rebuilding_the_manifests_does_not_help(bundle, member, tmp_path):
    bag = bag_dir(bundle, tmp_path / "x")
    statement = bag / "data" / "statement.html"
    statement.write_bytes(statement.read_bytes().replace("£9,000.00".encode(), "£90,000.00".encode(), 1))
    rebuilt = bagit.Bag(str(bag))
    rebuilt.save(manifests=True)
    assert bagit.Bag(str(bag)).is_valid()
    forged = tmp_path / "rebuilt.zip"
    with zipfile.ZipFile(forged, "w") as archive:
        for path in sorted(bag.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(bag.parent))
    found = problems(forged, key=vkey(member))
    assert any(p.startswith(f"{bag.name}/data/statement.html: differs") for p in found), found
    assert any(p.startswith(f"{bag.name}/docket-seal.txt: seals a manifest-sha256.txt") for p in found), found


def test_an_untouched_bundle_says_what_was_checked(bundle, member):
    report = verify_bundle(bundle, key=vkey(member))
    assert report.ok, report.render()
    assert report.facts["format"] == "version 2"
    assert report.counts["derived documents"] == 4 and report.counts["seals"] == 1
    assert WHOLE_STATEMENT in report.notes and V1_UNCHECKED not in report.notes
    _, files = read_zip(bundle)
    assert b"Docket-Bundle-Version: 2\n" in files["bag-info.txt"]
    assert b"docket-seal.txt" in files["tagmanifest-sha256.txt"]
    seal = note.open_signed_note(files["docket-seal.txt"].decode(), vkey(member))
    origin = json.loads(files["data/inputs.json"])["key"]["name"]
    assert seal == (f"docket-bundle-seal/v1\n{origin}/{json.loads(files['data/inputs.json'])['engagement']['id']}\n"
                    f"10\nmanifest-sha256 {hashlib.sha256(files['manifest-sha256.txt']).hexdigest()}\n")
    inputs = json.loads(files["data/inputs.json"])
    assert inputs["time_zone"] == "UTC" and inputs["exhibit_mark"] == "E" and inputs["client"] == "Northwind Ltd"
    assert inputs["thresholds"]["no_shows"] == [1, 2] and inputs["rates"]["boe_base"]
    assert [x["number"] for x in inputs["exhibits"]] == ["E0001", "E0002"]
    readme = files["data/README.txt"].decode()
    assert hashlib.sha256(files["data/inputs.json"]).hexdigest() in readme
    assert "renders README.txt, chronology.html, chronology.csv and statement.html\n     again" in readme
    assert "computes the statement's sentences again from the records" in readme


def test_the_same_records_and_inputs_give_the_same_bytes(session, member, engagement, tmp_path):
    """Rendering reads no clock and no random source: a bundle renders the same in a later process."""
    export(session, member=member, engagement=engagement, path=tmp_path / "a.zip")
    _, files = read_zip(tmp_path / "a.zip")
    again = dict(files)
    rerender(again)
    for name in ("data/README.txt", "data/chronology.html", "data/chronology.csv", "data/statement.html",
                 "data/inputs.json"):
        assert again[name] == files[name], name


def forge_with_own_key(files: dict) -> tuple[str, Ed25519PrivateKey]:
    """A forger's key of the same name: checkpoint, consistency proofs and inputs signed and rendered again."""
    name = json.loads(files["data/inputs.json"])["key"]["name"]
    forger = Ed25519PrivateKey.generate()
    body = files["data/ledger/checkpoint"].decode().split("\n\n")[0] + "\n"
    files["data/ledger/checkpoint"] = note.sign_note(body, name, forger).encode()
    forged_vkey = note.verifier_key(name, forger.public_key().public_bytes_raw())
    files["data/ledger/key.vkey"] = (forged_vkey + "\n").encode()
    for path in [p for p in files if p.startswith("data/ledger/consistency/")]:
        proof, _, earlier = files[path].decode().partition("\n\n")
        files[path] = f"{proof}\n\n{note.sign_note(earlier.split(chr(10) * 2)[0] + chr(10), name, forger)}".encode()
    key = json.loads(files["data/inputs.json"])["key"]
    rerender(files, key=key | {"vkey": forged_vkey, "id": forged_vkey.split("+")[1]})
    return name, forger


def test_a_forger_sealing_with_their_own_key_still_cannot_change_what_the_records_say(bundle, tmp_path):
    """Without --key, the seal proves only integrity; the statement is still derived from the records."""
    root, files = read_zip(bundle)
    forger = forge_with_own_key(files)
    write_zip(tmp_path / "resealed.zip", root, dict(files), refresh=True, seal_with=forger)
    assert verify_bundle(tmp_path / "resealed.zip", key=None).ok  # consistent, under the forger's own key
    MUTATIONS["a sentence in statement.html"][0](files)
    write_zip(tmp_path / "forged.zip", root, files, refresh=True, seal_with=forger)
    found = problems(tmp_path / "forged.zip", key=None)
    assert found == [f"{root}data/statement.html: " + found[0].split(": ", 1)[1]], found
    assert "differs from the document rendered again" in found[0]


def test_a_partial_bundle_carries_its_statement_and_verify_says_how_it_was_checked(session, member, engagement,
                                                                                    tmp_path):
    path = tmp_path / "p.zip"
    export(session, member=member, engagement=engagement, path=path, subset=Subset(indices=(4, 5)))
    report = verify_bundle(path, key=vkey(member))
    assert report.ok, report.render()
    assert PARTIAL_STATEMENT in report.notes and WHOLE_STATEMENT not in report.notes
    assert "not re-derived" in report.render()
    root, files = read_zip(path)
    readme = files["data/README.txt"].decode()
    assert "cannot be computed again from the disclosed records alone" in readme

    # A sentence changed in inputs.json and statement.html alike: the seal gives it away.
    inputs = json.loads(files["data/inputs.json"])
    line = inputs["statement"]["lines"][0]
    line["text"] = line["text"].replace("£9,000.00", "£90,000.00")
    assert "£90,000.00" in line["text"]
    rerender(files, statement=inputs["statement"])
    write_zip(tmp_path / "forged.zip", root, files, refresh=True)
    found = problems(tmp_path / "forged.zip", key=vkey(member))
    assert any(p.startswith(f"{root}docket-seal.txt: seals a manifest") for p in found), found

    # Sealed with a forger's own key, a sentence citing a record the bundle does not disclose is still refused.
    root, files = read_zip(path)
    forger = forge_with_own_key(files)
    inputs = json.loads(files["data/inputs.json"])
    inputs["statement"]["lines"].append({"number": 99, "text": "The client admitted the debt.",
                                         "refs": [{"index": 7, "exhibits": []}]})
    rerender(files, statement=inputs["statement"])
    write_zip(tmp_path / "cited.zip", root, files, refresh=True, seal_with=forger)
    found = problems(tmp_path / "cited.zip", key=None)
    assert found == [f"{root}data/inputs.json: statement line 99 cites record 7, which this bundle does not "
                     "disclose"], found


def as_version_1(files: dict) -> None:
    """The layout Docket wrote before the seal: no inputs.json, no seal, no version line."""
    files.pop("data/inputs.json")
    files.pop("docket-seal.txt")
    files["bag-info.txt"] = b"".join(line for line in files["bag-info.txt"].splitlines(keepends=True)
                                     if not line.startswith(b"Docket-Bundle-Version:")).replace(
        b"Docket bundle format v2", b"Docket bundle format v1")


def test_a_version_1_bundle_still_verifies_with_a_plain_warning(bundle, member, tmp_path):
    root, files = read_zip(bundle)
    as_version_1(files)
    write_zip(tmp_path / "v1.zip", root, files, refresh=True)
    report = verify_bundle(tmp_path / "v1.zip", key=vkey(member))
    assert report.ok, report.render()
    assert report.facts["format"] == "version 1 (derived documents not checked)"
    assert V1_UNCHECKED in report.notes and "were NOT checked" in report.render()
    assert "derived documents" not in report.counts and "seals" not in report.counts
    # Its records are still checked.
    files["data/ledger/entries/4.body.json"] = files["data/ledger/entries/4.body.json"].replace(b"900000", b"9")
    write_zip(tmp_path / "v1-forged.zip", root, files, refresh=True)
    assert any("4.body.json: does not hash" in p for p in problems(tmp_path / "v1-forged.zip", key=vkey(member)))


def test_a_version_2_bundle_passed_off_as_version_1_fails(bundle, member, tmp_path):
    root, files = read_zip(bundle)
    files["bag-info.txt"] = files["bag-info.txt"].replace(b"Docket-Bundle-Version: 2\n", b"")
    MUTATIONS["a sentence in statement.html"][0](files)
    write_zip(tmp_path / "downgraded.zip", root, files, refresh=True)
    found = problems(tmp_path / "downgraded.zip", key=vkey(member))
    assert any(p.startswith(f"{root}bag-info.txt: names no Docket-Bundle-Version") and "docket-seal.txt" in p
               for p in found), found



def test_the_templates_verify_renders_ship_with_the_package():
    """`docket verify` renders from these files wherever Docket is installed (checked by hand: a non-editable
    `pip install .` into a fresh venv verifies a bundle from another folder)."""
    import fnmatch
    import tomllib
    from pathlib import Path

    import service.bundles.chronology as chronology

    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["service"]
    templates = sorted(Path(chronology.__file__).with_name("templates").glob("*.html"))
    assert [t.name for t in templates] == ["chronology.html", "statement.html"]
    for template in templates:
        relative = template.relative_to(root / "service").as_posix()
        assert any(fnmatch.fnmatch(relative, glob) for glob in globs), relative
