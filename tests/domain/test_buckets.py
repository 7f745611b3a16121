from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.access import canned_acl
from domain.buckets import ENABLED, SUSPENDED, UNVERSIONED, Bucket
from domain.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    InvalidArgument,
    InvalidBucketName,
    NoSuchBucket,
)
from domain.records import RequestMeta

META: RequestMeta = {"actor": "AK", "request_id": "r1", "source": "127.0.0.1", "user_agent": "t"}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def new_bucket(name: str = "photos", owner: str = "alice") -> Bucket:
    return Bucket.create(name, owner, canned_acl("private", owner), "us-east-1", META, NOW)


def test_created_bucket_records_who_and_when() -> None:
    bucket = new_bucket()
    (created,) = bucket.collect_events()
    assert type(created).__qualname__ == "Bucket.Created"
    assert created.meta == META
    assert created.timestamp == NOW
    assert bucket.id == Bucket.create_id("photos")
    assert bucket.versioning == UNVERSIONED


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "Photos",
        "-photos",
        "photos-",
        "ph..otos",
        "ph.-otos",
        "192.168.1.1",
        "xn--photos",
        "photos-s3alias",
        "ph_otos",
        "photos/x",
        "",
    ],
)
def test_invalid_bucket_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidBucketName):
        new_bucket(name)


@pytest.mark.parametrize("name", ["abc", "a" * 63, "my.bucket-1", "0photos9"])
def test_valid_bucket_names_are_accepted(name: str) -> None:
    assert new_bucket(name).name == name


def test_a_deleted_name_can_be_created_again_by_anyone() -> None:
    bucket = new_bucket()
    bucket.delete(META, NOW)
    with pytest.raises(NoSuchBucket):
        bucket.ensure_live()
    bucket.recreate("bob", canned_acl("private", "bob"), "us-east-1", META, NOW)
    assert bucket.is_live and bucket.owner == "bob" and bucket.generation == 2
    assert bucket.versioning == UNVERSIONED


def test_creating_a_live_bucket_again_says_who_owns_it() -> None:
    bucket = new_bucket()
    with pytest.raises(BucketAlreadyOwnedByYou):
        bucket.recreate("alice", canned_acl("private", "alice"), "us-east-1", META, NOW)
    with pytest.raises(BucketAlreadyExists):
        bucket.recreate("bob", canned_acl("private", "bob"), "us-east-1", META, NOW)


def test_versioning_moves_between_enabled_and_suspended_only() -> None:
    bucket = new_bucket()
    bucket.set_versioning(ENABLED, META, NOW)
    bucket.set_versioning(SUSPENDED, META, NOW)
    assert bucket.versioning == SUSPENDED
    with pytest.raises(InvalidArgument):
        bucket.set_versioning(UNVERSIONED, META, NOW)


def test_setting_the_same_versioning_twice_records_one_event() -> None:
    bucket = new_bucket()
    bucket.collect_events()
    bucket.set_versioning(ENABLED, META, NOW)
    bucket.set_versioning(ENABLED, META, NOW)
    assert len(bucket.collect_events()) == 1


def test_an_acl_cannot_change_the_owner() -> None:
    bucket = new_bucket()
    with pytest.raises(InvalidArgument):
        bucket.set_acl(canned_acl("private", "mallory"), META, NOW)
