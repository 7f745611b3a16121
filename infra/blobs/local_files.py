"""LocalDiskBlobStore: chunks as files named by their SHA-256, under one directory."""

from __future__ import annotations

import errno
import functools
import hashlib
import mmap
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from domain.errors import ChunkNotStored, ChunkUnavailable, StrataError
from domain.ports import Piece, StoredChunk
from domain.records import Chunk
from domain.runtime.read_cache import NotInMemory, must_not_block

READ_SIZE = 1024 * 1024
WHOLE_READ_BYTES = 256 * 1024  # chunks up to this size are read and verified in one go
HOT_CHUNK_BYTES = 32 * 1024 * 1024  # memory for recently read small chunks
_STRIPES = 64


class DigestMismatch(StrataError):
    """A chunk's bytes do not hash to the name it was sent under."""


def _fsync_dir(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class HotChunks:
    """Recently read small chunks, verified when read from disk. A chunk's name is its
    hash, so a kept copy can never be stale; the scrubber, not this, finds rot on disk."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._used = 0
        self._chunks: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> bytes | None:
        with self._lock:
            data = self._chunks.get(digest)
            if data is not None:
                self._chunks.move_to_end(digest)
            return data

    def put(self, digest: str, data: bytes) -> None:
        with self._lock:
            if digest in self._chunks:
                return
            self._chunks[digest] = data
            self._used += len(data)
            while self._used > self._budget:
                _, dropped = self._chunks.popitem(last=False)
                self._used -= len(dropped)

    def verified(self, chunk: Chunk, read: Callable[[str], bytes | None]) -> bytes | None:
        """The chunk's bytes: the kept copy, or what `read(digest)` finds, checked
        against the chunk's size and hash and kept while hot; None if `read` finds none."""
        digest = chunk["digest"]
        kept = self.get(digest)
        if kept is not None:
            return kept
        if must_not_block():
            raise NotInMemory
        data = read(digest)
        if data is None:
            return None
        if len(data) != chunk["size"] or hashlib.sha256(data).hexdigest() != digest:
            raise ChunkUnavailable("A chunk of this object is corrupt", **chunk)
        self.put(digest, data)
        return data

    def drop(self, digest: str) -> None:
        with self._lock:
            data = self._chunks.pop(digest, None)
            if data is not None:
                self._used -= len(data)


def checked_digest(
    running: Any, claimed: str | None, abort: Callable[[], None]
) -> str:
    """The chunk's digest: the running hash's, which a claim must match; or, where the
    caller hashed the bytes itself (no running hash), the claimed one."""
    if running is None:
        if claimed is None:
            abort()
            raise ValueError("a chunk hashed by its caller needs the digest at commit")
        return claimed
    digest: str = running.hexdigest()
    if claimed is not None and digest != claimed:
        abort()
        raise DigestMismatch(f"The bytes hash to {digest}, not {claimed}",
                             expected=claimed, actual=digest)
    return digest


class BufferedSink:
    """A chunk gathered whole in memory, hashed as it comes unless its caller hashes it,
    then handed to `keep(digest, data)` at commit: the blob nodes' sink (a chunk's
    placement depends on its hash, so it cannot stream to its nodes) and the in-memory
    store's."""

    def __init__(self, keep: Callable[[str, bytes], object], hashed_by_caller: bool) -> None:
        self._keep = keep
        self._hash = None if hashed_by_caller else hashlib.sha256()
        self._data = bytearray()

    def write(self, data: Piece) -> None:
        if self._hash is not None:
            self._hash.update(data)
        self._data += data

    def commit(self, digest: str | None = None) -> Chunk:
        digest = checked_digest(self._hash, digest, self.abort)
        data = bytes(self._data)
        self._keep(digest, data)
        self._data = bytearray()
        return {"digest": digest, "size": len(data)}

    def abort(self) -> None:
        self._data = bytearray()


class _LocalChunkSink:
    def __init__(self, store: LocalDiskBlobStore, hashed_by_caller: bool) -> None:
        self._store = store
        self._hash = None if hashed_by_caller else hashlib.sha256()
        self._size = 0
        fd = store.open_unnamed()
        if fd is None:
            self._tmp: Path | None = (
                store.tmp_dir / f"{os.getpid()}-{threading.get_ident()}-{time.time_ns()}"
            )
            self._file = open(self._tmp, "wb")  # noqa: SIM115 - closed in commit/abort
        else:
            self._tmp = None
            self._file = os.fdopen(fd, "wb")

    def write(self, data: Piece) -> None:
        if self._hash is not None:
            self._hash.update(data)
        self._size += len(data)
        self._file.write(data)

    def commit(self, digest: str | None = None) -> Chunk:
        """Durable under its SHA-256; where this sink hashes, a given `digest` must match
        (a blob node checks what a client claims before anything is kept)."""
        digest = checked_digest(self._hash, digest, self.abort)
        self._file.flush()
        os.fsync(self._file.fileno())
        chunk: Chunk = {"digest": digest, "size": self._size}
        if self._tmp is None:
            with self._file:
                self._store.link(self._file.fileno(), digest)
        else:
            self._file.close()
            self._store.install(self._tmp, digest)
        return chunk

    def abort(self) -> None:
        self._file.close()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)


