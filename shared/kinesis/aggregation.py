"""KPL aggregation: split a Kinesis record that the Kinesis Producer Library aggregated into its user records.

The format (the KPL's aggregation-format.md): 4 magic bytes ``F3 89 9A C2``, a protobuf ``AggregatedRecord``,
then the MD5 digest of that protobuf message::

    message AggregatedRecord {
      repeated string partition_key_table = 1;
      repeated string explicit_hash_key_table = 2;
      repeated Record records = 3;
    }
    message Record {
      required uint64 partition_key_index = 1;
      optional uint64 explicit_hash_key_index = 2;
      required bytes data = 3;
      repeated Tag tags = 4;  // ignored here
    }

A plain record passes through as one user record. No reading can start with the magic bytes (they are not
UTF-8), so a record that does and fails to decode is a corrupt aggregate, never a plain reading. Decoding
is a single bounded pass over the bytes, with no dependency: docs/decisions/0006-kpl-deaggregation-own-decoder.md
says why this is not AWS's ``aws-kinesis-agg`` library.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import NamedTuple

MAGIC = b"\xf3\x89\x9a\xc2"
DIGEST_BYTES = 16  # MD5
# Bounds the work one record can cause: each invalid user record is one quarantine write, and one
# aggregate must settle well inside the processor's timeout even when bisecting cannot split it further. The
# KPL's default aggregate (AggregationMaxSize, 50 KiB) holds at most ~700 of the smallest valid readings.
MAX_USER_RECORDS = 1_000

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5
_MAX_VARINT_BYTES = 10
_UINT64_LIMIT = 1 << 64


class Defect(StrEnum):
    """What is wrong with a corrupt aggregate; the quarantine's detail names it."""

    TRUNCATED = "truncated"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    MALFORMED_PROTOBUF = "malformed_protobuf"
    EMPTY = "empty"
    TOO_MANY_RECORDS = "too_many_records"


class CorruptAggregateError(ValueError):
    """The record carries the aggregation magic bytes but cannot be split into user records."""

    def __init__(self, defect: Defect, detail: str) -> None:
        super().__init__(f"{defect}: {detail}")
        self.defect = defect
        self.detail = detail


# NamedTuples, not dataclasses: this module is on the cold-start path, where defining a dataclass costs far more
# (docs/performance.md).
class UserRecord(NamedTuple):
    partition_key: str
    data: bytes
    explicit_hash_key: str | None = None


class Unpacked(NamedTuple):
    """The user records of one Kinesis record; ``aggregated`` is False for a plain record (one user record)."""

    records: tuple[UserRecord, ...]
    aggregated: bool


def is_aggregated(data: bytes) -> bool:
    return data[: len(MAGIC)] == MAGIC


def unpack(data: bytes, *, partition_key: str) -> Unpacked:
    """The user records in ``data``; ``partition_key`` is the Kinesis record's, kept for a plain record.

    Raises CorruptAggregateError for an aggregate that cannot be read whole: a partial result would lose
    user records without a trace, so the record is either split completely or not at all.
    """
    if not is_aggregated(data):
        return Unpacked(records=(UserRecord(partition_key=partition_key, data=data),), aggregated=False)
    body = memoryview(data)[len(MAGIC) :]
    if len(body) < DIGEST_BYTES:
        raise CorruptAggregateError(
            Defect.TRUNCATED, f"{len(data)} bytes is shorter than the magic bytes and the MD5 digest"
        )
    message, digest = body[:-DIGEST_BYTES], bytes(body[-DIGEST_BYTES:])
    if hashlib.md5(message, usedforsecurity=False).digest() != digest:
        raise CorruptAggregateError(
            Defect.CHECKSUM_MISMATCH, f"the MD5 digest of the {len(message)}-byte message does not match its trailer"
        )
    records = _aggregated_record(message)
    if not records:
        raise CorruptAggregateError(Defect.EMPTY, "the aggregate holds no user records")
    return Unpacked(records=records, aggregated=True)


def _aggregated_record(message: memoryview) -> tuple[UserRecord, ...]:
    partition_keys: list[str] = []
    hash_keys: list[str] = []
    entries: list[tuple[int, int | None, bytes]] = []
    for number, wire_type, value in _fields(message, "AggregatedRecord"):
        if number in (1, 2, 3) and wire_type != _LENGTH_DELIMITED:
            raise _malformed(f"AggregatedRecord field {number} has wire type {wire_type}, expected 2")
        if number == 1:
            partition_keys.append(_text(value, "partition_key_table"))
        elif number == 2:
            hash_keys.append(_text(value, "explicit_hash_key_table"))
        elif number == 3:
            if len(entries) == MAX_USER_RECORDS:
                raise CorruptAggregateError(Defect.TOO_MANY_RECORDS, f"more than {MAX_USER_RECORDS} user records")
            entries.append(_record(_chunk(value), index=len(entries)))
    return tuple(
        _user_record(index, entry, partition_keys=partition_keys, hash_keys=hash_keys)
        for index, entry in enumerate(entries)
    )


