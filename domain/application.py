"""ObjectStore: the one eventsourcing Application. Commands follow get -> call -> save.

Its commands and queries live by aggregate family in domain/store/: buckets, objects,
uploads, nodes, identity, sites, over one core (saving with group commit, retrying races, the
log). This class only puts them together under the application's name.
"""

from __future__ import annotations

from domain.buckets import UNVERSIONED
from domain.objects import ObjectKey
from domain.store.buckets import BucketCommands
from domain.store.identity import IdentityCommands
from domain.store.nodes import NodeCommands
from domain.store.objects import ObjectCommands
from domain.store.results import BucketInfo, Credentials, DeleteResult, ObjectInfo, UserInfo
from domain.store.sites import SiteCommands
from domain.store.uploads import UploadCommands
from domain.users import User


class ObjectStore(BucketCommands, ObjectCommands, UploadCommands, NodeCommands, IdentityCommands,
                  SiteCommands):
    """Every command of strata's write model, and the strongly consistent reads."""

    name = "strata"  # eventsourcing names an application after its class unless told
    # Not MultipartUpload: its snapshot holds every part so far (4.3 MB of snapshots for
    # 1,500 parts); a cold load replays its parts once, then the aggregate cache holds it.
    snapshotting_intervals = {ObjectKey: 64, User: 64}  # noqa: RUF012


__all__ = [
    "UNVERSIONED",
    "BucketInfo",
    "Credentials",
    "DeleteResult",
    "ObjectInfo",
    "ObjectStore",
    "UserInfo",
]
