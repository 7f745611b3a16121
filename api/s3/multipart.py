"""Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts
and ListMultipartUploads. Completing references the parts' chunks; no byte is copied."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from api.blocking import blocking, iterate_blocking
from api.ingest import ingest
from api.numbers import whole_number
from api.operations import new_version_id, read_version
from api.ranges import parse_range
from api.s3.acl import acl_from_headers
from api.s3.checksums import (
    ALGORITHMS,
    checksum_type_for,
    header_name,
    multipart_checksum,
)
from api.s3.common import Call, int_query, owner_node
from api.s3.dates import iso_z
from api.s3.encryption import COPY_SOURCE as COPY_SOURCE_SSE
from api.s3.encryption import data_key_for, sealing_for
from api.s3.encryption import response_headers as encryption_headers
from api.s3.errors import BadDigest, InvalidRequest, MalformedXML
from api.s3.integrity import read_small_body
from api.s3.objects import (
    _content_type,
    governance_fields,
    kept_headers,
    read_copy_source,
    store_body,
    user_metadata,
    version_headers,
)
from api.s3.xml import Node, child_text, parse, xml_response
from api.sse import FrameSealer
from domain.access import Action
from domain.errors import InvalidArgument
from domain.names import validate_object_key
from domain.records import Content, Version
from domain.uploads import MultipartUpload, ObjectTemplate, UploadedPart
from projections.uploads import list_uploads as list_upload_view


async def create(call: Call) -> Response:
    info = await call.bucket_info(Action.WRITE_OBJECTS)
    validate_object_key(call.key)
    owner = call.user or info.owner
    algorithm = (call.header("x-amz-checksum-algorithm") or "").upper()
    if algorithm and algorithm not in ALGORITHMS:
        raise InvalidRequest(f"Checksum algorithm {algorithm!r} is not supported")
    kind = ""
    if algorithm:
        try:
            kind = checksum_type_for(algorithm, call.header("x-amz-checksum-type"))
        except ValueError as refused:
            raise InvalidRequest(str(refused)) from None
    elif call.header("x-amz-checksum-type"):
        raise InvalidRequest("x-amz-checksum-type needs x-amz-checksum-algorithm")
    template: ObjectTemplate = {
        "owner": owner,
        "content_type": _content_type(call),
        "headers": kept_headers(call),
        "user_metadata": user_metadata(call),
        "acl": acl_from_headers(call, owner),
        "checksum_algorithm": algorithm,
    }
    if kind:
        template["checksum_type"] = kind
    template.update(governance_fields(call, info))  # type: ignore[typeddict-item]
    sealing = await sealing_for(call, info)
    if sealing is not None:  # every part is sealed with the upload's one data key
        template["encryption"] = sealing.encryption
    upload_id = new_version_id(call.now)
    await blocking(
        call.system.store.create_multipart_upload,
        call.bucket,
        call.key,
        upload_id,
        template,
        call.meta,
        call.now,
    )
    headers = {"x-amz-checksum-algorithm": algorithm, "x-amz-checksum-type": kind} \
        if algorithm else {}
    if sealing is not None:
        headers.update(_sse_headers(template))
    return xml_response(
        "InitiateMultipartUploadResult",
        [
            ("Bucket", call.bucket),
            ("Key", call.key),
            ("UploadId", upload_id),
        ],
        headers,
    )


def _part_number(call: Call) -> int:
    number = whole_number(call.operation.part_number, 5)
    if number is None:
        raise InvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
    return number


def _sse_headers(template: ObjectTemplate) -> dict[str, str]:
    encryption = template.get("encryption")
    if encryption is None:
        return {}
    return encryption_headers({"encryption": encryption})  # type: ignore[typeddict-item]


def _part_sealer(call: Call, upload: MultipartUpload) -> FrameSealer | None:
    """Blocking: the upload's sealer (SSE-C: each part sends the key again)."""
    encryption = upload.template.get("encryption")
    if encryption is None:
        return None
    data_key = data_key_for(call, {"encryption": encryption})  # type: ignore[typeddict-item]
    assert data_key is not None
    return FrameSealer(data_key)


async def _open_upload(call: Call) -> MultipartUpload:
    await call.bucket_info(Action.WRITE_OBJECTS)
    upload: MultipartUpload = await blocking(
        call.system.store.get_upload, call.bucket, call.key, call.operation.upload_id or ""
    )
    return upload


def _confirm_and_record(call: Call, part: UploadedPart) -> None:
    """Blocking: protect the part's chunks from GC, then record the part."""
    call.system.blobs.confirm(part["chunks"])
    call.system.store.upload_part(
        call.bucket, call.key, call.operation.upload_id or "", part, call.meta, call.now
    )


