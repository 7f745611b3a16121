"""The `strata` command."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from pathlib import Path
from typing import Any

from domain.errors import StrataError
from infra.run.client import ApiError
from infra.settings import Settings, SettingsError


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("strata")
    except PackageNotFoundError:
        return "(not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strata", description="strata: an event-sourced, S3-compatible object store"
    )
    parser.add_argument("--version", action="version", version=f"strata {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the embedded store (both doors) in the "
                           "foreground")
    _door_options(serve)
    serve.add_argument("--workers", type=int, help="processes serving both doors "
                       "(STRATA_WORKERS, default 1)")
    _door_options(sub.add_parser("api", help="run a cluster's API instance: both doors, views "
                                 "fed from Kafka (STRATA_KAFKA, STRATA_EVENT_STORE)"))
    relay = sub.add_parser("relay", help="publish the event store's log to Kafka (STRATA_KAFKA)")
    relay.add_argument("--data-dir", type=Path, help="where data lives (STRATA_DATA_DIR)")
    relay.add_argument("--metrics-port", type=int, default=0,
                       help="serve /metrics on this port (default: none)")
    worker = sub.add_parser("worker", help="run the workers (replication, GC, inventory) as a "
                            "faust app over Kafka (STRATA_KAFKA)")
    worker.add_argument("--data-dir", type=Path, help="where its views live (STRATA_DATA_DIR)")
    worker.add_argument("--metrics-port", type=int, default=0,
                        help="serve /metrics on this port (default: none)")
    proj = sub.add_parser("projections", help="manage the views built from the event log")
    proj_sub = proj.add_subparsers(dest="action", required=True)
    rebuild = proj_sub.add_parser("rebuild", help="drop every view and replay the log from 0")
    rebuild.add_argument("--data-dir", type=Path, help="where data lives (STRATA_DATA_DIR)")
    creds = sub.add_parser("credentials", help="where the generated root credentials are")
    creds.add_argument("--data-dir", type=Path, help="where data lives (STRATA_DATA_DIR)")
    keys = sub.add_parser("keys", help="the key-encryption keys that wrap objects' data keys")
    keys.add_argument("action", choices=["create", "list", "rotate"])
    keys.add_argument("name", nargs="?", help="the key's name (create, rotate)")
    keys.add_argument("--data-dir", type=Path, help="where data lives (STRATA_DATA_DIR)")
    node = _remote(sub.add_parser(
        "node", help="run a blob node (--data-dir, --port, --zone), or manage the cluster's: "
        "add URL, drain ID, remove ID, list"))
    node.add_argument("action", nargs="?", choices=["add", "drain", "remove", "list"])
    node.add_argument("target", nargs="?", help="the node's URL (add) or id (drain, remove)")
    node.add_argument("--port", type=int, help="the port a node being run listens on")
    node.add_argument("--zone", help="its failure domain (default zone-a)")
    node.add_argument("--host", help="address to bind (STRATA_HOST, default 127.0.0.1)")
    node.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate "
                      "(STRATA_TLS_CERT)")
    node.add_argument("--tls-key", help="and this PEM key (STRATA_TLS_KEY)")
    _cluster_commands(sub)
    _client_commands(sub)
    return parser


def _door_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--data-dir", type=Path, help="where data lives (STRATA_DATA_DIR)")
    serve.add_argument("--host", help="address to bind (STRATA_HOST, default 127.0.0.1)")
    serve.add_argument("--s3-port", type=int, help="S3 door port (STRATA_S3_PORT, default 9000)")
    serve.add_argument("--api-port", type=int, help="native API port (STRATA_API_PORT, 9001)")
    serve.add_argument(
        "--domain", help="virtual-host domain: bucket.<domain> names a bucket (STRATA_DOMAIN)"
    )
    serve.add_argument("--region", help="S3 region (STRATA_REGION, default us-east-1)")
    serve.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate "
                       "(STRATA_TLS_CERT)")
    serve.add_argument("--tls-key", help="and this PEM key (STRATA_TLS_KEY)")
    serve.add_argument("--tls-self-signed", action="store_true", default=None,
                       help="serve HTTPS with a development certificate made in the keys "
                       "dir (STRATA_TLS_SELF_SIGNED=1)")


def _cluster_commands(sub: Any) -> None:
    cluster = sub.add_parser(
        "cluster", help="a local cluster: blob nodes and the store"
    ).add_subparsers(dest="action", required=True)
    up = cluster.add_parser("up", help="start nodes and the store in the background")
    up.add_argument("--root", type=Path, required=True, help="where data and logs go")
    up.add_argument("--nodes", type=int, default=3)
    up.add_argument("--zones", type=int, default=3)
    up.add_argument("--replicas", type=int, help="replication factor (default 3, at most --nodes)")
    up.add_argument("--s3-port", type=int, help="S3 door port (STRATA_S3_PORT, default 9000)")
    up.add_argument("--api-port", type=int, help="native API port (STRATA_API_PORT, 9001)")
    up.add_argument("--tls", action="store_true",
                    help="every door and node serves HTTPS with a certificate made under "
                    "<root>/tls, which the store checks its nodes against")
    up.add_argument("--kafka", action="store_true",
                    help="the whole cluster shape: PostgreSQL, a Kafka broker (STRATA_KAFKA, "
                    "else tansu), relay, workers, two API instances behind nginx")
    up.add_argument("--monitoring", action="store_true",
                    help="also start Prometheus (Debian's package) scraping every process, "
                    "with strata's alert rules; prints its URL")
    status = cluster.add_parser("status", help="each process: role, port, PID, health")
    status.add_argument("--root", type=Path, required=True)
    status.add_argument("--json", action="store_true", help="a JSON list, for scripts")
    down = cluster.add_parser("down", help="stop every process of the cluster")
    down.add_argument("--root", type=Path, required=True)
    restart = cluster.add_parser("restart", help="start one process of the cluster again, "
                                 "as it was started (names: see 'status')")
    restart.add_argument("--root", type=Path, required=True)
    restart.add_argument("name", help="node-0, api-1, worker-0, relay, broker, store ...")


def _remote(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of commands that talk to a running server's native API."""
    parser.add_argument("--url", help="the native API (default http://STRATA_HOST:STRATA_API_PORT)")
    parser.add_argument("--access-key", help="default: STRATA_ROOT_ACCESS_KEY, or the data dir's")
    parser.add_argument("--secret-key", help="default: STRATA_ROOT_SECRET_KEY, or the data dir's")
    parser.add_argument("--data-dir", type=Path, help="where saved root credentials are")
    return parser


