"""NodeBlobStore: the BlobStore port over blob nodes, with placement and quorum writes.

A chunk's bytes are gathered (its name is its hash, so its placement is known only at
its end), then sent to its N placement nodes in parallel; the write succeeds once W of
them have it durably and fails cleanly (InsufficientReplicas, nothing referenced) when
fewer can. A read takes the first replica in placement order that answers with the
right bytes; a missing or corrupt replica is skipped and reported for repair.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from domain.errors import ChunkUnavailable, InsufficientReplicas, InvalidArgument
from domain.nodes import ACTIVE
from domain.placement import NodeRef, placement, placement_order
from domain.ports import Piece, StoredChunk
from domain.records import Chunk
from infra.blobs.local_files import BufferedSink
from infra.blobs.node_auth import presigned_query
from infra.blobs.node_client import ChunkCorrupt, ChunkMissing, NodeClient, NodeError

log = logging.getLogger("strata.nodes")
PIECE = 1024 * 1024
# A chunk this process stored on W nodes this recently needs no confirming touch, as
# long as the GC grace period is far longer (an hour by default): the window is at most
# a quarter of the grace the store is given.
FRESH_SECONDS = 60.0
FRESH_CHUNKS = 100_000


@dataclass
class Member:
    client: NodeClient
    state: str  # domain.nodes ACTIVE or DRAINING
    last_seen: float
    down: bool = False
    said: dict[str, object] = field(default_factory=dict)  # its last /health answer


@dataclass
class RepairLog:
    """Replicas found bad on read, for the repair workers; counted for observability."""

    found: dict[tuple[str, str], str] = field(default_factory=dict)  # (digest, node) -> why
    lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, digest: str, node_id: str, why: str) -> None:
        with self.lock:
            self.found[(digest, node_id)] = why
        if why == "missing":  # also a copy still on its way there: the repairer decides
            log.info("chunk %s was not found on %s", digest[:12], node_id)
        else:
            log.warning("replica of %s on %s is bad: %s", digest[:12], node_id, why)

    def take(self) -> list[tuple[str, str]]:
        with self.lock:
            found, self.found = self.found, {}
        return list(found)


class NodeBlobStore:
    def __init__(
        self,
        secret: str,
        replicas: int,
        write_quorum: int,
        down_after_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        threads: int = 32,
        gc_grace_seconds: float = 3600.0,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        if not 1 <= write_quorum <= replicas:
            raise ValueError("the write quorum must be between 1 and the replication factor")
        self._secret = secret
        self._verify = verify  # how https:// nodes' certificates are checked
        self.replicas = replicas
        self.write_quorum = write_quorum
        self._down_after = down_after_seconds
        self._clock = clock
        self._members: dict[str, Member] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="strata-nodes")
        self.repairs = RepairLog()
        self._fresh: OrderedDict[str, float] = OrderedDict()  # digest -> when W nodes took it
        self._fresh_seconds = min(FRESH_SECONDS, gc_grace_seconds / 4)

    # -- membership and health --------------------------------------------------------

    def set_members(self, records: Iterable[tuple[str, str, str, str]]) -> None:
        """(node id, url, zone, state) of every registered node, from the membership view."""
        with self._lock:
            current = dict(self._members)
            fresh: dict[str, Member] = {}
            for node_id, url, zone, state in records:
                old = current.get(node_id)
                if old is not None and old.client.url == url and old.client.ref.zone == zone:
                    old.state = state
                    fresh[node_id] = old
                else:
                    client = NodeClient(NodeRef(node_id, zone), url, self._secret,
                                        verify=self._verify)
                    fresh[node_id] = Member(client, state, self._clock())
            self._members = fresh

    def members(self) -> list[Member]:
        with self._lock:
            return list(self._members.values())

    def probe(self) -> None:
        """Ask every node how it is; one silent for `down_after` seconds is down."""
        members = self.members()
        results = list(self._pool.map(_answers, [m.client for m in members]))
        now = self._clock()
        for member, answered in zip(members, results, strict=True):
            if answered is not None:
                member.said = answered
                if member.down:
                    log.warning("blob node %s is back up", member.client.node_id)
                member.last_seen, member.down = now, False
            elif not member.down and now - member.last_seen >= self._down_after:
                member.down = True
                log.warning("blob node %s is down (silent for %.0f s)",
                            member.client.node_id, now - member.last_seen)

    def _up(self) -> list[Member]:
        return [m for m in self.members() if not m.down]

    def _writable(self) -> list[Member]:
        return [m for m in self._up() if m.state == ACTIVE]

    def read_order(self, digest: str) -> list[NodeClient]:
        """Every member in the chunk's placement order, nodes that are up first."""
        members = {m.client.node_id: m for m in self.members()}
        order = placement_order(digest, [m.client.ref for m in members.values()])
        up = [members[n.node_id] for n in order if not members[n.node_id].down]
        down = [members[n.node_id] for n in order if members[n.node_id].down]
        return [m.client for m in up + down]

    # -- what the replication workers need (domain.ports.ReplicaNodes) --------------

    def _member(self, node_id: str) -> NodeClient | None:
        with self._lock:
            member = self._members.get(node_id)
        return member.client if member is not None else None

    def topology(self) -> tuple[tuple[str, str, bool], ...]:
        return tuple(sorted((m.client.node_id, m.state, not m.down) for m in self.members()))

    def desired(self, digest: str) -> list[str]:
        writable = [m.client.ref for m in self._writable()]
        return [r.node_id for r in placement(digest, writable, self.replicas)]

    def readable(self) -> set[str]:
        return {m.client.node_id for m in self._up()}

    def present(self, digest: str, node_id: str) -> str:
        client = self._member(node_id)
        if client is None:
            return "unreachable"
        try:
            return "ok" if client.holds(digest) else "missing"
        except NodeError:
            return "unreachable"

    def check(self, digest: str, node_id: str) -> str:
        client = self._member(node_id)
        if client is None:
            return "unreachable"
        try:
            size = client.size_of(digest)
            if size is None:
                return "missing"
            data = client.get({"digest": digest, "size": size})
        except ChunkMissing:
            return "missing"
        except ChunkCorrupt:
            return "corrupt"
        except NodeError:
            return "unreachable"
        return "ok" if hashlib.sha256(data).hexdigest() == digest else "corrupt"

    def copy(self, digest: str, to_node: str) -> bool:
        target = self._member(to_node)
        if target is None:
            return False
        for source in self.read_order(digest):
            if source.node_id == to_node:
                continue
            try:
                size = source.size_of(digest)
                if size is None:
                    continue
                data = source.get({"digest": digest, "size": size})
                if hashlib.sha256(data).hexdigest() != digest:
                    self.repairs.report(digest, source.node_id, "corrupt")
                    continue
                target.put(digest, data)
            except ChunkCorrupt:
                self.repairs.report(digest, source.node_id, "corrupt")
                continue
            except NodeError as exc:
                log.info("copying %s from %s to %s failed: %s", digest[:12], source.node_id,
                         to_node, exc)
                continue
            return True
        return False

    def identify(self, url: str) -> dict[str, object]:
        """Blocking: ask the node at `url` who it is (it must know the cluster secret)."""
        probe = NodeClient(NodeRef("?", "?"), url, self._secret, 5.0, self._verify)
        try:
            return probe.health()
        except NodeError as exc:
            raise InvalidArgument(f"No blob node answered at {url}: {exc}", url=url) from None
        finally:
            probe.close()

    def upload_urls(self, digest: str, expires: int, grant: str) -> list[str]:
        """Signed PUT URLs, valid until `expires`, of the chunk's placement nodes; a node
        records that the chunk came under `grant` once it has checked the bytes."""
        urls = []
        for node_id in self.desired(digest):
            client = self._member(node_id)
            if client is not None:
                path = f"/chunks/{digest}"
                query = presigned_query(self._secret, "PUT", path, expires, {"grant": grant})
                urls.append(f"{client.url}{path}?{query}")
        return urls

    def granted_sizes(self, digest: str, grant: str) -> list[int]:
        """The sizes the up nodes report for a chunk they took under `grant`."""
        answers = self._on_up(lambda client: client.granted_size(digest, grant))
        return [size for size in answers if isinstance(size, int)]

    def drop(self, digest: str, node_id: str) -> None:
        client = self._member(node_id)
        if client is not None:
            client.delete_if_idle(digest, 0)

    # -- the BlobStore port -----------------------------------------------------------

    def begin_chunk(self, hashed_by_caller: bool = False) -> BufferedSink:
        return BufferedSink(self.store, hashed_by_caller)

    def store(self, digest: str, data: bytes) -> list[str]:
        """Send a whole chunk to its placement nodes; the ids of W or more that have it.
        Nodes past the first W finish in the background."""
        writable = self._writable()
        if len(writable) < self.write_quorum:
            raise InsufficientReplicas(
                f"{len(writable)} blob nodes can take writes; {self.write_quorum} are needed",
                available=len(writable), needed=self.write_quorum,
            )
        order = [r.node_id for r in placement_order(digest, [m.client.ref for m in writable])]
        clients = {m.client.node_id: m.client for m in writable}
        spare = iter(order[self.replicas :])
        running: dict[Future[None], str] = {
            self._pool.submit(clients[n].put, digest, data): n for n in order[: self.replicas]
        }
        stored: list[str] = []
        while running and len(stored) < self.write_quorum:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                node_id = running.pop(future)
                if future.exception() is None:
                    stored.append(node_id)
                    continue
                log.warning("chunk %s not stored on %s: %s", digest[:12], node_id,
                            future.exception())
                substitute = next(spare, None)  # a failed node's share goes to the next one
                if substitute is not None:
                    running[self._pool.submit(clients[substitute].put, digest, data)] = (
                        substitute)
        if len(stored) < self.write_quorum:
            raise InsufficientReplicas(
                f"only {len(stored)} blob nodes stored the chunk; {self.write_quorum} are needed",
                available=len(stored), needed=self.write_quorum,
            )
        with self._lock:
            self._fresh[digest] = self._clock()
            self._fresh.move_to_end(digest)
            while len(self._fresh) > FRESH_CHUNKS:
                self._fresh.popitem(last=False)
        return stored

    def read_chunk(self, chunk: Chunk, start: int = 0, end: int | None = None,
                   authenticated: bool = False) -> Iterator[Piece]:
        end = chunk["size"] if end is None else end
        data = self._fetch(chunk, start, end)
        for offset in range(0, len(data), PIECE):
            yield data[offset : offset + PIECE]

    def _fetch(self, chunk: Chunk, start: int, end: int) -> bytes:
        whole = (start, end) == (0, chunk["size"])
        for client in self.read_order(chunk["digest"]):
            try:
                data = client.get(chunk, start, end)
            except ChunkMissing:
                self.repairs.report(chunk["digest"], client.node_id, "missing")
                continue
            except ChunkCorrupt:
                self.repairs.report(chunk["digest"], client.node_id, "corrupt")
                continue
            except NodeError as exc:
                log.info("reading %s from %s failed: %s", chunk["digest"][:12], client.node_id,
                         exc)
                continue
            # The node verifies before it serves; a whole chunk is verified here again,
            # so no replica, however damaged in transit, reaches a reader.
            if len(data) != end - start or (
                whole and hashlib.sha256(data).hexdigest() != chunk["digest"]
            ):
                self.repairs.report(chunk["digest"], client.node_id, "corrupt in transit")
                continue
            return data
        raise ChunkUnavailable("No blob node could serve a good copy of a chunk", **chunk)

    def _on_up(self, call: Callable[[NodeClient], object]) -> list[object]:
        """`call` on every node that is up, in parallel; NodeErrors come back as values."""

        def guarded(client: NodeClient) -> object:
            try:
                return call(client)
            except NodeError as exc:
                return exc

        return list(self._pool.map(guarded, [m.client for m in self._up()]))

    def _just_stored(self, digest: str) -> bool:
        """W nodes took it from this process moments ago: its idle clocks are fresh."""
        with self._lock:
            stored = self._fresh.get(digest)
        return stored is not None and self._clock() - stored < self._fresh_seconds

    def confirm(self, chunks: Iterable[Chunk]) -> None:
        for chunk in chunks:
            digest = chunk["digest"]
            if self._just_stored(digest):
                continue
            touched = self._on_up(lambda client: client.touch(digest))  # noqa: B023
            holders = sum(1 for answer in touched if answer is True)
            if holders < self.write_quorum:
                raise ChunkUnavailable(
                    f"A chunk is on {holders} blob nodes, fewer than the write quorum "
                    f"{self.write_quorum}; retry the upload",
                    **chunk,
                )

    def holds(self, digest: str) -> bool:
        return any(r is True for r in self._on_up(lambda c: c.holds(digest)))

    def delete_if_idle(self, digest: str, idle_seconds: float) -> int | None:
        freed = [r for r in self._on_up(lambda c: c.delete_if_idle(digest, idle_seconds))
                 if isinstance(r, int)]
        return sum(freed) if freed else None

    def inventory(self) -> Iterator[StoredChunk]:
        """Every chunk on any node that is up, once, in digest order (the least idle
        copy's idle time: the chunk is only as idle as its busiest replica)."""
        merged = heapq.merge(*(_pages(m.client) for m in self._up()), key=lambda c: c.digest)
        current: StoredChunk | None = None
        for stored in merged:
            if current is not None and stored.digest == current.digest:
                if stored.idle_seconds < current.idle_seconds:
                    current = stored
                continue
            if current is not None:
                yield current
            current = stored
        if current is not None:
            yield current

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        for member in self.members():
            member.client.close()



def _answers(client: NodeClient) -> dict[str, object] | None:
    try:
        return client.health()
    except NodeError:
        return None


def _pages(client: NodeClient) -> Iterator[StoredChunk]:
    after = ""
    while True:
        try:
            chunks, after_next = client.inventory_page(after)
        except NodeError as exc:
            log.warning("inventory of %s stopped: %s", client.node_id, exc)
            return
        yield from chunks
        if after_next is None:
            return
        after = after_next
