"""Abandoned multipart uploads are aborted: their parts would otherwise hold space for
ever. An upload expires its bucket's upload expiry (or the store's default) after it
was initiated; the abort is an ordinary event whose actor names this worker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from domain.application import ObjectStore
from domain.errors import NoSuchBucket, NoSuchUpload
from domain.records import RequestMeta
from projections.base import ViewReader
from projections.buckets import list_buckets
from projections.uploads import every_upload

log = logging.getLogger("strata.uploads")
EXPIRY_META: RequestMeta = {
    "actor": "strata:upload-expiry", "request_id": "", "source": "",
    "user_agent": "", "user": "strata:upload-expiry",
}


class UploadExpirer:
    def __init__(
        self,
        store: ObjectStore,
        views: ViewReader,
        wait_for_views: Callable[[int], None],
        clock: Callable[[], datetime],
        default_seconds: int,
    ) -> None:
        self._store = store
        self._views = views
        self._wait_for_views = wait_for_views
        self._clock = clock
        self._default = default_seconds

    def run_once(self) -> list[tuple[str, str, str]]:
        """Abort every upload past its expiry; (bucket, key, upload id) of each."""
        self._wait_for_views(self._store.current_position())
        now = self._clock()
        aborted = []
        for bucket in list_buckets(self._views):
            seconds = bucket.upload_expiry_seconds
            seconds = self._default if seconds is None else seconds
            if seconds <= 0:
                continue
            deadline = now - timedelta(seconds=seconds)
            for upload in every_upload(self._views, bucket.name):
                if datetime.fromisoformat(upload.initiated) > deadline:
                    continue
                try:
                    self._store.abort_multipart_upload(
                        bucket.name, upload.key, upload.upload_id, EXPIRY_META, now
                    )
                except (NoSuchUpload, NoSuchBucket):
                    continue  # completed or aborted meanwhile
                aborted.append((bucket.name, upload.key, upload.upload_id))
                log.info("aborted the multipart upload %s of %s/%s: incomplete after %d s",
                         upload.upload_id, bucket.name, upload.key, seconds)
        return aborted
