"""Only the data directory's owner can read what strata stores (issue 19, item 17)."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx

from tests.conftest import Server, free_port, server_env
from tests.s3.conftest import make_client


def _open_to_others(root: Path) -> list[str]:
    return [str(p) for p in [root, *root.rglob("*")]
            if not p.is_symlink() and p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)]


def test_the_data_directory_is_private_and_an_old_one_is_tightened(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", free_port(), free_port(), server_env())
    srv.start()
    try:
        s3 = make_client(srv)
        s3.create_bucket(Bucket="private")
        s3.put_object(Bucket="private", Key="small", Body=b"s" * 100)
        s3.put_object(Bucket="private", Key="large", Body=b"l" * 300_000)
    finally:
        srv.stop()
    assert _open_to_others(srv.data_dir) == []
    assert stat.S_IMODE(srv.data_dir.stat().st_mode) == 0o700
    # As an earlier version left it: everything readable by everyone.
    for path in [srv.data_dir, *srv.data_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    srv.start()
    try:
        assert httpx.get(f"{srv.api}/healthz").status_code == 200
        assert make_client(srv).get_object(Bucket="private", Key="large")["Body"].read() \
            == b"l" * 300_000
    finally:
        srv.stop()
    assert _open_to_others(srv.data_dir) == []
    log = (srv.data_dir.parent / f"serve-{srv.api_port}.log").read_text()
    assert "made" in log and "private to its owner" in log
