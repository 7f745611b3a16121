"""Two real `strata serve` processes on loopback as two sites, and what a test compares
between them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT_AK, ROOT_SK, Server, free_port, server_env, start_together

PART = 5 * 1024 * 1024
CONVERGE_SECONDS = 60  # a busy 2-core machine runs both sites and the test


def site_server(tmp_path: Path, name: str, **env: str) -> Server:
    return Server(tmp_path / name, free_port(), free_port(),
                  server_env(STRATA_SITE_NAME=name, STRATA_GEO_POLL_SECONDS="0.2",
                             # chunks received wait for their change within the GC grace
                             STRATA_GC_GRACE_SECONDS="60",
                             STRATA_GEO_RETRY_MAX_SECONDS="1", **env))


@contextmanager
def running(*servers: Server) -> Iterator[None]:
    """The servers started together, and stopped however the block ends."""
    start_together(list(servers))
    try:
        yield
    finally:
        for server in servers:
            server.stop()


@contextmanager
def two_sites(tmp_path: Path, rule: bool = True, **a_env: str
              ) -> Iterator[tuple[Server, Server]]:
    """Sites A and B, B registered on A, versioned buckets "src" on A and "dst" on B,
    and (with `rule`) A's rule sending src to dst. `a_env`: more of A's settings."""
    a, b = site_server(tmp_path, "site-a", **a_env), site_server(tmp_path, "site-b")
    with running(a, b):
        register(a, "site-b", b)
        versioned_bucket(a, "src")
        versioned_bucket(b, "dst")
        if rule:
            replicate(a, "src", "site-b", "dst")
        yield a, b


def admin(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.api, headers=server.token(), timeout=30)


def register(source: Server, name: str, destination: Server) -> None:
    with admin(source) as api:
        r = api.put(f"/admin/sites/{name}", json={
            "endpoint": destination.api, "access_key": ROOT_AK, "secret_key": ROOT_SK})
        assert r.status_code in (200, 201), r.text


def versioned_bucket(server: Server, bucket: str) -> None:
    with admin(server) as api:
        assert api.put(f"/buckets/{bucket}").status_code in (200, 201)
        r = api.put(f"/buckets/{bucket}/versioning", json={"status": "Enabled"})
        assert r.status_code == 200, r.text


def replicate(server: Server, bucket: str, site: str, destination: str,
              **rule: Any) -> None:
    with admin(server) as api:
        r = api.put(f"/buckets/{bucket}/replication", json={"rules": [{
            "id": rule.pop("id", "r1"), "prefix": rule.pop("prefix", ""),
            "destination": {"site": site, "bucket": destination},
            "delete_markers": rule.pop("delete_markers", True), **rule}]})
        assert r.status_code == 200, r.text


def versions(s3: Any, bucket: str) -> list[tuple[Any, ...]]:
    """Every version and delete marker: key, id, latest, ETag, size, last-modified."""
    found: list[tuple[Any, ...]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []):
            found.append((v["Key"], v["VersionId"], v["IsLatest"], v["ETag"], v["Size"],
                          v["LastModified"]))
        for m in page.get("DeleteMarkers", []):
            found.append((m["Key"], m["VersionId"], m["IsLatest"], "marker", 0,
                          m["LastModified"]))
    return sorted(found)


def wait_until_equal(read: Callable[[], Any], expected: Callable[[], Any],
                     what: str) -> Any:
    deadline = time.monotonic() + CONVERGE_SECONDS
    wanted = got = None
    while time.monotonic() < deadline:
        wanted, got = expected(), read()
        if got == wanted:
            return got
        time.sleep(0.2)
    raise AssertionError(f"{what} did not converge in {CONVERGE_SECONDS} s:\n"
                         f"wanted {wanted}\ngot    {got}")


def replication_status(server: Server, bucket: str) -> dict[str, Any]:
    with admin(server) as api:
        r = api.get(f"/buckets/{bucket}/replication/status")
        assert r.status_code == 200, r.text
        return dict(r.json())


def settled_rule(server: Server, bucket: str, index: int = 0) -> dict[str, Any]:
    """A rule's status once its sender has read the whole log (other events, such as
    garbage collection's, may have come after the last change it sent)."""
    wait_until_equal(lambda: replication_status(server, bucket)["rules"][index]["lag_events"],
                     lambda: 0, f"the lag of {bucket}'s rule")
    return dict(replication_status(server, bucket)["rules"][index])


