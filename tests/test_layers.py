"""Dependencies point one way: domain/ imports only the stdlib and eventsourcing."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_DOMAIN = {"starlette", "faust", "rocksdict", "httpx", "infra", "api", "projections",
                       "workers", "uvicorn", "aiokafka", "orjson"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_domain_imports_only_stdlib_and_eventsourcing() -> None:
    allowed = set(sys.stdlib_module_names) | {"eventsourcing", "domain", "__future__"}
    for path in (ROOT / "domain").glob("*.py"):
        bad = imported_roots(path) - allowed
        assert not bad, f"{path.name} imports {bad}"
        assert not (imported_roots(path) & FORBIDDEN_IN_DOMAIN)


def test_projections_do_not_import_infra_api_or_workers() -> None:
    for path in (ROOT / "projections").glob("*.py"):
        assert not (imported_roots(path) & {"infra", "api", "workers"}), path.name
