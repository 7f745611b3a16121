"""Dependencies point one way. Each folder may import only the folders its row names
(besides the stdlib and third-party libraries it is allowed):

  domain/          the stdlib and eventsourcing, nothing else
  projections/     domain
  workers/         domain, projections
  api/             domain, projections (it is handed an opened System; never opens one)
  infra/ (but run) domain, projections, and infra's own folders other than run
  infra/run/       everything: it is the one composition root, the servers and the CLI
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"domain", "projections", "workers", "api", "infra"}
ALLOWED: dict[str, set[str]] = {
    "domain": {"domain"},
    "projections": {"domain", "projections"},
    "workers": {"domain", "projections", "workers"},
    "api": {"domain", "projections", "api"},
    "infra": {"domain", "projections", "infra"},
    "infra/run": {"domain", "projections", "workers", "api", "infra", "infra/run"},
}
THIRD_PARTY_IN_DOMAIN = {"eventsourcing"}


def imported(path: Path) -> set[str]:
    """Every module a file imports, dotted, at any depth (imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] not in OURS:
        return None
    if parts[0] == "infra" and len(parts) > 1 and parts[1] == "run":
        return "infra/run"
    return parts[0]


def _folder(path: Path) -> str:
    relative = path.relative_to(ROOT).parts
    return "infra/run" if relative[:2] == ("infra", "run") else relative[0]


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_every_folder_imports_only_what_its_layer_allows(folder: str) -> None:
    paths = [p for p in (ROOT / folder).rglob("*.py") if _folder(p) == folder]
    assert paths, folder
    bad = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in paths
        for module in imported(path)
        if (layer := layer_of(module)) is not None and layer not in ALLOWED[folder]
    }
    assert not bad, "\n".join(sorted(bad))


def test_domain_imports_only_the_stdlib_and_eventsourcing() -> None:
    allowed = set(sys.stdlib_module_names) | THIRD_PARTY_IN_DOMAIN | {"domain", "__future__"}
    for path in (ROOT / "domain").rglob("*.py"):
        roots = {module.split(".")[0] for module in imported(path)}
        assert roots <= allowed, f"{path.name} imports {roots - allowed}"


def test_projections_and_workers_do_no_http() -> None:
    for folder in ("projections", "workers"):
        for path in (ROOT / folder).rglob("*.py"):
            roots = {module.split(".")[0] for module in imported(path)}
            assert not roots & {"starlette", "httpx", "uvicorn", "faust", "rocksdict"}, path
