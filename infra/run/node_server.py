"""A blob node: chunks by SHA-256 over HTTP, on a LocalDiskBlobStore.

PUT /chunks/{sha256}          the body, kept only if it hashes to the name (temp file,
                              fsync, rename); 201
GET /chunks/{sha256}?size=N   the chunk (Range: bytes=a-b for part), verified first
HEAD /chunks/{sha256}         200 with its size and idle seconds, or 404
POST /chunks/{sha256}/touch   reset its idle clock (GC safety); 404 if absent
DELETE /chunks/{sha256}?idle=S  delete it if idle at least S seconds: {"freed": bytes|null}
GET /chunks?after=D&limit=N   a page of the inventory, in digest order
GET /health                   node id, zone, chunk count, capacity
GET /metrics                  Prometheus series: chunks, bytes, disk, requests
Every request but /metrics must be signed with the cluster secret
(infra.blobs.node_auth); /metrics is open, or needs STRATA_METRICS_TOKEN when set.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from api.exposition import labelled, metrics_page
from api.observability import NativeRequestMetrics, RequestMetrics
from api.ranges import RangeNotSatisfiable, parse_range
from domain.errors import ChunkNotStored, ChunkUnavailable
from domain.ports import Piece
from domain.records import Chunk
from infra.blobs.local_files import DigestMismatch, LocalDiskBlobStore
from infra.blobs.node_auth import SeenNonces, verify
from infra.private_dir import make_private
from infra.run.http_limits import uvicorn_options
from infra.settings import HttpLimits

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
GATHER_BYTES = 1024 * 1024
_DONE = object()


def node_id(data_dir: Path) -> str:
    """The node's own id, made on its first start and kept in its data dir."""
    path = data_dir / "node-id"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(f"node-{uuid.uuid4().hex[:12]}")
    return path.read_text().strip()


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json({"error": code, "message": message}, status)


GRANT_KEEP_SECONDS = 2 * 3600  # past any grant's expiry (an hour)
_GRANT_ID = re.compile(r"^[0-9a-f]{32}$")