@functools.cache
def _proc_fds() -> int | None:
    """The process's /proc/self/fd, opened once: linking an unnamed file goes through its
    entry there (linkat with AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH)."""
    try:
        return os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None


class LocalDiskBlobStore:
    """BlobStore on a local directory: an unnamed file (O_TMPFILE), fsync, a link to its
    name, fsync of the directory. Where the filesystem has no unnamed files, a named temp
    file and a rename instead.

    A named temp file changes two directories (made in tmp/, renamed out of it); an
    unnamed one only its final directory, which saves a small PUT kernel time, and a
    crash leaves nothing of it behind.
    """

    def __init__(
        self, root: Path, unnamed_files: bool = True, hot_bytes: int = HOT_CHUNK_BYTES
    ) -> None:
        """`hot_bytes` 0 keeps no chunk in memory: every read verifies the disk."""
        self.root = root
        self._root_text = str(root)
        self._hot = HotChunks(hot_bytes)
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        for i in range(256):
            (root / f"{i:02x}").mkdir(exist_ok=True)
        _fsync_dir(root)
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]
        self._unnamed_files = unnamed_files and _proc_fds() is not None
        self._clear_stale_temp_files()

    def _clear_stale_temp_files(self) -> None:
        # Temp files of a crashed process hold no acknowledged data.
        mine = f"{os.getpid()}-"
        for tmp in self.tmp_dir.iterdir():
            if not tmp.name.startswith(mine):
                tmp.unlink(missing_ok=True)

    def _location(self, digest: str) -> str:
        # A str, not a Path: building Paths costs more than reading a small chunk.
        return f"{self._root_text}/{digest[:2]}/{digest}"

    def path(self, digest: str) -> Path:
        return Path(self._location(digest))

    def _stripe(self, digest: str) -> threading.Lock:
        return self._stripes[int(digest[:2], 16) % _STRIPES]

    def begin_chunk(self, hashed_by_caller: bool = False) -> _LocalChunkSink:
        return _LocalChunkSink(self, hashed_by_caller)

    def open_unnamed(self) -> int | None:
        """A writable file with no name yet on the store's filesystem, or None where
        the kernel or filesystem has none (then the store uses named temp files)."""
        if not self._unnamed_files:
            return None
        try:
            return os.open(self.tmp_dir, os.O_WRONLY | os.O_TMPFILE | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise
            self._unnamed_files = False
            return None

    def link(self, fd: int, digest: str) -> None:
        """Give a fsynced unnamed file its name; an identical chunk already there wins."""
        final = self._location(digest)
        with self._stripe(digest):
            try:
                os.link(str(fd), final, src_dir_fd=_proc_fds(), follow_symlinks=True)
            except FileExistsError:
                os.utime(final)
        # Also when the chunk was there: its writer may not have made its name durable yet.
        _fsync_dir(f"{self._root_text}/{digest[:2]}")

    def install(self, tmp: Path, digest: str) -> None:
        """Move a fsynced temp file into place; an identical chunk already there wins."""
        final = self.path(digest)
        with self._stripe(digest):
            if final.exists():
                os.utime(final)
                tmp.unlink()
            else:
                os.rename(tmp, final)
        # Also when the chunk was there: its writer may not have made its name durable yet.
        _fsync_dir(final.parent)

    def read_chunk(self, chunk: Chunk, start: int = 0, end: int | None = None,
                   authenticated: bool = False) -> Iterator[Piece]:
        end = chunk["size"] if end is None else end
        if chunk["size"] <= WHOLE_READ_BYTES:
            yield self._read_whole(chunk)[start:end]
            return
        if must_not_block():
            raise NotInMemory
        view = self._mapped(chunk) if authenticated else self._mapped_and_verified(chunk)
        for at in range(start, end, READ_SIZE):
            yield view[at : min(at + READ_SIZE, end)]

    def _mapped_and_verified(self, chunk: Chunk) -> memoryview:
        view = self._mapped(chunk)
        if hashlib.sha256(view).hexdigest() != chunk["digest"]:
            raise ChunkUnavailable("A chunk of this object is corrupt", **chunk)
        return view

    def _mapped(self, chunk: Chunk) -> memoryview:
        """A large chunk mapped from the page cache and hashed there: no copy of its bytes
        into the process to verify them, and none to send them (the socket copies from
        the mapping). The pieces handed out keep the mapping alive until they are sent.

        Chunk files are never written in place (a new file takes the name), so the
        bytes cannot change under a reader; a file of the wrong length is refused before
        it is mapped, because reading past the end of a mapping kills the process."""
        try:
            f = open(self.path(chunk["digest"]), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise ChunkNotStored("A chunk of this object is missing", **chunk) from None
        with f:
            if os.fstat(f.fileno()).st_size != chunk["size"]:
                raise ChunkUnavailable("A chunk of this object is truncated", **chunk)
            return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))

    def _read_whole(self, chunk: Chunk) -> bytes:
        """A small chunk in one read, verified in memory (and kept there while hot)."""
        data = self._hot.verified(chunk, lambda digest: self._read_file(digest, chunk["size"]))
        if data is None:
            raise ChunkNotStored("A chunk of this object is missing", **chunk)
        return data

    def _read_file(self, digest: str, size: int) -> bytes | None:
        try:
            fd = os.open(self._location(digest), os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            return os.read(fd, size + 1)  # one byte more shows a file that is too long
        finally:
            os.close(fd)

    def confirm(self, chunks: Iterable[Chunk]) -> None:
        for chunk in chunks:
            with self._stripe(chunk["digest"]):
                try:
                    os.utime(self.path(chunk["digest"]))
                except FileNotFoundError:
                    raise ChunkUnavailable(
                        "A chunk vanished before the object was recorded; retry the upload",
                        **chunk,
                    ) from None

    def holds(self, digest: str) -> bool:
        return self.path(digest).exists()

    def delete_if_idle(self, digest: str, idle_seconds: float) -> int | None:
        path = self.path(digest)
        with self._stripe(digest):
            try:
                st = path.stat()
            except FileNotFoundError:
                return None
            if time.time() - st.st_mtime < idle_seconds:
                return None
            path.unlink()
            self._hot.drop(digest)
            return st.st_size

    def inventory_after(self, after: str, limit: int) -> list[StoredChunk]:
        """Up to `limit` chunks whose digests sort after `after`, in digest order."""
        found: list[StoredChunk] = []
        now = time.time()
        first = int(after[:2], 16) if after else 0
        for i in range(first, 256):
            names = sorted(e for e in os.listdir(self.root / f"{i:02x}") if e > after)
            for name in names:
                try:
                    st = os.stat(self._location(name))
                except FileNotFoundError:
                    continue
                found.append(StoredChunk(name, st.st_size, now - st.st_mtime))
                if len(found) == limit:
                    return found
        return found

    def inventory(self) -> Iterator[StoredChunk]:
        now = time.time()
        for i in range(256):
            with os.scandir(self.root / f"{i:02x}") as entries:
                for entry in entries:
                    try:
                        st = entry.stat()
                    except FileNotFoundError:
                        continue
                    yield StoredChunk(entry.name, st.st_size, now - st.st_mtime)
