"""PackedBlobStore: the embedded BlobStore. Chunks up to `small_bytes` are rows of a
ChunkPack, larger ones files of a LocalDiskBlobStore; a chunk's size says where it is.

Chunks written before the pack existed are files of any size: a small chunk missing
from the pack is looked for among the files.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator

from domain.ports import ChunkSink, Piece, StoredChunk
from domain.records import Chunk
from infra.blobs.chunk_pack import ChunkPack
from infra.blobs.local_files import HOT_CHUNK_BYTES, HotChunks, LocalDiskBlobStore, checked_digest

# A chunk put this recently has had its idle clock reset as good as now: confirming it
# need not write again. Uploads confirm their chunks milliseconds after putting them.
FRESH_SECONDS = 0.1
_FRESH_KEPT = 4096  # puts remembered (an upload that fails never confirms its chunks)


class _PackSink:
    """Holds a chunk's bytes while they fit the pack; past that, spills them into a
    chunk file and streams the rest there."""

    def __init__(self, store: PackedBlobStore, hashed_by_caller: bool) -> None:
        self._store = store
        self._hash = None if hashed_by_caller else hashlib.sha256()
        self._held = bytearray()
        self._file: ChunkSink | None = None

    def write(self, data: Piece) -> None:
        if self._hash is not None:
            self._hash.update(data)
        if self._file is None:
            if len(self._held) + len(data) <= self._store.small_bytes:
                self._held += data
                return
            # This sink hashes (or its caller does): the file need not hash again.
            self._file = self._store.files.begin_chunk(hashed_by_caller=True)
            self._file.write(bytes(self._held))
            self._held = bytearray()
        self._file.write(data)

    def commit(self, digest: str | None = None) -> Chunk:
        digest = checked_digest(self._hash, digest, self.abort)
        if self._file is not None:
            return self._file.commit(digest)
        data = bytes(self._held)
        self._store.pack.put(digest, data)
        self._store.put_just_now(digest)
        return {"digest": digest, "size": len(data)}

    def abort(self) -> None:
        if self._file is not None:
            self._file.abort()
            self._file = None
        self._held = bytearray()


class PackedBlobStore:
    def __init__(
        self,
        pack: ChunkPack,
        files: LocalDiskBlobStore,
        small_bytes: int,
        hot_bytes: int = HOT_CHUNK_BYTES,
    ) -> None:
        self.pack = pack
        self.files = files
        self.small_bytes = small_bytes
        self._hot = HotChunks(hot_bytes)
        self._fresh: OrderedDict[str, float] = OrderedDict()
        self._fresh_lock = threading.Lock()

    def put_just_now(self, digest: str) -> None:
        with self._fresh_lock:
            self._fresh[digest] = time.monotonic()
            if len(self._fresh) > _FRESH_KEPT:
                self._fresh.popitem(last=False)

    def _was_fresh(self, digest: str) -> bool:
        with self._fresh_lock:
            at = self._fresh.pop(digest, None)
        return at is not None and time.monotonic() - at < FRESH_SECONDS

    def begin_chunk(self, hashed_by_caller: bool = False) -> ChunkSink:
        return _PackSink(self, hashed_by_caller)

    def read_chunk(self, chunk: Chunk, start: int = 0, end: int | None = None,
                   authenticated: bool = False) -> Iterator[Piece]:
        if chunk["size"] <= self.small_bytes:
            data = self._hot.verified(chunk, self.pack.read)  # None: not in the pack
            if data is not None:
                yield data[start:chunk["size"] if end is None else end]
                return
        yield from self.files.read_chunk(chunk, start, end, authenticated)

    def confirm(self, chunks: Iterable[Chunk]) -> None:
        for chunk in chunks:
            if chunk["size"] <= self.small_bytes and self._touched(chunk["digest"]):
                continue
            self.files.confirm([chunk])

    def _touched(self, digest: str) -> bool:
        """Whether the pack holds the chunk, its idle clock reset now or by a put just now."""
        return self._was_fresh(digest) or self.pack.touch(digest)

    def holds(self, digest: str) -> bool:
        return self.pack.holds(digest) or self.files.holds(digest)

    def delete_if_idle(self, digest: str, idle_seconds: float) -> int | None:
        freed = [
            self.pack.delete_if_idle(digest, idle_seconds),
            self.files.delete_if_idle(digest, idle_seconds),
        ]
        if freed == [None, None]:
            return None
        self._hot.drop(digest)
        with self._fresh_lock:
            self._fresh.pop(digest, None)  # its next confirm must find it gone
        return sum(f for f in freed if f is not None)

    def inventory(self) -> Iterator[StoredChunk]:
        yield from self.pack.inventory()
        yield from self.files.inventory()

    def close(self) -> None:
        self.pack.close()
