"""A recorded S3 load and its checker: what the relay benchmark drives and the soak checks.

Each client thread owns a few keys (registers) and is their only writer; it PUTs and
DELETEs them, GETs and as-of reads any client's keys, and lists its own prefix. Every
operation is recorded with the wall-clock instants it was invoked and completed and its
outcome: `ok`, `fail` (the server refused it: it must not have happened) or `unknown`
(a timeout, a dropped connection or a 5xx: it may or may not have happened).

The checker (`check`) then finds, per key:
- corrupt: a body that is not the bytes written under its token;
- future: a read of a value whose write began after the read ended;
- refused: a read of a value whose write the server refused;
- stale / lost / resurrected: a read that missed an acknowledged write that had completed
  before the read began (an older value, nothing, or a deleted value come back);
- as-of: an as-of read at instant T that does not give the value current at T;
- listing: a listing that disagrees with what its own client had written.
These are necessary conditions of linearizability for a register with one writer; they
catch every kind of anomaly the soak looks for without a full search of orderings.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

MIX = {"put": 35, "get": 40, "delete": 5, "list": 10, "asof": 10}
BODY_BYTES = 4096


def body_of(token: str, size: int = BODY_BYTES) -> bytes:
    head = token.encode() + b"\n"
    return head + hashlib.shake_256(head).digest(max(0, size - len(head)))


def token_of(body: bytes) -> str | None:
    """The token a body was written under, or None when the body is not one we wrote."""
    head, _, _ = body.partition(b"\n")
    try:
        token = head.decode()
    except UnicodeDecodeError:
        return None
    return token if body == body_of(token, len(body)) else None


@dataclass
class Op:
    client: int
    kind: str  # put, delete, get, asof, list
    bucket: str
    key: str  # the key, or the prefix a list read
    invoked: float
    completed: float = 0.0
    outcome: str = "ok"  # ok, fail, unknown
    value: str | None = None  # put: the token written; get/asof: the token read (None: absent)
    corrupt: bool = False
    at: float = 0.0  # asof: the instant read
    listed: frozenset[str] = frozenset()
    error: str = ""


@dataclass
class Target:
    s3_url: str
    api_url: str
    access_key: str
    secret_key: str
    buckets: list[str]

    def s3(self) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.s3_url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=15,
                          max_pool_connections=4),
        )

    def token(self) -> str:
        r = httpx.post(f"{self.api_url}/auth/token",
                       json={"access_key": self.access_key, "secret_key": self.secret_key},
                       timeout=15)
        r.raise_for_status()
        return str(r.json()["token"])


def prepare(target: Target, retention_seconds: int = 3600) -> None:
    """Create the buckets (idempotent), with history kept for as-of reads."""
    s3 = target.s3()
    for bucket in target.buckets:
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise
    headers = {"authorization": f"Bearer {target.token()}"}
    for bucket in target.buckets:
        r = httpx.put(f"{target.api_url}/buckets/{bucket}/retention",
                      json={"retention_seconds": retention_seconds}, headers=headers, timeout=15)
        r.raise_for_status()


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class Client(threading.Thread):
    """One client: its own connection pool, keys, schedule and history. (Its operations
    are do_<kind>: a thread of its own calls `_delete` when it ends.)"""

    def __init__(self, number: int, target: Target, load: Load, keys: int) -> None:
        super().__init__(name=f"client-{number}", daemon=True)
        self.number = number
        self.target = target
        self.load = load
        self.rng = random.Random(number)
        self.bucket = target.buckets[number % len(target.buckets)]
        self.prefix = f"c{number:03d}/"
        self.keys = [f"{self.prefix}k{k:02d}" for k in range(keys)]
        self.history: list[Op] = []
        self.sequence = 0
        self.s3 = target.s3()
        self.api = httpx.Client(timeout=15)
        self.api_token = ""
        self.api_token_at: float | None = None

    def run(self) -> None:
        next_due = time.monotonic()
        while not self.load.stopping.is_set():
            kinds, weights = zip(*self.load.mix.items(), strict=True)
            rate = self.load.rate_per_client()
            if rate:
                next_due += 1.0 / rate
                wait = next_due - time.monotonic()
                if wait > 0:
                    if self.load.stopping.wait(wait):
                        break
                elif wait < -1.0:
                    next_due = time.monotonic()  # fell behind: do not burst to catch up
            op = self.rng.choices(kinds, weights)[0]
            self.history.append(getattr(self, f"do_{op}")())
        self.api.close()

    def _own_key(self) -> str:
        return self.rng.choice(self.keys)

    def _any_key(self) -> tuple[str, str]:
        other = self.rng.choice(self.load.clients)
        return other.bucket, self.rng.choice(other.keys)

    def _s3_call(self, op: Op, call: Callable[[], Any], absent: Iterable[str] = ()) -> Any:
        try:
            return call()
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in absent:
                op.value = None
                return None
            op.outcome = "fail" if 400 <= _status(exc) < 500 else "unknown"
            op.error = code
        except (BotoCoreError, OSError) as exc:
            op.outcome = "unknown"
            op.error = type(exc).__name__
        finally:
            op.completed = time.time()
        return None

    def do_put(self) -> Op:
        self.sequence += 1
        key = self._own_key()
        token = f"{self.number}:{self.sequence}"
        op = Op(self.number, "put", self.bucket, key, time.time(), value=token)
        self._s3_call(op, lambda: self.s3.put_object(Bucket=self.bucket, Key=key,
                                                       Body=body_of(token)))
        return op

    def do_delete(self) -> Op:
        key = self._own_key()
        op = Op(self.number, "delete", self.bucket, key, time.time())
        self._s3_call(op, lambda: self.s3.delete_object(Bucket=self.bucket, Key=key))
        return op

    def do_get(self) -> Op:
        bucket, key = self._any_key()
        op = Op(self.number, "get", bucket, key, time.time())

        def call() -> None:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            op.value = token_of(body)
            op.corrupt = op.value is None

        self._s3_call(op, call, absent=("NoSuchKey",))
        return op

    def do_list(self) -> Op:
        op = Op(self.number, "list", self.bucket, self.prefix, time.time())

        def call() -> None:
            found = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix)
            op.listed = frozenset(o["Key"] for o in found.get("Contents", []))

        self._s3_call(op, call)
        return op

    def do_asof(self) -> Op:
        bucket, key = self._any_key()
        at = time.time() - self.rng.uniform(0.5, 20.0)
        op = Op(self.number, "asof", bucket, key, time.time(), at=at)
        try:
            if self.api_token_at is None or time.monotonic() - self.api_token_at > 600:
                self.api_token, self.api_token_at = self.target.token(), time.monotonic()
            instant = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
            r = self.api.get(f"{self.target.api_url}/buckets/{bucket}/{key}",
                             params={"as_of": instant},
                             headers={"authorization": f"Bearer {self.api_token}"})
            if r.status_code == 200:
                op.value = token_of(r.content)
                op.corrupt = op.value is None
            elif r.status_code == 404:
                op.value = None
            else:
                op.outcome, op.error = "fail", f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            op.outcome, op.error = "fail", type(exc).__name__
        op.completed = time.time()
        return op


@dataclass
class Load:
    """Clients driving `target`, at `rate` operations a second in all (None: as fast as
    they can, one operation at a time each)."""

    target: Target
    clients_count: int = 16
    keys_per_client: int = 8
    rate: float | None = None
    mix: dict[str, int] = field(default_factory=lambda: dict(MIX))
    stopping: threading.Event = field(default_factory=threading.Event)
    clients: list[Client] = field(default_factory=list)

    def rate_per_client(self) -> float | None:
        return self.rate / self.clients_count if self.rate else None

    def start(self) -> None:
        self.clients = [Client(n, self.target, self, self.keys_per_client)
                        for n in range(self.clients_count)]
        for client in self.clients:
            client.start()

    def stop(self) -> None:
        self.stopping.set()
        for client in self.clients:
            client.join(30)

    def history(self) -> list[Op]:
        return [op for client in self.clients for op in client.history]

    def completed_since(self, since: float) -> int:
        return sum(1 for client in self.clients for op in list(client.history)
                   if op.completed >= since and op.outcome == "ok")


def final_reads(target: Target, load: Load) -> list[Op]:
    """Read every key and list every prefix once the load has stopped."""
    s3 = target.s3()
    found: list[Op] = []
    for client in load.clients:
        for key in client.keys:
            op = Op(-1, "get", client.bucket, key, time.time())
            try:
                body = s3.get_object(Bucket=client.bucket, Key=key)["Body"].read()
                op.value = token_of(body)
                op.corrupt = op.value is None
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchKey":
                    op.outcome, op.error = "fail", exc.response["Error"]["Code"]
            op.completed = time.time()
            found.append(op)
        op = Op(client.number, "list", client.bucket, client.prefix, time.time())
        listed = s3.list_objects_v2(Bucket=client.bucket, Prefix=client.prefix)
        op.listed = frozenset(o["Key"] for o in listed.get("Contents", []))
        op.completed = time.time()
        found.append(op)
    return found


@dataclass
class Verdict:
    operations: dict[str, dict[str, int]]
    violations: list[str]

    @property
    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = defaultdict(int)
        for line in self.violations:
            counted[line.split(":", 1)[0]] += 1
        return dict(counted)


def _summary(history: list[Op]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for op in history:
        table[op.kind][op.outcome] += 1
    return {kind: dict(outcomes) for kind, outcomes in table.items()}


def check(history: list[Op], final: Sequence[Op] = ()) -> Verdict:
    """Every violation found in `history` (and the reads made after it ended)."""
    writes: dict[tuple[str, str], list[Op]] = defaultdict(list)
    for op in sorted((o for o in history if o.kind in ("put", "delete")),
                     key=lambda o: o.invoked):
        writes[(op.bucket, op.key)].append(op)
    by_token = {op.value: op for ops in writes.values() for op in ops if op.kind == "put"}
    violations: list[str] = []
    reads = [o for o in [*history, *final] if o.kind in ("get", "asof") and o.outcome == "ok"]
    for read in reads:
        where = f"{read.kind} {read.bucket}/{read.key}"
        if read.corrupt:
            violations.append(f"corrupt: {where} read bytes that were never written")
            continue
        sequence = writes.get((read.bucket, read.key), [])
        if read.value is None:
            index = None
        else:
            source = by_token.get(read.value)
            if source is None or (source.bucket, source.key) != (read.bucket, read.key):
                violations.append(f"corrupt: {where} read {read.value}, not written there")
                continue
            if source.outcome == "fail":
                violations.append(f"refused: {where} read {read.value}, a refused write")
                continue
            index = sequence.index(source)
        start = read.at if read.kind == "asof" else read.invoked
        end = read.at if read.kind == "asof" else read.completed
        if index is not None and sequence[index].invoked > end:
            violations.append(f"future: {where} read {read.value} before it was written")
            continue
        if index is not None and sequence[index].outcome == "unknown":
            continue  # a write with no answer may take effect at any time after it began
        if index is None:
            # Absent: fine unless an acknowledged put completed before `start` and no
            # delete after it (or one with no answer, anywhere) may have removed it.
            puts = [w for w in sequence if w.kind == "put" and w.outcome == "ok"
                    and w.completed < start]
            if puts:
                last_put = puts[-1]
                position = sequence.index(last_put)
                if not any(w.kind == "delete" and w.invoked <= end and (
                        (w.outcome == "ok" and i > position) or w.outcome == "unknown")
                        for i, w in enumerate(sequence)):
                    kind = "as-of" if read.kind == "asof" else "lost"
                    violations.append(f"{kind}: {where} found nothing; {last_put.value} "
                                      f"was acknowledged before")
            continue
        overwritten = [w for w in sequence[index + 1:]
                       if w.outcome == "ok" and w.completed < start]
        if overwritten:
            newer = overwritten[-1]
            kind = ("as-of" if read.kind == "asof" else
                    "resurrected" if newer.kind == "delete" else "stale")
            violations.append(f"{kind}: {where} read {read.value}; {newer.kind} "
                              f"{newer.value or ''} was acknowledged before")
    for listing in (o for o in [*history, *final] if o.kind == "list" and o.outcome == "ok"):
        for (bucket, key), sequence in writes.items():
            if bucket != listing.bucket or not key.startswith(listing.key):
                continue
            done = [w for w in sequence if w.outcome == "ok" and w.completed < listing.invoked]
            possible = done[-1:] + [w for w in sequence if w.outcome == "unknown"
                                    and w.invoked <= listing.completed]
            present = {w.kind == "put" for w in possible} or {False}
            if (key in listing.listed) not in present:
                state = "listed" if key in listing.listed else "missing from"
                violations.append(f"listing: {bucket}/{key} {state} a listing of "
                                  f"{listing.key} against its own writes")
    return Verdict(_summary(history), violations)
