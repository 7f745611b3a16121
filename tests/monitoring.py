"""What the Grafana dashboard and the alert rules of infra/monitoring read, and what a
/metrics page exports: the tests check one against the other on live processes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

MONITORING = Path(__file__).resolve().parent.parent / "infra" / "monitoring"
_NAME = re.compile(r"\b(strata_[a-z0-9_]+)\b")

# Series that exist only in some shapes or moments; each set is checked where it exists.
ONLY_EMBEDDED = {"strata_chunk_pack_bytes", "strata_worker_position",
                 "strata_worker_lag_events"}
AFTER_A_GC_SWEEP = {"strata_chunks_referenced", "strata_chunks_referenced_bytes",
                    "strata_gc_backlog_chunks", "strata_gc_backlog_bytes"}


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"]
            for target in panel.get("targets", [])]


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load((MONITORING / "rules.yml").read_text())["groups"]
            for rule in group["rules"]]


def monitored_names() -> set[str]:
    """Every strata series an expression of the dashboard or the rules names."""
    expressions = dashboard_expressions() + [rule["expr"] for rule in alert_rules()]
    return {name for expr in expressions for name in _NAME.findall(expr)}


def only_with_geo(names: set[str]) -> set[str]:
    return {name for name in names if name.startswith("strata_geo_")}


def exported_names(text: str) -> set[str]:
    """The sample names of a /metrics page (a histogram's _bucket, _sum and _count)."""
    return {sample.name for family in text_string_to_metric_families(text)
            for sample in family.samples}


def prometheus_url(printed: str) -> str:
    """The Prometheus address `strata cluster up --monitoring` printed."""
    found = re.search(r"Prometheus : (http://127\.0\.0\.1:\d+)", printed)
    assert found, printed
    return found.group(1)


def prometheus_targets(prometheus: str) -> list[tuple[str, str]]:
    """(job, health) of every target Prometheus scrapes, sorted."""
    active = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()
    return sorted((t["labels"]["job"], t["health"]) for t in active["data"]["activeTargets"])
