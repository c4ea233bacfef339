"""Every public vector in ../shared/vectors through our verifier and canonicaliser (DESIGN §4.2–4.3)."""

import base64
import json
from pathlib import Path

import pytest
import rfc8785

from service.ledger import merkle

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"
INCLUSION = sorted((VECTORS / "rfc9162-merkle" / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "rfc9162-merkle" / "consistency").rglob("*.json"))
JCS = sorted((VECTORS / "rfc8785-jcs" / "input").glob("*.json"))


def _ids(paths):
    return [str(p.relative_to(VECTORS)) for p in paths]


def _b64(value):
    return base64.b64decode(value) if value else b""


def test_the_vectors_are_there():
    assert len(INCLUSION) > 20 and len(CONSISTENCY) > 20 and len(JCS) >= 6


@pytest.mark.parametrize("path", INCLUSION, ids=_ids(INCLUSION))
def test_inclusion_vector(path):
    case = json.loads(path.read_text())
    args = (case["leafIdx"], case["treeSize"], _b64(case["leafHash"]),
            [_b64(h) for h in case["proof"] or []], _b64(case["root"]))
    if case.get("wantErr"):
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_ids(CONSISTENCY))
def test_consistency_vector(path):
    case = json.loads(path.read_text())
    args = (case["size1"], case["size2"], [_b64(h) for h in case["proof"] or []],
            _b64(case["root1"]), _b64(case["root2"]))
    if case.get("wantErr"):
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


@pytest.mark.parametrize("path", JCS, ids=_ids(JCS))
def test_jcs_vector(path):
    expected = (VECTORS / "rfc8785-jcs" / "output" / path.name).read_bytes()
    assert rfc8785.dumps(json.loads(path.read_bytes())) == expected.rstrip(b"\n")
