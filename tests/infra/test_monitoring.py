"""Issue 26, item 3: the alert rules and the dashboard of infra/monitoring are valid
for Prometheus, and every alert has a unit test that fires it (promtool)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.monitoring import MONITORING, alert_rules, dashboard_expressions


def _promtool(*args: str, cwd: Path = MONITORING) -> str:
    done = subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_alert_rules_are_valid_and_their_unit_tests_pass() -> None:
    assert "SUCCESS: 14 rules found" in _promtool("check", "rules", "rules.yml")
    assert "SUCCESS" in _promtool("test", "rules", "rules-test.yml")


def test_every_alert_has_a_unit_test_that_fires_it_and_says_what_to_do() -> None:
    tests = yaml.safe_load((MONITORING / "rules-test.yml").read_text())["tests"]
    fired = {check["alertname"] for test in tests for check in test["alert_rule_test"]
             if check["exp_alerts"]}
    rules = alert_rules()
    assert fired == {rule["alert"] for rule in rules}
    assert all(rule["annotations"]["summary"] for rule in rules)


def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    expressions = dashboard_expressions()
    assert len(expressions) > 40
    # promtool parses expressions of rules: each panel's as a recording rule
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expression_{n}", "expr": expr}
        for n, expr in enumerate(expressions)]}]}
    (tmp_path / "dashboard-rules.yml").write_text(yaml.safe_dump(rules))
    found = _promtool("check", "rules", "dashboard-rules.yml", cwd=tmp_path)
    assert f"SUCCESS: {len(expressions)} rules found" in found
