from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from infra.run.system import System
from projections.base import InMemoryViewStore
from projections.chunk_refs import reference_count, released
from tests.conftest import META, marker, now, version
from workers.gc import sweep
from workers.runner import LogFollower, dead_letters


def _chunk(system: System, data: bytes) -> dict[str, Any]:
    sink = system.blobs.begin_chunk()
    sink.write(data)
    return dict(sink.commit())


def _eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_deleted_objects_free_their_chunks_after_grace_but_shared_ones_stay(
    system: System,
) -> None:
    store = system.store
    store.create_bucket("photos", "alice", META, now())
    only = _chunk(system, b"only-mine")
    shared = _chunk(system, b"shared")
    v1 = version(size=len(b"only-mine"))
    v1["chunks"] = [only, shared]  # type: ignore[list-item]
    v2 = version(size=6)
    v2["chunks"] = [shared]  # type: ignore[list-item]
    store.put_object("photos", "a", v1, META, now())
    store.put_object("photos", "b", v2, META, now())
    store.delete_object("photos", "a", None, marker(), META, now())
    assert system.blobs.holds(only["digest"])  # still within the grace period
    _eventually(lambda: not system.blobs.holds(only["digest"]))
    assert system.blobs.holds(shared["digest"])
    assert b"".join(system.blobs.read_chunk(shared)) == b"shared"  # type: ignore[arg-type]


def test_a_chunk_referenced_again_is_kept_and_its_next_release_starts_grace_anew(
    system: System,
) -> None:
    """A chunk's release record outlives a new reference to it; the sweep must keep the
    chunk while it is referenced, and a later release must restart the grace clock."""
    store = system.store
    store.create_bucket("photos", "alice", META, now())
    chunk = _chunk(system, b"comes back")
    hours_ago = [now() - timedelta(hours=h) for h in (3, 2, 1)]
    first = version(size=len(b"comes back"))
    first["chunks"] = [chunk]  # type: ignore[list-item]
    store.put_object("photos", "a", first, META, hours_ago[0])
    store.delete_object("photos", "a", None, marker(), META, hours_ago[1])
    store.put_object("photos", "b", first, META, hours_ago[2])
    system.runner.wait_for(store.current_position())
    digest = chunk["digest"]
    assert reference_count(system.views, digest) == 1
    report = sweep(system.views, system.blobs, 1800, now())  # the first release: 2 h ago
    assert (report.referenced, report.digests) == (1, [])
    assert system.blobs.holds(digest)

    store.delete_object("photos", "b", None, marker(), META, now())
    system.runner.wait_for(store.current_position())
    assert reference_count(system.views, digest) == 0
    release = released(system.views, digest)
    assert release is not None and now() - release.at < timedelta(minutes=1)


def test_chunks_of_an_upload_that_never_recorded_are_collected(system: System) -> None:
    orphan = _chunk(system, b"crashed before the event")
    _eventually(lambda: not system.blobs.holds(orphan["digest"]))
    _eventually(lambda: system.gc.chunks_collected >= 1)


def test_a_failing_handler_is_retried_then_dead_lettered(system: System) -> None:
    store = system.store
    store.create_bucket("photos", "alice", META, now())
    calls: list[str] = []

    def flaky(event: Any) -> None:
        calls.append(type(event).__qualname__)
        raise RuntimeError("sink down")

    state = InMemoryViewStore()
    follower = LogFollower("flaky", store, state, flaky, attempts=3, backoff_seconds=0.001)
    position = follower.catch_up()
    assert position == store.current_position()
    events = position
    assert len(calls) == 3 * events
    letters = dead_letters(state)
    assert len(letters) == events and letters[0]["error"] == "RuntimeError('sink down')"


def test_a_handler_that_recovers_is_not_dead_lettered(system: System) -> None:
    attempts: list[int] = []

    def recovers(event: Any) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("once")

    state = InMemoryViewStore()
    follower = LogFollower("recovers", system.store, state, recovers, backoff_seconds=0.001)
    follower.catch_up()
    assert dead_letters(state) == [] and len(attempts) >= 2


