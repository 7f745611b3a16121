"""docs/benchmarks.md: bench.suite writes it anew; the other parts add their sections."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
REPORT = DOCS / "benchmarks.md"


def append_section(title: str, body: str) -> None:
    """Add `## title` and `body` to the report, when a suite run has made one."""
    if REPORT.exists():
        REPORT.write_text(REPORT.read_text() + f"\n## {title}\n\n{body}\n")
