"""Issue 5: export an engagement of 2,000 records and about 1 GB of evidence as a bundle, against what a user
would otherwise do (bagit-python `make_bag` with its default checksums on a copy of the files, then `zipfile`)
and against the floor (read every file once and SHA-256 it, writing nothing); then `docket verify` on the
bundle against `sha256sum -c` on the extracted manifest, and the export's peak memory.

BENCH_BUNDLE_SCALE=0.1 runs a tenth of the evidence (a quick check); the files are removed at the end."""

import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._util import scratch

SCALE = float(os.environ.get("BENCH_BUNDLE_SCALE", 1))
RECORDS = 2000
PDFS = max(1, round(45 * SCALE))  # 20 MB reports
EMAILS = max(1, round(1900 * SCALE))  # 50 KB emails
PDF_SIZE, EMAIL_SIZE = 20 << 20, 50 << 10
CHUNK = 1 << 20


def _content(pool: bytes, n: int, size: int) -> bytes:
    """Random-ish bytes, different for every file: a slice of a random pool behind a unique header."""
    header = f"%PDF-1.7 bench file {n}\n".encode()
    start = (n * 7919) % (len(pool) - size)
    return header + pool[start:start + size - len(header)]


def _build() -> tuple[int, str, list[Path]]:
    from service.config import get_settings
    from service.db import get_engine, new_session
    from service.evidence.service import register_evidence
    from service.evidence.store import EvidenceStore
    from service.ledger import service as ledger
    from service.migrate import upgrade
    from service.records.models import RecordCreate
    from service.records.service import append_record
    from tests import factories

    with get_engine().begin() as conn:
        upgrade(conn)
    store = EvidenceStore(get_settings().evidence_dir)
    pool = random.Random(5).randbytes(PDF_SIZE + (8 << 20))
    files: list[Path] = []
    with new_session(write=True) as session:
        member = factories.make_member(session)
        engagement = factories.make_engagement(session, member=member, title="Bench engagement")

        def put(n: int, size: int, filename: str, media_type: str) -> str:
            data = _content(pool, n, size)
            sha = hashlib.sha256(data).hexdigest()
            # Straight into the store: the upload path (fsync per file) is not what is measured here.
            path = store.path(sha)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files.append(path)
            register_evidence(session, workspace=member.workspace, sha256=sha, size=size, media_type=media_type,
                              filename=filename)
            return sha

        start = datetime(2025, 6, 2, 9, tzinfo=UTC)
        pdf_every = (RECORDS - 1) // PDFS
        for n in range(1, RECORDS):
            when = start + timedelta(hours=3 * n)
            if n % pdf_every == 0 and n // pdf_every <= PDFS:
                kind, body = "report_sent", {"summary": f"Weekly report {n // pdf_every}"}
                attachments = [put(n, PDF_SIZE, f"Weekly report {n // pdf_every}.pdf", "application/pdf")]
            elif n <= EMAILS + PDFS:
                kind, body = "email", {"summary": f"Email {n} to the buyer", "subject": f"Re: proposal {n}"}
                attachments = [put(n, EMAIL_SIZE, f"Re proposal {n}.eml", "message/rfc822")]
            else:
                kind, body = "call", {"summary": f"Call {n}", "duration_minutes": 15}
                attachments = []
            append_record(session, workspace=member.workspace, engagement=engagement, actor=member.actor,
                          data=RecordCreate(kind=kind, occurred_at=when, body=body, attachments=attachments))
        session.commit()
        vkey = ledger.verifier_key(member.workspace)
        engagement_id = engagement.id
    get_engine().dispose()
    return engagement_id, vkey, files


def _export_child(engagement_id: int, out: str) -> None:
    """Runs in its own process so that its peak RSS is the export's alone."""
    from service.accounts.models import Workspace
    from service.bundles.service import Subset, prepare_bundle
    from service.bundles.writer import write_bundle
    from service.config import get_settings
    from service.db import new_session
    from service.engagements.models import Engagement
    from service.evidence.store import EvidenceStore

    started = time.perf_counter()
    with new_session(write=True) as session:
        engagement = session.get(Engagement, engagement_id)
        workspace = session.get(Workspace, engagement.workspace_id)
        plan = prepare_bundle(session, workspace=workspace, engagement=engagement, actor="user:1",
                              subset=Subset(), recipient="bench", store=EvidenceStore(get_settings().evidence_dir))
        session.commit()
    prepared = time.perf_counter()
    size = write_bundle(plan, Path(out))
    done = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    plain = _timed(lambda: _plain_write(Path(out).with_name("plain"), size))
    # VmHWM: this process's own peak resident set (ru_maxrss of a child can include its parent's pages).
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    print(json.dumps({"prepare": prepared - started, "write": done - prepared, "total": done - started,
                      "bytes": size, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": peak_kb / 1024,
                      "plain_write": plain}))


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _floor(files: list[Path]) -> None:
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    for path in files:
        digest = hashlib.sha256()
        with path.open("rb", buffering=0) as source:
            while n := source.readinto(buffer):
                digest.update(view[:n])


