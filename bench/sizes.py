"""Bytes a key costs: in the SQLite event log (per event) and in the views (per row and
per key), for docs/scaling.md. Writes N new keys straight through the store (each a
Created and a VersionPut event), lets the views catch up, and measures the files.

Run: .venv/bin/python -m bench.sizes [--keys 50000]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from dataclasses import replace
from pathlib import Path

from bench.metadata import write_keys
from bench.peers import STRATA_AK, STRATA_SK
from infra.run.system import open_system
from infra.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strata-bench-sizes-") as tmp:
        data = Path(tmp) / "data"
        settings = replace(Settings(), data_dir=data, root_access_key=STRATA_AK,
                           root_secret_key=STRATA_SK)
        system = open_system(settings)
        system.start()
        try:
            write_keys(system.store, args.keys, 100_000)
            head = system.store.current_position()
            system.runner.wait_for(head, timeout=600)
            rows = sum(1 for _ in system.views.scan(b"", b"\xff"))
        finally:
            system.close()
        with sqlite3.connect(data / "events.sqlite3") as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            state = db.execute("SELECT sum(length(state)) FROM stored_events").fetchone()[0]
        log_bytes = (data / "events.sqlite3").stat().st_size
        view_bytes = sum(f.stat().st_size for f in (data / "views").rglob("*") if f.is_file())
    print(f"{args.keys:,} keys, {head:,} events: {log_bytes / head:.0f} bytes an event in "
          f"the log ({state / head:.0f} of state); {rows:,} view rows, "
          f"{view_bytes / rows:.0f} bytes a row, {view_bytes / args.keys:.0f} bytes a key")


if __name__ == "__main__":
    main()
