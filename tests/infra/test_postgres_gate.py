"""The PostgreSQL bucket gate orders object writes against a bucket's deletion across
processes: shared holders exclude an exclusive holder, and the other way round."""

from __future__ import annotations

import threading
import time

import pytest

from infra.gates import PostgresBucketGate

pytestmark = pytest.mark.postgres


def test_a_deletion_waits_for_writes_in_flight_and_writes_wait_for_a_deletion(
    postgres_url: str,
) -> None:
    one, other = PostgresBucketGate(postgres_url), PostgresBucketGate(postgres_url)
    order: list[str] = []
    try:
        with one.shared("photos"), other.shared("photos"):  # writes share the bucket
            deleting = threading.Thread(target=lambda: _hold(other, "photos", order))
            deleting.start()
            time.sleep(0.3)
            order.append("writes done")
        deleting.join(10)
        assert order == ["writes done", "deleted"]
        with other.exclusive("photos"):
            writing = threading.Thread(target=lambda: _write(one, "photos", order))
            writing.start()
            time.sleep(0.3)
            order.append("deleted again")
        writing.join(10)
        assert order[-2:] == ["deleted again", "written"]
        with one.exclusive("other-bucket"), other.shared("photos"):
            pass  # other buckets are not held up
    finally:
        one.close()
        other.close()


def _hold(gate: PostgresBucketGate, bucket: str, order: list[str]) -> None:
    with gate.exclusive(bucket):
        order.append("deleted")


def _write(gate: PostgresBucketGate, bucket: str, order: list[str]) -> None:
    with gate.shared(bucket):
        order.append("written")
