"""ListObjects (v1), ListObjectsV2 and ListObjectVersions over the listing view."""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import escape

from starlette.responses import Response

from api.blocking import blocking
from api.s3.common import Call, int_query, owner_node
from api.s3.dates import iso_z
from api.s3.errors import InvalidRequest
from api.s3.sigv4 import uri_encode_once
from api.s3.xml import Node, Raw, render, xml_response
from domain.access import Action
from domain.names import validate_prefix
from projections.object_listing import (
    ListedVersion,
    ListPage,
    decode_cursor,
    encode_cursor,
    list_objects,
    list_versions,
)


class _Names:
    """encoding-type=url: keys and prefixes go out percent-encoded."""

    def __init__(self, call: Call) -> None:
        encoding = call.query.get("encoding-type")
        if encoding not in (None, "", "url"):
            raise InvalidRequest("Invalid Encoding Method specified in Request")
        self.encoded = encoding == "url"

    def __call__(self, text: str) -> str:
        return _url_encoded(text) if self.encoded else text

    def xml_text(self) -> Callable[[str], str]:
        """A name as element text: percent-encoded names need no escaping."""
        return _url_encoded if self.encoded else escape

    def node(self) -> list[Node]:
        return [("EncodingType", "url")] if self.encoded else []


async def _prepare(call: Call) -> tuple[str, str, int]:
    await call.bucket_info(Action.LIST_BUCKET)
    prefix = call.query.get("prefix", "")
    delimiter = call.query.get("delimiter", "")
    validate_prefix(prefix)
    max_keys = int_query(call, "max-keys", 1000)
    system = call.system
    await blocking(system.runner.wait_for, system.store.current_position())
    return prefix, delimiter, max_keys


def _empty_page() -> ListPage:
    return ListPage([], [], False, None)


def _url_encoded(text: str) -> str:
    return uri_encode_once(text, keep_slash=True)


def _object_nodes(entries: list[ListedVersion], name: _Names, with_owner: bool) -> Raw:
    """A page's <Contents>, rendered in one loop: a thousand of them cost more than
    everything else a listing does on the event loop."""
    key_text = name.xml_text()
    return Raw("".join([
        f"<Contents><Key>{key_text(entry.key)}</Key>"
        f"<LastModified>{iso_z(entry.last_modified)}</LastModified>"
        f'<ETag>"{escape(entry.etag)}"</ETag><Size>{entry.size}</Size>'
        "<StorageClass>STANDARD</StorageClass>"
        f"{render(owner_node(entry.owner)) if with_owner else ''}</Contents>"
        for entry in entries
    ]))


def _prefix_nodes(page: ListPage, name: _Names) -> list[Node]:
    return [("CommonPrefixes", [("Prefix", name(p))]) for p in page.common_prefixes]


async def list_objects_v2(call: Call) -> Response:
    name = _Names(call)
    prefix, delimiter, max_keys = await _prepare(call)
    token = call.query.get("continuation-token")
    start_after = call.query.get("start-after", "")
    after = start_after
    if token is not None:
        try:
            after, _ = decode_cursor(token)
        except ValueError:
            raise InvalidRequest("The continuation token provided is incorrect") from None
    page = (
        await blocking(
            list_objects, call.system.views, call.bucket, prefix, delimiter, after, max_keys
        )
        if max_keys
        else _empty_page()
    )
    fetch_owner = call.query.get("fetch-owner", "").lower() == "true"
    return xml_response(
        "ListBucketResult",
        [
            ("Name", call.bucket),
            ("Prefix", name(prefix)),
            *([("Delimiter", name(delimiter))] if delimiter else []),
            ("MaxKeys", max_keys),
            *name.node(),
            ("KeyCount", len(page.entries) + len(page.common_prefixes)),
            ("IsTruncated", page.is_truncated),
            *([("ContinuationToken", token)] if token is not None else []),
            *(
                [("NextContinuationToken", encode_cursor(page.next_key))]
                if page.next_key is not None
                else []
            ),
            *([("StartAfter", name(start_after))] if start_after else []),
            _object_nodes(page.entries, name, fetch_owner),
            *_prefix_nodes(page, name),
        ],
    )


async def list_objects_v1(call: Call) -> Response:
    name = _Names(call)
    prefix, delimiter, max_keys = await _prepare(call)
    marker = call.query.get("marker", "")
    page = (
        await blocking(
            list_objects, call.system.views, call.bucket, prefix, delimiter, marker, max_keys
        )
        if max_keys
        else _empty_page()
    )
    return xml_response(
        "ListBucketResult",
        [
            ("Name", call.bucket),
            ("Prefix", name(prefix)),
            ("Marker", name(marker)),
            *([("NextMarker", name(page.next_key))] if page.next_key is not None else []),
            *([("Delimiter", name(delimiter))] if delimiter else []),
            ("MaxKeys", max_keys),
            *name.node(),
            ("IsTruncated", page.is_truncated),
            _object_nodes(page.entries, name, True),
            *_prefix_nodes(page, name),
        ],
    )


def _version_node(entry: ListedVersion, name: _Names) -> Node:
    common: list[Node] = [
        ("Key", name(entry.key)),
        ("VersionId", entry.version_id),
        ("IsLatest", entry.is_latest),
        ("LastModified", iso_z(entry.last_modified)),
    ]
    if entry.is_delete_marker:
        return ("DeleteMarker", [*common, owner_node(entry.owner)])
    return (
        "Version",
        [
            *common,
            ("ETag", f'"{entry.etag}"'),
            ("Size", entry.size),
            ("StorageClass", "STANDARD"),
            owner_node(entry.owner),
        ],
    )


async def list_object_versions(call: Call) -> Response:
    name = _Names(call)
    prefix, delimiter, max_keys = await _prepare(call)
    key_marker = call.query.get("key-marker", "")
    version_marker = call.query.get("version-id-marker") or None
    if version_marker and not key_marker:
        raise InvalidRequest("A version-id marker cannot be specified without a key marker.")
    page = (
        await blocking(
            list_versions,
            call.system.views,
            call.bucket,
            prefix,
            delimiter,
            key_marker,
            version_marker,
            max_keys,
        )
        if max_keys
        else _empty_page()
    )
    next_nodes: list[Node] = []
    if page.next_key is not None:
        next_nodes.append(("NextKeyMarker", name(page.next_key)))
        if page.next_version_id is not None:
            next_nodes.append(("NextVersionIdMarker", page.next_version_id))
    return xml_response(
        "ListVersionsResult",
        [
            ("Name", call.bucket),
            ("Prefix", name(prefix)),
            ("KeyMarker", name(key_marker)),
            ("VersionIdMarker", version_marker or ""),
            *next_nodes,
            *([("Delimiter", name(delimiter))] if delimiter else []),
            ("MaxKeys", max_keys),
            *name.node(),
            ("IsTruncated", page.is_truncated),
            *(_version_node(e, name) for e in page.entries),
            *_prefix_nodes(page, name),
        ],
    )
