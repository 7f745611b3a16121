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


COMPOSITE, FULL_OBJECT = "COMPOSITE", "FULL_OBJECT"
_COMBINE: dict[str, tuple[Callable[[int, int, int], int], int]] = {
    "CRC32": (crt.combine_crc32, 4),
    "CRC32C": (crt.combine_crc32c, 4),
    "CRC64NVME": (crt.combine_crc64nvme, 8),
}


def checksum_type_for(algorithm: str, asked: str | None) -> str:
    """S3's x-amz-checksum-type of a multipart upload: what the client asked, else
    FULL_OBJECT for CRC64NVME (its only type) and COMPOSITE for the others. Full-object
    checksums need a CRC (part CRCs combine into the whole's); SHA checksums compose."""
    kind = (asked or (FULL_OBJECT if algorithm == "CRC64NVME" else COMPOSITE)).upper()
    if kind not in (COMPOSITE, FULL_OBJECT):
        raise ValueError("x-amz-checksum-type is COMPOSITE or FULL_OBJECT")
    if kind == FULL_OBJECT and algorithm not in _COMBINE:
        raise ValueError(f"The FULL_OBJECT checksum type needs a CRC algorithm, not "
                         f"{algorithm}")
    if kind == COMPOSITE and algorithm == "CRC64NVME":
        raise ValueError("The CRC64NVME algorithm supports the FULL_OBJECT checksum type only")
    return kind


def multipart_checksum(algorithm: str, kind: str, parts: list[tuple[str, int]]) -> str:
    """The whole object's checksum from its parts' (base64 value, size): the CRC of all
    the bytes (FULL_OBJECT), or the checksum of the parts' checksums and their count."""
    if kind == FULL_OBJECT:
        combine, width = _COMBINE[algorithm]
        value: int | None = None
        for b64, size in parts:
            crc = int.from_bytes(base64.b64decode(b64), "big")
            value = crc if value is None else combine(value, crc, size)
        return base64.b64encode((value or 0).to_bytes(width, "big")).decode()
    total = new_checksum(algorithm)
    for b64, _ in parts:
        total.update(base64.b64decode(b64))
    return f"{encoded(total)}-{len(parts)}"