class _CountingState(InMemoryViewStore):
    def __init__(self) -> None:
        super().__init__()
        self.commits = 0

    def commit(self, *args: Any, **kwargs: Any) -> None:
        self.commits += 1
        super().commit(*args, **kwargs)


def _follow(system: System, settle_seconds: float) -> tuple[LogFollower, list[Any], _CountingState]:
    seen: list[Any] = []
    state = _CountingState()
    follower = LogFollower(f"settle-{settle_seconds}", system.store, state, seen.append,
                           settle_seconds=settle_seconds)
    system.store.on_commit(follower.wake)
    follower.start()
    return follower, seen, state


def test_a_settling_follower_delivers_every_event_in_fewer_larger_batches(
    system: System,
) -> None:
    store = system.store
    prompt, prompt_seen, prompt_state = _follow(system, 0.0)
    settling, settling_seen, settling_state = _follow(system, 0.3)
    try:
        for n in range(30):
            store.create_bucket(f"settle-{n:02}", "alice", META, now())
            time.sleep(0.02)
        _eventually(lambda: prompt.position == settling.position == store.current_position())
    finally:
        prompt.stop()
        settling.stop()
    assert settling_seen == prompt_seen and len(prompt_seen) >= 30
    assert prompt_state.commits >= 20 > 5 >= settling_state.commits


def test_the_collector_refuses_chunks_of_a_locked_version_a_bug_removed(
    system: System,
) -> None:
    """Object lock outranks the reference count: a version under retention or a legal
    hold that went anyway (here removed by calling the aggregate's event method directly,
    as only a bug would) keeps its bytes, and the refusal is recorded as an event."""
    from datetime import UTC

    from domain.objects import ObjectKey
    from projections.chunk_refs import lock_on

    store = system.store
    store.create_bucket("vault", "alice", META, now(), object_lock=True)
    data = _chunk(system, b"locked-bytes")
    held = _chunk(system, b"held-bytes")
    retained = version("v1", size=len(b"locked-bytes"))
    retained["chunks"] = [data]  # type: ignore[list-item]
    retained["retention"] = {"mode": "COMPLIANCE",
                             "until": (now() + timedelta(days=1)).astimezone(UTC).isoformat()}
    on_hold = version("v2", size=len(b"held-bytes"))
    on_hold["chunks"] = [held]  # type: ignore[list-item]
    on_hold["legal_hold"] = True
    store.put_object("vault", "k", retained, META, now())
    store.put_object("vault", "k", on_hold, META, now())
    obj: ObjectKey = store.repository.get(ObjectKey.create_id("vault", "k"))
    for version_id in ("v1", "v2"):  # the bug: no lock check
        obj._version_deleted(bucket="vault", key="k", version_id=version_id, meta=META,
                             timestamp=now())
    store.save(obj)
    system.runner.wait_for(store.current_position())
    assert reference_count(system.views, data["digest"]) == 0
    assert "retention" in (lock_on(system.views, data["digest"], now()) or "")
    assert "legal hold" in (lock_on(system.views, held["digest"], now()) or "")

    report = sweep(system.views, system.blobs, 0, now() + timedelta(hours=1))
    assert set(report.refused) == {data["digest"], held["digest"]}
    assert data["digest"] not in report.digests and held["digest"] not in report.digests
    assert system.blobs.holds(data["digest"]) and system.blobs.holds(held["digest"])
    system.gc.run_once()
    events = [store.decode(n) for n in store.select_notifications(0, 1000)]
    refusals = [e for e in events if type(e).__name__ == "Refused"]
    assert len(refusals) == 1 and set(refusals[0].reasons) == {data["digest"], held["digest"]}
    # once the retention has ended, the chunk without a hold may go; the held one stays
    later = sweep(system.views, system.blobs, 0, now() + timedelta(days=2))
    assert set(later.refused) == {held["digest"]}
