"""Runs both doors in one process over one System (the embedded shape)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import signal
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import uvicorn
import uvloop
from starlette.types import ASGIApp

from api.app import create_native_app, create_s3_app
from infra.run.http_limits import uvicorn_options
from infra.run.leadership import Leadership
from infra.run.system import System, open_system
from infra.settings import Settings

log = logging.getLogger("strata")


def print_banner(settings: Settings, system: System, tls: tuple[str, str] | None) -> None:
    scheme = settings.scheme
    api = f"{scheme}://{settings.host}:{settings.api_port}"
    print(f"strata is serving data from {settings.data_dir.resolve()}", flush=True)
    print(f"  native API : {api}", flush=True)
    print(f"  S3 door    : {scheme}://{settings.host}:{settings.s3_port}", flush=True)
    if tls is not None and settings.tls_self_signed:
        print(f"  TLS        : a development certificate, {tls[0]} (clients trust it by "
              "that path: curl --cacert, boto3 verify=)", flush=True)
    if system.root.generated:
        print(
            "  root credentials were generated and saved in "
            f"{settings.data_dir / 'root-credentials.json'}:",
            flush=True,
        )
        print(f"    access key: {system.root.access_key}", flush=True)
        print(f"    secret key: {system.root.secret_key}", flush=True)
        print(
            f"  get a token: curl -s -X POST {api}/auth/token -d "
            f'\'{{"access_key":"{system.root.access_key}","secret_key":"..."}}\'',
            flush=True,
        )
    elif system.root.saved_in:  # every start, until the operator sets their own
        print(f"  root credentials: in {system.root.saved_in} (access key "
              f"{system.root.access_key})", flush=True)
    print("Press Ctrl-C to stop.", flush=True)


class _QuietServer(uvicorn.Server):
    """One of two servers in a process: the process, not each server, handles signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


_SIGNATURE = re.compile(r"(?i)\b((?:x-amz-signature|signature|x-amz-security-token)=)[^&\s]*")


class RedactSignatures(logging.Filter):
    """Access log lines keep the URL a request named, less a presigned URL's signature:
    a log reader must not be able to replay it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            path = record.args[2]
            if isinstance(path, str) and "=" in path:
                record.args = (*record.args[:2], _SIGNATURE.sub(r"\1REDACTED", path),
                               *record.args[3:])
        return True


def _door(app: ASGIApp, settings: Settings, port: int,
          tls: tuple[str, str] | None) -> uvicorn.Server:
    return _QuietServer(
        uvicorn.Config(
            app,
            host=settings.host,
            port=port,
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
            log_level=settings.log_level,
            lifespan="on",
            **uvicorn_options(settings.http_limits),
            # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: any local client
            # could then forge the source that history and audit record.
            # with JSON request lines (strata.access), uvicorn's own would say it twice;
            # below info it would build every line's fields only to drop the line, which
            # costs a 4 KiB GET about a twentieth of its CPU
            access_log=settings.log_format != "json" and _logs_info(settings.log_level),
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=settings.trusted_proxies or None,
        )
    )


def _logs_info(level: str) -> bool:
    number = logging.getLevelName(level.upper())  # uvicorn adds "trace", below debug
    return not isinstance(number, int) or number <= logging.INFO


# Every request makes one or two hops to a thread (store calls, fsync): enough threads
# that fsyncs of concurrent requests overlap, which is what group commit feeds on.
IO_THREADS = 64


async def _serve(settings: Settings, role: str,
                 sockets: tuple[socket.socket, socket.socket] | None = None,
                 leadership: Callable[[System], Leadership] | None = None) -> None:
    """Both doors over one System. `sockets` (the native door's, the S3 door's): ones a
    `serve --workers N` supervisor opened and shares; `leadership`: starts the
    background workers once this process leads (else they start at once)."""
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(IO_THREADS, thread_name_prefix="strata-io")
    )
    tls = settings.tls_files()
    system = open_system(settings, role)
    system.start(background=leadership is None)
    leader = leadership(system) if leadership is not None else None
    # What startup built lives as long as the process: keep it out of the cyclic
    # collector's full passes, which otherwise stall requests at the tail.
    gc.collect()
    gc.freeze()
    try:
        servers = [
            _door(create_native_app(system), settings, settings.api_port, tls),
            _door(create_s3_app(system), settings, settings.s3_port, tls),
        ]
        listening: list[list[socket.socket] | None] = (
            [[sockets[0]], [sockets[1]]] if sockets else [None, None])
        logging.getLogger("uvicorn.access").addFilter(RedactSignatures())  # after its config
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, _stop_all, servers)
        tasks = [asyncio.create_task(s.serve(sockets=held))
                 for s, held in zip(servers, listening, strict=True)]
        while not all(s.started for s in servers):
            if any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.05)
        if all(s.started for s in servers) and settings.worker_index == 0:
            print_banner(settings, system, tls)
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        if leader is not None:
            leader.stop()
        system.close()
        if settings.workers == 1:
            print("strata stopped.", flush=True)


def _stop_all(servers: list[uvicorn.Server]) -> None:
    print("stopping strata ...", flush=True)
    for server in servers:
        server.should_exit = True


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    # a line per blob-node request (probes every few seconds when idle): not at info
    logging.getLogger("httpx").setLevel(logging.WARNING)


def serve(settings: Settings, role: str = "embedded") -> None:
    """`strata serve` (embedded) or `strata api` (a cluster's API instance)."""
    configure_logging(settings)
    if role == "embedded" and settings.workers > 1:
        from infra.run.workers import supervise
        supervise(settings)
        return
    # uvloop: cheaper I/O and thread hand-offs than asyncio's own loop (measured in bench/).
    uvloop.run(_serve(settings, role))


def serve_worker(settings: Settings, sockets: tuple[socket.socket, socket.socket]) -> None:
    """One worker of `serve --workers N`: both doors on the supervisor's sockets; the
    background workers once it leads."""
    configure_logging(settings)
    lock = str(settings.data_dir / "leader.lock")
    uvloop.run(_serve(settings, "embedded", sockets, lambda system: Leadership(lock, system)))
