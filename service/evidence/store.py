"""Content-addressed file store under the data folder (DESIGN §3.4): temp file, fsync, rename."""

import hashlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from service.config import get_settings
from service.errors import TooLarge


class EvidenceStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def writer(self, limit: int) -> "PendingFile":
        return PendingFile(self, limit)


def evidence_store() -> EvidenceStore:
    """The store the settings name: the one place every reader and writer of evidence files gets it from, so
    that another backend (an object store) plugs in here."""
    return _store_at(get_settings().evidence_dir)


@lru_cache
def _store_at(root: Path) -> EvidenceStore:
    # Keyed by the folder rather than cached once: tests and the CLI change the settings within one process.
    return EvidenceStore(root)


class PendingFile:
    """A file being received: hashed while written, stored under its hash only once complete.

    A failure or an oversized upload leaves nothing behind."""

    def __init__(self, store: EvidenceStore, limit: int):
        self.store, self.limit = store, limit
        (store.root / "tmp").mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=store.root / "tmp", prefix="upload-")
        self._file = os.fdopen(fd, "wb")
        self._temp = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge(f"the file is larger than the upload limit of {self.limit // (1024 * 1024)} MB")
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> str:
        """All bytes received: on disk in the temporary file, and their hash."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.sha256 = self._hash.hexdigest()
        return self.sha256

    def commit(self) -> str:
        """Stores the finished file under its hash. Only once the request that brought it is accepted: a refused
        upload must leave nothing in the store."""
        if not self._file.closed:
            self.finish()
        sha256 = self.sha256
        final = self.store.path(sha256)
        if final.exists():
            # Same hash, same bytes: the stored copy stays untouched (files are never modified).
            self._temp.unlink()
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(self._temp, 0o444)
            os.replace(self._temp, final)
            dir_fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return sha256

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._temp.unlink(missing_ok=True)
