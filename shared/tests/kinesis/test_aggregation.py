"""KPL de-aggregation: round trips against AWS's own aggregator, and every way an aggregate can be corrupt."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from aws_kinesis_agg.deaggregator import deaggregate_records
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.kinesis.aggregation import (
    MAGIC,
    MAX_USER_RECORDS,
    CorruptAggregateError,
    Defect,
    UserRecord,
    is_aggregated,
    unpack,
)
from shared.synthetic.kinesis_events import kinesis_event
from shared.synthetic.kpl import kpl_record

PROPERTIES = settings(derandomize=True, max_examples=200, deadline=None)
READING = json.dumps({"sensor_id": "s-1", "sensor_type": "temperature", "value": 21.5, "timestamp": 1}).encode()


# --- building aggregates by hand, field by field, for the cases AWS's aggregator never writes -------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int, *, wire_type: int | None = None) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3 | (0 if wire_type is None else wire_type)) + _varint(payload)
    return _varint(number << 3 | (2 if wire_type is None else wire_type)) + _varint(len(payload)) + payload


def _record(*, key_index: int | None = 0, data: bytes | None = READING, extra: bytes = b"") -> bytes:
    body = (_field(1, key_index) if key_index is not None else b"") + (_field(3, data) if data is not None else b"")
    return _field(3, body + extra)


def _sealed(message: bytes) -> bytes:
    return MAGIC + message + hashlib.md5(message, usedforsecurity=False).digest()


def _defect(data: bytes) -> Defect:
    with pytest.raises(CorruptAggregateError) as caught:
        unpack(data, partition_key="outer")
    return caught.value.defect


# --- plain records -------------------------------------------------------------------------------------------------


def test_a_plain_record_passes_through_unchanged_with_its_own_partition_key() -> None:
    unpacked = unpack(READING, partition_key="s-1")
    assert unpacked.aggregated is False
    assert unpacked.records == (UserRecord(partition_key="s-1", data=READING),)


@pytest.mark.parametrize("data", [b"", MAGIC[:3], b"\xf3\x89\x9a", b"not json at all", b"\xf3\x89\x9a\xc3rest"])
def test_records_without_the_whole_magic_are_plain(data: bytes) -> None:
    assert not is_aggregated(data)
    assert unpack(data, partition_key="pk").records == (UserRecord(partition_key="pk", data=data),)


def test_the_magic_bytes_cannot_start_a_utf8_reading() -> None:
    with pytest.raises(UnicodeDecodeError):
        MAGIC.decode("utf-8")


# --- round trips against AWS's aggregation library ----------------------------------------------------------------


def test_an_aggregate_of_five_readings_yields_the_five_in_order_with_their_partition_keys() -> None:
    entries = [(f"sensor-{i % 2}", json.dumps({"n": i}).encode()) for i in range(5)]
    unpacked = unpack(kpl_record(entries), partition_key="outer")
    assert unpacked.aggregated is True
    assert [(r.partition_key, r.data) for r in unpacked.records] == entries
    assert all(r.explicit_hash_key is None for r in unpacked.records)


def test_explicit_hash_keys_are_resolved_per_record() -> None:
    entries = [("a", b"1"), ("b", b"2"), ("c", b"3")]
    hash_keys = ["1234", None, "99"]
    unpacked = unpack(kpl_record(entries, explicit_hash_keys=hash_keys), partition_key="outer")
    assert [r.explicit_hash_key for r in unpacked.records] == hash_keys


_entries = st.lists(st.tuples(st.text(min_size=1, max_size=40), st.binary(max_size=300)), min_size=1, max_size=40)


@PROPERTIES
@given(entries=_entries)
def test_whatever_aws_aggregates_decodes_to_what_was_put_in(entries: list[tuple[str, bytes]]) -> None:
    unpacked = unpack(kpl_record(entries), partition_key="outer")
    assert [(r.partition_key, r.data) for r in unpacked.records] == entries


@PROPERTIES
@given(entries=_entries)
def test_the_decoder_agrees_with_aws_deaggregator(entries: list[tuple[str, bytes]]) -> None:
    data = kpl_record(entries)
    assert _theirs(data) == [(r.partition_key, r.data) for r in unpack(data, partition_key="outer").records]


def _theirs(data: bytes) -> list[tuple[str, bytes]]:
    """What AWS's de-aggregator makes of ``data`` delivered in a Lambda event."""
    event = kinesis_event([data])
    return [
        (record["kinesis"]["partitionKey"], base64.b64decode(record["kinesis"]["data"]))
        for record in deaggregate_records(event["Records"])
    ]


