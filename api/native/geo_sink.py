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
from api.native.common import json_body, json_response
from api.native.errors import MalformedRequest
from api.system import System
from domain.errors import ChunkRefused, ChunkUnavailable

MAX_DIGESTS = 1000
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
GATHER_BYTES = 1024 * 1024


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
