"""Writes a bundle plan as a zip holding one BagIt 1.0 bag (DESIGN §5, RFC 8493), in one streaming pass.

Each file goes into the zip as it is hashed, so nothing is staged on disk or held whole in memory; the
manifests and tag files, which need every hash, come last. The same generator feeds a file (the CLI) and an
HTTP response (zipfile writes to a non-seekable sink with data descriptors)."""

import base64
import hashlib
import os
import queue
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from service.bundles.chronology import derive_documents
from service.bundles.derive import bag_info, build_view, parse_inputs
from service.bundles.seal import SEAL_NAME, seal_text
from service.bundles.service import BundlePlan, Exhibit
from service.errors import Conflict

CHUNK = 1 << 20
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


class _Forward:
    """A file seen through a write-only, non-seekable face: zipfile then writes each entry once, with a data
    descriptor, instead of seeking back to patch its header; a file and a download get the same bytes."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._offset = 0

    def write(self, data) -> int:
        self._offset += self._file.write(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        self._file.flush()


class _Pipe:
    """A write-only, non-seekable sink whose bytes the caller takes as they come."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.pending = 0
        self._offset = 0

    def write(self, data) -> int:
        data = bytes(data)
        self._chunks.append(data)
        self.pending += len(data)
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        # zipfile needs offsets for its headers, never a seek (it falls back to data descriptors).
        return self._offset

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        self.pending = 0
        return data


def _bag_info(plan: BundlePlan, payload_bytes: int, payload_files: int) -> bytes:
    return bag_info(parse_inputs(plan.inputs), origin=plan.origin, size=plan.size, root=plan.root,
                    disclosed=len(plan.entries), payload_bytes=payload_bytes, payload_files=payload_files)


def _consistency_text(plan: BundlePlan, earlier) -> bytes:
    """Proof lines first, then the earlier checkpoint exactly as it was signed and handed out."""
    lines = ["docket consistency proof v1", f"from {earlier.size}", f"to {plan.size}"]
    lines += [base64.b64encode(h).decode() for h in earlier.proof]
    return ("\n".join(lines) + "\n\n" + earlier.note).encode()


def derived(plan: BundlePlan) -> dict[str, bytes]:
    """The derived documents, rendered exactly as `docket verify` renders them again: from inputs.json as written
    and the disclosed records' leaf and body bytes, nothing else."""
    view = build_view(plan.inputs, parse_inputs(plan.inputs), checkpoint_note=plan.checkpoint_note,
                      origin=plan.origin, size=plan.size, root=plan.root,
                      leaves={e.index: e.leaf for e in plan.entries},
                      bodies={e.index: e.body for e in plan.entries if e.body is not None})
    return derive_documents(view)


def _small_files(plan: BundlePlan) -> Iterator[tuple[str, bytes]]:
    yield "data/inputs.json", plan.inputs
    yield from derived(plan).items()
    yield "data/ledger/checkpoint", plan.checkpoint_note.encode()
    yield "data/ledger/key.vkey", (plan.vkey + "\n").encode()
    yield "data/ledger/leaf-hashes.txt", b"".join(
        plan.leaf_hashes[i:i + 32].hex().encode() + b"\n" for i in range(0, len(plan.leaf_hashes), 32))
    for earlier in plan.consistency:
        yield f"data/ledger/consistency/{earlier.size}.txt", _consistency_text(plan, earlier)
    for entry in sorted(plan.entries, key=lambda e: e.index):
        yield f"data/ledger/entries/{entry.index}.leaf.json", entry.leaf
        if entry.body is not None:
            yield f"data/ledger/entries/{entry.index}.body.json", entry.body