async def _record_part(call: Call, part: UploadedPart) -> None:
    await blocking(_confirm_and_record, call, part)


async def upload_part(call: Call) -> Response:
    number = _part_number(call)
    upload = await _open_upload(call)
    sealer = await blocking(_part_sealer, call, upload)
    if call.header("x-amz-copy-source"):
        return await _upload_part_copy(call, number, upload, sealer)

    def record(content: Content, checksum: dict[str, str]) -> UploadedPart:
        part: UploadedPart = {
            "number": number,
            "etag": content["etag"],
            "size": content["size"],
            "chunks": content["chunks"],
            "last_modified": call.now.isoformat(),
            "checksum": checksum,
        }
        if "plain_sizes" in content:
            part["plain_sizes"] = content["plain_sizes"]
        _confirm_and_record(call, part)
        return part

    part = await store_body(call, record, sealer)
    headers = {"etag": f'"{part["etag"]}"', **_sse_headers(upload.template)}
    headers.update({header_name(a): v for a, v in part["checksum"].items()})
    return Response(status_code=200, headers=headers)


async def _upload_part_copy(call: Call, number: int, upload: MultipartUpload,
                            sealer: FrameSealer | None) -> Response:
    _, _, source = await read_copy_source(call)
    range_header = call.header("x-amz-copy-source-range")
    byte_range = None
    if range_header:
        byte_range = parse_range(range_header, source["size"])
        if byte_range is None:
            raise InvalidArgument(
                "The x-amz-copy-source-range value must be of the form "
                "bytes=first-last where first and last are the zero-based "
                "offsets of the first and last bytes to copy"
            )
    plain_sizes: list[int] | None = None
    if byte_range is None and "-" not in source["etag"] and sealer is None \
            and "encryption" not in source:
        # The whole of a single-part object: its chunks and MD5 are the part's.
        etag, size, chunks = source["etag"], source["size"], source["chunks"]
    else:
        source_key = await blocking(data_key_for, call, source, COPY_SOURCE_SSE)
        pieces = read_version(call.system, source, byte_range, source_key)
        system = call.system
        content = await ingest(
            iterate_blocking(pieces), system.blobs, system.settings.chunk_size, None, sealer
        )
        etag, size, chunks = content["etag"], content["size"], content["chunks"]
        plain_sizes = content.get("plain_sizes")
    part: UploadedPart = {
        "number": number,
        "etag": etag,
        "size": size,
        "chunks": chunks,
        "last_modified": call.now.isoformat(),
        "checksum": {},
    }
    if plain_sizes is not None:
        part["plain_sizes"] = plain_sizes
    await _record_part(call, part)
    return xml_response(
        "CopyPartResult",
        [
            ("LastModified", iso_z(part["last_modified"])),
            ("ETag", f'"{etag}"'),
        ],
    )


def _requested_parts(body: bytes) -> list[tuple[int, str]]:
    request = parse(body, "CompleteMultipartUpload")
    parts = []
    for node in request.findall("Part"):
        number = whole_number((child_text(node, "PartNumber", "") or "").strip())
        etag = child_text(node, "ETag", "") or ""
        if number is None or not etag:
            raise MalformedXML("Each Part needs a PartNumber (a whole number) and an ETag")
        parts.append((number, etag))
    return parts


def _whole_checksum(call: Call, upload: MultipartUpload) -> Callable[[Version], dict[str, object]]:
    """The whole object's checksum, from the parts as the completion uses them (inside
    the store's commit, so a part uploaded again meanwhile is counted as it is). A
    checksum the client sends with the completion must match it (BadDigest)."""
    algorithm = upload.template["checksum_algorithm"]
    kind = upload.template.get("checksum_type") or (
        checksum_type_for(algorithm, None) if algorithm else "")
    sent = call.header(header_name(algorithm)) if algorithm else None

    def whole(version: Version) -> dict[str, object]:
        if not algorithm:
            return {}
        parts = version.get("parts", [])
        values = [(p.get("checksum", {}).get(algorithm), p["size"]) for p in parts]
        if any(value is None for value, _ in values):
            return {}  # a part came without its checksum: the whole has none either
        value = multipart_checksum(algorithm, kind, values)  # type: ignore[arg-type]
        if sent is not None and sent.strip() not in (value, value.partition("-")[0]):
            raise BadDigest(f"The {algorithm} you specified for the whole object did not "
                            "match what we calculated from its parts.")
        return {"checksum": {algorithm: value}, "checksum_type": kind}

    return whole


