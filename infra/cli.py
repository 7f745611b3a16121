"""The `strata` command."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from pathlib import Path

from infra.settings import Settings, SettingsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strata", description="strata: an event-sourced, S3-compatible object store"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the embedded store (both doors) in the foreground")
    serve.add_argument("--data-dir", type=Path, help="where data lives (STRATA_DATA_DIR)")
    serve.add_argument("--host", help="address to bind (STRATA_HOST, default 127.0.0.1)")
    serve.add_argument("--s3-port", type=int, help="S3 door port (STRATA_S3_PORT, default 9000)")
    serve.add_argument("--api-port", type=int, help="native API port (STRATA_API_PORT, 9001)")
    serve.add_argument(
        "--domain", help="virtual-host domain: bucket.<domain> names a bucket (STRATA_DOMAIN)"
    )
    serve.add_argument("--region", help="S3 region (STRATA_REGION, default us-east-1)")
    proj = sub.add_parser("projections", help="manage the views built from the event log")
    proj_sub = proj.add_subparsers(dest="action", required=True)
    rebuild = proj_sub.add_parser("rebuild", help="drop every view and replay the log from 0")
    rebuild.add_argument("--data-dir", type=Path, help="where data lives (STRATA_DATA_DIR)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    overrides = {
        name: getattr(args, name)
        for name in ("data_dir", "host", "s3_port", "api_port", "domain", "region")
        if getattr(args, name, None) is not None
    }
    return dataclasses.replace(settings, **overrides)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        if args.command == "serve":
            from infra.server import serve

            with contextlib.suppress(KeyboardInterrupt):
                serve(settings)
            return 0
        if args.command == "projections":
            from infra.rebuild import rebuild_views

            rebuild_views(settings)
            return 0
    except SettingsError as exc:
        print(f"strata: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