def _bagit_then_zip(files: list[Path], work: Path) -> tuple[float, float]:
    import bagit

    bag = work / "bag"
    bag.mkdir()
    for n, path in enumerate(files):
        shutil.copyfile(path, bag / f"file-{n}.bin")  # untimed: make_bag moves files into data/
    made = _timed(lambda: bagit.make_bag(str(bag)))

    def zip_it() -> None:
        # Stored, not deflated: the most favourable setting for bagit (deflating 1 GB takes far longer).
        with zipfile.ZipFile(work / "bagit.zip", "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for path in sorted(bag.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(work))

    zipped = _timed(zip_it)
    shutil.rmtree(bag)
    (work / "bagit.zip").unlink()
    return made, zipped


def _export(engagement_id: int, out: Path) -> dict:
    out.unlink(missing_ok=True)
    child = subprocess.run([sys.executable, "-m", "bench.bundle", "--export-child", str(engagement_id), str(out)],
                           capture_output=True, text=True, check=True, env=os.environ.copy())
    return json.loads(child.stdout.strip().splitlines()[-1])


def _plain_write(path: Path, size: int) -> None:
    """Writes `size` bytes to a new file and removes it: what the output alone costs, in the state the export
    left the page cache in. In a VM that hands freed memory back to its host (free page reporting), a second
    after a file is deleted its pages are gone, and every new page-cache page is again a first touch of guest
    memory, several times slower than a warm one: no warm-up ahead of the contenders survives until they run."""
    block = os.urandom(CHUNK)
    with path.open("wb") as out:
        for _ in range(size // CHUNK):
            out.write(block)
        out.write(block[:size % CHUNK])
    path.unlink()


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--export-child":
        _export_child(int(sys.argv[2]), sys.argv[3])
        return
    root = scratch("bundle")
    try:
        _run(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(root: Path) -> None:
    started = time.perf_counter()
    engagement_id, vkey, files = _build()
    total = sum(p.stat().st_size for p in files)
    print(f"   built {RECORDS:,} records, {len(files):,} files, {total / 1e9:.2f} GB in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    _floor(files)  # every contender below reads from a warm page cache

    # Best of two runs each, in one run of the benchmark, on a machine shared with other work; the floor and
    # the export back to back, so that both meet the same load.
    out = root / "bundle.zip"
    floors, runs = [], []
    for _ in range(2):
        floors.append(_timed(lambda: _floor(files)))
        runs.append(_export(engagement_id, out))
    floor = min(floors)
    ours = min(runs, key=lambda r: r["total"])
    plain = min(r["plain_write"] for r in runs)
    peak_mb = max(r["peak_mb"] for r in runs)
    made, zipped = min((_bagit_then_zip(files, root) for _ in range(2)), key=sum)
    bagit_total = made + zipped

    print(f"   floor (read + SHA-256 every file)  {floor:6.2f} s  ({total / floor / 1e6:,.0f} MB/s)")
    print(f"   docket export to a file             {ours['total']:6.2f} s  (prepare {ours['prepare']:.2f} s, "
          f"write {ours['write']:.2f} s, {ours['bytes'] / 1e9:.2f} GB, CPU {ours['cpu']:.2f} s incl. start-up)")
    print(f"   plain write of as many bytes        {plain:6.2f} s  (to a new file, right after the export)")
    print(f"   bagit make_bag + zipfile            {bagit_total:6.2f} s  (make_bag {made:.2f} s, zip {zipped:.2f} s)")
    print(f"   export vs floor: {ours['total'] / floor:.2f}x (target <= 1.5x); "
          f"vs floor + plain write: {ours['total'] / (floor + plain):.2f}x; "
          f"bagit vs export: {bagit_total / ours['total']:.2f}x (target >= 2x)")
    print(f"   export peak RSS {peak_mb:.0f} MB, Python and its libraries included (target < 200 MB)")

    verify = subprocess.run([sys.executable, "-m", "service.cli", "verify", str(out), "--key", vkey],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    ours_verify = min(_timed(lambda: subprocess.run([sys.executable, "-m", "service.cli", "verify", str(out),
                                                     "--key", vkey], capture_output=True, check=True))
                      for _ in range(2))
    extracted = root / "extracted"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(extracted)
    bag = next(extracted.iterdir())
    sha256sum = min(_timed(lambda: subprocess.run(["sha256sum", "-c", "--quiet", "manifest-sha256.txt"], cwd=bag,
                                                  check=True)) for _ in range(2))
    print(f"   docket verify (whole command)       {ours_verify:6.2f} s")
    print(f"   sha256sum -c manifest-sha256.txt    {sha256sum:6.2f} s")
    print(f"   verify vs sha256sum: {ours_verify / sha256sum:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