async def complete(call: Call) -> Response:
    info = await call.bucket_info(Action.WRITE_OBJECTS)
    upload_id = call.operation.upload_id or ""
    requested = _requested_parts(await read_small_body(call, names_the_object=True))
    opened: MultipartUpload = await blocking(call.system.store.get_upload, call.bucket,
                                             call.key, upload_id)
    result, _ = await blocking(
        call.system.store.complete_multipart_upload,
        call.bucket,
        call.key,
        upload_id,
        requested,
        new_version_id(call.now),
        call.meta,
        call.now,
        call.header("if-match"),
        call.header("if-none-match") == "*",
        _whole_checksum(call, opened),
    )
    checksum = result.version.get("checksum", {})
    kind = result.version.get("checksum_type")
    nodes: list[Node] = [
        ("Location", f"{call.request.base_url}{call.bucket}/{call.key}"),
        ("Bucket", call.bucket),
        ("Key", call.key),
        ("ETag", f'"{result.version["etag"]}"'),
        *((f"Checksum{a}", v) for a, v in checksum.items()),
        *([("ChecksumType", kind)] if kind else []),
    ]
    return xml_response(
        "CompleteMultipartUploadResult", nodes,
        {**version_headers(result.version, info), **encryption_headers(result.version)},
    )


async def abort(call: Call) -> Response:
    await _open_upload(call)
    await blocking(
        call.system.store.abort_multipart_upload,
        call.bucket,
        call.key,
        call.operation.upload_id or "",
        call.meta,
        call.now,
    )
    return Response(status_code=204)


async def list_parts(call: Call) -> Response:
    upload = await _open_upload(call)
    max_parts = int_query(call, "max-parts", 1000)
    marker = int_query(call, "part-number-marker", 0, high=10000)
    numbers = [n for n in sorted(upload.parts) if n > marker]
    page, truncated = numbers[:max_parts], len(numbers) > max_parts
    algorithm = upload.template["checksum_algorithm"]
    return xml_response(
        "ListPartsResult",
        [
            ("Bucket", call.bucket),
            ("Key", call.key),
            ("UploadId", upload.upload_id),
            owner_node(upload.template["owner"], "Initiator"),
            owner_node(upload.template["owner"]),
            ("StorageClass", "STANDARD"),
            ("PartNumberMarker", marker),
            *([("NextPartNumberMarker", page[-1])] if truncated and page else []),
            ("MaxParts", max_parts),
            ("IsTruncated", truncated),
            *([("ChecksumAlgorithm", algorithm)] if algorithm else []),
            *(
                (
                    "Part",
                    [
                        ("PartNumber", n),
                        ("LastModified", iso_z(upload.parts[n]["last_modified"])),
                        ("ETag", f'"{upload.parts[n]["etag"]}"'),
                        ("Size", upload.parts[n]["size"]),
                        *((f"Checksum{a}", v) for a, v in upload.parts[n]["checksum"].items()),
                    ],
                )
                for n in page
            ),
        ],
    )


async def list_uploads(call: Call) -> Response:
    await call.bucket_info(Action.LIST_BUCKET)
    prefix = call.query.get("prefix", "")
    delimiter = call.query.get("delimiter", "")
    key_marker = call.query.get("key-marker", "")
    upload_marker = call.query.get("upload-id-marker", "")
    max_uploads = int_query(call, "max-uploads", 1000)
    system = call.system
    await blocking(system.runner.wait_for, system.store.current_position())
    page = await blocking(
        list_upload_view,
        system.views,
        call.bucket,
        prefix,
        delimiter,
        key_marker,
        upload_marker,
        max_uploads,
    )
    return xml_response(
        "ListMultipartUploadsResult",
        [
            ("Bucket", call.bucket),
            ("KeyMarker", key_marker),
            ("UploadIdMarker", upload_marker),
            *([("NextKeyMarker", page.next_key)] if page.next_key is not None else []),
            *([("NextUploadIdMarker", page.next_upload_id)] if page.next_upload_id else []),
            ("Prefix", prefix),
            *([("Delimiter", delimiter)] if delimiter else []),
            ("MaxUploads", max_uploads),
            ("IsTruncated", page.is_truncated),
            *(
                (
                    "Upload",
                    [
                        ("Key", u.key),
                        ("UploadId", u.upload_id),
                        owner_node(u.owner, "Initiator"),
                        owner_node(u.owner),
                        ("StorageClass", "STANDARD"),
                        ("Initiated", iso_z(u.initiated)),
                    ],
                )
                for u in page.uploads
            ),
            *(("CommonPrefixes", [("Prefix", p)]) for p in page.common_prefixes),
        ],
    )
