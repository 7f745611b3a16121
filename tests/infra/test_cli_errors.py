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
