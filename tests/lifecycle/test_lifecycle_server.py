"""Lifecycle rules run by a real server with a one-second lifecycle day (issue 23):
objects, noncurrent versions, expired delete markers and abandoned uploads go away on
time and not before, history names the rule, and object lock holds what it locks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from domain.lifecycle import after_days
from tests.conftest import Server, free_port, running, server_env, wait_until
from tests.s3.conftest import make_client

DAY = 1  # second: STRATA_LIFECYCLE_DAY_SECONDS
_names = count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("lifecycle")
    srv = Server(root / "data", free_port(), free_port(),
                 server_env(STRATA_LIFECYCLE_DAY_SECONDS=str(DAY)))
    with running(srv):
        yield srv


@pytest.fixture(scope="module")
def s3(server: Server) -> Any:
    return make_client(server)


def _bucket(s3: Any, versioned: bool = False, lock: bool = False) -> str:
    name = f"lc-{next(_names)}"
    s3.create_bucket(Bucket=name, **({"ObjectLockEnabledForBucket": True} if lock else {}))
    if versioned and not lock:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _rules(s3: Any, bucket: str, *rules: dict[str, Any]) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket,
                                          LifecycleConfiguration={"Rules": list(rules)})


def _history(server: Server, bucket: str, key: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{server.api}/buckets/{bucket}/history/{key}", headers=server.token())
    assert answer.status_code == 200, answer.text
    return list(answer.json()["history"])


def _versions(s3: Any, bucket: str, prefix: str = "") -> list[tuple[str, str, bool]]:
    listed = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    found = [(v["Key"], v["VersionId"], False) for v in listed.get("Versions", [])]
    found += [(m["Key"], m["VersionId"], True) for m in listed.get("DeleteMarkers", [])]
    return sorted(found)


def _removal(server: Server, bucket: str, key: str) -> dict[str, Any]:
    removals = [r for r in _history(server, bucket, key) if r["actor"] == "strata:lifecycle"]
    assert removals, "the lifecycle left no event"
    return removals[0]


def test_expiration_removes_current_objects_on_time_and_names_the_rule(
        server: Server, s3: Any) -> None:
    bucket = _bucket(s3)
    _rules(s3, bucket, {"ID": "expire-logs", "Status": "Enabled",
                        "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 2}})
    s3.put_object(Bucket=bucket, Key="logs/a", Body=b"x" * 1000)
    s3.put_object(Bucket=bucket, Key="keep/b", Body=b"y")
    head = s3.head_object(Bucket=bucket, Key="logs/a")
    assert 'rule-id="expire-logs"' in head["Expiration"]
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="keep/b")
    created = head["LastModified"].astimezone(UTC)
    stats = httpx.get(f"{server.api}/buckets/{bucket}", headers=server.token()).json()["stats"]
    assert stats["objects"] == 2

    def gone() -> bool:
        return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] \
            == ["keep/b"]

    wait_until(gone, 30, "logs/a was not expired")
    removal = _removal(server, bucket, "logs/a")
    assert removal["name"] == "s3:LifecycleExpiration:Delete"
    assert removal["reason"].startswith("lifecycle rule expire-logs")
    # not before: S3's rounding of last-modified + 2 days up to the next day boundary
    assert datetime.fromisoformat(removal["time"]) >= after_days(created, 2, DAY)
    stats = httpx.get(f"{server.api}/buckets/{bucket}", headers=server.token()).json()["stats"]
    assert stats["objects"] == 1 and stats["bytes"] == 1


def test_versioned_expiry_noncurrent_versions_and_expired_markers(server: Server,
                                                                  s3: Any) -> None:
    bucket = _bucket(s3, versioned=True)
    _rules(s3, bucket,
           {"ID": "current", "Status": "Enabled", "Filter": {"Prefix": "cur/"},
            "Expiration": {"Days": 1}},
           {"ID": "noncurrent", "Status": "Enabled", "Filter": {"Prefix": "nc/"},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}},
           {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "dm/"},
            "Expiration": {"ExpiredObjectDeleteMarker": True}},
           {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "off/"},
            "Expiration": {"Days": 1}})
    current = s3.put_object(Bucket=bucket, Key="cur/k", Body=b"1")["VersionId"]
    nc = [s3.put_object(Bucket=bucket, Key="nc/k", Body=str(i).encode())["VersionId"]
          for i in range(3)]
    lone_marker = s3.delete_object(Bucket=bucket, Key="dm/lone")["VersionId"]
    s3.put_object(Bucket=bucket, Key="dm/kept", Body=b"x")
    kept_marker = s3.delete_object(Bucket=bucket, Key="dm/kept")["VersionId"]
    s3.put_object(Bucket=bucket, Key="off/k", Body=b"x")

    def settled() -> bool:
        versions = _versions(s3, bucket)
        return ("cur/k", current, False) in versions and any(
            k == "cur/k" and marker for k, _, marker in versions) and \
            ("nc/k", nc[0], False) not in versions and \
            ("dm/lone", lone_marker, True) not in versions

    wait_until(settled, 30, lambda: f"lifecycle did not act: {_versions(s3, bucket)}")
    versions = _versions(s3, bucket)
    assert [v for k, v, _ in versions if k == "nc/k"] == sorted(nc[1:])
    assert ("dm/kept", kept_marker, True) in versions  # an older version is still under it
    assert [k for k, _, _ in versions if k == "off/k"] == ["off/k"]
    placed = _removal(server, bucket, "cur/k")
    assert placed["name"] == "s3:LifecycleExpiration:DeleteMarkerCreated"
    assert placed["reason"].startswith("lifecycle rule current")
    removed = _removal(server, bucket, "nc/k")
    assert removed["version_id"] == nc[0] and removed["reason"].startswith(
        "lifecycle rule noncurrent")
    replaced_at = next(r["time"] for r in _history(server, bucket, "nc/k")
                       if r["version_id"] == nc[1])
    assert datetime.fromisoformat(removed["time"]) >= after_days(
        datetime.fromisoformat(replaced_at), 1, DAY)
    assert _removal(server, bucket, "dm/lone")["reason"].startswith("lifecycle rule markers")


def test_tag_and_size_filters_choose_what_expires(server: Server, s3: Any) -> None:
    bucket = _bucket(s3)
    _rules(s3, bucket,
           {"ID": "tagged", "Status": "Enabled",
            "Filter": {"And": {"Prefix": "t/", "Tags": [{"Key": "expire", "Value": "yes"}]}},
            "Expiration": {"Days": 1}},
           {"ID": "big", "Status": "Enabled",
            "Filter": {"ObjectSizeGreaterThan": 100}, "Expiration": {"Days": 1}})
    s3.put_object(Bucket=bucket, Key="t/yes", Body=b"x", Tagging="expire=yes")
    s3.put_object(Bucket=bucket, Key="t/no", Body=b"x", Tagging="expire=no")
    s3.put_object(Bucket=bucket, Key="big", Body=b"x" * 101)
    s3.put_object(Bucket=bucket, Key="small", Body=b"x" * 100)

    def keys() -> list[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]

    wait_until(lambda: keys() == ["small", "t/no"], 30, lambda: f"left: {keys()}")


def test_abandoned_uploads_are_aborted(server: Server, s3: Any) -> None:
    bucket = _bucket(s3)
    _rules(s3, bucket, {"ID": "uploads", "Status": "Enabled", "Filter": {"Prefix": "mp/"},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}})
    abandoned = s3.create_multipart_upload(Bucket=bucket, Key="mp/a")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mp/a", UploadId=abandoned, PartNumber=1, Body=b"p")
    other = s3.create_multipart_upload(Bucket=bucket, Key="other/b")["UploadId"]

    def open_uploads() -> list[str]:
        return [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)
                .get("Uploads", [])]

    wait_until(lambda: open_uploads() == [other], 30, lambda: f"open: {open_uploads()}")
    with pytest.raises(ClientError):
        s3.list_parts(Bucket=bucket, Key="mp/a", UploadId=abandoned)


def test_object_lock_holds_what_lifecycle_would_remove(server: Server, s3: Any) -> None:
    bucket = _bucket(s3, lock=True)
    until = datetime.now(UTC) + timedelta(days=1)
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"1", ObjectLockMode="COMPLIANCE",
                          ObjectLockRetainUntilDate=until)["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"2", ObjectLockLegalHoldStatus="ON"
                           )["VersionId"]
    _rules(s3, bucket, {"ID": "everything", "Status": "Enabled", "Filter": {},
                        "Expiration": {"Days": 1},
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})

    def marked() -> bool:
        return any(marker for _, _, marker in _versions(s3, bucket))

    wait_until(marked, 30, "the current version was not expired by a delete marker")
    # a few more passes: the locked noncurrent versions are due, and must stay
    passes = _metric(server, "strata_lifecycle_passes_total")
    wait_until(lambda: _metric(server, "strata_lifecycle_passes_total") >= passes + 3, 30,
               "the lifecycle worker stopped passing")
    versions = [v for _, v, marker in _versions(s3, bucket) if not marker]
    assert sorted(versions) == sorted([first, second])
    assert _metric(server, "strata_lifecycle_held_total") > 0


def _metric(server: Server, name: str) -> float:
    text = httpx.get(f"{server.api}/metrics").text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} is not in /metrics")


@pytest.mark.parametrize(("rule", "code"), [
    ({"ID": "x" * 256, "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}},
     "MalformedXML"),
    ({"ID": "a", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 0}},
     "MalformedXML"),
    ({"ID": "a", "Status": "Enabled", "Filter": {}}, "MalformedXML"),
    ({"ID": "a", "Status": "Enabled", "Filter": {},
      "Expiration": {"Date": datetime(2030, 1, 1, 12, tzinfo=UTC)}}, "MalformedXML"),
    ({"ID": "a", "Status": "Enabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}},
      "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}, "MalformedXML"),
    ({"ID": "a", "Status": "Enabled", "Filter": {},
      "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}, "InvalidRequest"),
])
def test_bad_lifecycle_rules_are_refused(s3: Any, rule: dict[str, Any], code: str) -> None:
    bucket = _bucket(s3)
    with pytest.raises(ClientError) as refused:
        _rules(s3, bucket, rule)
    assert refused.value.response["Error"]["Code"] == code
    with pytest.raises(ClientError) as none:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert none.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"


def test_duplicate_rule_ids_are_refused_and_a_configuration_reads_back(s3: Any) -> None:
    bucket = _bucket(s3)
    rule = {"ID": "same", "Status": "Enabled", "Filter": {"Prefix": "a/"},
            "Expiration": {"Days": 3}}
    with pytest.raises(ClientError) as refused:
        _rules(s3, bucket, rule, {**rule, "Filter": {"Prefix": "b/"}})
    assert refused.value.response["Error"]["Code"] == "MalformedXML"
    _rules(s3, bucket, rule, {"ID": "other", "Status": "Disabled",
                              "Filter": {"And": {"Prefix": "c/", "ObjectSizeLessThan": 10,
                                                 "Tags": [{"Key": "k", "Value": "v"}]}},
                              "NoncurrentVersionExpiration": {"NoncurrentDays": 5,
                                                              "NewerNoncurrentVersions": 2}})
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[0] == rule
    assert rules[1]["Filter"]["And"] == {"Prefix": "c/", "ObjectSizeLessThan": 10,
                                         "Tags": [{"Key": "k", "Value": "v"}]}
    assert rules[1]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 5,
                                                       "NewerNoncurrentVersions": 2}
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
