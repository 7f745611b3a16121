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
