"""The receiving side of geo-replication (issue 22): a site sending changes here first
asks which of their chunks this site lacks, then sends only those (content addressing
across sites). Administrators only: a site signs in here with the key of a user this
site made an administrator for it."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.auth import admin_principal
from api.blocking import blocking
from api.context import system_of
from api.native.common import bounded_body, json_body, json_object, json_response
from api.native.errors import MalformedRequest, code_of
from api.system import System
from domain.errors import ChunkRefused, ChunkUnavailable, StrataError
from domain.geo import MAX_CHANGES, check_change
from domain.names import validate_bucket_name

MAX_DIGESTS = 1000
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
GATHER_BYTES = 1024 * 1024
MAX_BUNDLE_BYTES = 16 * 1024 * 1024  # small chunks sent together
MAX_APPLY_BYTES = 64 * 1024 * 1024  # a batch of changes; a change of a 10,000-part object


def _digests(body: Any) -> list[str]:
    found = body.get("digests") if isinstance(body, dict) else None
    if not isinstance(found, list) or len(found) > MAX_DIGESTS or not all(
            isinstance(d, str) and _DIGEST.match(d) for d in found):
        raise MalformedRequest(f'The body is {{"digests": [...]}}: at most {MAX_DIGESTS} '
                               "SHA-256 digests in lowercase hex")
    return found


def lacking(system: System, digests: list[str]) -> list[str]:
    """The digests not stored here. Those that are have their idle clock reset, so
    garbage collection leaves them while the change that names them is on its way."""
    missing = []
    for digest in digests:
        try:
            if not system.blobs.holds(digest):
                raise ChunkUnavailable("not here", digest=digest)
            system.blobs.confirm([{"digest": digest, "size": 0}])
        except ChunkUnavailable:
            missing.append(digest)
    return missing


async def missing(request: Request) -> Response:
    """POST /replication/chunks/missing {"digests": [...]}: {"missing": [...]}."""
    admin_principal(request, "receive replicated changes")
    system = system_of(request)
    digests = _digests(await json_body(request))
    return json_response({"missing": await blocking(lacking, system, digests)})


async def put_chunk(request: Request) -> Response:
    """PUT /replication/chunks/{digest}: the chunk's bytes, kept only if they match."""
    admin_principal(request, "receive replicated changes")
    system = system_of(request)
    digest: str = request.path_params["digest"]
    if not _DIGEST.match(digest):
        raise MalformedRequest("A chunk is named by its SHA-256 digest in lowercase hex")
    limit = system.settings.chunk_size
    sink = system.blobs.begin_chunk(hashed_by_caller=True)
    hasher, size, pending, gathered = hashlib.sha256(), 0, [], 0
    try:
        async for piece in request.stream():
            size += len(piece)
            if size > limit:
                raise ChunkRefused(f"A chunk is at most {limit} bytes", digest=digest)
            hasher.update(piece)
            pending.append(piece)
            gathered += len(piece)
            if gathered >= GATHER_BYTES:
                await blocking(sink.write, b"".join(pending))
                pending, gathered = [], 0
        await blocking(sink.write, b"".join(pending))
        if hasher.hexdigest() != digest:
            raise ChunkRefused("The chunk's bytes do not match its digest", digest=digest)
        await blocking(sink.commit, digest)
    except BaseException:
        await blocking(sink.abort)
        raise
    return json_response({"digest": digest, "size": size}, 201)


async def put_chunks(request: Request) -> Response:
    """POST /replication/chunks: many small chunks in one request, each framed as its
    SHA-256 in lowercase hex (64 bytes), its length (8 bytes, big-endian) and its bytes;
    all are checked before any is kept. {"stored": n}."""
    admin_principal(request, "receive replicated changes")
    system = system_of(request)
    body = await bounded_body(request, MAX_BUNDLE_BYTES)
    stored = await blocking(_keep_bundle, system, body)  # hashing: off the event loop
    return json_response({"stored": stored}, 201)


