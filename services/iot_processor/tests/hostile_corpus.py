"""Hostile records, one per class of input that once crashed or hung the processor, with the reason each earns.

Raw JSON text, so fields can hold what json.dumps would never write. Used by the contract's tests and by the
handler tests that put each record between valid readings.
"""

from __future__ import annotations

from shared.readings.schema import MAX_RECORD_BYTES, Reason

VALID = {"sensor_id": '"s-1"', "sensor_type": '"temperature"', "value": "21.5", "timestamp": '"2026-11-27T12:00:00Z"'}


def record(**fields: str) -> bytes:
    """A reading written as raw JSON text, so fields can hold what json.dumps would never write."""
    members = {**VALID, **fields}
    return ("{" + ",".join(f'"{name}":{text}' for name, text in members.items()) + "}").encode()


HOSTILE = {
    "nested past the decoder's stack": (b"[" * MAX_RECORD_BYTES, Reason.NOT_JSON),
    "nested value": (record(value="[" * 2000 + "]" * 2000), Reason.NOT_JSON),
    "exponent beyond any decimal": (record(value="1e99999999999999999999"), Reason.NOT_JSON),
    "epoch with a billion-digit exponent": (record(timestamp="1e999999999"), Reason.FUTURE_TIMESTAMP),
    "negative epoch with a huge exponent": (record(timestamp="-1e999999999"), Reason.ANCIENT_TIMESTAMP),
    "epoch a tiny fraction": (record(timestamp="1e-999999999"), Reason.WRONG_TYPE),
    "value of a tiny magnitude": (record(value="1e-999999999"), Reason.UNSTORABLE_NUMBER),
    "value just below DynamoDB's smallest": (record(value="9.99e-131"), Reason.UNSTORABLE_NUMBER),
    "negative value just below DynamoDB's smallest": (record(value="-9.99e-131"), Reason.UNSTORABLE_NUMBER),
    "4000-digit integer of an unevaluated type": (
        record(sensor_type='"counter"', value="9" * 4000),
        Reason.OUT_OF_RANGE,
    ),
    "schema version with a huge exponent": (record(schema_version="1e999999999"), Reason.WRONG_TYPE),
    "schema version true": (record(schema_version="true"), Reason.WRONG_TYPE),
    "value true": (record(value="true"), Reason.WRONG_TYPE),
    "ISO time whose UTC is before year 1": (record(timestamp='"0001-01-01T00:00:00+01:00"'), Reason.ANCIENT_TIMESTAMP),
    "ISO time whose UTC is after year 9999": (
        record(timestamp='"9999-12-31T23:59:59-01:00"'),
        Reason.FUTURE_TIMESTAMP,
    ),
    "unit with a lone surrogate": (record(unit='"\\ud800"'), Reason.WRONG_TYPE),
    "unit with a control character": (record(unit='"\\u0007C"'), Reason.WRONG_TYPE),
    "field name with a lone surrogate": (record(**{"\\udfff": "1"}), Reason.UNKNOWN_FIELD),
    "sensor id with a lone surrogate": (record(sensor_id='"s\\ud800"'), Reason.WRONG_TYPE),
    "value given twice": (record()[:-1] + b',"value":1000}', Reason.DUPLICATE_FIELD),
    "NaN": (record(value="NaN"), Reason.NOT_FINITE),
    "-Infinity": (record(value="-Infinity"), Reason.NOT_FINITE),
    "one byte too many": (record(unit='"' + "x" * 16 + '"').ljust(MAX_RECORD_BYTES + 1), Reason.OVERSIZE),
    "byte order mark": (b"\xef\xbb\xbf" + record(), Reason.NOT_JSON),
    "invalid UTF-8": (b'{"sensor_id": "\xc3\x28"}', Reason.NOT_UTF8),
}
