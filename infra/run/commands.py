"""The `strata` commands that work through a running server's native API."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from infra.exports.parquet import DailyAuditWriter, write_inventory
from infra.run.client import ApiError, NativeClient, bar, progress_line, save_path


def events_tail(
    client: NativeClient, bucket: str | None, prefix: str | None, types: str | None,
    start: int | None, follow: bool,
) -> int:
    """Print each event as one JSON line, as it commits; the count printed."""
    params: dict[str, Any] = {"follow": str(follow).lower()}
    for name, value in (("bucket", bucket), ("prefix", prefix), ("type", types),
                        ("after", start)):
        if value is not None:
            params[name] = value
    printed = 0
    for line in client.lines("/events", params):
        if line.startswith("data: "):
            sys.stdout.write(line[len("data: "):] + "\n")
            sys.stdout.flush()
            printed += 1
    return printed


def restore(client: NativeClient, bucket: str, as_of: str, prefix: str,
            dry_run: bool = False) -> dict[str, Any]:
    doing = "what restoring" if dry_run else "restoring"
    print(f"{doing} s3://{bucket}/{prefix} to its state at {as_of}"
          f"{' would change' if dry_run else ''} ...", file=sys.stderr)
    report: dict[str, Any] = client.call(
        "POST", f"/buckets/{bucket}/restore",
        params={"as_of": as_of, "prefix": prefix, "dry_run": str(dry_run).lower()},
        timeout=None,
    )
    counts = report["counts"]
    verb = "would be " if dry_run else ""
    print(f"{verb}restored {counts['restored']}, {verb}deleted {counts['deleted']}, unchanged "
          f"{counts['unchanged']}, data gone {counts['gone']}"
          f"{' (a dry run: nothing was changed)' if dry_run else ''}", file=sys.stderr)
    for kind in ("restored", "deleted", "gone"):
        for key in report[kind]:
            print(f"{kind}\t{key}")
    return report


def inventory_export(
    client: NativeClient, bucket: str, as_of: str | None, to_file: str | None,
    to_bucket: str | None, current_only: bool,
) -> int:
    params: dict[str, Any] = {}
    if as_of:
        params["as_of"] = as_of
    if to_bucket:
        done = client.call("POST", f"/buckets/{bucket}/inventory",
                           params={**params, "to_bucket": to_bucket}, timeout=None)
        print(f"wrote {done['rows']:,} rows to s3://{done['bucket']}/{done['key']} "
              f"({done['size']:,} bytes)", file=sys.stderr)
        return int(done["rows"])
    if current_only:
        params["current_only"] = "true"
    stats = client.call("GET", f"/buckets/{bucket}")["stats"]
    total = None if as_of else stats["objects" if current_only else "versions"]
    out = save_path(to_file or f"{bucket}-inventory.parquet")
    rows = (orjson.loads(line) for line in client.lines(f"/buckets/{bucket}/inventory", params)
            if line)
    written = write_inventory(rows, out, lambda n: progress_line(f"rows {bar(n, total)}"))
    print(f"\nwrote {written:,} rows to {out}", file=sys.stderr)
    return written


def audit_export(
    client: NativeClient, since: str | None, until: str | None, to_dir: str, bucket: str | None,
) -> list[Path]:
    """The event log as Parquet partitioned by day, fetched a page at a time."""
    params: dict[str, Any] = {"limit": 1000}
    for name, value in (("since", since), ("until", until), ("bucket", bucket)):
        if value:
            params[name] = value
    writer = DailyAuditWriter(Path(to_dir))
    after = None
    seen = 0
    try:
        while True:
            page = client.call("GET", "/audit",
                               params={**params, **({"after": after} if after else {})})
            for record in page["events"]:
                writer.add(record)
            seen += len(page["events"])
            progress_line(f"events {seen:,} (log position {page['next_after'] or 'end'})")
            after = page["next_after"]
            if after is None:
                break
    finally:
        writer.close()
    print(f"\nwrote {writer.rows:,} events into {len(writer.files)} files under {to_dir}",
          file=sys.stderr)
    return writer.files


def manage_node(client: NativeClient, action: str, target: str | None, zone: str | None) -> None:
    if action == "list":
        listing = client.call("GET", "/admin/nodes")
        print(f"replicas {listing['replicas']}, write quorum {listing['write_quorum']}")
        for node in listing["nodes"]:
            health = "up" if node["up"] else "DOWN"
            print(f"{node['node_id']}\t{node['zone']}\t{node['state']}\t{health}\t{node['url']}")
        return
    if not target:
        raise ApiError(f"strata node {action} needs the node's "
                       f"{'URL' if action == 'add' else 'id'}")
    if action == "add":
        body = {"url": target, **({"zone": zone} if zone else {})}
        added = client.call("POST", "/admin/nodes", json=body)
        print(f"registered {added['node_id']} ({added['zone']}) at {added['url']}")
    elif action == "drain":
        client.call("POST", f"/admin/nodes/{target}/drain")
        print(f"draining {target}: it takes no new data and its chunks move to other nodes")
    else:
        client.call("DELETE", f"/admin/nodes/{target}")
        print(f"removed {target}")


def manage_site(client: NativeClient, action: str, name: str | None, endpoint: str | None,
                access_key: str | None, secret_key: str | None) -> None:
    """`strata site add|list|remove`: the secret goes to the server, never to the screen."""
    if action == "list":
        for site in client.call("GET", "/admin/sites")["sites"]:
            print(f"{site['name']}\t{site['endpoint']}\t{site['access_key']}")
    elif action == "add":
        done = client.call("PUT", f"/admin/sites/{name}", json={
            "endpoint": endpoint, "access_key": access_key, "secret_key": secret_key})
        print(f"site {done['name']} at {done['endpoint']} (access key {done['access_key']})")
    else:
        client.call("DELETE", f"/admin/sites/{name}")
        print(f"removed site {name}")


def manage_identity(
    client: NativeClient, noun: str, action: str, name: str, admin: bool = False
) -> dict[str, Any]:
    """`strata user ...` and `strata key ...`: print what changed, secrets included once."""
    calls: dict[tuple[str, str], tuple[str, str, dict[str, Any] | None]] = {
        ("user", "create"): ("POST", "/admin/users", {"name": name, "admin": admin}),
        ("user", "delete"): ("DELETE", f"/admin/users/{name}", None),
        ("key", "add"): ("POST", f"/admin/users/{name}/keys", {}),
        ("key", "deactivate"): ("PUT", f"/admin/keys/{name}", {"active": False}),
        ("key", "activate"): ("PUT", f"/admin/keys/{name}", {"active": True}),
        ("key", "rotate"): ("POST", f"/admin/keys/{name}/rotate", {}),
        ("key", "delete"): ("DELETE", f"/admin/keys/{name}", None),
    }
    method, path, body = calls[(noun, action)]
    done: dict[str, Any] = client.call(method, path, json=body) if body is not None \
        else client.call(method, path)
    for field, value in done.items():
        print(f"{field}\t{value}")
    if "secret_key" in done:
        print("The secret key is shown this once: keep it now.", file=sys.stderr)
    return done
