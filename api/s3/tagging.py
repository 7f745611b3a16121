"""S3 tagging: Put/Get/DeleteObjectTagging, Put/Get/DeleteBucketTagging, and the
x-amz-tagging header that tags a new object (PUT, copy, multipart)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.responses import Response

from api.blocking import blocking
from api.s3.bucket_settings import put_bucket_setting, remove_bucket_setting
from api.s3.common import Call
from api.s3.errors import InvalidRequest, MalformedXML, NoSuchConfiguration
from api.s3.integrity import read_small_body
from api.s3.xml import Node, child_text, parse, xml_response
from domain.access import Action
from domain.records import Version
from domain.tags import MAX_BUCKET_TAGS, MAX_OBJECT_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE, tag_set

MAX_TAGGING_HEADER = 4096  # 10 tags of 128 + 256 characters, URL-encoded, fit well


def tags_from_header(call: Call) -> dict[str, str]:
    """The x-amz-tagging header: a URL query, key1=value1&key2=value2 ({} if absent)."""
    raw = call.header("x-amz-tagging")
    if not raw:
        return {}
    if len(raw) > MAX_TAGGING_HEADER:
        raise InvalidRequest(f"The x-amz-tagging header is at most {MAX_TAGGING_HEADER} "
                             "characters")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InvalidRequest("The x-amz-tagging header must be URL query parameters, "
                             "key1=value1&key2=value2") from None
    return tag_set(pairs, MAX_OBJECT_TAGS)


def tags_from_xml(body: bytes, most: int) -> dict[str, str]:
    tagging = parse(body, "Tagging")
    tag_set_node = tagging.find("TagSet")
    if tag_set_node is None:
        raise MalformedXML("A Tagging document holds a TagSet")
    pairs = []
    for tag in tag_set_node.findall("Tag")[: most + 1]:
        key, value = child_text(tag, "Key"), child_text(tag, "Value", "")
        if key is None:
            raise MalformedXML("Every Tag has a Key")
        pairs.append((key[: MAX_TAG_KEY + 1], (value or "")[: MAX_TAG_VALUE + 1]))
    return tag_set(pairs, most)


def tag_set_nodes(tags: dict[str, str]) -> list[Node]:
    return [("TagSet", [("Tag", [("Key", k), ("Value", v)]) for k, v in tags.items()])]


def tagging_count(version: Version) -> dict[str, str]:
    tags = version.get("tags")
    return {"x-amz-tagging-count": str(len(tags))} if tags else {}


def _version_header(version_id: str) -> dict[str, str]:
    return {"x-amz-version-id": version_id} if version_id != "null" else {}


async def get_object_tagging(call: Call) -> Response:
    info = await call.bucket_info()
    obj = await blocking(call.system.store.get_object, call.bucket, call.key,
                         call.operation.version_id)
    call.authorize(info, Action.READ_OBJECT, obj.version["acl"], version=obj.version)
    return xml_response("Tagging", tag_set_nodes(obj.version.get("tags", {})),
                        _version_header(obj.version["version_id"]))


async def put_object_tagging(call: Call) -> Response:
    await call.bucket_info(Action.WRITE_OBJECTS)
    tags = tags_from_xml(await read_small_body(call), MAX_OBJECT_TAGS)
    changed = await blocking(call.system.store.set_object_tags, call.bucket, call.key,
                             call.operation.version_id, tags, call.meta, call.now)
    return Response(status_code=200, headers=_version_header(changed))


async def delete_object_tagging(call: Call) -> Response:
    await call.bucket_info(Action.WRITE_OBJECTS)
    changed = await blocking(call.system.store.set_object_tags, call.bucket, call.key,
                             call.operation.version_id, {}, call.meta, call.now)
    return Response(status_code=204, headers=_version_header(changed))


async def get_bucket_tagging(call: Call) -> Response:
    info = await call.bucket_info(Action.ADMINISTER_BUCKET)
    if not info.tags:
        raise NoSuchConfiguration("The TagSet does not exist", "NoSuchTagSet",
                                  bucket=call.bucket)
    return xml_response("Tagging", tag_set_nodes(info.tags))


async def put_bucket_tagging(call: Call) -> Response:
    return await put_bucket_setting(call, call.system.store.set_bucket_tags,
                                    lambda body: tags_from_xml(body, MAX_BUCKET_TAGS), 204)


async def delete_bucket_tagging(call: Call) -> Response:
    return await remove_bucket_setting(call, call.system.store.set_bucket_tags, {})