"""`strata serve --workers N`: N processes serve both doors from one data dir.

The supervisor holds the data dir's lock, opens both listening sockets, prepares the
data dir once (schema, root credentials, keys: things the workers must not race to
make), then forks the workers. Each accepts on the shared sockets (the kernel hands
each new connection to one of them), keeps its own views following the SQLite log,
and takes the shared store's gates as file locks; one at a time leads and runs the
background workers (infra/run/leadership.py). A worker that dies is started again;
the others keep serving meanwhile. Ctrl-C or SIGTERM stops them all.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import logging
import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.process import BaseProcess

from infra.data_dir_lock import DataDirLock
from infra.eventstore.marks import MappedCommitMarks
from infra.settings import Settings

log = logging.getLogger("strata.workers")
RESTART_PAUSE_SECONDS = 1.0  # a worker that keeps dying is started again at most this often
_STOP_SECONDS = 20.0
_PR_SET_PDEATHSIG = 1


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _prepare(settings: Settings) -> None:
    """In a child of its own, so that the supervisor starts no thread before it forks."""
    from infra.run.system import open_system
    open_system(settings).close()


def _worker(settings: Settings, sockets: tuple[socket.socket, socket.socket]) -> None:
    from infra.run.serve import serve_worker
    # Until its loop sets handlers that stop it gracefully, a signal ends a starting
    # worker at once (it has answered nothing yet) rather than reach the supervisor's.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _end_with_the_supervisor()
    serve_worker(settings, sockets)


def _end_with_the_supervisor() -> None:
    """SIGTERM when the supervisor dies, however it dies (Linux's parent-death
    signal): no worker outlives it, holding the ports and the data dir."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # it died before the line above took effect
        os._exit(0)


def supervise(settings: Settings) -> None:
    lock = DataDirLock(settings.data_dir, "serving it").acquire()
    context = multiprocessing.get_context("fork")
    try:
        sockets = (listening_socket(settings.host, settings.api_port),
                   listening_socket(settings.host, settings.s3_port))
    except OSError as exc:
        lock.release()
        raise SystemExit(f"strata: cannot listen on {settings.host} ports "
                         f"{settings.api_port} and {settings.s3_port}: "
                         f"{str(exc.strerror).lower()}") from None
    print(f"starting {settings.workers} workers ...", flush=True)
    preparing = context.Process(target=_prepare, args=(settings,), name="strata-prepare")
    preparing.start()
    preparing.join()
    if preparing.exitcode != 0:
        lock.release()
        raise SystemExit("strata: the data dir could not be opened (see above)")
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    def start(index: int) -> BaseProcess:
        worker = context.Process(
            target=_worker, name=f"strata-worker-{index}",
            args=(dataclasses.replace(settings, worker_index=index), sockets))
        worker.start()
        return worker

    marks = MappedCommitMarks(settings.commit_marks_path)
    workers = {index: start(index) for index in range(settings.workers)}
    started_at = dict.fromkeys(workers, time.monotonic())
    try:
        while not stopping:
            time.sleep(0.2)
            for index, worker in list(workers.items()):
                if worker.is_alive() or stopping:
                    continue
                log.warning("worker %s (pid %s) exited with %s; starting it again", index,
                            worker.pid, worker.exitcode)
                # it may have died between a commit and its mark: every cache reloads
                marks.new_epoch()
                if time.monotonic() - started_at[index] < RESTART_PAUSE_SECONDS:
                    time.sleep(RESTART_PAUSE_SECONDS)
                workers[index] = start(index)
                started_at[index] = time.monotonic()
    finally:
        print("stopping strata ...", flush=True)
        for worker in workers.values():
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_SECONDS
        for worker in workers.values():
            worker.join(max(0.1, deadline - time.monotonic()))
            if worker.is_alive():
                worker.kill()
                worker.join()
        for sock in sockets:
            sock.close()
        lock.release()
        print("strata stopped.", flush=True)
