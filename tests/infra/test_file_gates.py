"""The bucket gate the workers of `serve --workers N` share (file locks): a bucket's
deletion (exclusive) waits for writes in flight in any process (shared), and writes
wait for a deletion; two gates stand for two processes, each with its own files'
locks. Other buckets do not wait unless their names share a lock file."""

from __future__ import annotations

import threading
from pathlib import Path

from infra.eventstore.gates import FileBucketGate


def test_an_exclusive_hold_in_one_process_waits_for_shared_ones_in_another(
        tmp_path: Path) -> None:
    mine, theirs = FileBucketGate(tmp_path), FileBucketGate(tmp_path)
    order: list[str] = []
    writing = threading.Event()
    release = threading.Event()

    def write() -> None:
        with theirs.shared("photos"):
            order.append("write begins")
            writing.set()
            release.wait(10)
            order.append("write ends")

    def delete() -> None:
        writing.wait(10)
        with mine.exclusive("photos"):
            order.append("delete")

    threads = [threading.Thread(target=write), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    writing.wait(10)
    # the deletion is blocked while the write holds the bucket in the other "process"
    threads[1].join(0.3)
    assert threads[1].is_alive() and order == ["write begins"]
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["write begins", "write ends", "delete"]


def test_shared_holds_do_not_wait_for_each_other(tmp_path: Path) -> None:
    first, second = FileBucketGate(tmp_path), FileBucketGate(tmp_path)
    with first.shared("photos"), second.shared("photos"), first.shared("other"):
        pass  # would block forever if shared holds excluded each other