def _keep_bundle(system: System, body: bytes) -> int:
    chunks = _unbundle(body, system.settings.chunk_size)
    _keep_all(system, chunks)
    return len(chunks)


def _unbundle(body: bytes, largest: int) -> list[tuple[str, bytes]]:
    chunks, at = [], 0
    while at < len(body):
        head = body[at:at + 72]
        if len(head) < 72:
            raise MalformedRequest("A bundle ends inside a chunk's frame")
        digest, size = head[:64].decode("ascii", "replace"), int.from_bytes(head[64:], "big")
        if not _DIGEST.match(digest):
            raise MalformedRequest("A chunk is named by its SHA-256 digest in lowercase hex")
        if size > largest or at + 72 + size > len(body):
            raise ChunkRefused(f"A chunk is at most {largest} bytes, inside the bundle",
                               digest=digest)
        data = body[at + 72:at + 72 + size]
        if hashlib.sha256(data).hexdigest() != digest:
            raise ChunkRefused("The chunk's bytes do not match its digest", digest=digest)
        chunks.append((digest, data))
        at += 72 + size
    return chunks


def _keep_all(system: System, chunks: list[tuple[str, bytes]]) -> None:
    for digest, data in chunks:
        sink = system.blobs.begin_chunk(hashed_by_caller=True)
        try:
            sink.write(data)
            sink.commit(digest)
        except BaseException:
            sink.abort()
            raise


async def hello(request: Request) -> Response:
    """GET /replication/site: the name this site calls itself, so that a sender can
    check it registered the site under that name (loop safety rests on it)."""
    admin_principal(request, "receive replicated changes")
    return json_response({"site": system_of(request).settings.site_name})


def _apply_all(system: System, raw: list[Any]) -> list[dict[str, str]]:
    results: list[dict[str, str]] = []
    for item in raw:
        if results and results[-1]["status"] == "missing":
            results.append({"status": "missing"})  # a bucket's changes land in order
            continue
        results.append(_apply_one(system, item))
    return results


def _apply_one(system: System, item: Any) -> dict[str, str]:
    try:
        bucket = item.get("bucket") if isinstance(item, dict) else None
        if not isinstance(bucket, str) or len(bucket) > 63:
            raise MalformedRequest("Each change names its destination bucket")
        validate_bucket_name(bucket)
        change = check_change(item)
        if change["kind"] == "put":
            absent = lacking(system, [c["digest"] for c in change["version"]["chunks"]])
            if absent:
                return {"status": "missing", "message": f"{len(absent)} chunks are not here"}
        applied = system.store.apply_replicated(bucket, change)
        return {"status": "applied" if applied else "unchanged"}
    except StrataError as exc:
        code, status = code_of(exc) or ("InternalError", 500)
        if status >= 500:
            raise  # not the change's fault: the sender tries again
        return {"status": "refused", "error": code, "message": exc.message[:1024]}


async def apply(request: Request) -> Response:
    """POST /replication/apply {"changes": [{"bucket": ..., <ReplicatedChange>}, ...]}:
    {"results": [{"status": ...}, ...]}, one a change, in order (domain.ports.Applied)."""
    admin_principal(request, "receive replicated changes")
    system = system_of(request)
    raw = await bounded_body(request, MAX_APPLY_BYTES)
    return json_response({"results": await blocking(_apply_body, system, raw)})


def _apply_body(system: System, raw: bytes) -> list[dict[str, str]]:
    """Parsing up to 64 MiB of JSON is work for a thread, as applying is."""
    changes = json_object(raw).get("changes")
    if not isinstance(changes, list) or not 1 <= len(changes) <= MAX_CHANGES:
        raise MalformedRequest(f'The body is {{"changes": [...]}} with 1 to {MAX_CHANGES} '
                               "changes")
    return _apply_all(system, changes)
