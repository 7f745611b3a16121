"""GetObjectAttributes: what S3 answers about a version without its body."""

from __future__ import annotations

from starlette.responses import Response

from api.blocking import blocking, query
from api.numbers import whole_number
from api.s3.common import Call
from api.s3.dates import http_date
from api.s3.encryption import data_key_for
from api.s3.errors import InvalidRequest
from api.s3.objects import _readable
from api.s3.xml import Node, xml_response

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
MAX_PARTS = 1000


def _wanted(call: Call) -> set[str]:
    raw = call.header("x-amz-object-attributes") or ""
    wanted = {name.strip() for name in raw.split(",") if name.strip()}
    if not wanted:
        raise InvalidRequest("x-amz-object-attributes names at least one of "
                             + ", ".join(ATTRIBUTES))
    unknown = wanted - set(ATTRIBUTES)
    if unknown:
        raise InvalidRequest(f"Invalid attribute name specified: {sorted(unknown)[0][:64]}")
    return wanted


def _paging(call: Call) -> tuple[int, int]:
    most = whole_number(call.header("x-amz-max-parts") or str(MAX_PARTS), 9)
    after = whole_number(call.header("x-amz-part-number-marker") or "0", 9)
    if most is None or after is None:
        raise InvalidRequest("x-amz-max-parts and x-amz-part-number-marker are whole numbers")
    return min(most, MAX_PARTS), after


async def get_object_attributes(call: Call) -> Response:
    wanted = _wanted(call)
    most, after = _paging(call)
    info, version = await query(_readable, call)
    if version.get("encryption", {}).get("mode") == "SSE-C":
        await blocking(data_key_for, call, version)  # as S3: the customer's key, or nothing
    nodes: list[Node] = []
    if "ETag" in wanted:
        nodes.append(("ETag", version["etag"]))
    checksum = version.get("checksum", {})
    if "Checksum" in wanted and checksum:
        nodes.append(("Checksum", [*((f"Checksum{a}", v) for a, v in checksum.items()),
                                   ("ChecksumType",
                                    version.get("checksum_type", "FULL_OBJECT"))]))
    parts = version.get("parts")
    if "ObjectParts" in wanted and parts:
        numbered = list(enumerate(parts, start=1))[after:]
        page = numbered[:most]
        truncated = len(numbered) > most
        nodes.append(("ObjectParts", [
            ("PartsCount", len(parts)), ("PartNumberMarker", after),
            *([("NextPartNumberMarker", page[-1][0])] if truncated and page else []),
            ("MaxParts", most), ("IsTruncated", truncated),
            *(("Part", [("PartNumber", n), ("Size", p["size"]),
                        *((f"Checksum{a}", v) for a, v in p.get("checksum", {}).items())])
              for n, p in page),
        ]))
    if "StorageClass" in wanted:
        nodes.append(("StorageClass", "STANDARD"))
    if "ObjectSize" in wanted:
        nodes.append(("ObjectSize", version["size"]))
    headers = {"last-modified": http_date(version["created_at"])}
    if info.versioning != "Unversioned" or version["version_id"] != "null":
        headers["x-amz-version-id"] = version["version_id"]
    return xml_response("GetObjectAttributesResponse", nodes, headers)
