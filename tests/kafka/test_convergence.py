"""Issue 20, item 3: once a load ends, every process of the cluster reaches the store's
position (no event stays undelivered to an API instance's views or to a worker)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.conftest import Server
from tests.kafka.conftest import Role, store_notifications, wait_until_relayed
from tests.kafka.test_workers import metric, spread_over_partitions, start_worker, wait_until
from tests.s3.conftest import make_client

CONVERGED_SECONDS = 30


def test_every_process_reaches_the_store_position_once_a_load_ends(
    two_apis: list[Server], relay: Role, cluster_env: dict[str, str], postgres_url: str,
    tmp_path: Path,
) -> None:
    workers = [start_worker(name, cluster_env, tmp_path) for name in ("worker-1", "worker-2")]
    try:
        buckets = spread_over_partitions(2)
        setup = make_client(two_apis[0])
        for bucket in buckets:
            setup.create_bucket(Bucket=bucket)
        stop = threading.Event()
        failures: list[BaseException] = []

        def write(n: int) -> None:
            s3 = make_client(two_apis[n % 2])
            i = 0
            try:
                while not stop.is_set():
                    bucket = buckets[(n + i) % len(buckets)]
                    s3.put_object(Bucket=bucket, Key=f"w{n}/k{i % 5}", Body=b"%d" % i)
                    if i % 4 == 3:
                        s3.delete_object(Bucket=bucket, Key=f"w{n}/k{(i - 1) % 5}")
                    i += 1
            except BaseException as exc:  # the assertion below says which writer failed
                failures.append(exc)

        writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for writer in writers:
            writer.start()
        time.sleep(6)
        stop.set()
        for writer in writers:
            writer.join(30)
        assert not failures, failures
        ports = [port for _, port in workers]
        # The workers go on recording what they do (replica surveys), so the store's
        # position is read again each time: converged is every process at the same one.
        seen: list[str] = []

        def converged() -> bool:
            head = wait_until_relayed(postgres_url)
            events = len(store_notifications(postgres_url))
            apis = [metric(s.api_port, "strata_views_position") for s in two_apis]
            views = [metric(p, "strata_views_position") for p in ports]
            handled = sum(metric(p, "strata_worker_handled_total") for p in ports)
            seen[:] = [f"store at {head} ({events} events): API views at {apis}, worker "
                       f"views at {views}, {handled} events handled by the workers"]
            return set(apis) == set(views) == {head} and handled == events

        wait_until(converged, CONVERGED_SECONDS, lambda: seen[0])
    finally:
        for worker, _ in workers:
            worker.stop()