def _record(message: memoryview, *, index: int) -> tuple[int, int | None, bytes]:
    partition_key_index: int | None = None
    hash_key_index: int | None = None
    data: bytes | None = None
    for number, wire_type, value in _fields(message, f"Record {index}"):
        expected = {1: _VARINT, 2: _VARINT, 3: _LENGTH_DELIMITED}.get(number)
        if expected is not None and wire_type != expected:
            raise _malformed(f"Record {index} field {number} has wire type {wire_type}, expected {expected}")
        if number == 1:
            partition_key_index = _as_int(value)
        elif number == 2:
            hash_key_index = _as_int(value)
        elif number == 3:
            data = bytes(_chunk(value))
    if partition_key_index is None:
        raise _malformed(f"Record {index} has no partition_key_index")
    if data is None:
        raise _malformed(f"Record {index} has no data")
    return partition_key_index, hash_key_index, data


def _user_record(
    index: int, entry: tuple[int, int | None, bytes], *, partition_keys: list[str], hash_keys: list[str]
) -> UserRecord:
    partition_key_index, hash_key_index, data = entry
    if partition_key_index >= len(partition_keys):
        raise _malformed(
            f"Record {index} names partition key {partition_key_index}, the table has {len(partition_keys)}"
        )
    if hash_key_index is not None and hash_key_index >= len(hash_keys):
        raise _malformed(f"Record {index} names explicit hash key {hash_key_index}, the table has {len(hash_keys)}")
    return UserRecord(
        partition_key=partition_keys[partition_key_index],
        data=data,
        explicit_hash_key=hash_keys[hash_key_index] if hash_key_index is not None else None,
    )


def _fields(message: memoryview, where: str) -> list[tuple[int, int, int | memoryview]]:
    """Every (field number, wire type, value) of one protobuf message; fixed-width values as ints."""
    fields: list[tuple[int, int, int | memoryview]] = []
    position = 0
    while position < len(message):
        key, position = _varint(message, position, where)
        number, wire_type = key >> 3, key & 0x7
        if number == 0:
            raise _malformed(f"{where} has a field numbered 0 at byte {position}")
        value: int | memoryview
        if wire_type == _VARINT:
            value, position = _varint(message, position, where)
        elif wire_type in (_FIXED64, _FIXED32):
            width = 8 if wire_type == _FIXED64 else 4
            if position + width > len(message):
                raise _malformed(f"{where} ends inside a {width}-byte field")
            value, position = int.from_bytes(message[position : position + width], "little"), position + width
        elif wire_type == _LENGTH_DELIMITED:
            length, position = _varint(message, position, where)
            if length > len(message) - position:
                raise _malformed(f"{where} field {number} claims {length} bytes, {len(message) - position} remain")
            value, position = message[position : position + length], position + length
        else:  # 3 and 4 are the deprecated groups, 6 and 7 do not exist; the KPL writes none of them
            raise _malformed(f"{where} field {number} has unsupported wire type {wire_type}")
        fields.append((number, wire_type, value))
    return fields


def _varint(message: memoryview, position: int, where: str) -> tuple[int, int]:
    value = 0
    for shift in range(_MAX_VARINT_BYTES):
        if position + shift >= len(message):
            raise _malformed(f"{where} ends inside a varint")
        byte = message[position + shift]
        value |= (byte & 0x7F) << (7 * shift)
        if not byte & 0x80:
            if value >= _UINT64_LIMIT:
                raise _malformed(f"{where} has a varint beyond 64 bits")
            return value, position + shift + 1
    raise _malformed(f"{where} has a varint longer than {_MAX_VARINT_BYTES} bytes")


def _as_int(value: int | memoryview) -> int:
    assert isinstance(value, int)  # the wire type was checked to be a varint
    return value


def _chunk(value: int | memoryview) -> memoryview:
    assert isinstance(value, memoryview)  # the wire type was checked to be length-delimited
    return value


def _text(value: int | memoryview, field: str) -> str:
    try:
        return bytes(_chunk(value)).decode("utf-8")
    except UnicodeDecodeError as error:
        raise _malformed(f"a {field} entry is not UTF-8 (byte {error.start})") from None


def _malformed(detail: str) -> CorruptAggregateError:
    return CorruptAggregateError(Defect.MALFORMED_PROTOBUF, detail)
