"""Object lock through a real server with boto3 (issue 23): every removal path against
GOVERNANCE and COMPLIANCE retention and a legal hold, with and without bypass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import create_user_keys, make_client


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _later(days: int = 1) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


@pytest.fixture
def locked_bucket(s3: Any, bucket: str) -> str:
    name = bucket + "-lock"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def _versions(s3: Any, bucket: str) -> list[str]:
    listed = s3.list_object_versions(Bucket=bucket)
    return [v["VersionId"] for v in listed.get("Versions", [])]


def test_a_bucket_created_with_object_lock_is_versioned_for_good(s3: Any,
                                                                  locked_bucket: str) -> None:
    assert s3.get_bucket_versioning(Bucket=locked_bucket)["Status"] == "Enabled"
    config = s3.get_object_lock_configuration(Bucket=locked_bucket)
    assert config["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    with pytest.raises(ClientError) as suspend:
        s3.put_bucket_versioning(Bucket=locked_bucket,
                                 VersioningConfiguration={"Status": "Suspended"})
    assert _code(suspend) == "InvalidBucketState"


def test_a_bucket_without_lock_has_no_configuration_and_refuses_lock_headers(
        s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as none:
        s3.get_object_lock_configuration(Bucket=bucket)
    assert _code(none) == "ObjectLockConfigurationNotFoundError"
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=_later())
    assert _code(refused) == "InvalidRequest"
    with pytest.raises(ClientError) as unversioned:
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled"})
    assert _code(unversioned) == "InvalidBucketState"
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_retention_blocks_every_removal_of_its_version(s3: Any, locked_bucket: str,
                                                       mode: str) -> None:
    until = _later()
    version = s3.put_object(Bucket=locked_bucket, Key="k", Body=b"x", ObjectLockMode=mode,
                            ObjectLockRetainUntilDate=until)["VersionId"]
    head = s3.head_object(Bucket=locked_bucket, Key="k")
    assert head["ObjectLockMode"] == mode
    assert head["ObjectLockRetainUntilDate"] == until
    assert head["ObjectLockLegalHoldStatus"] == "OFF"
    with pytest.raises(ClientError) as single:
        s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=version)
    assert _code(single) == "AccessDenied"
    batch = s3.delete_objects(Bucket=locked_bucket, Delete={
        "Objects": [{"Key": "k", "VersionId": version}]})
    assert [e["Code"] for e in batch.get("Errors", [])] == ["AccessDenied"]
    # a delete without a version id only places a marker: allowed, nothing is lost
    s3.delete_object(Bucket=locked_bucket, Key="k")
    with pytest.raises(ClientError) as bucket_delete:
        s3.delete_bucket(Bucket=locked_bucket)
    assert _code(bucket_delete) == "BucketNotEmpty"
    with pytest.raises(ClientError) as shortened:
        s3.put_object_retention(Bucket=locked_bucket, Key="k", VersionId=version,
                                Retention={"Mode": mode, "RetainUntilDate": _later(0) +
                                           timedelta(hours=1)})
    assert _code(shortened) == "AccessDenied"
    s3.put_object_retention(Bucket=locked_bucket, Key="k", VersionId=version,
                            Retention={"Mode": mode, "RetainUntilDate": _later(2)})
    got = s3.get_object_retention(Bucket=locked_bucket, Key="k", VersionId=version)
    assert got["Retention"]["RetainUntilDate"] - until > timedelta(hours=23)
    assert version in _versions(s3, locked_bucket)


def test_governance_yields_to_the_bucket_owner_who_asks_to_bypass(
        s3_server: Any, s3: Any, locked_bucket: str) -> None:
    version = s3.put_object(Bucket=locked_bucket, Key="k", Body=b"x",
                            ObjectLockMode="GOVERNANCE",
                            ObjectLockRetainUntilDate=_later())["VersionId"]
    access_key, secret = create_user_keys(s3_server, "lock-writer")
    s3.put_bucket_acl(Bucket=locked_bucket, GrantFullControl="id=lock-writer")
    writer = make_client(s3_server, access_key, secret)
    with pytest.raises(ClientError) as not_allowed:
        writer.delete_object(Bucket=locked_bucket, Key="k", VersionId=version,
                             BypassGovernanceRetention=True)
    assert _code(not_allowed) == "AccessDenied"
    s3.put_object_retention(Bucket=locked_bucket, Key="k", VersionId=version,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": _later(0) +
                                       timedelta(hours=1)}, BypassGovernanceRetention=True)
    s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=version,
                     BypassGovernanceRetention=True)
    assert version not in _versions(s3, locked_bucket)


def test_compliance_yields_to_nobody_not_even_root_with_bypass(s3: Any,
                                                              locked_bucket: str) -> None:
    version = s3.put_object(Bucket=locked_bucket, Key="k", Body=b"x",
                            ObjectLockMode="COMPLIANCE",
                            ObjectLockRetainUntilDate=_later())["VersionId"]
    for attempt in (
        lambda: s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=version,
                                 BypassGovernanceRetention=True),
        lambda: s3.put_object_retention(
            Bucket=locked_bucket, Key="k", VersionId=version, BypassGovernanceRetention=True,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": _later(3)}),
        lambda: s3.put_object_retention(Bucket=locked_bucket, Key="k", VersionId=version,
                                        BypassGovernanceRetention=True, Retention={}),
    ):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert _code(refused) == "AccessDenied"
    assert s3.get_object_retention(Bucket=locked_bucket, Key="k", VersionId=version)[
        "Retention"]["Mode"] == "COMPLIANCE"
    assert version in _versions(s3, locked_bucket)


def test_a_legal_hold_blocks_removal_until_it_is_lifted(s3: Any, locked_bucket: str) -> None:
    version = s3.put_object(Bucket=locked_bucket, Key="k", Body=b"x",
                            ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert s3.get_object_legal_hold(Bucket=locked_bucket, Key="k")["LegalHold"][
        "Status"] == "ON"
    with pytest.raises(ClientError) as held:
        s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=version,
                         BypassGovernanceRetention=True)
    assert _code(held) == "AccessDenied"
    s3.put_object_legal_hold(Bucket=locked_bucket, Key="k", VersionId=version,
                             LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=version)
    assert version not in _versions(s3, locked_bucket)


def test_the_default_retention_locks_new_versions(s3: Any, locked_bucket: str) -> None:
    s3.put_object_lock_configuration(Bucket=locked_bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    rule = s3.get_object_lock_configuration(Bucket=locked_bucket)[
        "ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert rule == {"Mode": "COMPLIANCE", "Days": 1}
    version = s3.put_object(Bucket=locked_bucket, Key="k", Body=b"x")["VersionId"]
    retention = s3.get_object_retention(Bucket=locked_bucket, Key="k")["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert timedelta(hours=23) < retention["RetainUntilDate"] - datetime.now(UTC) \
        <= timedelta(days=1)
    copied = s3.copy_object(Bucket=locked_bucket, Key="copy",
                            CopySource={"Bucket": locked_bucket, "Key": "k"})
    assert copied["VersionId"]
    assert s3.head_object(Bucket=locked_bucket, Key="copy")["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=version)
    assert _code(refused) == "AccessDenied"


@pytest.mark.parametrize(("config", "code"), [
    ({"ObjectLockEnabled": "Enabled",
      "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}},
     "InvalidArgument"),
    ({"ObjectLockEnabled": "Enabled",
      "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 0}}}, "InvalidArgument"),
    ({"ObjectLockEnabled": "Enabled",
      "Rule": {"DefaultRetention": {"Mode": "FOREVER", "Days": 1}}}, "MalformedXML"),
])
def test_bad_lock_configurations_are_refused(s3: Any, locked_bucket: str,
                                             config: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientError) as refused:
        s3.put_object_lock_configuration(Bucket=locked_bucket, ObjectLockConfiguration=config)
    assert _code(refused) == code


def test_a_retention_date_in_the_past_is_refused(s3: Any, locked_bucket: str) -> None:
    with pytest.raises(ClientError) as past:
        s3.put_object(Bucket=locked_bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=datetime.now(UTC) - timedelta(days=1))
    assert _code(past) == "InvalidArgument"
    assert _versions(s3, locked_bucket) == []


def test_multipart_uploads_carry_their_lock_to_the_object(s3: Any, locked_bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=locked_bucket, Key="mp",
                                        ObjectLockMode="GOVERNANCE",
                                        ObjectLockRetainUntilDate=_later(),
                                        ObjectLockLegalHoldStatus="ON")
    part = s3.upload_part(Bucket=locked_bucket, Key="mp", UploadId=upload["UploadId"],
                          PartNumber=1, Body=b"x")
    done = s3.complete_multipart_upload(
        Bucket=locked_bucket, Key="mp", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    head = s3.head_object(Bucket=locked_bucket, Key="mp")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockLegalHoldStatus"] == "ON"
    with pytest.raises(ClientError) as held:
        s3.delete_object(Bucket=locked_bucket, Key="mp", VersionId=done["VersionId"])
    assert _code(held) == "AccessDenied"


def test_restore_and_the_native_door_cannot_remove_locked_versions(
        s3_server: Any, s3: Any, locked_bucket: str) -> None:
    """A restore to before the versions existed only places delete markers; the native
    door's deletes meet the same lock as the S3 door's (the aggregate decides)."""
    import httpx

    before = datetime.now(UTC)
    compliance = s3.put_object(Bucket=locked_bucket, Key="c", Body=b"c",
                               ObjectLockMode="COMPLIANCE",
                               ObjectLockRetainUntilDate=_later())["VersionId"]
    held = s3.put_object(Bucket=locked_bucket, Key="h", Body=b"h",
                         ObjectLockLegalHoldStatus="ON")["VersionId"]
    s3.put_object_tagging(Bucket=locked_bucket, Key="h", VersionId=held,
                          Tagging={"TagSet": [{"Key": "case", "Value": "42"}]})
    api, auth = s3_server.api, s3_server.token()
    restored = httpx.post(f"{api}/buckets/{locked_bucket}/restore",
                          params={"as_of": before.isoformat()}, headers=auth)
    assert restored.status_code == 200, restored.text
    for key, version in (("c", compliance), ("h", held)):
        refused = httpx.delete(f"{api}/buckets/{locked_bucket}/objects/{key}",
                               params={"version_id": version, "bypass_governance": "true"},
                               headers=auth)
        assert refused.status_code == 403 and refused.json()["error"] == "ObjectLocked"
    assert {compliance, held} <= set(_versions(s3, locked_bucket))
    markers = s3.list_object_versions(Bucket=locked_bucket).get("DeleteMarkers", [])
    assert {m["Key"] for m in markers} == {"c", "h"}
    assert s3.get_object_tagging(Bucket=locked_bucket, Key="h", VersionId=held)[
        "TagSet"] == [{"Key": "case", "Value": "42"}]