class _Hasher:
    """SHA-256 on a second thread, fed through a short queue so that it trails the copy by a few chunks: hashlib
    and zlib.crc32 both let go of the GIL on large buffers, so hashing here and CRC-32 plus writing on the
    caller's thread run on two cores at once (on two idle vCPUs, large files go through in about the time of
    hashing them alone). Nothing waits for a digest until every file is in: a round trip per file cost more
    than hashing the small ones."""

    DEPTH = 4  # chunks in flight: bounds the memory at a few MB

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue(self.DEPTH)
        self._thread = threading.Thread(target=self._run, name="bundle-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            digest, chunk = item
            digest.update(chunk)

    def feeder(self, digest) -> Callable[[bytes], None]:
        """Hands the chunks of one file to `digest` on this thread; a chunk must not change afterwards (read()
        gives a new one each time)."""
        return lambda chunk: self._queue.put((digest, chunk))

    def close(self) -> None:
        """Returns once every chunk handed over is hashed."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def _copy(source_path: Path, target, hash_chunk: Callable[[bytes], None]) -> Iterator[int]:
    """Copies one file into an open zip entry, each chunk hashed on its way. Yields each chunk's size."""
    with source_path.open("rb", buffering=0) as source:
        while chunk := source.read(CHUNK):
            hash_chunk(chunk)
            target.write(chunk)
            yield len(chunk)


def _pieces(plan: BundlePlan, out: BinaryIO) -> Iterator[None]:
    """Writes the zip to `out`, yielding whenever bytes were written so that a caller can pass them on."""
    hasher = _Hasher()
    try:
        yield from _write_zip(plan, out, hasher)
    finally:
        hasher.close()


def _damaged(exhibit: Exhibit) -> Conflict:
    # The store is content-addressed and never modified: a mismatch is damage, not a new version.
    return Conflict(f"evidence file {exhibit.sha256} no longer matches its hash; run `docket verify --db`")


def _write_zip(plan: BundlePlan, out: BinaryIO, hasher: _Hasher) -> Iterator[None]:
    root = plan.name + "/"
    stamp = plan.exported_at.timetuple()[:6]
    manifest: list[tuple[str, str]] = []
    payload_bytes = 0

    def info(name: str, compress: bool) -> zipfile.ZipInfo:
        entry = zipfile.ZipInfo(root + name, date_time=stamp)
        entry.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        entry.external_attr = 0o644 << 16
        return entry

    with zipfile.ZipFile(out, "w", allowZip64=True) as archive:
        for name, data in _small_files(plan):
            # Deflating a few hundred bytes of JSON saves little and costs a compressor per entry.
            archive.writestr(info(name, compress=len(data) > 4096), data)
            manifest.append((hashlib.sha256(data).hexdigest(), name))
            payload_bytes += len(data)
            yield

        digests = []
        for exhibit in plan.exhibits:
            arcname = exhibit.arcname
            # Exhibits are mostly PDFs, images and recordings, already compressed: storing them keeps the
            # export as fast as reading them.
            entry = info(arcname, compress=False)
            entry.file_size = exhibit.size  # lets zipfile choose ZIP64 up front for a large file
            digest = hashlib.sha256()
            # A file of one chunk leaves nothing to overlap, and handing it over would pass the GIL back and
            # forth for less work than hashing it here.
            hash_chunk = digest.update if exhibit.size <= CHUNK else hasher.feeder(digest)
            size = 0
            with archive.open(entry, "w") as target:
                for n in _copy(exhibit.source, target, hash_chunk):
                    size += n
                    yield
            if size != exhibit.size:
                raise _damaged(exhibit)
            digests.append((exhibit, digest))
            manifest.append((exhibit.sha256, arcname))
            payload_bytes += size

        # Before the manifests: a damaged file must stop the export before the bag is complete.
        hasher.close()
        for exhibit, digest in digests:
            if digest.hexdigest() != exhibit.sha256:
                raise _damaged(exhibit)

        manifest_txt = "".join(f"{sha}  {name}\n" for sha, name in manifest).encode()
        seal = plan.seal(seal_text(plan.origin, plan.size, hashlib.sha256(manifest_txt).hexdigest()))
        tags = [
            ("bagit.txt", BAGIT_TXT),
            ("bag-info.txt", _bag_info(plan, payload_bytes, len(manifest))),
            ("manifest-sha256.txt", manifest_txt),
            (SEAL_NAME, seal.encode()),
        ]
        for name, data in tags:
            archive.writestr(info(name, compress=True), data)
        tagmanifest = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in tags).encode()
        archive.writestr(info("tagmanifest-sha256.txt", compress=True), tagmanifest)
    yield


def stream_bundle(plan: BundlePlan) -> Iterator[bytes]:
    """The zip as a stream of chunks of about CHUNK bytes: memory stays flat whatever the evidence size."""
    pipe = _Pipe()
    for _ in _pieces(plan, pipe):
        if pipe.pending >= CHUNK:
            yield pipe.take()
    if pipe.pending:
        yield pipe.take()


def write_bundle(plan: BundlePlan, path: Path) -> int:
    """Writes the bundle to `path` through a temporary name, so that a failed export leaves no half bundle.
    Returns its size in bytes."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.part")
    try:
        with partial.open("wb") as out:
            for _ in _pieces(plan, _Forward(out)):
                pass
            size = out.tell()
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return size


def bundle_filename(plan: BundlePlan) -> str:
    return f"{plan.name}.zip"

