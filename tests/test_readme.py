"""Issue 26, item 8: the README's blocks run, top to bottom, as a newcomer would paste
them: in a scratch directory beside a checkout's `.venv`, against `strata serve` on the
README's ports, in one shell (what one block sets, the next uses).

Every `sh` and `python` block runs, unless an HTML comment just above it says
`<!-- not run: <why> -->`; a block marked `<!-- slow -->` (one that starts servers of
its own and stops them, so it stands alone) runs in the slow test. Python
blocks run with the checkout's Python. curl fails on an HTTP error here (a README whose
call answers an error is one that lies), as `aws` and `strata` fail on theirs.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from infra.run.cluster import port_free

ROOT = Path(__file__).resolve().parent.parent
README_PORTS = (9000, 9001)  # where `make serve` serves, which the README's blocks use
_BLOCK = re.compile(r"(?:<!-- (?P<mark>[^>]*?) -->\n)?^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```",
                    re.S | re.M)
PRELUDE = """set -euo pipefail
curl() { command curl --fail-with-body "$@"; }
"""


@dataclass
class Block:
    lang: str
    body: str
    mark: str
    line: int

    @property
    def runs(self) -> bool:
        return self.lang in ("sh", "python") and not self.mark.startswith("not run")


def readme_blocks() -> list[Block]:
    text = (ROOT / "README.md").read_text()
    return [Block(m["lang"], m["body"], m["mark"] or "", text.count("\n", 0, m.start()) + 1)
            for m in _BLOCK.finditer(text)]


def script(blocks: list[Block]) -> str:
    parts = [PRELUDE]
    for block in blocks:
        parts.append(f"echo '--- README.md line {block.line}' >&2\n")
        if block.lang == "sh":
            parts.append(block.body)
        else:
            parts.append(f".venv/bin/python - <<'PYTHON'\n{block.body}PYTHON\n")
    return "".join(parts)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STRATA_", "AWS_")) and k != "PYTHONPATH"}
    env["HOME"] = os.environ.get("HOME", "/root")
    return env


def run_blocks(scratch: Path, blocks: list[Block], timeout: float) -> None:
    """Run `blocks` in `scratch` with a `strata serve` up there, as `make serve` runs it."""
    taken = [port for port in README_PORTS if not port_free(port)]
    assert not taken, f"the README's ports {taken} are in use: stop what holds them"
    (scratch / ".venv").symlink_to(ROOT / ".venv")
    env = _clean_env()
    with open(scratch / "serve.log", "wb") as log:
        server = subprocess.Popen([str(ROOT / ".venv/bin/strata"), "serve"], cwd=scratch,
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get("http://127.0.0.1:9001/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, \
                (scratch / "serve.log").read_text()
            time.sleep(0.1)
        (scratch / "readme.sh").write_text(script(blocks))
        code = _run_script(scratch, env, timeout)
        told = (scratch / "readme.out").read_text(errors="replace")
        assert code == 0, (f"a README block failed (exit {code}); the last marker says "
                           f"which\n{told[-8000:]}")
    finally:
        for state in scratch.glob("*/cluster.json"):  # a cluster a failed block left up
            subprocess.run([str(ROOT / ".venv/bin/strata"), "cluster", "down", "--root",
                            str(state.parent)], env=env, capture_output=True, timeout=60)
        server.terminate()
        server.wait(30)


def _run_script(scratch: Path, env: dict[str, str], timeout: float) -> int | None:
    """Its exit code (None if it ran out of time). Output goes to a file, not a pipe: a
    server a failed block left in the background would hold a pipe open. Whatever it
    left running is killed with its process group."""
    with open(scratch / "readme.out", "wb") as out:
        shell = subprocess.Popen(["bash", "readme.sh"], cwd=scratch, env=env, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return shell.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()


def test_every_code_block_runs_or_says_why_not() -> None:
    blocks = readme_blocks()
    assert len([b for b in blocks if b.runs]) >= 15
    for block in blocks:
        if block.mark.startswith("not run"):
            assert block.mark.removeprefix("not run").strip(": "), block.line
        else:
            assert block.mark in ("", "slow"), (block.line, block.mark)
        assert "../shared" not in block.body, block.line
    assert "](../" not in (ROOT / "README.md").read_text(), "a link outside the repository"


@pytest.mark.timeout(600)
def test_the_readme_runs_top_to_bottom(tmp_path: Path) -> None:
    run_blocks(tmp_path, [b for b in readme_blocks() if b.runs and b.mark != "slow"], 500)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_readme_cluster_blocks_run(tmp_path: Path) -> None:
    run_blocks(tmp_path, [b for b in readme_blocks() if b.runs and b.mark == "slow"], 800)
