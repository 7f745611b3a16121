"""S3's flexible checksums: CRC32, CRC32C, CRC64NVME, SHA1 and SHA256, base64 encoded."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable

from awscrt import checksums as crt

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


class _Crc:
    def __init__(self, step: Callable[[bytes, int], int], width: int) -> None:
        self._step = step
        self._width = width
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._step(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


class _Hash:
    def __init__(self, name: str) -> None:
        self._hash = hashlib.new(name, usedforsecurity=False)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()


Checksum = _Crc | _Hash


def new_checksum(algorithm: str) -> Checksum:
    name = algorithm.upper()
    if name == "CRC32":
        return _Crc(lambda data, value: zlib.crc32(data, value), 4)
    if name == "CRC32C":
        return _Crc(lambda data, value: crt.crc32c(data, value), 4)
    if name == "CRC64NVME":
        return _Crc(lambda data, value: crt.crc64nvme(data, value), 8)
    if name in ("SHA1", "SHA256"):
        return _Hash(name.lower())
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def encoded(checksum: Checksum) -> str:
    return base64.b64encode(checksum.digest()).decode()


def header_name(algorithm: str) -> str:
    return f"x-amz-checksum-{algorithm.lower()}"


def algorithm_of_header(name: str) -> str | None:
    """`x-amz-checksum-crc32c` -> `CRC32C`; None for any other header."""
    prefix = "x-amz-checksum-"
    if name.lower().startswith(prefix):
        algorithm = name[len(prefix) :].upper()
        if algorithm in ALGORITHMS:
            return algorithm
    return None
