"""One process at a time in a data directory (issue 26): a server, or an offline command
such as `strata projections rebuild`, holds an exclusive lock on <data dir>/strata.lock
while it works; another refuses at once and says who holds it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from infra.settings import SettingsError


class DataDirLock:
    def __init__(self, data_dir: Path, doing: str) -> None:
        self._path = data_dir / "strata.lock"
        self._doing = doing
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise SettingsError(
                f"{self._path.parent} is in use by {holder}: stop it first (Ctrl-C where it "
                f"runs, or kill its pid) before {self._doing}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"strata pid {os.getpid()} ({self._doing})".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
