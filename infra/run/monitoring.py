"""`strata cluster up --monitoring`: a Prometheus (Debian's package) scraping every
process of the local cluster that serves /metrics, with strata's alert rules loaded.

Its files live under <root>/prometheus: the generated configuration (JSON, which is
YAML too), a copy of infra/monitoring/rules.yml, and the time-series database.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from infra.run.cluster import Process
from infra.settings import SettingsError

RULES = Path(__file__).resolve().parent.parent / "monitoring" / "rules.yml"
INSTALL_HINT = ("prometheus is not installed: run 'make client-tools' (as root), or "
                "'sudo apt-get install --no-install-recommends prometheus'")
SCRAPE_SECONDS = 5  # a cluster on one machine, for trying things out: fine-grained

# role -> (job, which port serves /metrics)
_JOBS = {"store": ("strata-store", "api_port"), "api": ("strata-api", "api_port"),
         "worker": ("strata-worker", "port"), "relay": ("strata-relay", "port"),
         "node": ("strata-nodes", "port")}


def scrape_configs(processes: list[Process], token: str) -> list[dict[str, Any]]:
    """One job per role, each process a target; https with the cluster's CA where the
    process serves TLS, the bearer token where /metrics asks for one."""
    jobs: dict[str, dict[str, Any]] = {}
    for process in processes:
        if process.role not in _JOBS:
            continue
        name, port_field = _JOBS[process.role]
        job = jobs.setdefault(name, {"job_name": name, "scheme": process.scheme,
                                     "static_configs": [{"targets": []}]})
        job["static_configs"][0]["targets"].append(f"127.0.0.1:{getattr(process, port_field)}")
        if process.ca:
            job["tls_config"] = {"ca_file": process.ca}
        if token:
            job["authorization"] = {"type": "Bearer", "credentials": token}
    return list(jobs.values())


def write_config(root: Path, processes: list[Process], token: str) -> Path:
    folder = root / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(RULES, folder / "rules.yml")
    config = {
        "global": {"scrape_interval": f"{SCRAPE_SECONDS}s",
                   "evaluation_interval": f"{SCRAPE_SECONDS}s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": scrape_configs(processes, token),
    }
    path = folder / "prometheus.yml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # may hold the token
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent=1)
    return path


def require_prometheus() -> str:
    """Its path; refused before a cluster starts, not after."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise SettingsError(INSTALL_HINT)
    return binary


def start_prometheus(root: Path, processes: list[Process], token: str, port: int) -> Process:
    """Start Prometheus on 127.0.0.1:`port` in the background; its Process."""
    binary = require_prometheus()
    config = write_config(root, processes, token)
    data, log = root / "prometheus" / "data", root / "logs" / "prometheus.log"
    args = [binary, f"--config.file={config}", f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=7d"]
    with open(log, "ab") as out:
        pid = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True).pid
    return Process("prometheus", port, pid, str(data), str(log), name="prometheus")
