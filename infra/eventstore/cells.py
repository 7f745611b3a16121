"""The ObjectStore's interface over several event-store cells (architecture decision
25): a bucket's commands and queries go to the cell the directory placed it in; users,
keys, nodes, sites and GC's records to the home cell; "everything so far" is a position
per cell."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.access import canned_acl
from domain.application import ObjectStore
from domain.errors import NotAvailable
from domain.names import validate_bucket_name
from domain.public_access import PublicAccessBlock, check_acl_allowed
from domain.records import Acl, RequestMeta
from domain.store.results import BucketInfo
from infra.eventstore.directory import CellDirectory


class CellPositions(tuple[int, ...]):
    """Each cell's newest position, in cell order: what a whole-store read barrier waits
    for (`ProjectionRunner.wait_for` takes it as well as one cell's int)."""


# Commands and queries of one bucket: the bucket's name is their first argument.
BUCKET_METHODS = frozenset({
    "abort_multipart_upload", "apply_replicated", "complete_multipart_upload",
    "configure_cors", "configure_encryption", "configure_inventory", "configure_lifecycle",
    "configure_object_lock", "configure_replication", "create_multipart_upload",
    "delete_object", "get_bucket", "get_object", "get_object_at",
    "get_object_version_record", "get_upload", "object_acl", "object_events", "put_object",
    "rewrap_data_key", "set_bucket_acl", "set_bucket_policy", "set_bucket_retention",
    "set_bucket_tags", "set_bucket_upload_expiry", "set_bucket_versioning",
    "set_object_acl", "set_object_legal_hold", "set_object_retention", "set_object_tags",
    "set_public_access_block", "upload_part",
})


class CellStore:
    """Routes by bucket; anything not a bucket's is the home cell's (the first)."""

    def __init__(self, cells: list[ObjectStore], directory: CellDirectory) -> None:
        self.cells = cells
        self.home = cells[0]
        self.directory = directory

    def cell_of(self, bucket: str) -> int:
        """The bucket's cell; the home cell for a name never placed (which then answers
        NoSuchBucket, as one store would)."""
        if not bucket or len(bucket) > 63:  # no bucket has such a name: no lookup
            return 0
        found = self.directory.cell_of(bucket)
        return 0 if found is None else found

    def __getattr__(self, name: str) -> Any:
        if name in BUCKET_METHODS:
            def routed(bucket: str, *args: Any, **kwargs: Any) -> Any:
                return getattr(self.cells[self.cell_of(bucket)], name)(bucket, *args, **kwargs)
            return routed
        return getattr(self.home, name)

    # -- what differs from one store --------------------------------------------------

    def create_bucket(self, name: str, owner: str, meta: RequestMeta, now: datetime,
                      acl: Acl | None = None, *options: Any, **named: Any) -> BucketInfo:
        # what the cell would refuse is refused before the name is placed: a refused
        # request stores nothing, not even a directory row
        validate_bucket_name(name)
        check_acl_allowed(acl or canned_acl("private", owner), self.public_access_default)
        cell = self.cells[self.directory.place(name)]
        return cell.create_bucket(name, owner, meta, now, acl, *options, **named)

    def delete_bucket(self, name: str, contents: Any, meta: RequestMeta, now: datetime
                      ) -> int:
        cell = self.cell_of(name)
        return self.cells[cell].delete_bucket(name, contents.in_cell(cell), meta, now)

    def register_site(self, *args: Any, **kwargs: Any) -> bool:
        raise NotAvailable("Geo-replication does not yet send the buckets of several "
                           "event-store cells: register sites on a store of one cell",
                           feature="geo-replication")

    def current_position(self) -> CellPositions:
        return CellPositions(cell.current_position() for cell in self.cells)

    def on_commit(self, listener: Callable[[int], None]) -> None:
        for cell in self.cells:
            cell.on_commit(listener)

    @property
    def public_access_default(self) -> PublicAccessBlock:
        return self.home.public_access_default

    @public_access_default.setter
    def public_access_default(self, block: PublicAccessBlock) -> None:
        for cell in self.cells:
            cell.public_access_default = block

    def close(self) -> None:
        for cell in self.cells:
            cell.close()
