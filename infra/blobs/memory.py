"""A BlobStore in memory: the same contract as the disk and node stores (tests/contracts),
for domain and worker tests and for anything that wants chunks without a disk."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from domain.errors import ChunkNotStored, ChunkUnavailable
from domain.ports import Piece, StoredChunk
from domain.records import Chunk
from infra.blobs.local_files import BufferedSink


class InMemoryBlobStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._chunks: dict[str, tuple[bytes, float]] = {}  # digest -> bytes, last touched
        self._lock = threading.Lock()

    def begin_chunk(self, hashed_by_caller: bool = False) -> BufferedSink:
        return BufferedSink(self._keep, hashed_by_caller)

    def _keep(self, digest: str, data: bytes) -> None:
        with self._lock:
            self._chunks[digest] = (data, self._clock())

    def read_chunk(self, chunk: Chunk, start: int = 0, end: int | None = None,
                   authenticated: bool = False) -> Iterator[Piece]:
        with self._lock:
            found = self._chunks.get(chunk["digest"])
        if found is None:
            raise ChunkNotStored("The chunk is not stored", **chunk)
        data = found[0]
        if len(data) != chunk["size"] or hashlib.sha256(data).hexdigest() != chunk["digest"]:
            raise ChunkUnavailable("The chunk's bytes do not match its name", **chunk)
        yield data[start : chunk["size"] if end is None else end]

    def confirm(self, chunks: Iterable[Chunk]) -> None:
        with self._lock:
            for chunk in chunks:
                found = self._chunks.get(chunk["digest"])
                if found is None:
                    raise ChunkUnavailable(
                        "A chunk vanished before the object was recorded; retry the upload",
                        **chunk,
                    )
                self._chunks[chunk["digest"]] = (found[0], self._clock())

    def holds(self, digest: str) -> bool:
        with self._lock:
            return digest in self._chunks

    def delete_if_idle(self, digest: str, idle_seconds: float) -> int | None:
        with self._lock:
            found = self._chunks.get(digest)
            if found is None or self._clock() - found[1] < idle_seconds:
                return None
            del self._chunks[digest]
            return len(found[0])

    def inventory(self) -> Iterator[StoredChunk]:
        now = self._clock()
        with self._lock:
            held = sorted(self._chunks.items())
        for digest, (data, touched) in held:
            yield StoredChunk(digest, len(data), now - touched)

    def corrupt(self, digest: str) -> None:
        """Flip the chunk's first byte, as rot on a disk would (for tests)."""
        with self._lock:
            data, touched = self._chunks[digest]
            self._chunks[digest] = (bytes([data[0] ^ 0xFF]) + data[1:], touched)