def _client_commands(sub: Any) -> None:
    events = sub.add_parser("events", help="the event stream").add_subparsers(
        dest="action", required=True)
    tail = _remote(events.add_parser("tail", help="print events as JSON lines as they commit"))
    tail.add_argument("--bucket")
    tail.add_argument("--prefix", help="only keys with this prefix")
    tail.add_argument("--type", help="event types or names, comma-separated (s3:ObjectCreated:*)")
    tail.add_argument("--from", dest="start", type=int,
                      help="start after this log position (0: from the beginning; default: now)")
    tail.add_argument("--no-follow", action="store_true", help="stop once caught up")
    tail.add_argument("--root", type=Path,
                      help="a cluster's root (`strata cluster up --root`): its Kafka and "
                      "topic, with --kafka")
    tail.add_argument("--kafka", action="store_true",
                      help="read the Kafka topic (STRATA_KAFKA) instead of the native API; "
                      "--from 0 starts at the beginning, else at the end")
    restore = _remote(sub.add_parser("restore", help="bring a bucket or prefix back to an instant"))
    restore.add_argument("bucket")
    restore.add_argument("--as-of", required=True, help="RFC 3339 time, e.g. 2026-11-27T09:00Z")
    restore.add_argument("--prefix", default="")
    restore.add_argument("--dry-run", action="store_true",
                         help="say what it would change, and change nothing")
    inventory = sub.add_parser("inventory", help="bucket inventories").add_subparsers(
        dest="action", required=True)
    export = _remote(inventory.add_parser("export", help="a bucket's inventory as Parquet"))
    export.add_argument("bucket")
    export.add_argument("--as-of", help="the current versions at this RFC 3339 time")
    export.add_argument("--current-only", action="store_true", help="no noncurrent versions")
    where = export.add_mutually_exclusive_group()
    where.add_argument("--to", help="a local file (default: <bucket>-inventory.parquet)")
    where.add_argument("--to-bucket", help="store it as an object in this bucket instead")
    users = sub.add_parser("user", help="users (administrators only)").add_subparsers(
        dest="action", required=True)
    user_create = _remote(users.add_parser("create", help="a user and its first access key"))
    user_create.add_argument("name")
    user_create.add_argument("--admin", action="store_true", help="an administrator")
    user_delete = _remote(users.add_parser(
        "delete", help="the user and every key it holds stop working; its buckets stay"))
    user_delete.add_argument("name")
    keys = sub.add_parser("key", help="access keys (administrators only)").add_subparsers(
        dest="action", required=True)
    key_add = _remote(keys.add_parser("add", help="a new access key for a user"))
    key_add.add_argument("name", help="the user")
    for action, what in (("deactivate", "refuse the key and its tokens until activated"),
                         ("activate", "accept the key again (earlier tokens stay refused)"),
                         ("rotate", "a new secret; the old one and its tokens stop working"),
                         ("delete", "the key and its tokens stop working for good")):
        _remote(keys.add_parser(action, help=what)).add_argument("name", help="the access key")
    sites = sub.add_parser("site", help="remote sites for geo-replication (administrators "
                           "only)").add_subparsers(dest="action", required=True)
    site_add = _remote(sites.add_parser("add", help="register a remote strata (or change one)"))
    site_add.add_argument("name", help="the site's name: lowercase letters, digits, hyphens")
    site_add.add_argument("--endpoint", required=True, help="its native API, http(s)://host:port")
    site_add.add_argument("--site-access-key", required=True,
                          help="an access key of a user the remote lets apply changes")
    site_add.add_argument("--site-secret-key", required=True, help="that key's secret")
    _remote(sites.add_parser("list", help="the registered sites"))
    _remote(sites.add_parser("remove", help="forget a site")).add_argument("name")
    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="action", required=True)
    audit_export = _remote(audit.add_parser("export", help="the event log as daily Parquet"))
    audit_export.add_argument("--since", help="RFC 3339 time")
    audit_export.add_argument("--until", help="RFC 3339 time")
    audit_export.add_argument("--bucket")
    audit_export.add_argument("--to", default="audit", help="folder (default ./audit)")


