"""Direct upload: the client sends chunks straight to the blob nodes.

1. POST /buckets/{b}/direct-upload {"chunks": [{"digest", "size"}, ...]}: the API picks
   each chunk's placement nodes and answers signed, expiring PUT URLs for them, and an
   upload grant (a token it signed: no state is kept).
2. The client PUTs each chunk to its URLs (at least the write quorum of them).
3. POST /buckets/{b}/direct-upload/commit {"upload", "key", "content_type"?,
   "metadata"?}: the API checks that every chunk reached a node through this grant's
   URLs (the node checked its bytes then: naming a digest proves nothing, another
   user's chunk must not be claimable by it) with the size the grant named, and is on
   W nodes; then it records the object.
Chunks of a grant never committed are unreferenced: garbage collection removes them.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response

from api.auth import required_principal
from api.blocking import blocking
from api.context import request_meta, system_of
from api.native.access import allow
from api.native.common import json_body, json_response, now, text_field
from api.native.errors import MalformedRequest
from api.native.objects import metadata_json
from api.operations import new_version, record_version
from api.system import NodeStore, System, nodes_of
from domain.access import Action, canned_acl
from domain.errors import AccessDenied, InvalidArgument
from domain.names import validate_object_key
from domain.records import Chunk, Content

GRANT_SECONDS = 3600
GRANT_TYPE = "strata-direct-upload"  # so a grant and a bearer token never pass for each other
_DIGEST_CHARS = set("0123456789abcdef")


def _chunks(body: dict[str, Any], chunk_size: int) -> list[Chunk]:
    raw = body.get("chunks")
    if not isinstance(raw, list) or not raw or len(raw) > 10_000:
        raise MalformedRequest("chunks must be a list of 1 to 10000 {digest, size} objects")
    chunks: list[Chunk] = []
    for item in raw:
        digest, size = (item.get("digest"), item.get("size")) if isinstance(item, dict) else (
            None, None)
        if not (isinstance(digest, str) and len(digest) == 64 and set(digest) <= _DIGEST_CHARS):
            raise MalformedRequest("each chunk's digest is its SHA-256 in lowercase hex")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= chunk_size:
            raise MalformedRequest(f"each chunk's size must be 1 to {chunk_size} bytes")
        chunks.append({"digest": digest, "size": size})
    return chunks


def _nodes(system: System) -> NodeStore:
    nodes = nodes_of(system)
    if nodes is None:
        raise InvalidArgument("Direct upload needs blob nodes (STRATA_BLOBS=nodes); "
                              "upload through /buckets/{bucket}/upload instead")
    return nodes


async def grant(request: Request) -> Response:
    principal = required_principal(request)
    system = system_of(request)
    bucket = request.path_params["bucket"]
    nodes = _nodes(system)
    info = await blocking(system.store.get_bucket, bucket)
    allow(request, principal, Action.WRITE_OBJECTS, info)
    if info.encryption is not None or system.settings.encryption_default:
        raise InvalidArgument("Objects of this bucket are encrypted by the store, and a "
                              "direct upload's chunks reach the nodes as the client sends "
                              "them: upload through the S3 door or POST /buckets/{b}/upload",
                              bucket=bucket)
    chunks = _chunks(await json_body(request), system.settings.chunk_size)
    expires = int(time.time()) + GRANT_SECONDS
    grant_id = secrets.token_hex(16)
    placed = [{**c, "urls": nodes.upload_urls(c["digest"], expires, grant_id)} for c in chunks]
    claims = {"typ": GRANT_TYPE, "b": bucket, "u": principal.user, "g": grant_id,
              "c": [[c["digest"], c["size"]] for c in chunks], "exp": expires}
    token = jwt.encode(claims, system.token_key, algorithm="HS256")
    return json_response({"upload": token, "expires_at": expires, "chunks": placed,
                          "write_quorum": nodes.write_quorum}, 201)


def _check_uploaded(nodes: Any, chunks: list[Chunk], grant_id: str) -> None:
    """Blocking: every chunk came through this grant's URLs, with the size it names."""
    for chunk in {c["digest"]: c for c in chunks}.values():
        sizes = nodes.granted_sizes(chunk["digest"], grant_id) if grant_id else []
        if not sizes:
            raise AccessDenied(
                "A chunk of this commit was not uploaded with this grant's URLs; upload "
                "every chunk's bytes before committing", digest=chunk["digest"],
            )
        if chunk["size"] not in sizes:
            raise InvalidArgument(
                f"A chunk is {sizes[0]} bytes, not the {chunk['size']} the grant names",
                digest=chunk["digest"], size=sizes[0],
            )


async def commit(request: Request) -> Response:
    principal = required_principal(request)
    system = system_of(request)
    bucket = request.path_params["bucket"]
    _nodes(system)
    body = await json_body(request)
    try:
        claims = jwt.decode(text_field(body, "upload"), system.token_key, algorithms=["HS256"])
    except jwt.InvalidTokenError as exc:
        raise MalformedRequest(f"The upload grant is not valid: {exc}") from None
    if claims.get("typ") != GRANT_TYPE:
        raise MalformedRequest("That is not an upload grant from POST .../direct-upload")
    if claims["b"] != bucket or claims["u"] != principal.user:
        raise MalformedRequest("The upload grant was issued for another bucket or user")
    key = text_field(body, "key")
    validate_object_key(key)
    info = await blocking(system.store.get_bucket, bucket)
    allow(request, principal, Action.WRITE_OBJECTS, info)
    chunks: list[Chunk] = [{"digest": d, "size": s} for d, s in claims["c"]]
    await blocking(_check_uploaded, system.blobs, chunks, str(claims.get("g", "")))
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise MalformedRequest("metadata must be an object of strings")
    joined = b"".join(bytes.fromhex(c["digest"]) for c in chunks)
    content: Content = {
        "size": sum(c["size"] for c in chunks),
        # The API never sees the bytes: the ETag is made from the chunk hashes, as a
        # multipart upload's is from its parts'.
        "etag": f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(chunks)}",
        "sha256": chunks[0]["digest"] if len(chunks) == 1 else "",
        "chunks": chunks,
    }
    moment = now()
    version = new_version(content, principal.user, canned_acl("private", principal.user),
                          moment, text_field(body, "content_type", ""), {}, metadata)
    # record_version confirms every chunk on W nodes first (ChunkUnavailable -> 503).
    result = await blocking(record_version, system, bucket, key, version,
                            request_meta(request, principal), moment)
    return json_response(metadata_json(bucket, key, result.version), 201)
