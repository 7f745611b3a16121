"""`strata cluster up|status|down`: blob nodes and the store as background processes on
this machine, for trying a cluster out and for tests. Everything lives under one root:

  <root>/cluster.json      the processes: role, port, pid, data dir, log
  <root>/cluster-secret    the secret nodes and store sign with (unless set in the env)
  <root>/strata/           the store's data dir (root-credentials.json among it)
  <root>/node-<n>/         each node's chunks
  <root>/logs/             one log per process
  <root>/cluster-env.json  the STRATA_* settings the processes were started with, so that
                           'strata cluster restart' starts one again as it was
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from domain.placement import NodeRef
from infra.blobs.node_client import NodeClient, NodeError
from infra.run.system import root_credentials
from infra.settings import Settings, SettingsError

START_SECONDS = 60
STOP_ORDER = ["prometheus", "nginx", "store", "api", "worker", "relay", "node", "broker"]


@dataclass
class Process:
    role: str  # "node", "store"; with Kafka "broker", "relay", "api", "worker", "nginx";
    # with --monitoring "prometheus"
    port: int
    pid: int
    data_dir: str
    log: str
    zone: str = ""
    api_port: int = 0  # the store's native API (its `port` is the S3 door)
    name: str = ""  # unique in the cluster: "node-0", "api-1", "relay", "broker"
    args: list[str] = field(default_factory=list)  # `strata` arguments that started it
    ca: str = ""  # with TLS: the certificate it serves, which clients trust

    @property
    def scheme(self) -> str:
        return "https" if self.ca else "http"

    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.ca) if self.ca else True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _secret(root: Path, settings: Settings) -> str:
    if settings.cluster_secret:
        return settings.require_cluster_secret()
    path = root / "cluster-secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _spawn(args: list[str], env: dict[str, str], log: Path) -> int:
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.run.cli", *args], env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    return process.pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this very process counts as gone
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return finished == 0


def _healthy(process: Process, secret: str) -> bool:
    if not _alive(process.pid):
        return False
    if process.role == "relay" and not process.port:  # started without /metrics
        return True
    if process.role == "prometheus":
        try:
            return httpx.get(f"http://127.0.0.1:{process.port}/-/ready",
                             timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
    if process.role == "broker":
        try:
            socket.create_connection(("127.0.0.1", process.port), timeout=2).close()
            return True
        except OSError:
            return False
    if process.role in ("worker", "relay"):
        try:
            return httpx.get(f"http://127.0.0.1:{process.port}/metrics",
                             timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
    if process.role == "node":
        client = NodeClient(NodeRef("?", process.zone),
                            f"{process.scheme}://127.0.0.1:{process.port}", secret, 2.0,
                            process.verify())
        try:
            client.health()
            return True
        except NodeError:
            return False
        finally:
            client.close()
    try:
        answer = httpx.get(f"{process.scheme}://127.0.0.1:{process.api_port}/healthz",
                           timeout=2, verify=process.verify())
    except httpx.HTTPError:
        return False
    # the process started, not another server on the same port
    return answer.status_code == 200 and answer.json().get("pid") in (process.pid, None) \
        if process.role == "store" else answer.status_code == 200


def _state_file(root: Path) -> Path:
    return root / "cluster.json"


def load(root: Path) -> list[Process]:
    path = _state_file(root)
    if not path.exists():
        raise SettingsError(f"no cluster under {root}: start one with 'strata cluster up "
                            f"--root {root}'")
    return [Process(**p) for p in json.loads(path.read_text())]


def _save(root: Path, processes: list[Process]) -> None:
    _state_file(root).write_text(json.dumps([asdict(p) for p in processes], indent=1))


def save_env(root: Path, env: dict[str, str]) -> None:
    """The cluster's settings: cluster-env.json for restarts, and <root>/env to source
    (`. <root>/env`) or to name with --root, for commands such as `events tail --kafka`."""
    kept = {k: v for k, v in env.items() if k.startswith("STRATA_")}
    path = root / "cluster-env.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(kept, f, indent=1)
    fd = os.open(root / "env", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.writelines(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(kept.items())
                     if k not in ("STRATA_CLUSTER_SECRET", "STRATA_ROOT_SECRET_KEY"))


def cluster_settings(root: Path, settings: Settings) -> Settings:
    """`settings` with the cluster's own (its Kafka, topic, event store) under them."""
    path = root.resolve() / "cluster-env.json"
    if not path.exists():
        raise SettingsError(f"no cluster settings under {root}: start one with "
                            f"'strata cluster up --root {root}'")
    saved = json.loads(path.read_text())
    return Settings.from_env({**saved, **{k: v for k, v in os.environ.items()
                                           if k.startswith("STRATA_") and k not in saved}})


