from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from domain.access import canned_acl
from domain.buckets import ENABLED, SUSPENDED, UNVERSIONED
from domain.errors import (
    InvalidObjectKey,
    MetadataTooLarge,
    MethodNotAllowed,
    NoSuchKey,
    NoSuchVersion,
)
from domain.objects import ObjectKey
from domain.records import NULL_VERSION, RequestMeta, Version

META: RequestMeta = {"actor": "AK", "request_id": "r1", "source": "127.0.0.1", "user_agent": "t"}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def version(version_id: str = NULL_VERSION, etag: str = "e1", marker: bool = False) -> Version:
    return {
        "version_id": version_id,
        "is_delete_marker": marker,
        "created_at": NOW.isoformat(),
        "owner": "alice",
        "size": 0 if marker else 3,
        "etag": "" if marker else etag,
        "sha256": "",
        "chunks": [] if marker else [{"digest": "ab" * 32, "size": 3}],
        "content_type": "text/plain",
        "headers": {},
        "user_metadata": {},
        "acl": canned_acl("private", "alice"),
    }


def new_key() -> ObjectKey:
    return ObjectKey.create("photos", "a/b.txt", NOW)


def ids(obj: ObjectKey) -> list[str]:
    return [v["version_id"] for v in obj.versions]


def test_unversioned_overwrite_replaces_the_null_version() -> None:
    obj = new_key()
    obj.put_version(version(etag="one"), UNVERSIONED, META, NOW)
    obj.put_version(version(etag="two"), UNVERSIONED, META, NOW)
    assert ids(obj) == [NULL_VERSION]
    assert obj.current()["etag"] == "two"
    put = obj.collect_events()[-1]
    assert put.replaced == [NULL_VERSION]


def test_enabled_versioning_keeps_every_version() -> None:
    obj = new_key()
    obj.put_version(version("v1"), ENABLED, META, NOW)
    obj.put_version(version("v2"), ENABLED, META, NOW)
    assert ids(obj) == ["v1", "v2"]
    assert obj.readable("v1")["version_id"] == "v1"


def test_a_reused_version_id_is_refused() -> None:
    obj = new_key()
    obj.put_version(version("v1"), ENABLED, META, NOW)
    with pytest.raises(Exception, match="fresh version id"):
        obj.put_version(version("v1"), ENABLED, META, NOW)


def test_delete_without_version_places_a_marker_when_enabled() -> None:
    obj = new_key()
    obj.put_version(version("v1"), ENABLED, META, NOW)
    placed = obj.delete(None, ENABLED, version("m1", marker=True), META, NOW)
    assert placed is not None and placed["version_id"] == "m1"
    with pytest.raises(NoSuchKey) as caught:
        obj.current()
    assert caught.value.delete_marker
    with pytest.raises(MethodNotAllowed):
        obj.readable("m1")
    # Removing the marker brings the object back.
    obj.delete("m1", ENABLED, version("x", marker=True), META, NOW)
    assert obj.current()["version_id"] == "v1"


def test_unversioned_delete_removes_the_null_version_and_places_no_marker() -> None:
    obj = new_key()
    obj.put_version(version(), UNVERSIONED, META, NOW)
    assert obj.delete(None, UNVERSIONED, version(marker=True), META, NOW) is None
    assert obj.is_empty


def test_suspended_puts_and_markers_replace_the_null_version_and_keep_others() -> None:
    obj = new_key()
    obj.put_version(version("v1"), ENABLED, META, NOW)
    obj.put_version(version(etag="n1"), SUSPENDED, META, NOW)
    obj.put_version(version(etag="n2"), SUSPENDED, META, NOW)
    assert ids(obj) == ["v1", NULL_VERSION]
    obj.delete(None, SUSPENDED, version(marker=True), META, NOW)
    assert ids(obj) == ["v1", NULL_VERSION]
    assert obj.versions[-1]["is_delete_marker"]


def test_deleting_an_unknown_version_is_refused() -> None:
    obj = new_key()
    obj.put_version(version("v1"), ENABLED, META, NOW)
    with pytest.raises(NoSuchVersion):
        obj.delete("nope", ENABLED, version(marker=True), META, NOW)


def test_user_metadata_over_2kb_is_refused() -> None:
    obj = new_key()
    big = version()
    big["user_metadata"] = {"k": "v" * 2048}
    with pytest.raises(MetadataTooLarge):
        obj.put_version(big, UNVERSIONED, META, NOW)
    assert obj.is_empty


@pytest.mark.parametrize("key", ["", "x" * 1025, "a\x00b", "é" * 513])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidObjectKey):
        ObjectKey.create("photos", key, NOW)


def test_acl_change_applies_to_the_current_version_only() -> None:
    obj = new_key()
    obj.put_version(version("v1"), ENABLED, META, NOW)
    obj.put_version(version("v2"), ENABLED, META, NOW)
    obj.set_acl(None, canned_acl("public-read", "alice"), META, NOW)
    assert len(obj.readable("v2")["acl"]["grants"]) == 2
    assert len(obj.readable("v1")["acl"]["grants"]) == 1


def test_a_command_on_a_copy_leaves_the_original_as_it_was() -> None:
    """The repository hands commands a copy of its cached aggregate; the copy shares
    the versions, so no command may change one in place."""
    original = new_key()
    original.put_version(version("v1"), ENABLED, META, NOW)
    original.put_version(version("v2"), ENABLED, META, NOW)
    original.put_version(version(NULL_VERSION), SUSPENDED, META, NOW)
    original.collect_events()
    before = copy.deepcopy(original.__dict__)
    commands = [
        lambda k: k.put_version(version("v3"), ENABLED, META, NOW),
        lambda k: k.put_version(version(NULL_VERSION, etag="e2"), SUSPENDED, META, NOW),
        lambda k: k.set_acl("v1", canned_acl("public-read", "alice"), META, NOW),
        lambda k: k.set_acl(None, canned_acl("public-read", "alice"), META, NOW),
        lambda k: k.delete("v2", ENABLED, version("m", marker=True), META, NOW),
        lambda k: k.delete(None, ENABLED, version("m", marker=True), META, NOW),
        lambda k: k.delete(None, UNVERSIONED, version("m", marker=True), META, NOW),
    ]
    for command in commands:
        changed = copy.deepcopy(original)
        command(changed)
        assert changed.versions != original.versions or changed.pending_events
        assert original.__dict__ == before
        assert original.pending_events == []
