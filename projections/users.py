"""The users view: who can sign in, for the administrators' list (the console's users
page). The store answers for one user or key; only this view can list them all.

W/<user>                 {"name", "display_name", "admin", "created_at"}
WK/<user>/<access key>   {"access_key", "active", "created_at"}
WA/<key aggregate id>    "<user>/<access key>" (a key's later events name only its id)

A deleted user or key is gone from the view (its events stay in the store).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatchmethod
from typing import Any

import orjson

from domain.users import AccessKey, User
from projections.base import ViewReader, ViewTransaction, prefix_end


@dataclass(frozen=True)
class KeyRecord:
    access_key: str
    active: bool
    created_at: str


@dataclass(frozen=True)
class UserRecord:
    name: str
    display_name: str
    admin: bool
    created_at: str
    keys: tuple[KeyRecord, ...]


def _key_place(event: Any) -> bytes:
    return b"WA/" + str(event.originator_id.hex).encode()


class UsersProjection:
    name = "users"
    prefixes: tuple[bytes, ...] = (b"W/", b"WK/", b"WA/")
    ranged: tuple[bytes, ...] = (b"WK/",)

    @singledispatchmethod
    def process(self, event: Any, position: int, tx: ViewTransaction) -> None:
        """Events this view does not need change nothing."""

    @process.register
    def _(self, event: User.Created, position: int, tx: ViewTransaction) -> None:
        tx.put(b"W/" + event.name.encode(), orjson.dumps({
            "name": event.name, "display_name": event.display_name, "admin": event.is_admin,
            "created_at": event.timestamp.isoformat()}))

    @process.register
    def _(self, event: User.Deleted, position: int, tx: ViewTransaction) -> None:
        tx.delete(b"W/" + event.name.encode())
        head = b"WK/" + event.name.encode() + b"/"
        for raw, _ in list(tx.scan(head, prefix_end(head))):
            tx.delete(raw)

    @process.register
    def _(self, event: AccessKey.Created, position: int, tx: ViewTransaction) -> None:
        place = f"{event.user}/{event.access_key}".encode()
        tx.put(_key_place(event), place)
        tx.put(b"WK/" + place, orjson.dumps({
            "access_key": event.access_key, "active": True,
            "created_at": event.timestamp.isoformat()}))

    @process.register
    def _(self, event: AccessKey.Activated, position: int, tx: ViewTransaction) -> None:
        self._set_active(tx, event, True)

    @process.register
    def _(self, event: AccessKey.Deactivated, position: int, tx: ViewTransaction) -> None:
        self._set_active(tx, event, False)

    @process.register
    def _(self, event: AccessKey.Deleted, position: int, tx: ViewTransaction) -> None:
        place = tx.get(_key_place(event))
        if place is not None:
            tx.delete(b"WK/" + place)
            tx.delete(_key_place(event))

    @staticmethod
    def _set_active(tx: ViewTransaction, event: Any, active: bool) -> None:
        place = tx.get(_key_place(event))
        raw = tx.get(b"WK/" + place) if place is not None else None
        if place is not None and raw is not None:
            tx.put(b"WK/" + place, orjson.dumps({**orjson.loads(raw), "active": active}))


def list_users(views: ViewReader) -> list[UserRecord]:
    users = []
    for _, raw in views.scan(b"W/", prefix_end(b"W/")):
        record = orjson.loads(raw)
        head = b"WK/" + record["name"].encode() + b"/"
        keys = tuple(KeyRecord(**orjson.loads(v)) for _, v in views.scan(head, prefix_end(head)))
        users.append(UserRecord(**record, keys=keys))
    return users
