"""History as a feature, through the native door: as-of listings and reads, retention,
restore. Each scenario scripts a history, notes the instant after each step, and checks
that the bucket as of each instant equals what it held then."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient


def _put(c: TestClient, bucket: str, key: str, data: bytes) -> None:
    r = c.post(f"/buckets/{bucket}/upload", params={"key": key}, content=data)
    assert r.status_code == 201, r.text


def _delete(c: TestClient, bucket: str, key: str, **params: str) -> dict[str, Any]:
    r = c.delete(f"/buckets/{bucket}/objects/{key}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _instant() -> str:
    time.sleep(0.002)  # the next event's clock reading is strictly later
    moment = datetime.now(UTC).isoformat()
    time.sleep(0.002)
    return moment


def _listing(c: TestClient, bucket: str, **params: Any) -> list[str]:
    r = c.get(f"/buckets/{bucket}/list", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return [o["key"] for o in body["objects"]] + [f"<{p}>" for p in body["common_prefixes"]]


def _paged(c: TestClient, bucket: str, as_of: str) -> list[str]:
    keys: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"as_of": as_of, "limit": 1}
        if cursor:
            params["cursor"] = cursor
        body = c.get(f"/buckets/{bucket}/list", params=params).json()
        keys += [o["key"] for o in body["objects"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return keys


def _script(c: TestClient, bucket: str, tag: bytes) -> list[tuple[str, dict[str, bytes]]]:
    """Creates, overwrites, deletes and re-creates; the instant after each step and the
    contents the bucket held then."""
    moments = [(_instant(), {})]
    _put(c, bucket, "a", b"a1" + tag)
    _put(c, bucket, "b", b"b1" + tag)
    _put(c, bucket, "dir/c", b"c1" + tag)
    moments.append((_instant(), {"a": b"a1", "b": b"b1", "dir/c": b"c1"}))
    _put(c, bucket, "a", b"a2" + tag)
    _delete(c, bucket, "b")
    _delete(c, bucket, "dir/c")
    moments.append((_instant(), {"a": b"a2"}))
    _put(c, bucket, "b", b"b3" + tag)
    _put(c, bucket, "dir/d", b"d3" + tag)
    moments.append((_instant(), {"a": b"a2", "b": b"b3", "dir/d": b"d3"}))
    _delete(c, bucket, "a")
    moments.append((_instant(), {"b": b"b3", "dir/d": b"d3"}))
    return [(t, {k: v + tag for k, v in held.items()}) for t, held in moments]


@pytest.mark.parametrize("versioning", ["Unversioned", "Enabled"])
def test_as_of_listings_and_reads_equal_what_the_bucket_held(
    client: TestClient, versioning: str
) -> None:
    client.put("/buckets/past")
    client.put("/buckets/past/retention", json={"retention_seconds": 3600})
    if versioning == "Enabled":
        client.put("/buckets/past/versioning", json={"status": "Enabled"})
    history = _script(client, "past", versioning.encode())
    for moment, held in history:
        assert _listing(client, "past", as_of=moment) == sorted(held), moment
        assert _paged(client, "past", moment) == sorted(held)
        rolled = sorted(k for k in held if "/" not in k) + sorted(
            {f"<{k.split('/')[0]}/>" for k in held if "/" in k})
        assert _listing(client, "past", as_of=moment, delimiter="/") == rolled
        for key in ["a", "b", "dir/c", "dir/d"]:
            got = client.get(f"/buckets/past/objects/{key}", params={"as_of": moment})
            meta = client.get(f"/buckets/past/meta/{key}", params={"as_of": moment})
            if key in held:
                assert got.status_code == 200 and got.content == held[key], (moment, key)
                assert meta.json()["size_bytes"] == len(held[key])
            else:
                assert got.status_code == 404 and meta.status_code == 404, (moment, key)
    assert _listing(client, "past", as_of=history[-1][0]) == _listing(client, "past")


def test_removing_a_version_by_id_changes_history_from_then_on(client: TestClient) -> None:
    client.put("/buckets/vers")
    client.put("/buckets/vers/versioning", json={"status": "Enabled"})
    _put(client, "vers", "k", b"first")
    before = _instant()
    r = client.post("/buckets/vers/upload", params={"key": "k"}, content=b"second")
    second = r.json()["version_id"]
    both = _instant()
    _delete(client, "vers", "k", version_id=second)
    after = _instant()
    read = {t: client.get("/buckets/vers/objects/k", params={"as_of": t}).content
            for t in (before, both, after)}
    assert read == {before: b"first", both: b"second", after: b"first"}


def test_bad_instants_and_conflicting_parameters_are_refused(client: TestClient) -> None:
    client.put("/buckets/docs")
    _put(client, "docs", "k", b"x")
    bad = client.get("/buckets/docs/list", params={"as_of": "yesterday"})
    assert bad.status_code == 400 and "RFC 3339" in bad.json()["message"]
    both = client.get("/buckets/docs/objects/k", params={"as_of": _instant(), "version_id": "v"})
    assert both.status_code == 400
    versions = client.get("/buckets/docs/list", params={"as_of": _instant(), "versions": "true"})
    assert versions.status_code == 400
    assert client.get("/buckets/docs/objects/k", params={"as_of": "2001-01-01"}).status_code == 404
    assert client.put("/buckets/docs/retention", json={"retention_seconds": -1}).status_code == 400
    assert client.put("/buckets/docs/retention", json={"retention_seconds": "1"}).status_code == 400


def _wait(predicate: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_superseded_data_is_readable_for_the_retention_period_then_gone(
    client: TestClient,
) -> None:
    """The test settings' GC grace is half a second: a bucket without retention loses
    its superseded chunks at once, one with an hour keeps them."""
    system: Any = client.app.state.system  # type: ignore[attr-defined]
    for bucket in ("brief", "kept"):
        client.put(f"/buckets/{bucket}")
    client.put("/buckets/kept/retention", json={"retention_seconds": 3600})
    assert client.get("/buckets/kept/retention").json() == {"retention_seconds": 3600}
    old = {}
    for bucket in ("brief", "kept"):
        _put(client, bucket, "k", f"old bytes of {bucket}".encode())
        old[bucket] = client.get(f"/buckets/{bucket}/list").json()["objects"][0]
    moment = _instant()
    digests = {}
    for bucket in ("brief", "kept"):
        meta = client.get(f"/buckets/{bucket}/meta/k").json()
        digests[bucket] = system.store.get_object(bucket, "k").version["chunks"][0]["digest"]
        assert meta["etag"] == old[bucket]["etag"]
        _put(client, bucket, "k", f"new bytes of {bucket}".encode())
    assert _wait(lambda: not system.blobs.holds(digests["brief"]))
    gone = client.get("/buckets/brief/objects/k", params={"as_of": moment})
    assert gone.status_code == 410 and gone.json()["error"] == "Gone"
    assert "retention" in gone.json()["message"]
    system.gc.run_once()
    assert system.blobs.holds(digests["kept"])
    kept = client.get("/buckets/kept/objects/k", params={"as_of": moment})
    assert kept.status_code == 200 and kept.content == b"old bytes of kept"
    # The listing as of then still names the key: its metadata outlives its bytes.
    assert _listing(client, "brief", as_of=moment) == ["k"]


def test_restore_makes_the_live_listing_equal_the_as_of_listing(client: TestClient) -> None:
    client.put("/buckets/undo")
    client.put("/buckets/undo/retention", json={"retention_seconds": 3600})
    history = _script(client, "undo", b"!")
    moment, held = history[2]  # a2 only
    r = client.post("/buckets/undo/restore", params={"as_of": moment})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["deleted"] == ["b", "dir/d"] and report["restored"] == ["a"]
    assert report["counts"] == {"restored": 1, "deleted": 2, "gone": 0, "unchanged": 0}
    assert _listing(client, "undo") == sorted(held) == _listing(client, "undo", as_of=moment)
    assert client.get("/buckets/undo/objects/a").content == held["a"]
    # Nothing was rewritten: every earlier instant still reads as it did.
    for earlier, earlier_held in history:
        assert _listing(client, "undo", as_of=earlier) == sorted(earlier_held)
    again = client.post("/buckets/undo/restore", params={"as_of": moment}).json()
    assert again["counts"] == {"restored": 0, "deleted": 0, "gone": 0, "unchanged": 1}


def test_restore_of_a_prefix_leaves_other_keys_alone(client: TestClient) -> None:
    client.put("/buckets/part")
    _put(client, "part", "keep/x", b"x1")
    _put(client, "part", "undo/y", b"y1")
    moment = _instant()
    _put(client, "part", "keep/x", b"x2")
    _put(client, "part", "undo/y", b"y2")
    _put(client, "part", "undo/z", b"z2")
    report = client.post("/buckets/part/restore",
                         params={"as_of": moment, "prefix": "undo/"}).json()
    assert report["counts"]["restored"] == 1 and report["deleted"] == ["undo/z"]
    assert client.get("/buckets/part/objects/undo/y").content == b"y1"
    assert client.get("/buckets/part/objects/keep/x").content == b"x2"
    assert client.post("/buckets/part/restore").status_code == 400


def test_keys_with_long_histories_read_right_at_every_instant(client: TestClient) -> None:
    """More entries after an instant than the listing steps over before it seeks."""
    client.put("/buckets/long")
    _put(client, "long", "a-before", b"neighbour")
    moments = []
    for n in range(12):
        _put(client, "long", "k", b"edition %d" % n)
        moments.append(_instant())
    _put(client, "long", "z-after", b"neighbour")
    for n, moment in enumerate(moments):
        assert client.get("/buckets/long/objects/k", params={"as_of": moment}).content == (
            b"edition %d" % n)
        assert _listing(client, "long", as_of=moment) == ["a-before", "k"]
