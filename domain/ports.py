"""Ports the domain needs from the outside, implemented in infra/ and projections/."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.records import Chunk, WrappedKey

# A chunk's bytes as read: large chunks come as views of a file mapped from the page
# cache, which spares a copy; bytes-like either way.
Piece = bytes | memoryview


class CommitMarks(Protocol):
    """Where several processes write one store and each caches aggregates for its
    queries (`serve --workers N`): a committer marks the aggregates it changed, after
    the commit and before answering; a cache keeps an aggregate only while its mark is
    the one it saw before loading it."""

    def mark(self, aggregate_ids: Iterable[UUID], position: int) -> None: ...

    def stamp(self, aggregate_id: UUID) -> tuple[int, int]: ...


class BucketGate(Protocol):
    """Orders object writes against a bucket's deletion.

    Object commits hold the bucket's gate shared; deleting the bucket holds it
    exclusively while it checks emptiness and records the deletion, so no write
    can land in a bucket that is being deleted.
    """

    def shared(self, bucket: str) -> AbstractContextManager[None]: ...

    def exclusive(self, bucket: str) -> AbstractContextManager[None]: ...


class BucketContents(Protocol):
    """Answers whether a bucket holds any version or delete marker, and which multipart
    uploads are open in it."""

    def is_empty(self, bucket: str, position: int) -> bool:
        """As of store position `position` (the implementation waits until it has it)."""
        ...

    def open_uploads(self, bucket: str, position: int) -> list[tuple[str, str]]:
        """(key, upload id) of each upload in progress, as of `position`."""
        ...


class ChunkSink(Protocol):
    """One chunk being written: bytes in, then commit (durable) or abort (nothing left)."""

    def write(self, data: Piece) -> None: ...

    def commit(self, digest: str | None = None) -> Chunk:
        """Durable under its SHA-256. A sink that hashes checks `digest` when given; one
        begun with `hashed_by_caller` takes `digest` (required) as the chunk's hash."""
        ...

    def abort(self) -> None: ...


@dataclass(frozen=True)
class StoredChunk:
    digest: str
    size: int
    idle_seconds: float  # since it was last written or confirmed


class ChunkSealer(Protocol):
    """Encrypts a chunk's bytes frame by frame (server-side encryption)."""

    frame: int  # plaintext bytes a frame holds

    def seal(self, plaintext: bytes, index: int) -> bytes:
        """The frame sealed; `index`: its place in its chunk (bound into the seal)."""
        ...


class KeyService(Protocol):
    """Named key-encryption keys that wrap data keys (infra/kms.py; an external KMS
    would be another adapter)."""

    def ensure(self, name: str) -> object: ...
    def info(self, name: str) -> object: ...
    def current_version(self, name: str) -> int: ...
    def wrap(self, name: str, data_key: bytes) -> WrappedKey: ...
    def unwrap(self, wrapped: WrappedKey) -> bytes: ...


class BlobStore(Protocol):
    """Content-addressed chunk storage: local drives embedded, blob nodes in a cluster."""

    def begin_chunk(self, hashed_by_caller: bool = False) -> ChunkSink:
        """`hashed_by_caller`: the caller hashes the bytes as it writes them and names
        the digest at commit, so the sink need not hash them a second time."""
        ...

    def read_chunk(self, chunk: Chunk, start: int = 0, end: int | None = None,
                   authenticated: bool = False) -> Iterator[Piece]:
        """Bytes [start, end) of a chunk, only after its whole content matched its hash;
        `authenticated`: the caller checks every byte itself (sealed frames, each with
        its tag), so the whole-chunk hash may be skipped (the scrubber still checks it)."""
        ...

    def confirm(self, chunks: Iterable[Chunk]) -> None:
        """Assert every chunk is present and reset its idle time (protects it from GC)."""
        ...

    def holds(self, digest: str) -> bool:
        """Whether the chunk is stored (without touching its idle clock)."""
        ...

    def delete_if_idle(self, digest: str, idle_seconds: float) -> int | None:
        """Delete a chunk idle at least that long; the bytes freed, or None if kept."""
        ...

    def inventory(self) -> Iterator[StoredChunk]: ...


class ReplicaNodes(Protocol):
    """What the replication workers need of the blob nodes (infra.blobs.nodes)."""

    replicas: int

    def topology(self) -> tuple[tuple[str, str, bool], ...]:
        """(node id, state, up) of every member: placement changes when this does."""
        ...

    def desired(self, digest: str) -> list[str]:
        """The nodes that should hold the chunk now: its placement over writable nodes."""
        ...

    def readable(self) -> set[str]:
        """Nodes that are up (active or draining): where a replica counts."""
        ...

    def present(self, digest: str, node_id: str) -> str:
        """"ok" (the node has it: it checked the hash when it took it), "missing" or
        "unreachable"; cheap, without reading the bytes."""
        ...

    def check(self, digest: str, node_id: str) -> str:
        """"ok", "missing", "corrupt" (verified by reading it) or "unreachable"."""
        ...

    def copy(self, digest: str, to_node: str) -> bool:
        """Copy a verified replica from any holder to `to_node`; False if none had one."""
        ...

    def drop(self, digest: str, node_id: str) -> None:
        """Delete the node's replica (misplaced or corrupt)."""
        ...


@dataclass(frozen=True)
class Applied:
    """What a site did with one replicated change: "applied", "unchanged" (it had it),
    "missing" (a chunk it names is not there: send it and try again) or "refused" (it
    never will: `error` and `message` say why)."""

    status: str
    error: str = ""
    message: str = ""


class SiteLink(Protocol):
    """Another strata site, as geo-replication's sender reaches it. Every method raises
    domain.errors.SiteUnreachable when the site does not answer (or answers 5xx), so the
    sender waits and tries again; nothing else is an outage."""

    def site_name(self) -> str:
        """The name the site calls itself (its STRATA_SITE_NAME)."""
        ...

    def missing_chunks(self, digests: list[str]) -> list[str]:
        """Which of `digests` the site lacks (those it has stay while a change is on
        its way)."""
        ...

    def send_chunk(self, digest: str, data: bytes) -> None:
        ...

    def send_chunks(self, chunks: list[tuple[str, bytes]]) -> None:
        """Small chunks in one request (digest, bytes)."""
        ...

    def apply(self, changes: list[dict[str, object]]) -> list[Applied]:
        """Apply changes in order, each `{"bucket": ..., **ReplicatedChange}`; one result
        each. A "missing" result ends the batch: the rest come back "missing" too, so
        that a bucket's changes never land out of order."""
        ...

    def close(self) -> None: ...
