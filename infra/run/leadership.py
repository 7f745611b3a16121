"""Which worker of `strata serve --workers N` runs the background workers (GC,
replication, geo-replication, lifecycle, inventory, upload expiry, key rotation): the
one holding an exclusive flock on <data dir>/leader.lock. The kernel lets go of a dead
process's lock, so another worker takes the lead within a poll."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from typing import Protocol

log = logging.getLogger("strata.leadership")
POLL_SECONDS = 0.5


class Leads(Protocol):
    """A System, as far as leading goes."""

    def start_background(self) -> None: ...


class Leadership:
    def __init__(self, path: str, elected: Leads, poll_seconds: float = POLL_SECONDS) -> None:
        self._path = path
        self._elected = elected
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._fd: int | None = None
        self._thread = threading.Thread(target=self._run, name="leadership", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        while not self._stop.is_set():
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._stop.wait(self._poll)
                continue
            self._fd = fd
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}".encode(), 0)
            log.info("this worker (pid %s) now runs the background workers", os.getpid())
            self._elected.start_background()
            return  # it leads until it exits: the lock is let go with the process
        os.close(fd)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self._fd is not None:
            os.close(self._fd)  # lets go of the lock: another worker may lead now
            self._fd = None