def history(server: Server, bucket: str, key: str) -> list[tuple[Any, ...]]:
    """A key's events as /history tells them: name, version, time, actor."""
    return histories(server, bucket, [key])[key]


def histories(server: Server, bucket: str, keys: list[str]
              ) -> dict[str, list[tuple[Any, ...]]]:
    found = {}
    with admin(server) as api:  # one sign-in for them all
        for key in keys:
            r = api.get(f"/buckets/{bucket}/history/{key}")
            assert r.status_code == 200, r.text
            found[key] = [(e["name"], e["version_id"], e["time"], e["actor"])
                          for e in r.json()["history"]]
    return found


def metric(server: Server, name: str, site: str) -> float:
    """One site-labelled sample of a server's /metrics."""
    text = httpx.get(f"{server.api}/metrics", timeout=10).text
    prefix = f'{name}{{site="{site}"}} '
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):])
    raise AssertionError(f"{name} for {site} is not in /metrics")


def _instant() -> datetime:
    moment = datetime.now(UTC)
    time.sleep(0.01)  # the next change is strictly later than the instant noted
    return moment


def scripted_history(s3: Any) -> list[datetime]:
    """Creates, overwrites, versioned deletes, delete markers, ACL and metadata
    changes, a multipart upload and a copy; the instants between them."""
    instants = [_instant()]
    s3.put_object(Bucket="src", Key="k1", Body=b"one", ContentType="text/plain",
                  CacheControl="max-age=60", Metadata={"colour": "blue"})
    s3.put_object(Bucket="src", Key="k1", Body=b"one, again", Metadata={"colour": "red"})
    s3.put_object(Bucket="src", Key="k2", Body=b"two")
    instants.append(_instant())
    s3.delete_object(Bucket="src", Key="k2")  # a delete marker
    old = s3.put_object(Bucket="src", Key="k3", Body=b"three")["VersionId"]
    s3.put_object(Bucket="src", Key="k3", Body=b"three, newer")
    s3.delete_object(Bucket="src", Key="k3", VersionId=old)  # a version removed for good
    instants.append(_instant())
    s3.put_object_acl(Bucket="src", Key="k1", ACL="public-read")
    s3.copy_object(Bucket="src", Key="k1", CopySource={"Bucket": "src", "Key": "k1"},
                   Metadata={"colour": "green"}, MetadataDirective="REPLACE")
    upload = s3.create_multipart_upload(Bucket="src", Key="k4", ContentType="video/mp4")
    parts = []
    for number, body in ((1, os.urandom(PART)), (2, b"b" * 1000)):
        etag = s3.upload_part(Bucket="src", Key="k4", UploadId=upload["UploadId"],
                              PartNumber=number, Body=body)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(Bucket="src", Key="k4", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": parts})
    s3.copy_object(Bucket="src", Key="k5", CopySource={"Bucket": "src", "Key": "k4"})
    instants.append(_instant())
    return instants


def version_details(s3: Any, bucket: str) -> list[tuple[Any, ...]]:
    details = []
    for key, version_id, _, etag, _, _ in versions(s3, bucket):
        if etag == "marker":
            continue
        got = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)
        details.append((key, version_id, got["Body"].read(), got["ContentType"],
                        got.get("CacheControl"), got["Metadata"], got["ETag"],
                        got.get("PartsCount")))
    return details
