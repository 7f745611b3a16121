"""History, audit and the event stream name the right actors for changes made by two
users through both doors, against a real `strata serve`."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.s3.conftest import make_client

BOB_AK, BOB_SK = "BOBACCESSKEY0000AUD1", "bob-secret-for-audit-tests-0000000000"


@pytest.fixture(scope="module")
def bob(s3_server: Server) -> dict[str, str]:
    r = httpx.post(f"{s3_server.api}/admin/users", headers=s3_server.token(),
                   json={"name": "bob", "access_key": BOB_AK, "secret_key": BOB_SK})
    assert r.status_code == 201, r.text
    return s3_server.token(BOB_AK, BOB_SK)


def _shared_bucket(s3_server: Server, s3: Any, bucket: str) -> None:
    r = httpx.put(f"{s3_server.api}/buckets/{bucket}/acl", headers=s3_server.token(),
                  json={"grants": [{"grantee": "user:bob", "permission": "FULL_CONTROL"}]})
    assert r.status_code == 200, r.text


def _scripted_changes(s3_server: Server, s3: Any, bob: dict[str, str], bucket: str) -> None:
    """Bob writes through S3, root overwrites natively, bob deletes, root changes an ACL."""
    _shared_bucket(s3_server, s3, bucket)
    bob_s3 = make_client(s3_server, BOB_AK, BOB_SK)
    bob_s3.put_object(Bucket=bucket, Key="doc", Body=b"bob's draft")
    r = httpx.post(f"{s3_server.api}/buckets/{bucket}/upload?key=doc", content=b"root's edit",
                   headers=s3_server.token())
    assert r.status_code == 201
    s3.put_object(Bucket=bucket, Key="doc", Body=b"root again")
    s3.put_object_acl(Bucket=bucket, Key="doc", ACL="public-read")
    bob_s3.delete_object(Bucket=bucket, Key="doc")


def test_history_names_each_change_with_actor_user_and_request(
    s3_server: Server, s3: Any, bob: dict[str, str], bucket: str
) -> None:
    _scripted_changes(s3_server, s3, bob, bucket)
    r = httpx.get(f"{s3_server.api}/buckets/{bucket}/history/doc", headers=s3_server.token())
    assert r.status_code == 200, r.text
    history = r.json()["history"]
    assert [(h["type"], h["user"]) for h in history] == [
        ("ObjectKey.VersionPut", "bob"),
        ("ObjectKey.VersionPut", "root"),
        ("ObjectKey.VersionPut", "root"),
        ("ObjectKey.AclChanged", "root"),
        ("ObjectKey.VersionDeleted", "bob"),
    ]
    assert history[0]["actor"] == BOB_AK and "Boto3" in history[0]["user_agent"]
    assert "python-httpx" in history[1]["user_agent"]
    assert all(h["source"] == "127.0.0.1" and h["request_id"] for h in history)
    positions = [h["position"] for h in history]
    assert positions == sorted(positions) and positions[0] > 0
    assert len({h["request_id"] for h in history}) == len(history)
    missing = httpx.get(f"{s3_server.api}/buckets/{bucket}/history/never",
                        headers=s3_server.token())
    assert missing.status_code == 404


def test_audit_filters_by_bucket_actor_type_and_time(
    s3_server: Server, s3: Any, bob: dict[str, str], bucket: str
) -> None:
    _scripted_changes(s3_server, s3, bob, bucket)
    s3.put_object(Bucket=bucket, Key="bulk/1", Body=b"1")
    s3.put_object(Bucket=bucket, Key="bulk/2", Body=b"2")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "bulk/1"}, {"Key": "bulk/2"}]})
    auth = s3_server.token()

    def audit(**params: Any) -> list[dict[str, Any]]:
        r = httpx.get(f"{s3_server.api}/audit", params={"bucket": bucket, **params},
                      headers=auth)
        assert r.status_code == 200, r.text
        return r.json()["events"]

    everything = audit(limit=1000)
    assert everything[0]["type"] == "Bucket.Created"
    by_bob = audit(actor="bob")
    assert {e["user"] for e in by_bob} == {"bob"} and len(by_bob) == 2
    removed = audit(type="s3:ObjectRemoved:*")
    assert sorted(e["key"] for e in removed) == ["bulk/1", "bulk/2", "doc"]
    acl_changes = audit(type="s3:ObjectAcl:Put,strata:BucketAclChanged")
    assert [e["type"] for e in acl_changes] == ["Bucket.AclChanged", "ObjectKey.AclChanged"]
    assert audit(prefix="bulk/", type="ObjectKey.VersionPut")[0]["key"] == "bulk/1"
    middle = everything[len(everything) // 2]["time"]
    later = audit(since=middle, limit=1000)
    assert later and all(e["time"] >= middle for e in later)
    assert later == [e for e in everything if e["time"] >= middle]
    page = httpx.get(f"{s3_server.api}/audit", params={"bucket": bucket, "limit": 2},
                     headers=auth).json()
    assert len(page["events"]) == 2 and page["next_after"] == page["events"][1]["position"]
    assert httpx.get(f"{s3_server.api}/audit", headers=bob).status_code == 403


def test_denied_requests_are_recorded_apart_from_events(
    s3_server: Server, s3: Any, bob: dict[str, str], bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="secret", Body=b"root only")
    bob_s3 = make_client(s3_server, BOB_AK, BOB_SK)
    with pytest.raises(ClientError):
        bob_s3.get_object(Bucket=bucket, Key="secret")
    forger = make_client(s3_server, BOB_AK, "not-bobs-secret")
    with pytest.raises(ClientError):
        forger.list_objects_v2(Bucket=bucket)
    assert httpx.get(f"{s3_server.api}/buckets/{bucket}/list", headers=bob).status_code == 403
    r = httpx.get(f"{s3_server.api}/audit/denied", params={"actor": BOB_AK},
                  headers=s3_server.token())
    denied = r.json()["denied"]
    codes = [(d["door"], d["name"]) for d in denied if bucket in d["path"]]
    assert codes[-3:] == [("s3", "AccessDenied"), ("s3", "SignatureDoesNotMatch"),
                          ("native", "AccessDenied")]
    assert all(d["source"] == "127.0.0.1" and d["request_id"] for d in denied)
    events = httpx.get(f"{s3_server.api}/audit", params={"bucket": bucket},
                       headers=s3_server.token()).json()["events"]
    assert all(e["type"] != "Denied" for e in events)


def _sse(response: httpx.Response, count: int | None = None) -> list[dict[str, Any]]:
    records = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            records.append(orjson.loads(line[len("data: "):]))
            if count is not None and len(records) == count:
                break
    return records


def test_the_event_stream_resumes_without_gaps_or_duplicates(
    s3_server: Server, s3: Any, bucket: str
) -> None:
    auth = s3_server.token()
    url = f"{s3_server.api}/events"
    for n in range(5):
        s3.put_object(Bucket=bucket, Key=f"k{n}", Body=b"x")
    with httpx.stream("GET", url, params={"bucket": bucket, "after": 0},
                      headers=auth, timeout=10) as live:
        first = _sse(live, 3)  # then the client drops the connection
    for n in range(5, 8):
        s3.delete_object(Bucket=bucket, Key=f"k{n - 5}")
    headers = {**auth, "last-event-id": str(first[-1]["position"])}
    with httpx.stream("GET", url, params={"bucket": bucket, "follow": "false"},
                      headers=headers, timeout=10) as resumed:
        rest = _sse(resumed)
    with httpx.stream("GET", url, params={"bucket": bucket, "after": 0, "follow": "false"},
                      headers=auth, timeout=10) as whole:
        everything = _sse(whole)
    assert [r["event_id"] for r in first + rest] == [r["event_id"] for r in everything]
    positions = [r["position"] for r in everything]
    assert positions == sorted(set(positions))
    assert [r["name"] for r in rest][-3:] == ["s3:ObjectRemoved:Delete"] * 3


def test_a_live_stream_delivers_new_events_as_they_commit(
    s3_server: Server, s3: Any, bucket: str
) -> None:
    auth = s3_server.token()
    with httpx.stream("GET", f"{s3_server.api}/events",
                      params={"bucket": bucket, "type": "s3:ObjectCreated:*"},
                      headers=auth, timeout=10) as live:
        s3.put_object(Bucket=bucket, Key="fresh", Body=b"new")
        [record] = _sse(live, 1)
    assert (record["key"], record["name"]) == ("fresh", "s3:ObjectCreated:Put")


def test_only_admins_read_every_bucket_and_others_need_list_permission(
    s3_server: Server, bob: dict[str, str], bucket: str
) -> None:
    url = f"{s3_server.api}/events"
    assert httpx.get(url, params={"follow": "false"}, headers=bob).status_code == 403
    refused = httpx.get(url, params={"bucket": bucket, "follow": "false"}, headers=bob)
    assert refused.status_code == 403
    bad = httpx.get(url, params={"after": "x"}, headers=s3_server.token())
    assert bad.status_code == 400