def restart(root: Path, name: str) -> Process:
    """Start the cluster's process `name` again, as it was started (after a crash, or
    a kill in a test); a process still running is stopped first."""
    root = root.resolve()
    processes = load(root)
    found = next((p for p in processes if p.name == name), None)
    if found is None:
        names = ", ".join(p.name for p in processes if p.name)
        raise SettingsError(f"no process named {name!r} in the cluster under {root}; "
                            f"its processes: {names}")
    if not found.args and found.role not in ("broker", "prometheus"):
        raise SettingsError(f"{name} cannot be restarted on its own: run "
                            f"'strata cluster down --root {root}' and up again")
    if _alive(found.pid):
        os.kill(found.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _alive(found.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(found.pid):
            os.kill(found.pid, signal.SIGKILL)
    saved = json.loads((root / "cluster-env.json").read_text())
    if found.role == "broker":
        from infra.kafka.tansu import start_tansu

        with open(found.log, "ab") as out:
            found.pid = start_tansu("127.0.0.1", found.port, out).pid
    elif found.role == "prometheus":
        from infra.run.monitoring import start_prometheus

        found.pid = start_prometheus(root, processes, saved.get("STRATA_METRICS_TOKEN", ""),
                                     found.port).pid
    else:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
        if found.role in ("api", "worker"):
            saved["STRATA_INSTANCE"] = found.name
        found.pid = _spawn(found.args, {**env, **saved}, Path(found.log))
    _save(root, processes)
    return found


def revive(root: Path) -> list[str] | None:
    """`cluster up` on a cluster that runs with some of its processes dead: start those
    again, as they were started; their names. None when no cluster runs under `root`."""
    root = root.resolve()
    if not _state_file(root).exists():
        return None
    processes = load(root)
    if not any(_alive(p.pid) for p in processes):
        return None
    dead = [p.name for p in processes if not _alive(p.pid)]
    for name in dead:
        restart(root, name)
    return dead


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def prepare(root: Path, settings: Settings, nodes: int, zones: int,
            monitoring: bool = False) -> tuple[Path, str]:
    """The resolved root, with its logs folder, and the cluster secret; refused while a
    cluster runs there, while another process holds the doors' ports, or when
    `monitoring` is asked for without Prometheus installed."""
    root = root.resolve()
    if monitoring:
        from infra.run.monitoring import require_prometheus

        require_prometheus()
    if _state_file(root).exists() and any(_alive(p.pid) for p in load(root)):
        raise SettingsError(f"a cluster is already running under {root}; "
                            f"'strata cluster down --root {root}' stops it")
    for port, flag in ((settings.s3_port, "--s3-port"), (settings.api_port, "--api-port")):
        if not port_free(port):
            raise SettingsError(f"port {port} is in use by another process: stop it, or "
                                f"choose another with {flag}")
    if nodes < 1 or zones < 1:
        raise SettingsError("a cluster needs at least one node and one zone")
    (root / "logs").mkdir(parents=True, exist_ok=True)
    return root, _secret(root, settings)


def spawn_nodes(root: Path, env: dict[str, str], nodes: int, zones: int,
                tls: tuple[Path, Path] | None = None) -> list[Process]:
    """`nodes` blob nodes spread round-robin over `zones` zones (serving HTTPS with the
    certificate and key `tls`)."""
    processes = []
    for n in range(nodes):
        port, zone, data = _free_port(), f"zone-{chr(ord('a') + n % zones)}", root / f"node-{n}"
        log = root / "logs" / f"node-{n}.log"
        args = ["node", "--data-dir", str(data), "--port", str(port), "--zone", zone]
        if tls is not None:
            args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        pid = _spawn(args, env, log)
        processes.append(Process("node", port, pid, str(data), str(log), zone, name=f"node-{n}",
                                 args=args, ca=str(tls[0]) if tls else ""))
    return processes


def cluster_tls(root: Path) -> tuple[Path, Path]:
    """The cluster's certificate (a development one, made once under <root>/tls): every
    process serves it, and every client of the cluster trusts it."""
    from infra.tls import self_signed

    return self_signed(root / "tls", ["127.0.0.1", "localhost"])


def replication_env(settings: Settings, replicas: int | None, nodes: int) -> dict[str, str]:
    """Chunks on the nodes: the replication factor (at most the nodes) and write quorum."""
    factor = min(replicas or settings.replicas, nodes)
    return {"STRATA_BLOBS": "nodes", "STRATA_REPLICAS": str(factor),
            "STRATA_WRITE_QUORUM": str(min(settings.write_quorum, factor))}


def up(root: Path, settings: Settings, nodes: int, zones: int, replicas: int | None,
       tls: bool = False, monitoring: bool = False) -> None:
    root, secret = prepare(root, settings, nodes, zones, monitoring)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_CLUSTER_SECRET")}
    env["STRATA_CLUSTER_SECRET"] = secret
    certificate = cluster_tls(root) if tls else None
    processes = spawn_nodes(root, env, nodes, zones, certificate)
    store_env = {**env, **replication_env(settings, replicas, nodes)}
    if certificate is not None:
        store_env.update(STRATA_TLS_CERT=str(certificate[0]), STRATA_TLS_KEY=str(certificate[1]),
                         STRATA_NODE_CA=str(certificate[0]))
    ca = str(certificate[0]) if certificate else ""
    scheme = "https" if certificate else "http"
    data = root / "strata"
    log = root / "logs" / "strata.log"
    args = ["serve", "--data-dir", str(data), "--s3-port", str(settings.s3_port),
            "--api-port", str(settings.api_port)]
    pid = _spawn(args, store_env, log)
    processes.append(Process("store", settings.s3_port, pid, str(data), str(log),
                             api_port=settings.api_port, name="store", args=args, ca=ca))
    save_env(root, store_env)
    _save(root, processes)
    print(f"starting {nodes} blob nodes in {min(zones, nodes)} zones and the store under {root}",
          flush=True)
    try:
        _wait_until_healthy(root, processes, secret)
        creds = root_credentials(Settings(data_dir=data,
                                          root_access_key=settings.root_access_key,
                                          root_secret_key=settings.root_secret_key))
        _register_nodes(settings.api_port, processes, creds.access_key, creds.secret_key)
        if monitoring:
            watching = start_monitoring(root, processes, settings, secret)
    except (OSError, httpx.HTTPError, KeyError) as exc:  # nothing is left running
        down(root, quiet=True)
        raise SettingsError(f"the cluster did not come up ({exc}); see the logs in "
                            f"{root / 'logs'}") from None
    print(f"  S3 door    : {scheme}://127.0.0.1:{settings.s3_port}")
    print(f"  native API : {scheme}://127.0.0.1:{settings.api_port}")
    for p in processes:
        if p.role == "node":
            print(f"  blob node  : {p.scheme}://127.0.0.1:{p.port} ({p.zone}, pid {p.pid})")
    if ca:
        print(f"  TLS        : every process serves {ca}; clients trust it by that path "
              "(curl --cacert, boto3 verify=)")
    print(f"  replicas {store_env['STRATA_REPLICAS']}, write quorum "
          f"{store_env['STRATA_WRITE_QUORUM']}")
    if monitoring:
        print(f"  Prometheus : http://127.0.0.1:{watching.port} (strata's alert rules loaded)")
    print(f"  access key : {creds.access_key}")
    print(f"  secret key : {creds.secret_key}")
    print(f"logs in {root / 'logs'}; 'strata cluster down --root {root}' stops it all")


def start_monitoring(root: Path, processes: list[Process], settings: Settings, secret: str
                     ) -> Process:
    """Prometheus over the cluster's processes, started, waited for and saved with them."""
    from infra.run.monitoring import start_prometheus

    watching = start_prometheus(root, processes, settings.metrics_token, _free_port())
    processes.append(watching)
    _save(root, processes)
    _wait_until_healthy(root, [watching], secret)
    return watching


def _wait_until_healthy(root: Path, processes: list[Process], secret: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    waiting = list(processes)
    while waiting:
        waiting = [p for p in waiting if not _healthy(p, secret)]
        dead = [p for p in waiting if not _alive(p.pid)]
        if dead or time.monotonic() > deadline:
            down(root, quiet=True)
            which = dead or waiting
            raise SettingsError(
                f"{which[0].role} on port {which[0].port} did not start; see {which[0].log}"
            )
        if waiting:
            print(f"  waiting for {len(waiting)} of {len(processes)} processes ...", flush=True)
            time.sleep(0.5)


def _register_nodes(api_port: int, processes: list[Process], ak: str, sk: str) -> None:
    store = next((p for p in processes if p.api_port == api_port), None)
    scheme = store.scheme if store else "http"
    verify = store.verify() if store else True
    api = f"{scheme}://127.0.0.1:{api_port}"
    token = httpx.post(f"{api}/auth/token", json={"access_key": ak, "secret_key": sk},
                       timeout=10, verify=verify).json()["token"]
    for p in processes:
        if p.role == "node":
            r = httpx.post(f"{api}/admin/nodes",
                           json={"url": f"{p.scheme}://127.0.0.1:{p.port}"},
                           headers={"authorization": f"Bearer {token}"}, timeout=30,
                           verify=verify)
            if r.status_code != 201:
                raise SettingsError(f"registering the node on port {p.port} failed: {r.text}")


def status(root: Path, settings: Settings) -> list[dict[str, Any]]:
    root = root.resolve()
    secret = _secret(root, settings)
    return [{"name": p.name, "role": p.role, "port": p.port, "pid": p.pid,
             "running": _alive(p.pid), "healthy": _healthy(p, secret),
             "zone": p.zone or None, "api_port": p.api_port or None, "log": p.log}
            for p in load(root)]


def down(root: Path, quiet: bool = False) -> int:
    """Stop every process of the cluster (SIGTERM, then SIGKILL); how many were running."""
    processes = load(root.resolve())
    running = [p for p in processes if _alive(p.pid)]
    for p in sorted(running, key=lambda p: STOP_ORDER.index(p.role)):  # doors first
        os.kill(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while any(_alive(p.pid) for p in running) and time.monotonic() < deadline:
        time.sleep(0.1)
    for p in running:
        if _alive(p.pid):
            os.kill(p.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10  # SIGKILL is not instant: return once they are gone
    while any(_alive(p.pid) for p in running) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not quiet:
        print(f"stopped {len(running)} processes; data stays under {root}")
    return len(running)
