"""GET /metrics of an embedded strata: how far its views and workers are behind the log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.native.metrics import render
from infra.run.system import ROOT_USER, SYSTEM_META, open_system
from infra.settings import Settings
from tests.conftest import metric_value
from tests.monitoring import AFTER_A_GC_SWEEP, ONLY_EMBEDDED, exported_names, monitored_names


def test_each_worker_says_its_position_and_how_many_events_it_has_yet_to_handle(
    sqlite_settings: Settings,
) -> None:
    system = open_system(sqlite_settings)  # not started: nothing follows the log yet
    try:
        for name in ("one", "two", "three"):
            system.store.create_bucket(name, ROOT_USER, SYSTEM_META, datetime.now(UTC))
        head = system.store.current_position()
        before = render(system)
        assert metric_value(before, 'strata_worker_position{worker="gc"}') == 0
        assert metric_value(before, 'strata_worker_lag_events{worker="gc"}') == head

        system.gc_follower.catch_up()
        after = render(system)
        assert metric_value(after, 'strata_worker_position{worker="gc"}') == head
        assert metric_value(after, 'strata_worker_lag_events{worker="gc"}') == 0
        assert metric_value(after, "strata_views_lag_events") == head  # the views did not move
    finally:
        system.close()


def test_requests_are_counted_timed_and_measured_on_both_doors(tmp_path: Path) -> None:
    """Issue 26: counts by door, operation, status class and error code; latency
    histograms; bytes in and out; refusals by reason."""
    import httpx
    from botocore.exceptions import ClientError

    from tests.conftest import Server, free_port, server_env, wait_until
    from tests.s3.conftest import make_client

    server = Server(tmp_path / "data", free_port(), free_port(), server_env())
    server.start()
    try:
        s3 = make_client(server)
        s3.create_bucket(Bucket="counted")
        for n in range(3):
            s3.put_object(Bucket="counted", Key=f"k{n}", Body=b"x" * 1000)
        assert s3.get_object(Bucket="counted", Key="k0")["Body"].read() == b"x" * 1000
        with pytest.raises(ClientError):
            s3.get_object(Bucket="counted", Key="missing")
        assert httpx.get(f"{server.s3}/counted/k0").status_code == 403  # anonymous
        httpx.get(f"{server.api}/buckets", headers=server.token())
        text = httpx.get(f"{server.api}/metrics").text

        def value(series: str) -> float:
            return metric_value(text, series)

        assert value('strata_requests_total{code="",door="s3",operation="PutObject",'
                     'status="2xx"}') == 3
        assert value('strata_requests_total{code="NoSuchKey",door="s3",operation="GetObject",'
                     'status="4xx"}') == 1
        assert value('strata_requests_refused_total{door="s3",reason="AccessDenied"}') == 1
        assert value('strata_request_duration_seconds_count{door="s3",operation="PutObject"}') \
            == 3
        assert value('strata_request_bytes_in_total{door="s3"}') >= 3000
        assert value('strata_request_bytes_out_total{door="s3"}') >= 1000
        assert value('strata_requests_total{code="",door="native",operation="list_buckets",'
                     'status="2xx"}') == 1
        assert value('strata_requests_in_flight{door="s3"}') == 0

        # storage, from the views (which follow the log): three objects of 1000 bytes
        def storage() -> list[float]:
            scraped = httpx.get(f"{server.api}/metrics").text
            return [metric_value(scraped, series) for series in (
                'strata_bucket_objects{bucket="counted"}', 'strata_bucket_bytes{bucket="counted"}',
                "strata_store_objects", "strata_store_buckets")]

        wait_until(lambda: storage() == [3, 3000, 3, 1], 30,
                   lambda: f"storage series: {storage()}")

        # the chunk store, as GC's sweeps see it: the three bodies are one chunk
        def chunks() -> list[float | None]:
            scraped = httpx.get(f"{server.api}/metrics").text
            found = dict(line.rsplit(" ", 1) for line in scraped.splitlines()
                         if line and not line.startswith("#"))
            return [float(found[n]) if n in found else None for n in (
                "strata_chunks_referenced", "strata_chunks_referenced_bytes",
                "strata_gc_bytes_collected_total")]

        wait_until(lambda: chunks() == [1, 1000, 0], 30, lambda: f"chunk series: {chunks()}")
        assert value("strata_chunk_pack_bytes") > 0  # 1000 bytes is a small chunk: a row
        # what the dashboard and alerts read of an embedded store only, it exports
        exported = exported_names(httpx.get(f"{server.api}/metrics").text)
        assert (ONLY_EMBEDDED | AFTER_A_GC_SWEEP) & monitored_names() <= exported
        for n in range(3):
            s3.delete_object(Bucket="counted", Key=f"k{n}")
        wait_until(lambda: chunks() == [0, 0, 1000], 30, lambda: f"chunk series: {chunks()}")
    finally:
        server.stop()


def test_json_request_lines(tmp_path: Path) -> None:
    """Issue 26, item 5: with STRATA_LOG_FORMAT=json, one JSON line per request."""
    import httpx
    import orjson

    from tests.conftest import ROOT_AK, Server, free_port, server_env
    from tests.s3.conftest import make_client

    server = Server(tmp_path / "data", free_port(), free_port(),
                    server_env(STRATA_LOG_FORMAT="json", STRATA_LOG_LEVEL="info"))
    server.start()
    try:
        make_client(server).create_bucket(Bucket="logged")
        httpx.get(f"{server.api}/buckets/logged", headers=server.token())
    finally:
        server.stop()
    lines = [orjson.loads(line.split("strata.access: ", 1)[1])
             for line in (tmp_path / f"serve-{server.api_port}.log").read_text().splitlines()
             if "strata.access: " in line]
    created = next(r for r in lines if r["operation"] == "CreateBucket")
    assert created["door"] == "s3" and created["bucket"] == "logged"
    assert created["status"] == 200 and created["caller"] == ROOT_AK
    assert created["request_id"] and created["seconds"] >= 0
    native = next(r for r in lines if r["operation"] == "get_bucket")
    assert native["door"] == "native" and native["bucket"] == "logged"
    assert native["caller"] == ROOT_AK
