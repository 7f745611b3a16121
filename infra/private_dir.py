"""A data directory only its owner can read: 700 for directories, 600 for files.

Object bytes, the event store and the keys live there; any local user who could read
them would read every private object. The process's umask makes whatever it creates
private; a directory left open by an earlier version is tightened once, on start.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("strata")
_OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def make_private(data_dir: Path) -> None:
    """Create `data_dir` (700) or tighten it, and everything in it, when it was open to
    others; from now on this process creates files 600 and directories 700."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not data_dir.stat().st_mode & _OPEN_TO_OTHERS:
        return  # private already: nothing below was made by an earlier, looser version
    tightened = _tighten(data_dir)
    log.warning("made %s private to its owner (%d entries were readable by others: "
                "directories are now 700, files 600)", data_dir, tightened)


def _tighten(top: Path) -> int:
    count = 0
    for root, dirs, files in os.walk(top):
        for name in (*dirs, *files):
            count += _chmod(Path(root) / name)
    # The top last: an interrupted walk is taken up again on the next start.
    return count + _chmod(top)


def _chmod(path: Path) -> int:
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode) or not mode & _OPEN_TO_OTHERS:
        return 0
    path.chmod(stat.S_IMODE(mode) & ~_OPEN_TO_OTHERS)
    return 1