def _cluster(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from infra.run import cluster

    if args.action == "up" and (revived := cluster.revive(args.root)):
        print(f"the cluster under {args.root.resolve()} runs; started again: "
              f"{', '.join(revived)}; 'strata cluster status --root {args.root}' shows "
              "when they are healthy")
        return 0
    if args.action == "up" and args.kafka:
        from infra.run.cluster_kafka import up_kafka

        up_kafka(args.root, settings, args.nodes, args.zones, args.replicas, args.tls,
                 args.monitoring)
    elif args.action == "up":
        cluster.up(args.root, settings, args.nodes, args.zones, args.replicas, args.tls,
                   args.monitoring)
    elif args.action == "status":
        processes = cluster.status(args.root, settings)
        if args.json:
            print(json.dumps(processes))
        else:
            for p in processes:
                health = "healthy" if p["healthy"] else "NOT HEALTHY" if p["running"] \
                    else "stopped"
                print(f"{p['name'] or p['role']:9} port {p['port']:<6} pid {p['pid']:<8} "
                      f"{health}")
        return 0 if all(p["healthy"] for p in processes) else 1
    elif args.action == "restart":
        found = cluster.restart(args.root, args.name)
        print(f"restarted {found.name} (pid {found.pid}); "
              f"'strata cluster status --root {args.root}' shows when it is healthy")
    else:
        cluster.down(args.root)
    return 0


def _kafka_tail(args: argparse.Namespace, settings: Settings) -> int:
    from domain.envelope import EventFilter
    from infra.kafka.tail import run_tail

    types = tuple(t.strip() for t in (args.type or "").split(",") if t.strip())
    wanted = EventFilter(bucket=args.bucket, prefix=args.prefix or "", types=types)
    if args.start not in (None, 0):
        raise SettingsError("with --kafka, --from takes 0 (the beginning) or nothing (now)")
    if args.root is not None:
        from infra.run.cluster import cluster_settings

        settings = cluster_settings(args.root, settings)
    run_tail(settings.require_kafka(), settings.kafka_topic, wanted, args.start == 0,
             not args.no_follow)
    return 0


def _run_remote(args: argparse.Namespace, settings: Settings) -> int:
    from infra.run import commands
    from infra.run.client import NativeClient, target

    client = NativeClient(target(settings, args.url, args.access_key, args.secret_key))
    try:
        if args.command == "node":
            commands.manage_node(client, args.action, args.target, args.zone)
        elif args.command == "events":
            commands.events_tail(client, args.bucket, args.prefix, args.type, args.start,
                                 not args.no_follow)
        elif args.command == "restore":
            commands.restore(client, args.bucket, args.as_of, args.prefix, args.dry_run)
        elif args.command == "inventory":
            commands.inventory_export(client, args.bucket, args.as_of, args.to, args.to_bucket,
                                      args.current_only)
        elif args.command == "audit":
            commands.audit_export(client, args.since, args.until, args.to, args.bucket)
        elif args.command == "site":
            commands.manage_site(client, args.action, getattr(args, "name", None),
                                 getattr(args, "endpoint", None),
                                 getattr(args, "site_access_key", None),
                                 getattr(args, "site_secret_key", None))
        elif args.command in ("user", "key"):
            commands.manage_identity(client, args.command, args.action, args.name,
                                     getattr(args, "admin", False))
    finally:
        client.close()
    return 0


def _credentials(settings: Settings) -> int:
    """Where the root credentials are: the environment's, or those strata generated."""
    if settings.root_access_key:
        print(f"root access key {settings.root_access_key}, from STRATA_ROOT_ACCESS_KEY and "
              "STRATA_ROOT_SECRET_KEY")
        return 0
    saved = settings.data_dir / "root-credentials.json"
    if not saved.exists():
        print(f"strata: no root credentials in {saved}: the first `strata serve` with this "
              "data dir makes them (or set STRATA_ROOT_ACCESS_KEY/_SECRET_KEY)",
              file=sys.stderr)
        return 1
    import json

    print(f"root access key {json.loads(saved.read_text())['access_key']}, its secret in "
          f"{saved} (readable by its owner only)")
    return 0


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    """strata keys create|list|rotate: on the keys directory of this data dir (a running
    server sees the change at its next use of the key)."""
    from infra.kms import LocalKeyService

    service = LocalKeyService(settings.keys_dir)
    if args.action == "list":
        for info in service.names():
            print(f"{info.name}\tversion {info.current} of {info.versions}\tcreated "
                  f"{info.created_at}")
        return 0
    if not args.name:
        raise SettingsError(f"strata keys {args.action} needs the key's name")
    try:
        info = service.create(args.name) if args.action == "create" else \
            service.rotate(args.name)
    except StrataError as exc:
        print(f"strata: {exc.message}", file=sys.stderr)
        return 1
    print(f"{info.name}: version {info.current} wraps new data keys "
          f"({info.versions} version{'s' if info.versions > 1 else ''} kept)")
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    overrides = {
        name: getattr(args, name)
        for name in ("data_dir", "host", "s3_port", "api_port", "domain", "region",
                     "tls_cert", "tls_key", "tls_self_signed", "workers")
        if getattr(args, name, None) is not None
    }
    if "workers" in overrides and not 1 <= overrides["workers"] <= 256:
        raise SettingsError(f"--workers {overrides['workers']}: give 1 to 256 processes "
                            "(1: one process serves everything)")
    return dataclasses.replace(settings, **overrides)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        if args.command in ("serve", "api"):
            from infra.run.serve import serve

            with contextlib.suppress(KeyboardInterrupt):
                serve(settings, "embedded" if args.command == "serve" else "api")
            return 0
        if args.command == "relay":
            from infra.run.relay import run_relay

            with contextlib.suppress(KeyboardInterrupt):
                run_relay(settings, args.metrics_port)
            return 0
        if args.command == "worker":
            from infra.run.worker_app import run_worker

            run_worker(settings, args.metrics_port)
            return 0
        if args.command == "cluster":
            return _cluster(args, settings)
        if args.command == "node" and args.action is None:
            from infra.run.node_server import serve_node

            if args.data_dir is None or args.port is None:
                raise SettingsError("a blob node needs --data-dir and --port (and --zone)")
            with contextlib.suppress(KeyboardInterrupt):
                serve_node(args.data_dir, settings.host, args.port, args.zone or "zone-a",
                           settings.require_cluster_secret(), settings.tls_files(),
                           settings.metrics_token)
            return 0
        if args.command == "keys":
            return _keys(args, settings)
        if args.command == "credentials":
            return _credentials(settings)
        if args.command == "events" and getattr(args, "kafka", False):
            return _kafka_tail(args, settings)
        if args.command == "projections":
            from infra.run.rebuild import rebuild_views

            rebuild_views(settings)
            return 0
        return _run_remote(args, settings)
    except SettingsError as exc:
        print(f"strata: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"strata: {exc}", file=sys.stderr)
        return 1
    except StrataError as exc:  # an ordinary situation, said plainly (no traceback)
        print(f"strata: {exc.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `strata ... | head`: the reader has all it wanted
        sys.stderr.close()
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