def test_fields_in_any_order_unknown_fields_and_tags_are_read_as_protobuf_allows() -> None:
    tag = _field(4, _field(1, b"k") + _field(2, b"v"))
    unknown = _field(9, 7) + _field(10, b"ignored") + _varint(11 << 3 | 1) + bytes(8) + _varint(12 << 3 | 5) + bytes(4)
    record = _field(3, _field(3, b"payload") + tag + _field(1, 1) + unknown)
    message = record + unknown + _field(1, b"first") + _field(1, b"second")
    (only,) = unpack(_sealed(message), partition_key="outer").records
    assert only == UserRecord(partition_key="second", data=b"payload")


# --- corrupt aggregates: each is rejected whole, with what is wrong -----------------------------------------------


def test_an_aggregate_shorter_than_magic_and_digest_is_truncated() -> None:
    whole = kpl_record([("a", READING)])
    assert _defect(MAGIC) == Defect.TRUNCATED
    assert _defect(whole[: len(MAGIC) + 15]) == Defect.TRUNCATED
    assert _defect(whole[: len(MAGIC) + 16]) == Defect.CHECKSUM_MISMATCH  # long enough to carry a digest


def test_a_cut_aggregate_fails_its_checksum() -> None:
    whole = kpl_record([("a", READING), ("b", READING)])
    assert _defect(whole[:-1]) == Defect.CHECKSUM_MISMATCH
    assert _defect(whole[:-20]) == Defect.CHECKSUM_MISMATCH


def test_one_flipped_bit_fails_the_checksum() -> None:
    whole = bytearray(kpl_record([("a", READING)]))
    whole[len(MAGIC) + 5] ^= 0x01
    assert _defect(bytes(whole)) == Defect.CHECKSUM_MISMATCH


def test_an_aggregate_with_no_user_records_is_empty() -> None:
    assert _defect(_sealed(b"")) == Defect.EMPTY
    assert _defect(_sealed(_field(1, b"a-key-but-no-record"))) == Defect.EMPTY


def test_a_record_more_than_the_limit_is_rejected_and_the_limit_itself_is_accepted() -> None:
    table = _field(1, b"k")
    record = _record(data=b"x")
    assert len(unpack(_sealed(table + record * MAX_USER_RECORDS), partition_key="o").records) == MAX_USER_RECORDS
    with pytest.raises(CorruptAggregateError) as caught:
        unpack(_sealed(table + record * (MAX_USER_RECORDS + 1)), partition_key="o")
    assert (caught.value.defect, caught.value.detail) == (Defect.TOO_MANY_RECORDS, "more than 1000 user records")


@pytest.mark.parametrize(
    ("message", "detail"),
    [
        (_field(1, b"k") + b"\x1a\x10\x08", "claims 16 bytes"),  # a record longer than what remains
        (_field(1, b"k") + b"\x1a", "ends inside a varint"),
        (_field(1, b"k") + _field(3, b"\x08\x80"), "ends inside a varint"),
        (_field(1, b"k") + b"\x1a" + b"\xff" * 10 + b"\x01", "longer than 10 bytes"),
        (_field(1, b"k") + b"\x1a" + b"\xff" * 9 + b"\x7f", "beyond 64 bits"),
        (_field(1, b"k") + _field(3, _field(1, 0) + _varint(3 << 3 | 1) + b"\x00"), "ends inside a 8-byte field"),
        (_field(1, b"k") + _field(3, _field(3, b"d")), "has no partition_key_index"),
        (_field(1, b"k") + _field(3, _field(1, 0)), "has no data"),
        (_field(1, b"k") + _record(key_index=1), "names partition key 1, the table has 1"),
        (_record(), "names partition key 0, the table has 0"),
        (_field(1, b"k") + _field(3, _field(1, 0) + _field(2, 0) + _field(3, b"d")), "names explicit hash key 0"),
        (_field(1, b"\xff") + _record(), "partition_key_table entry is not UTF-8"),
        (_field(2, b"\xc3") + _field(1, b"k") + _record(), "explicit_hash_key_table entry is not UTF-8"),
        (_field(1, 5) + _record(), "AggregatedRecord field 1 has wire type 0, expected 2"),
        (_field(1, b"k") + _field(3, 5), "AggregatedRecord field 3 has wire type 0, expected 2"),
        (_field(1, b"k") + _field(3, _field(1, b"0") + _field(3, b"d")), "field 1 has wire type 2, expected 0"),
        (_field(1, b"k") + _field(3, _field(1, 0) + _field(3, 7)), "field 3 has wire type 0, expected 2"),
        (_field(1, b"k") + _varint(7 << 3 | 3) + _record(), "unsupported wire type 3"),
        (_field(1, b"k") + b"\x00" + _record(), "a field numbered 0"),
    ],
)
def test_a_malformed_protobuf_is_rejected_with_what_is_wrong(message: bytes, detail: str) -> None:
    with pytest.raises(CorruptAggregateError, match=detail) as caught:
        unpack(_sealed(message), partition_key="outer")
    assert caught.value.defect == Defect.MALFORMED_PROTOBUF


