"""No raw tracebacks for ordinary situations (issue 26, item 11)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port, server_env


def _strata(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra.run.cli", *args],
                          env=server_env(**env), capture_output=True, text=True, timeout=60)


def test_root_credentials_that_break_the_key_rules_say_which_setting(tmp_path: Path) -> None:
    done = _strata("serve", "--data-dir", str(tmp_path / "d"), "--api-port", str(free_port()),
                   "--s3-port", str(free_port()), STRATA_ROOT_ACCESS_KEY="short",
                   STRATA_ROOT_SECRET_KEY="x")
    assert done.returncode == 2
    assert "STRATA_ROOT_ACCESS_KEY" in done.stderr and "Traceback" not in done.stderr


def test_version() -> None:
    done = _strata("--version")
    assert done.returncode == 0 and done.stdout.startswith("strata ")


def test_generated_root_credentials_are_pointed_to_on_every_start(tmp_path: Path) -> None:
    """Issue 26, item 10: a first start that fails after saving them would otherwise
    leave the operator without a way to learn them."""
    import os
    import signal

    env = {k: v for k, v in server_env().items() if not k.startswith("STRATA_ROOT_")}
    banners = []
    for _ in range(2):
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.run.cli", "serve", "--data-dir", str(tmp_path / "d"),
             "--api-port", str(free_port()), "--s3-port", str(free_port())],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        process.send_signal(signal.SIGINT)
        process.wait(30)
        process.stdout.close()
        banners.append("".join(lines))
    saved = str(tmp_path / "d" / "root-credentials.json")
    assert "were generated and saved in" in banners[0] and "secret key:" in banners[0]
    assert f"root credentials: in {saved}" in banners[1] and "secret key" not in banners[1]
    assert os.stat(saved).st_mode & 0o777 == 0o600


def test_credentials_and_a_refused_key_say_where_they_come_from(tmp_path: Path) -> None:
    """Issue 26, item 10: `strata credentials`; a command whose key the server refuses
    names the key and where it was read."""
    import json

    from tests.conftest import Server

    server = Server(tmp_path / "served", free_port(), free_port(), server_env())
    server.start()
    try:
        other = tmp_path / "other"
        other.mkdir()
        (other / "root-credentials.json").write_text(json.dumps(
            {"access_key": "OTHERKEY00000000000001", "secret_key": "nope"}))
        env = {k: v for k, v in server_env().items() if not k.startswith("STRATA_ROOT_")}
        shown = subprocess.run([sys.executable, "-m", "infra.run.cli", "credentials",
                                "--data-dir", str(other)], env=env, capture_output=True,
                               text=True, timeout=60)
        assert shown.returncode == 0
        assert "OTHERKEY00000000000001" in shown.stdout and "root-credentials.json" in shown.stdout
        refused = subprocess.run([sys.executable, "-m", "infra.run.cli", "node", "list",
                                  "--url", server.api, "--data-dir", str(other)], env=env,
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1
        assert "OTHERKEY00000000000001" in refused.stderr
        assert str(other / "root-credentials.json") in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        server.stop()