class GrantRecords:
    """Which chunks were uploaded under which direct-upload grant: a commit may name
    only chunks its uploader sent (a digest alone proves nothing). One empty file a
    chunk, in a folder a grant; folders older than any grant are swept."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._swept = 0.0

    def record(self, grant: str, digest: str, size: int) -> None:
        if not _GRANT_ID.match(grant):
            return
        folder = self._root / grant
        folder.mkdir(parents=True, exist_ok=True)
        (folder / digest).touch()
        self._sweep()

    def holds(self, grant: str, digest: str) -> bool:
        return bool(_GRANT_ID.match(grant)) and (self._root / grant / digest).exists()

    def _sweep(self) -> None:
        now = time.time()
        if now - self._swept < 60:
            return
        self._swept = now
        for folder in self._root.iterdir():
            with contextlib.suppress(OSError):
                if now - folder.stat().st_mtime > GRANT_KEEP_SECONDS:
                    shutil.rmtree(folder)


class BlobNode:
    def __init__(self, data_dir: Path, zone: str, secret: str) -> None:
        # No chunk kept in memory: the scrubber checks a replica by reading it through
        # here, and a copy kept from before the disk rotted would hide the rot from it.
        self.store = LocalDiskBlobStore(data_dir / "chunks", hot_bytes=0)
        self.node_id = node_id(data_dir)
        self.zone = zone
        self._secret = secret
        self.data_dir = data_dir
        self._seen = SeenNonces()
        self.grants = GrantRecords(data_dir / "grants")

    def refused(self, request: Request) -> Response | None:
        why = verify(self._secret, request.method, request.url.path,
                     request.headers, dict(request.query_params), time.time(), self._seen)
        return _error(403, "AccessDenied", why) if why else None

    async def put(self, request: Request, digest: str) -> Response:
        sink = self.store.begin_chunk()
        pending: list[bytes] = []
        size = 0
        try:
            async for piece in request.stream():
                pending.append(piece)
                size += len(piece)
                if size >= GATHER_BYTES:
                    await asyncio.to_thread(sink.write, b"".join(pending))
                    pending, size = [], 0
            await asyncio.to_thread(sink.write, b"".join(pending))
            chunk = await asyncio.to_thread(sink.commit, digest)
        except DigestMismatch as exc:
            return _error(400, "BadDigest", exc.message)
        except BaseException:
            await asyncio.to_thread(sink.abort)
            raise
        grant = request.query_params.get("grant")
        if grant is not None:  # a signed URL's grant: the uploader proved it has the bytes
            await asyncio.to_thread(self.grants.record, grant, digest, chunk["size"])
        return _json(chunk, 201)

    async def get(self, request: Request, digest: str) -> Response:
        size = request.query_params.get("size", "")
        if not size.isdigit():
            return _error(400, "InvalidArgument", "GET needs ?size=<the chunk's size>")
        chunk: Chunk = {"digest": digest, "size": int(size)}
        try:
            byte_range = parse_range(request.headers.get("range"), chunk["size"])
        except RangeNotSatisfiable as exc:
            return _error(416, "InvalidRange", exc.message)
        start, end = byte_range or (0, chunk["size"])
        pieces = self.store.read_chunk(chunk, start, end)
        try:
            first = await asyncio.to_thread(next, pieces, b"")
        except ChunkNotStored as exc:
            # Told by what the read found, not by a second look: a write of the same
            # chunk may land in between, and a missing file is no sign of a bad one.
            return _error(404, "NoSuchChunk", exc.message)
        except ChunkUnavailable as exc:
            return _error(409, "CorruptChunk", exc.message)
        headers = {"content-length": str(end - start)}
        return StreamingResponse(_stream(first, pieces), 206 if byte_range else 200, headers,
                                 media_type="application/octet-stream")

    def head(self, request: Request, digest: str) -> Response:
        try:
            st = self.store.path(digest).stat()
        except FileNotFoundError:
            return Response(status_code=404)
        headers = {"x-chunk-size": str(st.st_size),
                   "x-idle-seconds": f"{time.time() - st.st_mtime:.3f}"}
        grant = request.query_params.get("grant")
        if grant is not None:
            headers["x-granted"] = "yes" if self.grants.holds(grant, digest) else "no"
        return Response(headers=headers)

    def touch(self, digest: str) -> Response:
        try:
            self.store.confirm([{"digest": digest, "size": 0}])
        except ChunkUnavailable:
            return _error(404, "NoSuchChunk", "The chunk is not on this node")
        return Response(status_code=204)

    def delete(self, request: Request, digest: str) -> Response:
        idle = request.query_params.get("idle", "0")
        try:
            seconds = float(idle)
        except ValueError:
            return _error(400, "InvalidArgument", "idle must be a number of seconds")
        return _json({"freed": self.store.delete_if_idle(digest, seconds)})

    def inventory(self, request: Request) -> Response:
        after = request.query_params.get("after", "")
        raw = request.query_params.get("limit", "1000")
        if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
            return _error(400, "InvalidArgument", "limit must be a whole number, 1 to 10000")
        limit = int(raw)
        page = self.store.inventory_after(after, limit)
        return _json({
            "chunks": [{"digest": c.digest, "size": c.size, "idle_seconds": c.idle_seconds}
                       for c in page],
            "next": page[-1].digest if len(page) == limit else None,
        })

    def health(self) -> Response:
        usage = shutil.disk_usage(self.data_dir)
        return _json({"node_id": self.node_id, "zone": self.zone, "status": "ok",
                      "bytes_total": usage.total, "bytes_free": usage.free})


async def _stream(first: Piece, rest: Iterator[Piece]) -> AsyncIterator[Piece]:
    if first:
        yield first
    while True:
        piece = await asyncio.to_thread(next, rest, _DONE)
        if piece is _DONE:
            return
        yield piece  # type: ignore[misc]


class NodeCollector:
    """The node's chunks and disk at scrape time. Counting the chunks walks the chunk
    folders, so a count is kept for `recount_seconds` rather than walked each scrape."""

    def __init__(self, node: BlobNode, data_dir: Path, recount_seconds: float = 30.0
                 ) -> None:
        self._node = node
        self._data_dir = data_dir
        self._recount_seconds = recount_seconds
        self._counted_at = -recount_seconds
        self._count = (0, 0)

    def _chunks(self) -> tuple[int, int]:
        now = time.monotonic()
        if now - self._counted_at >= self._recount_seconds:
            chunks = size = 0
            for found in self._node.store.inventory():
                chunks += 1
                size += found.size
            self._count, self._counted_at = (chunks, size), now
        return self._count

    def collect(self) -> Iterator[Metric]:
        chunks, size = self._chunks()
        usage = shutil.disk_usage(self._data_dir)
        labels = [self._node.node_id, self._node.zone]
        for name, help_text, value in (
            ("strata_node_chunks", "chunks this blob node holds (counted every "
             f"{self._recount_seconds:g} s at most)", chunks),
            ("strata_node_chunk_bytes", "bytes of the chunks this blob node holds (as "
             "counted with them)", size),
            ("strata_node_disk_total_bytes", "size of the blob node's disk", usage.total),
            ("strata_node_disk_free_bytes", "free space on the blob node's disk",
             usage.free),
        ):
            yield labelled(GaugeMetricFamily, name, help_text, ["node", "zone"],
                           [(labels, value)])


def create_node_app(node: BlobNode, metrics_token: str = "",
                    registry: CollectorRegistry | None = None) -> Starlette:
    """`registry`: where the node's series are kept (a new one when not given)."""
    registry = registry or CollectorRegistry()
    requests = RequestMetrics(registry)
    registry.register(NodeCollector(node, node.data_dir))

    async def refused_or(request: Request, answer: Callable[[], Awaitable[Response]]
                         ) -> Response:
        if (refused := node.refused(request)) is not None:
            return refused
        return await answer()

    def checked(request: Request) -> str | Response:
        digest: str = request.path_params["digest"]
        if not _DIGEST.match(digest):
            return _error(400, "InvalidDigest", "A chunk is named by its SHA-256 in hex")
        return digest

    def chunk_route(name: str, method: str, path: str,
                    act: Callable[[Request, str], Awaitable[Response]]) -> Route:
        async def endpoint(request: Request) -> Response:
            async def answer() -> Response:
                digest = checked(request)
                return digest if isinstance(digest, Response) else await act(request, digest)
            return await refused_or(request, answer)
        endpoint.__name__ = name  # the operation the request metrics count it under
        return Route(path, endpoint, methods=[method])

    async def listing(request: Request) -> Response:
        return await refused_or(request, lambda: asyncio.to_thread(node.inventory, request))

    async def health(request: Request) -> Response:
        async def answer() -> Response:
            return node.health()
        return await refused_or(request, answer)

    chunk = "/chunks/{digest}"
    return Starlette(routes=[
        chunk_route("put_chunk", "PUT", chunk, node.put),
        # before GET's route, which Starlette also opens to HEAD
        chunk_route("head_chunk", "HEAD", chunk,
                    lambda request, digest: asyncio.to_thread(node.head, request, digest)),
        chunk_route("get_chunk", "GET", chunk, node.get),
        chunk_route("delete_chunk", "DELETE", chunk,
                    lambda request, digest: asyncio.to_thread(node.delete, request, digest)),
        chunk_route("touch_chunk", "POST", chunk + "/touch",
                    lambda request, digest: asyncio.to_thread(node.touch, digest)),
        Route("/chunks", listing, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics_page(registry, metrics_token), methods=["GET"]),
    ], middleware=[Middleware(NativeRequestMetrics, metrics=requests, door="node")])


def serve_node(data_dir: Path, host: str, port: int, zone: str, secret: str,
               tls: tuple[str, str] | None = None, metrics_token: str = "") -> None:
    """Run a blob node in the foreground until Ctrl-C or SIGTERM; `tls`: its certificate
    and key files (HTTPS)."""
    import uvicorn
    import uvloop

    make_private(data_dir)
    node = BlobNode(data_dir, zone, secret)
    scheme = "https" if tls else "http"
    print(f"blob node {node.node_id} (zone {zone}) serving {data_dir.resolve()} "
          f"on {scheme}://{host}:{port}", flush=True)
    config = uvicorn.Config(create_node_app(node, metrics_token), host=host, port=port,
                            log_level="warning",
                            lifespan="off", ssl_certfile=tls[0] if tls else None,
                            ssl_keyfile=tls[1] if tls else None,
                            **uvicorn_options(HttpLimits()))
    uvloop.run(uvicorn.Server(config).serve())