KEY_TABLE = _field(1, b"k")


@pytest.mark.parametrize(
    ("message", "detail"),
    [
        (KEY_TABLE + b"\x80", "AggregatedRecord ends inside a varint"),  # a field's key
        (KEY_TABLE + b"\x1a", "AggregatedRecord ends inside a varint"),  # a length
        (KEY_TABLE + _field(3, b"\x08\x80"), "Record 0 ends inside a varint"),  # a value
        (KEY_TABLE + b"\x1a\x10\x08", "AggregatedRecord field 3 claims 16 bytes, 1 remain"),
        (KEY_TABLE + b"\x1a\x08\x08", "AggregatedRecord field 3 claims 8 bytes, 1 remain"),  # fewer than the message
        (KEY_TABLE + b"\x1a" + b"\x80" * 9 + b"\x02", "AggregatedRecord has a varint beyond 64 bits"),  # 2**64
        (
            KEY_TABLE + _field(3, _field(1, 0) + _field(2, b"h") + _field(3, b"d")),
            "Record 0 field 2 has wire type 2, expected 0",
        ),
        (_field(2, 5) + KEY_TABLE + _record(), "AggregatedRecord field 2 has wire type 0, expected 2"),
        (KEY_TABLE + _record() + _field(3, _field(1, 0)), "Record 1 has no data"),
        (KEY_TABLE + _record() + _record(key_index=3), "Record 1 names partition key 3, the table has 1"),
    ],
)
def test_the_detail_says_where_in_the_aggregate_and_what(message: bytes, detail: str) -> None:
    with pytest.raises(CorruptAggregateError) as caught:
        unpack(_sealed(message), partition_key="outer")
    assert (caught.value.defect, caught.value.detail) == (Defect.MALFORMED_PROTOBUF, detail)
    assert str(caught.value) == f"malformed_protobuf: {detail}"


def test_a_truncated_unverifiable_or_empty_aggregate_says_so_in_its_detail() -> None:
    cases = {
        MAGIC + b"\x00" * 15: (Defect.TRUNCATED, "19 bytes is shorter than the magic bytes and the MD5 digest"),
        _sealed(KEY_TABLE + _record())[:-1] + b"\x00": (
            Defect.CHECKSUM_MISMATCH,
            f"the MD5 digest of the {len(KEY_TABLE + _record())}-byte message does not match its trailer",
        ),
        _sealed(KEY_TABLE): (Defect.EMPTY, "the aggregate holds no user records"),
    }
    for data, (defect, detail) in cases.items():
        with pytest.raises(CorruptAggregateError) as caught:
            unpack(data, partition_key="outer")
        assert (caught.value.defect, caught.value.detail) == (defect, detail)


def test_multi_byte_lengths_and_indexes_are_read_whole() -> None:
    """A varint of two or three bytes: a data length of 300 and a partition key index of 200."""
    keys = b"".join(_field(1, f"k{index}".encode()) for index in range(201))
    (record,) = unpack(_sealed(keys + _record(key_index=200, data=b"x" * 300)), partition_key="o").records
    assert (record.partition_key, record.data) == ("k200", b"x" * 300)


def test_a_bad_record_after_good_ones_rejects_the_whole_aggregate() -> None:
    message = _field(1, b"k") + _record() + _record() + _record(key_index=3)
    assert _defect(_sealed(message)) == Defect.MALFORMED_PROTOBUF


def test_aws_deaggregator_loses_the_records_after_a_bad_index_where_this_decoder_refuses_the_aggregate() -> None:
    """Why this repo decodes on its own (docs/decisions): AWS's library drops what follows a bad record."""
    aggregate = _sealed(_field(1, b"k") + _record() + _record(key_index=3) + _record())
    assert len(_theirs(aggregate)) == 1  # three user records went in; two vanished, with only a line on stderr
    assert _defect(aggregate) == Defect.MALFORMED_PROTOBUF


@PROPERTIES
@given(tail=st.binary(max_size=400))
def test_any_bytes_after_the_magic_yield_user_records_or_a_corrupt_aggregate(tail: bytes) -> None:
    for data in (MAGIC + tail, _sealed(tail)):
        try:
            unpacked = unpack(data, partition_key="outer")
        except CorruptAggregateError:
            continue  # the only exception allowed out
        assert unpacked.aggregated
        assert unpacked.records
