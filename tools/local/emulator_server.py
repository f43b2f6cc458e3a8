"""moto's server for the local run: one process to deploy into, then a copy of it per group of services.

Started by tools/local/emulator.py as ``python emulator_server.py``; it speaks JSON lines on stdin and stdout:
- once listening it replies ``{"port": ..., "modelled_types": [...]}``: its loopback port, and the resource types
  moto's CloudFormation models (the deploy needs them, and would otherwise import all of moto a second time);
- ``{"fork": "<group>", "services": [...]}`` forks a copy of this process, with every resource deployed so far,
  that listens on a port of its own and replies ``{"group": ..., "port": ..., "pid": ...}``. Services that share no
  state each get a copy, so that their requests run on every core instead of in one interpreter;
- the end of stdin stops this process and every copy it forked; a copy stops when its parent is gone.
Standard library and moto only.
"""

import base64
import contextlib
import copy
import functools
import gc
import io
import json
import logging
import math
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if __name__ == "__main__":
    # jsonschema (which moto's API Gateway imports) builds a Lark grammar for the IRI formats when rfc3987_syntax is
    # importable, and that alone is seconds of every start. Nothing deployed here validates an IRI, and jsonschema
    # treats the module as optional.
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]

from flask import Flask
from moto import backends
from moto.backup.exceptions import AlreadyExistsException as BackupAlreadyExists
from moto.backup.exceptions import InvalidParameterValueException as BackupInvalidParameterValue
from moto.backup.exceptions import ResourceNotFoundException as BackupResourceNotFound
from moto.backup.models import BackupBackend
from moto.backup.responses import BackupResponse
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.parsing import get_model_map
from moto.cloudwatch.exceptions import ValidationError as CloudWatchValidationError
from moto.cloudwatch.models import Alarm as MotoAlarm
from moto.cloudwatch.models import (
    CloudWatchBackend,
    Dimension,
    Metric,
    MetricAggregatedDatum,
    MetricDataQuery,
    MetricDatum,
    MetricDatumBase,
    cloudwatch_backends,
)
from moto.cloudwatch.models import MetricStat as MotoMetricStat
from moto.core import responses as moto_responses
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.common_models import CloudFormationModel
from moto.core.responses import ActionContext, ActionResult, BaseResponse
from moto.core.serialize import TimestampSerializer
from moto.core.utils import camelcase_to_underscores, get_service_model, method_names_from_class
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    DynamodbException,
    ItemSizeTooLarge,
    MockValidationException,
    PointInTimeRecoveryUnavailable,
    SourceTableNotFoundException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, Role, get_account_id_from, iam_backends
from moto.kinesis.models import Record, Shard
from moto.moto_server import werkzeug_app
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.sqs.models import Queue
from moto.sts.models import sts_backends
from werkzeug.serving import BaseWSGIServer, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

HOST = "127.0.0.1"
CALL_LOG_VARIABLE = "EMULATOR_CALL_LOG"  # a file: every request's caller, action and resource, a JSON line each
PARENT_POLL_SECONDS = 0.5
# Operations whose results moto builds as JSON documents already in the wire shape: DynamoDB's item operations, and
# Kinesis's reads and puts (whose bytes and times the wire carries as base64 and epoch seconds).
PLAIN_JSON_OPERATIONS = frozenset(
    [("dynamodb", operation) for operation in ("BatchGetItem", "BatchWriteItem", "GetItem", "PutItem", "Query", "Scan")]
    + [("kinesis", operation) for operation in ("GetRecords", "PutRecords")]
)
Serialize = Callable[[ActionResult, ActionContext], Any]
# DynamoDB's item operations, whose requests moto's parser returns as they came when they carry no binary value: the
# only blobs in their input are attribute values' B and BS, and they have no timestamps and no floats.
PLAIN_JSON_REQUESTS = frozenset(operation for operation in PLAIN_JSON_OPERATIONS if operation[0] == "dynamodb")
BINARY_ATTRIBUTE_MARKERS = (b'"B"', b'"BS"')
ParseParameters = Callable[[BaseResponse, Any], None]
ITEM_SIZE_LIMIT = 405_000  # bytes: the largest item moto accepts (its LimitedSizeDict's check)
# moto keeps every resource, item, record and object as Python objects, which live as long as the emulator, and it
# makes few reference cycles. With Python's default thresholds the collector scanned them all again and again
# (docs/performance.md has what it cost). Collections come far less often.
GC_THRESHOLDS = (20_000, 20, 10)


def with_plain_json(serialize: Serialize) -> Serialize:
    """moto's response serializer, except that the plain-JSON operations' results are written with ``json.dumps``.

    moto's serializer walks the API model for every value (for DynamoDB, a structure of ten members per attribute
    value; for Kinesis, every record), which made reading items back most of the checks' time and serializing
    records most of the Kinesis emulator's. Whatever ``json.dumps`` cannot write as the model would (a value still
    held as a moto object, a null that the model would leave out) goes through moto's serializer.
    """

    def serialized(result: ActionResult, context: ActionContext) -> Any:
        document = result.result
        service_model = context.service_model
        operation = (service_model.service_name, context.operation_model.name)
        if operation in PLAIN_JSON_OPERATIONS and isinstance(document, dict) and None not in document.values():
            try:
                body = json.dumps(document, default=_wire_value)
            except TypeError:
                return serialize(result, context)
            return 200, {"Content-Type": f"application/x-amz-json-{service_model.metadata['jsonVersion']}"}, body
        return serialize(result, context)

    return serialized


def _wire_value(value: object) -> object:
    """A blob or a timestamp as the JSON protocol writes it, by moto's own rules."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return TimestampSerializer._timestamp_unixtimestamp(value)
    raise TypeError(f"{type(value).__name__} is not plain JSON")


def with_plain_json_requests(parse: ParseParameters) -> ParseParameters:
    """moto's request parser, except that a plain-JSON request is taken as ``json.loads`` reads it.

    moto's parser walks the API model for every attribute value of every item written, a large share of the DynamoDB
    emulator's time (docs/performance.md). A request with a binary value (or an attribute named B or BS) goes through
    moto's parser, which decodes the base64.
    """

    def parse_parameters(response: BaseResponse, request: Any) -> None:
        operation = (response.boto3_service_name, response._get_action())
        body = request.data
        if operation in PLAIN_JSON_REQUESTS and not any(marker in body for marker in BINARY_ATTRIBUTE_MARKERS):
            try:
                response.params = json.loads(body)
            except ValueError:
                pass  # moto's parser answers a body that is not JSON in its own way
            else:
                return
        parse(response, request)

    return parse_parameters


def item_sized_once(item: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    """moto's ``Item.__init__``, with the item's size summed once instead of once per attribute.

    moto's attribute dict sums the sizes of all the attributes it holds each time one is added, a large share of
    the DynamoDB emulator's time on ten-attribute items (docs/performance.md). Sizes are never negative, so an item
    is refused on some addition exactly when its whole size is over the limit; the same error is raised.
    """
    item.hash_key = hash_key
    item.range_key = range_key
    item.attrs = LimitedSizeDict({key: DynamoType(value) for key, value in attrs.items()})  # update() checks nothing
    if item.size() > ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge


def last_sequence_number(shard: Shard) -> int:
    return next(reversed(shard.records), 0)


_MOTOS_GET_RECORDS = Shard.get_records


def records_after(shard: Shard, last_sequence_id: str, limit: int | None) -> tuple[list[Record], int, int]:
    """moto's ``Shard.get_records``, reading only the records after the iterator's position.

    moto walks the shard from its first record on every read, so each poll cost grows with the stream. It numbers
    each record one past the shard's last, so the numbers run without gaps and the records after a position are
    found by number. A shard whose numbers have gaps, and a limit below 1 (which the API refuses and moto reads in a
    way of its own), are read moto's way.
    """
    records = shard.records
    last = int(last_sequence_id)
    if not records:
        return [], last, 0
    first, newest = next(iter(records)), next(reversed(records))
    if newest - first + 1 != len(records) or (limit is not None and limit < 1):
        found, last_read, millis_behind = _MOTOS_GET_RECORDS(shard, last_sequence_id, limit)
        return found, last_read, millis_behind
    start = max(last + 1, first)
    stop = newest if limit is None else min(newest, start + limit - 1)
    found = [records[number] for number in range(start, stop + 1)]
    if not found:
        return [], last, 0
    return found, stop, int((records[newest].created_at - found[-1].created_at) * 1000)


class QueueAttributes(Mapping[str, Any]):
    """moto's ``Queue.attributes``, each value read when asked for.

    moto builds every attribute of a queue whenever one is read, counting the visible, delayed and in-flight messages
    with a clock reading per message; it reads one on every message sent and received, so a queue's traffic costs
    the square of its depth. The names, their order and the values are moto's.
    """

    def __init__(self, queue: Queue) -> None:
        self._queue = queue
        names = list(Queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += Queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:  # type: ignore[attr-defined]
            names += Queue.KMS_ATTRIBUTES
        self._names = list(dict.fromkeys(names))

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        if name == "RedrivePolicy" and self._queue.redrive_policy:
            return json.dumps(self._queue.redrive_policy)
        value = getattr(self._queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


# DynamoDB keeps up to five minutes of a provisioned table's unused capacity for bursts.
BURST_SECONDS = 300
WRITE_UNIT_BYTES = 1024


class ProvisionedThroughputExceeded(DynamodbException):
    """What DynamoDB answers when a write finds no capacity left (and BatchWriteItem when none of its items did)."""

    error_type = ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException"

    def __init__(self) -> None:
        super().__init__(
            ProvisionedThroughputExceeded.error_type,
            "The level of configured provisioned throughput for the table was exceeded. Consider increasing your "
            "provisioning level with the UpdateTable API.",
        )


class TokenBucket:
    """Write capacity units of one provisioned table or index: ``rate`` a second, with up to ``BURST_SECONDS`` of
    unused capacity kept; it fills from the table's creation, as capacity unused since then would have."""

    def __init__(self, rate: float, *, since: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._at = clock()
        self.tokens = min(rate * BURST_SECONDS, rate * max(0.0, self._at - since))

    def refill(self, rate: float) -> None:
        """Add what ``rate`` (the table's capacity now: a change counts from the last write) gave since then."""
        now = self._clock()
        self.tokens = min(rate * BURST_SECONDS, self.tokens + (now - self._at) * rate)
        self._at = now


class WriteCapacity:
    """Provisioned tables' write capacity, spent by the writes the emulator lets through (moto does not throttle).

    An item write costs one unit per KB of the item, on the table and on every global secondary index whose keys
    it carries; it goes through only when the table and each of those indexes have the units. On-demand tables are
    never limited.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:  # epoch seconds, as tables' creation times
        self._clock = clock
        self._buckets: dict[tuple[str, str | None], TokenBucket] = {}
        self._lock = threading.Lock()

    def admit(self, table: Table, item: dict[str, Any]) -> bool:
        """Spend the item's write units and return True, or spend nothing and return False."""
        if table.billing_mode == "PAY_PER_REQUEST":
            return True
        units = math.ceil(item_bytes(item) / WRITE_UNIT_BYTES)
        throughputs = [(None, table.throughput)] + [
            (index.name, index.throughput)
            for index in table.global_indexes
            if all(key in item for key in index.schema_key_attrs)
        ]
        with self._lock:
            buckets = [self._bucket(table, name, throughput) for name, throughput in throughputs]
            if any(bucket.tokens < units for bucket in buckets):
                return False
            for bucket in buckets:
                bucket.tokens -= units
            return True

    def _bucket(self, table: Table, index: str | None, throughput: dict[str, int]) -> TokenBucket:
        rate = float(throughput["WriteCapacityUnits"])
        bucket = self._buckets.get((table.name, index))
        if bucket is None:
            created = table.created_at.replace(tzinfo=table.created_at.tzinfo or UTC)  # moto's is naive UTC
            bucket = TokenBucket(rate, since=created.timestamp(), clock=self._clock)
            self._buckets[(table.name, index)] = bucket
        bucket.refill(rate)
        return bucket


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it for capacity: each attribute's name and value."""
    return sum(len(name.encode()) + DynamoType(value).size() for name, value in item.items())


WRITE_CAPACITY = WriteCapacity()
Handler = Callable[[DynamoHandler], ActionResult]


def with_write_capacity(batch_write_item: Handler) -> Handler:
    """moto's BatchWriteItem, admitting only the puts a provisioned table has capacity for. The rest come back as
    UnprocessedItems; when none fits, the whole request is refused with ProvisionedThroughputExceededException."""

    def limited(handler: DynamoHandler) -> ActionResult:
        backend: DynamoDBBackend = handler.dynamodb_backend
        admitted: dict[str, list[dict[str, Any]]] = {}
        unprocessed: dict[str, list[dict[str, Any]]] = {}
        for table_name, requests in handler.body["RequestItems"].items():
            table = backend.get_table(table_name)
            for request in requests:
                put = request.get("PutRequest")
                fits = put is None or WRITE_CAPACITY.admit(table, put["Item"])  # deletes are not limited
                (admitted if fits else unprocessed).setdefault(table_name, []).append(request)
        if not unprocessed:
            return batch_write_item(handler)
        if not admitted:
            raise ProvisionedThroughputExceeded
        handler.body["RequestItems"] = admitted
        result = batch_write_item(handler)
        answer = result.result  # moto's own answer, with UnprocessedItems left empty
        assert isinstance(answer, dict)
        answer["UnprocessedItems"] = unprocessed
        return result

    return limited


def with_put_capacity(put_item: Handler) -> Handler:
    """moto's PutItem, refused with ProvisionedThroughputExceededException when the table has no capacity left."""

    def limited(handler: DynamoHandler) -> ActionResult:
        table = handler.dynamodb_backend.get_table(handler.body["TableName"])
        if not WRITE_CAPACITY.admit(table, handler.body["Item"]):
            raise ProvisionedThroughputExceeded
        return put_item(handler)

    return limited


def install_write_capacity() -> None:
    """Provisioned tables throttle writes beyond their capacity, as DynamoDB does (ADR 0013's burst test)."""
    DynamoHandler.batch_write_item = with_write_capacity(DynamoHandler.batch_write_item)  # type: ignore[method-assign,assignment]
    DynamoHandler.put_item = with_put_capacity(DynamoHandler.put_item)  # type: ignore[method-assign]


# --- DynamoDB point-in-time recovery ------------------------------------------------------------------------------
# moto's RestoreTableToPointInTime copies the table as it is now, whatever the time asked for. Here a table with
# point-in-time recovery keeps each item's previous version as it is written, so a restore rebuilds the table as it
# was at the time asked for, within the recoverable window, as DynamoDB does (ADR 0012).

POINT_IN_TIME_ENABLED = "ENABLED"
ItemKey = tuple[DynamoType, DynamoType | None]


class InvalidRestoreTime(DynamodbException):
    error_type = ERROR_TYPE_PREFIX + "InvalidRestoreTimeException"

    def __init__(self, message: str) -> None:
        super().__init__(InvalidRestoreTime.error_type, message)


class PointInTimeRecovery:
    """Every write to a table with point-in-time recovery, as (epoch seconds, key, the item it replaced or None)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._history: dict[str, list[tuple[float, ItemKey, Item | None]]] = {}  # by table ARN
        self._lock = threading.Lock()

    @staticmethod
    def recovering(table: Table) -> bool:
        status = table.continuous_backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
        return bool(status == POINT_IN_TIME_ENABLED)

    def wrote(self, table: Table, key: ItemKey, previous: Item | None) -> None:
        with self._lock:
            self._history.setdefault(table.table_arn, []).append((self.clock(), key, previous))

    def forget(self, table: Table) -> None:
        with self._lock:
            self._history.pop(table.table_arn, None)

    def items_as_of(self, table: Table, at: float) -> Any:
        """The table's items at ``at``: today's, with every write after ``at`` undone, the latest first."""
        items = {h: dict(r) for h, r in table.items.items()} if table.has_range_key else dict(table.items)
        with self._lock:
            later = [(key, previous) for when, key, previous in self._history.get(table.table_arn, []) if when > at]
        for (hash_key, range_key), previous in reversed(later):
            place = items.setdefault(hash_key, {}) if table.has_range_key else items
            slot = range_key if table.has_range_key else hash_key
            if previous is None:
                place.pop(slot, None)
            else:
                place[slot] = previous
        if not table.has_range_key:
            return items
        return defaultdict(dict, {h: ranges for h, ranges in items.items() if ranges})  # as moto keeps them


POINT_IN_TIME = PointInTimeRecovery()
_MOTOS_PUT_ITEM = Table.put_item
_MOTOS_DELETE_ITEM = Table.delete_item
_MOTOS_UPDATE_ITEM = DynamoDBBackend.update_item
_MOTOS_DESCRIBE_CONTINUOUS_BACKUPS = DynamoDBBackend.describe_continuous_backups
_MOTOS_DELETE_TABLE = DynamoDBBackend.delete_table


def _item_key(table: Table, attributes: dict[str, Any]) -> ItemKey | None:
    """The key of an item's attributes; None when a key attribute is missing (moto's put refuses it)."""
    range_attribute = table.range_key_attr
    if table.hash_key_attr not in attributes or (range_attribute is not None and range_attribute not in attributes):
        return None
    range_key = DynamoType(attributes[range_attribute]) if range_attribute is not None else None
    return DynamoType(attributes[table.hash_key_attr]), range_key


def put_item_kept(table: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
    """moto's ``Table.put_item``, keeping the item it replaces where the table has point-in-time recovery."""
    key = _item_key(table, item_attrs) if POINT_IN_TIME.recovering(table) else None
    if key is None:
        return _MOTOS_PUT_ITEM(table, item_attrs, *args, **kwargs)
    previous = table.get_item(*key)
    item = _MOTOS_PUT_ITEM(table, item_attrs, *args, **kwargs)  # a new Item: ``previous`` stays as it was
    POINT_IN_TIME.wrote(table, key, previous)
    return item


def delete_item_kept(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    """moto's ``Table.delete_item``, keeping the item it deletes where the table has point-in-time recovery."""
    deleted = _MOTOS_DELETE_ITEM(table, hash_key, range_key)
    if deleted is not None and POINT_IN_TIME.recovering(table):
        POINT_IN_TIME.wrote(table, (hash_key, range_key), deleted)
    return deleted


def update_item_kept(backend: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
    """moto's UpdateItem changes the stored item in place: here it changes a copy, and the original is kept."""
    table = backend.get_table(table_name)
    item_key = _item_key(table, key) if POINT_IN_TIME.recovering(table) else None
    if item_key is None:
        return _MOTOS_UPDATE_ITEM(backend, table_name, key, *args, **kwargs)
    current = table.get_item(*item_key)
    if current is not None:
        hash_key, range_key = item_key
        working = copy.deepcopy(current)
        if table.has_range_key:
            table.items[hash_key][range_key] = working
        else:
            table.items[hash_key] = working  # type: ignore[assignment]  # a hash-only table keeps items by hash
    updated = _MOTOS_UPDATE_ITEM(backend, table_name, key, *args, **kwargs)
    POINT_IN_TIME.wrote(table, item_key, current)
    return updated


def delete_table_forgotten(backend: DynamoDBBackend, name: str) -> Table:
    """moto's DeleteTable; a table created again under the name starts a recovery window of its own, as in DynamoDB."""
    deleted = _MOTOS_DELETE_TABLE(backend, name)
    POINT_IN_TIME.forget(deleted)
    return deleted


def describe_continuous_backups_now(backend: DynamoDBBackend, table_name: str) -> dict[str, Any]:
    """moto's answer, with the latest restorable time at the present (moto leaves it when recovery was enabled)."""
    answer = copy.deepcopy(_MOTOS_DESCRIBE_CONTINUOUS_BACKUPS(backend, table_name))
    description = answer["PointInTimeRecoveryDescription"]
    if description["PointInTimeRecoveryStatus"] == POINT_IN_TIME_ENABLED:
        description["LatestRestorableDateTime"] = POINT_IN_TIME.clock()
    return answer


def restore_table_to_a_time(handler: DynamoHandler) -> ActionResult:
    """RestoreTableToPointInTime at the time asked for (or the latest), inside the recoverable window."""
    body, backend = handler.body, handler.dynamodb_backend
    source_name = body.get("SourceTableName") or str(body.get("SourceTableArn", "")).split("/")[-1]
    source = backend.tables.get(source_name)
    if source is None:
        raise SourceTableNotFoundException(source_name)
    if not POINT_IN_TIME.recovering(source):
        raise PointInTimeRecoveryUnavailable(source_name)
    enabled = float(source.continuous_backups["PointInTimeRecoveryDescription"]["EarliestRestorableDateTime"])
    earliest = math.floor(enabled * 1000) / 1000  # the API's times are milliseconds: the window opens on one
    at = _restore_time(body, earliest=earliest, latest=POINT_IN_TIME.clock())
    restored = backend.restore_table_to_point_in_time(body["TargetTableName"], source_name)
    restored.items = POINT_IN_TIME.items_as_of(source, at)
    restored.billing_mode = source.billing_mode
    restored.restore_date_time = datetime.fromtimestamp(at, tz=UTC).replace(tzinfo=None)  # moto's times are naive UTC
    return DynamoResult(restored.describe())


def _restore_time(body: dict[str, Any], *, earliest: float, latest: float) -> float:
    asked = body.get("RestoreDateTime")
    latest_asked = bool(body.get("UseLatestRestorableTime"))
    if latest_asked == (asked is not None):
        raise MockValidationException("Exactly one of RestoreDateTime and UseLatestRestorableTime must be given")
    if asked is None:
        return latest
    if isinstance(asked, datetime):  # moto's parser gives naive UTC
        at = (asked if asked.tzinfo else asked.replace(tzinfo=UTC)).timestamp()
    else:
        at = float(asked)
    if not earliest <= at <= latest:
        raise InvalidRestoreTime(
            f"Restore time {at} is not within the restorable window from {earliest} to {latest} (epoch seconds)"
        )
    return at


def install_point_in_time_recovery() -> None:
    """Tables with point-in-time recovery restore to the time asked for, as DynamoDB does (the restore drill)."""
    Table.put_item = put_item_kept  # type: ignore[method-assign,assignment]
    Table.delete_item = delete_item_kept  # type: ignore[method-assign,assignment]
    DynamoDBBackend.update_item = update_item_kept  # type: ignore[method-assign,assignment]
    DynamoDBBackend.describe_continuous_backups = describe_continuous_backups_now  # type: ignore[method-assign,assignment]
    DynamoDBBackend.delete_table = delete_table_forgotten  # type: ignore[method-assign,assignment]
    DynamoHandler.restore_table_to_point_in_time = restore_table_to_a_time  # type: ignore[method-assign,assignment]


# --- AWS Backup: a plan's selections --------------------------------------------------------------------------------
# moto keeps backup plans, vaults and vault locks, but has no selections: the resources a plan backs up, with the
# role it uses. Here they are kept per plan and answered as AWS Backup does (ADR 0012).

SELECTION_NAME = re.compile(r"[a-zA-Z0-9\-_.]{1,50}")


def _selections(backend: BackupBackend) -> dict[str, dict[str, dict[str, Any]]]:
    """Per plan id, its selections by id; kept on the region's backend, as moto keeps the plans."""
    selections: dict[str, dict[str, dict[str, Any]]] = backend.__dict__.setdefault("selections", {})
    return selections


def _plan_and_selection(path: str) -> tuple[str, str]:
    """``/backup/plans/<plan>/selections/[<selection>]``: the plan's id, and the selection's (or "")."""
    plan, _, selection = path.split("/plans/", 1)[1].partition("/selections")
    return plan, selection.strip("/")


def create_backup_selection(response: BackupResponse) -> str:
    plan_id, _ = _plan_and_selection(response.path)
    backend = response.backup_backend
    backend.get_backup_plan(plan_id, None)  # ResourceNotFoundException, as AWS Backup answers
    params = json.loads(response.body)
    selection = params.get("BackupSelection") or {}
    name = selection.get("SelectionName", "")
    if not SELECTION_NAME.fullmatch(name) or not selection.get("IamRoleArn"):
        raise BackupInvalidParameterValue(
            msg=f"BackupSelection needs a SelectionName of 1-50 letters, digits, -, _ or . and an IamRoleArn: {name!r}"
        )
    plan_selections = _selections(backend).setdefault(plan_id, {})
    if any(s["BackupSelection"]["SelectionName"] == name for s in plan_selections.values()):
        raise BackupAlreadyExists(msg=f"Backup selection {name!r} already exists in plan {plan_id}")
    selection_id = str(uuid.uuid4())
    plan_selections[selection_id] = {
        "SelectionId": selection_id,
        "BackupPlanId": plan_id,
        "BackupSelection": selection,
        "CreationDate": POINT_IN_TIME.clock(),
        "CreatorRequestId": params.get("CreatorRequestId"),
    }
    return json.dumps({k: plan_selections[selection_id][k] for k in ("SelectionId", "BackupPlanId", "CreationDate")})


def get_backup_selection(response: BackupResponse) -> str:
    return json.dumps(_selection(response))


def delete_backup_selection(response: BackupResponse) -> str:
    found = _selection(response)
    del _selections(response.backup_backend)[found["BackupPlanId"]][found["SelectionId"]]
    return "{}"


def list_backup_selections(response: BackupResponse) -> str:
    plan_id, _ = _plan_and_selection(response.path)
    response.backup_backend.get_backup_plan(plan_id, None)
    listed = [
        {
            "SelectionId": s["SelectionId"],
            "SelectionName": s["BackupSelection"]["SelectionName"],
            "BackupPlanId": plan_id,
            "CreationDate": s["CreationDate"],
            "IamRoleArn": s["BackupSelection"]["IamRoleArn"],
        }
        for s in _selections(response.backup_backend).get(plan_id, {}).values()
    ]
    return json.dumps({"BackupSelectionsList": listed})


def _selection(response: BackupResponse) -> dict[str, Any]:
    plan_id, selection_id = _plan_and_selection(response.path)
    found = _selections(response.backup_backend).get(plan_id, {}).get(selection_id)
    if found is None:
        raise BackupResourceNotFound(msg=f"Backup selection {selection_id} of plan {plan_id} not found")
    return found


def install_backup_selections() -> None:
    """Backup plans keep their selections, as AWS Backup does (the backups of the local stage)."""
    for handler in (create_backup_selection, get_backup_selection, delete_backup_selection, list_backup_selections):
        setattr(BackupResponse, handler.__name__, handler)


ExecuteChangeSet = Callable[[CloudFormationBackend, str, str | None], None]


def executed_as_create_or_update(execute_change_set: ExecuteChangeSet) -> ExecuteChangeSet:
    """moto's ExecuteChangeSet, with the stack created or updated as CreateStack and UpdateStack do it.

    moto applies a change set's resources to a placeholder stack and never builds its outputs, so a stack created
    through a change set has none, and an update keeps the old ones (the pipeline's deploy actions use change sets,
    and its steps read the outputs). The change set's status, events and template stay moto's.
    """

    def execute(backend: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = backend.describe_change_set(change_set_name)
        if change_set is None or change_set.execution_status != "AVAILABLE":
            execute_change_set(backend, change_set_name, stack_name)
            return
        placeholder = backend.stacks[change_set.stack_id]
        if change_set.change_set_type == "CREATE":
            stack = Stack(  # type: ignore[abstract]  # moto's own CreateStack builds it the same way
                stack_id=placeholder.stack_id,
                name=placeholder.name,
                template=change_set.template,
                parameters=change_set.parameters,
                account_id=backend.account_id,
                region_name=backend.region_name,
                notification_arns=change_set.notification_arns,
                tags=change_set.tags,
                role_arn=change_set.role_arn,
                cross_stack_resources=backend.exports,
            )
            stack.events = placeholder.events
            backend.stacks[stack.stack_id] = stack
            stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
            stack.create_resources()
        else:
            placeholder.update(change_set.template, role_arn=change_set.role_arn, parameters=change_set.parameters)
        change_set.execution_status = "EXECUTE_COMPLETE"

    return execute


GetTemplate = Callable[[CloudFormationBackend, str], str | dict[str, Any]]
SYNTHESIZED_TEMPLATE_KEY = "Emulator::SynthesizedTemplate"  # tools/local/deploy.py writes it


def with_synthesized_template(get_template: GetTemplate) -> GetTemplate:
    """moto's GetTemplate, answering with the template as synthesized where the deploy kept it.

    The deploy gives moto a template prepared for it (tools/local/deploy.py: stand-ins for what moto does not model);
    CloudFormation answers with the template it was given, which is what the change report compares.
    """

    def original(backend: CloudFormationBackend, name_or_stack_id: str) -> str | dict[str, Any]:
        template = get_template(backend, name_or_stack_id)
        parsed = json.loads(template) if isinstance(template, str) and template.lstrip().startswith("{") else template
        if isinstance(parsed, dict) and SYNTHESIZED_TEMPLATE_KEY in parsed.get("Metadata", {}):
            return str(parsed["Metadata"][SYNTHESIZED_TEMPLATE_KEY])
        return template

    return original


PutPolicy = Callable[[Role, str, Any], None]


def with_policy_as_json(put_policy: PutPolicy) -> PutPolicy:
    """moto's ``Role.put_policy``, keeping a document as JSON text, as IAM keeps it: a role's ``Policies`` in a
    template reach it parsed, and GetRolePolicy would answer with Python's rendering of them (ADR 0017)."""

    def put(role: Role, policy_name: str, policy_json: Any) -> None:
        put_policy(role, policy_name, policy_json if isinstance(policy_json, str) else json.dumps(policy_json))

    return put


CreateRole = Callable[..., Role]
AWS_MANAGED_POLICY = "arn:aws:iam::aws:policy/"


def with_managed_policies_attached(create_role: CreateRole) -> CreateRole:
    """moto's CloudFormation creates a role without its ``ManagedPolicyArns``; IAM attaches them (ADR 0017: the
    rehearsal evaluates the bootstrap roles' calls against them). An AWS managed policy enters an account's IAM from
    moto's own copy of them when first attached: loading all of them into every account would cost seconds."""

    def create(
        resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> Role:
        role = create_role(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = iam_backends[account_id]["aws"]
        for arn in cloudformation_json["Properties"].get("ManagedPolicyArns", []):
            if arn.startswith(AWS_MANAGED_POLICY) and arn not in backend.managed_policies:
                name = arn.rsplit("/", 1)[1]
                # Parsed anew, and only this one kept: all of them held would slow every garbage collection.
                data = json.loads(aws_managed_policies_data)[name]
                backend.managed_policies[arn] = AWSManagedPolicy.from_data(name, account_id, region_name, data)
            backend.attach_role_policy(arn, role.name)
        return role

    return create


Authorize = Callable[[ActionAuthenticatorMixin, type, str], None]


def with_call_log(authorize: Authorize, log: Callable[[dict[str, Any]], None]) -> Authorize:
    """moto's per-request authorization hook, which first logs the call: who made it (the role a session assumed),
    the action as IAM names it (moto's own mapping, S3's included), moto's resource, and the request's plain
    parameters. The pipeline rehearsal evaluates every logged call against the caller's policies (ADR 0017)."""

    def logged(self: ActionAuthenticatorMixin, iam_request_cls: type, resource: str = "*") -> None:
        handler: Any = self
        log(
            {
                "service": _credential_scope(handler.headers.get("Authorization", ""), 3),
                "action": handler._get_action(),
                "resource": resource,
                "account": handler.current_account,
                "principal": _principal(_credential_scope(handler.headers.get("Authorization", ""), 0)),
                "params": _plain(getattr(handler, "params", None) or _json_body(handler) or _query(handler)),
                "path": handler.path,
                "method": handler.method,
            }
        )
        authorize(self, iam_request_cls, resource)

    return logged


def _credential_scope(authorization: str, part: int) -> str:
    """A part of SigV4's ``Credential=<key>/<date>/<region>/<service>/aws4_request``; empty when unsigned."""
    scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
    return scope[part] if len(scope) > part else ""


def _principal(access_key: str) -> str | None:
    """The assumed-role session an access key belongs to; None for the emulator's default credentials."""
    for backend in sts_backends[get_account_id_from(access_key)].values():
        role = backend.get_assumed_role_from_access_key(access_key)
        if role is not None:
            return str(role.arn)
    return None


def _json_body(handler: Any) -> Any:
    """The parameters of a JSON-protocol request (DynamoDB, Kinesis, SSM...), which moto parses only later."""
    body = handler.body
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    try:
        return json.loads(text) if text.lstrip().startswith("{") else None
    except json.JSONDecodeError:
        return None


def _query(handler: Any) -> dict[str, Any]:
    """A REST request's query (S3's ``prefix``, which its condition keys name), each name's only value unlisted."""
    query = getattr(handler, "querystring", None) or {}
    return {name: values[0] if len(values) == 1 else values for name, values in query.items()}


def _plain(params: Any) -> dict[str, Any]:
    """A request's top-level strings, lists of strings and the keys of its maps (DynamoDB's batch operations name
    their tables so): the names a resource ARN is built from, not payloads."""
    if not isinstance(params, dict):
        return {}
    plain: dict[str, Any] = {}
    for name, value in params.items():
        short_text = isinstance(value, str) and len(value) <= 2048
        if short_text or (isinstance(value, list) and all(isinstance(item, str) for item in value)):
            plain[name] = value
        elif isinstance(value, dict):
            plain[name] = sorted(str(key) for key in value)
    return plain


def install_call_log(path: str) -> None:
    """Every request logged to ``path``; and, since the pipeline rehearsal evaluates the logged calls against the
    callers' policies, a template's roles kept as IAM keeps them. Only then: nothing else reads a role's policies,
    and the local run's data path measured slower with them."""
    Role.put_policy = with_policy_as_json(Role.put_policy)  # type: ignore[method-assign,assignment]
    Role.create_from_cloudformation_json = with_managed_policies_attached(  # type: ignore[method-assign]
        Role.create_from_cloudformation_json
    )
    lock = threading.Lock()

    def append(call: dict[str, Any]) -> None:
        line = json.dumps(call) + "\n"
        with lock, open(path, "a", encoding="utf-8") as file:
            file.write(line)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = with_call_log(  # type: ignore[method-assign,assignment]
        ActionAuthenticatorMixin._authenticate_and_authorize_action, append
    )


def install_alarm_resources() -> None:
    """CloudFormation creates, updates and deletes AWS::CloudWatch::Alarm and CompositeAlarm resources, as
    PutMetricAlarm, PutCompositeAlarm and DeleteAlarms do.

    moto's CloudFormation has no model of either (the deploy left stand-ins), so a stage's CloudWatch held none of
    its alarms and the pipeline's bake, which reads the composite alarm with DescribeAlarms, found nothing. moto's
    CloudWatch keeps composite alarms (a rule in place of a metric) but evaluates no alarm: the local alarm evaluator
    sets their states (tools/local/alarms.py, SetAlarmState), as CloudWatch's own evaluation would. Defined here,
    not at import, so that importing this module changes nothing in moto's model map (the tests import it).
    """
    for resource_type in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
        _alarm_resource_model(resource_type)


def _alarm_resource_model(resource_type: str) -> type[CloudFormationModel]:
    """A model moto's CloudFormation finds by being defined: its model map lists CloudFormationModel's direct
    subclasses."""

    class AlarmResource(CloudFormationModel):
        __module__ = "moto.cloudwatch.models"  # moto's model registry files each model under its module's service

        def __init__(self, alarm: MotoAlarm) -> None:
            self.alarm = alarm

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        @staticmethod
        def cloudformation_type() -> str:
            return resource_type

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Arn"

        def get_cfn_attribute(self, attribute_name: str) -> str:
            if attribute_name != "Arn":
                raise UnformattedGetAttTemplateException()
            return str(self.alarm.alarm_arn)

        @property
        def physical_resource_id(self) -> str:
            return str(self.alarm.name)

        def is_created(self) -> bool:
            return True

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **_: Any
        ) -> "AlarmResource":
            properties = cloudformation_json.get("Properties", {})
            backend: CloudWatchBackend = cloudwatch_backends[account_id][region_name]
            return cls(backend.put_metric_alarm(**alarm_arguments(properties, resource_name)))

        @classmethod
        def update_from_cloudformation_json(
            cls,
            original_resource: "AlarmResource",
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> "AlarmResource":
            """PutMetricAlarm on the same name overwrites the alarm and keeps its state; a new name replaces it."""
            updated = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            previous = original_resource.alarm
            if previous.name == updated.alarm.name:
                for kept in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history"):
                    setattr(updated.alarm, kept, getattr(previous, kept))
            else:
                cloudwatch_backends[account_id][region_name].delete_alarms([previous.name])
            return updated

        @classmethod
        def delete_from_cloudformation_json(
            cls, resource_name: str, _cloudformation_json: Any, account_id: str, region_name: str
        ) -> None:
            cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

    return AlarmResource


def alarm_arguments(properties: Mapping[str, Any], name: str) -> dict[str, Any]:
    """moto's put_metric_alarm arguments from an alarm resource's properties (PutMetricAlarm's and
    PutCompositeAlarm's parameters, under the same names), built as moto's PutMetricAlarm handler builds them."""

    def number(key: str, kind: Callable[[Any], Any]) -> Any:
        return kind(properties[key]) if properties.get(key) is not None else None

    return {
        "name": properties.get("AlarmName") or name,
        "namespace": properties.get("Namespace"),
        "metric_name": properties.get("MetricName"),
        "metric_data_queries": [_metric_data_query(query) for query in properties.get("Metrics", [])] or None,
        "comparison_operator": properties.get("ComparisonOperator"),
        "evaluation_periods": number("EvaluationPeriods", int),
        "datapoints_to_alarm": number("DatapointsToAlarm", int),
        "period": number("Period", int),
        "threshold": number("Threshold", float),
        "statistic": properties.get("Statistic"),
        "extended_statistic": properties.get("ExtendedStatistic"),
        "description": properties.get("AlarmDescription"),
        "dimensions": properties.get("Dimensions", []),
        "alarm_actions": properties.get("AlarmActions", []),
        "ok_actions": properties.get("OKActions", []),
        "insufficient_data_actions": properties.get("InsufficientDataActions", []),
        "unit": properties.get("Unit"),
        "actions_enabled": str(properties.get("ActionsEnabled", True)).lower() == "true",
        "treat_missing_data": properties.get("TreatMissingData"),
        "evaluate_low_sample_count_percentile": properties.get("EvaluateLowSampleCountPercentile"),
        "threshold_metric_id": properties.get("ThresholdMetricId"),
        "rule": properties.get("AlarmRule"),
        "tags": properties.get("Tags", []),
    }


def _metric_data_query(query: Mapping[str, Any]) -> MetricDataQuery:
    stat = query.get("MetricStat")
    metric = None
    if stat is not None:
        dimensions = [Dimension(d["Name"], d["Value"]) for d in stat["Metric"].get("Dimensions", [])]
        metric = MotoMetricStat(
            metric=Metric(
                metric_name=stat["Metric"]["MetricName"], namespace=stat["Metric"]["Namespace"], dimensions=dimensions
            ),
            period=stat.get("Period"),
            stat=stat.get("Stat"),
            unit=stat.get("Unit"),
        )
    return MetricDataQuery(
        query_id=query["Id"],
        label=query.get("Label"),  # type: ignore[arg-type]  # moto's handler passes None alike
        period=query.get("Period"),  # type: ignore[arg-type]
        return_data=query.get("ReturnData"),  # type: ignore[arg-type]
        expression=query.get("Expression"),
        metric_stat=metric,
    )


def metric_data(
    backend: CloudWatchBackend,
    queries: list[dict[str, Any]],
    start_time: datetime,
    end_time: datetime,
    scan_by: str = "TimestampAscending",
) -> list[dict[str, Any]]:
    """GetMetricData for metric queries, answered as CloudWatch answers them, in place of moto's.

    moto's matches a metric with dimensions by name and dimensions alone (any namespace), counts periods from the
    start time instead of from the clock's period boundaries, and has no percentiles. An alarm evaluated on it would
    see data under a namespace it got wrong, which is the mistake the local alarms are there to show. Here a metric
    is its namespace, name and exact dimension set; periods start at multiples of the period; the statistics are
    Sum, SampleCount, Average, Minimum, Maximum and pNN (nearest rank). Metric math is refused: tools/alarms
    evaluates it over these results, as it does over an account's.
    """
    if any("MetricStat" not in query for query in queries):
        raise CloudWatchValidationError("metric math is not evaluated by the emulator: send metric queries only")
    start, end = _epoch(start_time), _epoch(end_time)
    by_metric: dict[tuple[str, str], list[tuple[float, MetricDatumBase]]] = {}
    for datum in backend.get_all_metrics():
        at = _epoch(datum.timestamp)
        if start <= at < end:
            by_metric.setdefault((datum.namespace, datum.name), []).append((at, datum))
    results = []
    for query in queries:
        stat = query["MetricStat"]
        metric = stat["Metric"]
        period = int(stat["Period"])
        dimensions = sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
        buckets: dict[int, list[MetricDatumBase]] = {}
        for at, datum in by_metric.get((metric["Namespace"], metric["MetricName"]), []):
            same_unit = "Unit" not in stat or datum.unit == stat["Unit"]
            if same_unit and sorted((d.name, d.value) for d in datum.dimensions) == dimensions:
                buckets.setdefault(int(at // period) * period, []).append(datum)
        values = {begin: _statistic(data, stat["Stat"]) for begin, data in buckets.items()}
        starts = sorted((b for b, v in values.items() if v is not None), reverse=scan_by == "TimestampDescending")
        if query.get("ReturnData", True):
            results.append(
                {
                    "id": query["Id"],
                    "label": query.get("Label") or metric["MetricName"],
                    "values": [values[begin] for begin in starts],
                    "timestamps": [datetime.fromtimestamp(begin, UTC) for begin in starts],
                    "status_code": "Complete",
                }
            )
    return results


def _epoch(moment: datetime) -> float:
    """moto keeps the times it makes as naive UTC and the times it is sent as they came."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _statistic(data: list[MetricDatumBase], stat: str) -> float | None:
    values = [datum.value for datum in data if isinstance(datum, MetricDatum)]
    sets = [datum for datum in data if isinstance(datum, MetricAggregatedDatum)]
    count = len(values) + sum(s.sample_count for s in sets)
    total = sum(values) + sum(s.sum for s in sets)
    match stat:
        case "Sum":
            return total
        case "SampleCount":
            return count
        case "Average":
            return total / count if count else None
        case "Minimum":
            return min([*values, *(s.min for s in sets)])
        case "Maximum":
            return max([*values, *(s.max for s in sets)])
    if stat.startswith("p") and not sets:  # a percentile needs every value, not statistic sets
        rank = float(stat[1:]) / 100
        ordered = sorted(values)
        return ordered[max(0, math.ceil(rank * len(ordered)) - 1)]
    raise CloudWatchValidationError(f"the statistic {stat} is not computed by the emulator")


def install_shortcuts() -> None:
    """Spare the emulator work that changes nothing in what it answers."""
    # moto lists its own package directory on every request to route it; the listing never changes while it runs.
    moto_modules = frozenset(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: moto_modules
    # moto finds a request's handler method by listing every member of the response class, on every request; a
    # class's methods never change while it runs.
    moto_responses.method_names_from_class = functools.cache(method_names_from_class)  # type: ignore[attr-defined]
    ActionResult.execute_result = with_plain_json(ActionResult.execute_result)  # type: ignore[method-assign,assignment]
    BaseResponse.parse_parameters = with_plain_json_requests(BaseResponse.parse_parameters)  # type: ignore[method-assign,assignment]
    Item.__init__ = item_sized_once  # type: ignore[method-assign,assignment]
    # moto finds a shard's last sequence number by copying all of its keys, on every record put, and the records after
    # an iterator by walking the shard from its start, on every read: both grow with the stream. Its records are kept
    # in order of arrival, numbered without gaps.
    Shard.get_max_sequence_number = last_sequence_number  # type: ignore[method-assign,assignment]
    Shard.get_records = records_after  # type: ignore[method-assign,assignment]
    Queue.attributes = property(QueueAttributes)  # type: ignore[assignment,method-assign]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a log line per request costs more than parsing it
    # Cross-origin headers on every answer are for browsers; the local run's clients are the SDK's.
    werkzeug_app.DISABLE_GLOBAL_CORS = True  # type: ignore[attr-defined]
    CloudFormationBackend.get_template = with_synthesized_template(  # type: ignore[method-assign,assignment]
        CloudFormationBackend.get_template
    )
    CloudFormationBackend.execute_change_set = executed_as_create_or_update(  # type: ignore[method-assign,assignment]
        CloudFormationBackend.execute_change_set
    )


def backend_app(service: str) -> Flask:
    """moto's application for a service, out of Flask's debug mode.

    moto builds it in debug mode, in which Flask makes a new class for every request's form data. An error in moto
    still answers 500 and goes to the emulator's log; only the debugger's traceback page is gone.
    """
    app = create_backend_app(service)  # type: ignore[arg-type]
    app.debug = False
    return app


class EmulatorRequestHandler(MotoRequestHandler):
    """moto's request handler (which keeps headers with underscores), with keep-alive connections and no access log.

    werkzeug's server closes the connection after every answer: http.server cannot tell where a body the application
    left unread ends. Here the body (its Content-Length) is read whole before the application runs and the answer is
    written whole, with its length, so the client's next request follows on the same connection. That spares a new
    connection, a thread and a socket drain per request, measured in docs/performance.md (make bench-emulator). A
    request with a chunked body, an Expect header or a malformed length goes through
    werkzeug's own path, which closes the connection.
    """

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # An answer is two writes (head, then body): without this, the body would wait for the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length", "0")
        if "Transfer-Encoding" in self.headers or "Expect" in self.headers or not length.isdigit():
            super().run_wsgi()
            return
        self.environ = environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(length)))
        try:
            status, headers, body = self._answer(environ)
        except Exception:
            self.log_error("Error on request:\n%s", traceback.format_exc())
            status, body = "500 INTERNAL SERVER ERROR", b"Internal Server Error"
            headers = [("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close")]  # the state is unknown
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        self.send_response(code, reason)
        for name, value in headers:
            self.send_header(name, value)
        bodiless = self.command == "HEAD" or code in (204, 304) or code < 200
        if not bodiless and not any(name.lower() == "content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not bodiless:
            self.wfile.write(body)

    def _answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], *_: object) -> Callable[[bytes], None]:
            started[:] = [status, headers]  # nothing is sent before the end, so an error's answer simply replaces it
            return written.append

        result = self.server.app(environ, start_response)
        try:
            written.extend(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        status, headers = started
        return status, headers, b"".join(written)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:  # noqa: ARG002 - http.server calls it so
        """No access log line: werkzeug formats it (the path decoded, control characters escaped) even when its
        logger drops it. Errors are still logged."""
        return None


def serve(app: "WSGIApplication", port: int = 0) -> BaseWSGIServer:
    return make_server(HOST, port, app, threaded=True, request_handler=EmulatorRequestHandler)


def reply(document: dict[str, Any]) -> None:
    os.write(sys.stdout.fileno(), (json.dumps(document) + "\n").encode())


def main() -> None:
    # Ctrl-C reaches every process of the terminal's group: the runner decides when the emulator stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    gc.set_threshold(*GC_THRESHOLDS)
    install_shortcuts()
    install_write_capacity()
    install_point_in_time_recovery()
    install_backup_selections()
    install_alarm_resources()
    if os.environ.get(CALL_LOG_VARIABLE):
        install_call_log(os.environ[CALL_LOG_VARIABLE])
    CloudWatchBackend.get_metric_data = metric_data  # type: ignore[method-assign,assignment]
    app = DomainDispatcherApplication(backend_app)
    refused = _cannot_listen(port)
    if refused is not None:  # werkzeug would print its own message and exit, naming no errno
        reply({"error": f"cannot listen on {HOST}:{port}: {refused.strerror}", "errno": refused.errno})
        os._exit(1)
    server = serve(app, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    reply({"port": server.port, "modelled_types": sorted(get_model_map())})
    copies: list[int] = []
    stopping = threading.Event()
    watchers: list[threading.Thread] = []
    for line in sys.stdin:
        command = json.loads(line)
        group = str(command["fork"])
        for service in command["services"]:
            # moto loads a service's model on its first request, and every request that arrives before that load
            # ends loads it again: loaded once here, before the fork, no copy does it under load.
            get_service_model(service)
        pid = os.fork()
        if pid == 0:
            _serve_copy(app, server, group)
        copies.append(pid)
        watchers.append(threading.Thread(target=_report_exit, args=(group, pid, stopping), daemon=True))
        watchers[-1].start()
    stopping.set()
    for pid in copies:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for watcher in watchers:
        watcher.join(timeout=10)
    os._exit(0)  # nothing to flush; tearing down all of moto's modules would take a second or more


def _cannot_listen(port: int) -> OSError | None:
    """Why ``port`` cannot be listened on, tried as werkzeug will (address reuse on); None when it can, or for 0."""
    if port == 0:
        return None
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            return error
    return None


def _report_exit(group: str, pid: int, stopping: threading.Event) -> None:
    """Reap a copy when it ends; unless the emulator is stopping, tell the runner which one ended, and how."""
    _, status = os.waitpid(pid, 0)
    if not stopping.is_set():
        reply({"exited": group, "pid": pid, "returncode": os.waitstatus_to_exitcode(status)})


def _serve_copy(app: DomainDispatcherApplication, parent_server: BaseWSGIServer, group: str) -> None:
    """In the forked child: listen on a port of its own until killed, or until the parent is gone."""
    parent = os.getppid()
    parent_server.socket.close()  # the parent's port stays the parent's
    # Everything inherited (moto, the deployed stage) lives as long as the copy: the collector never scans it again,
    # and never writes to the pages the copy still shares with its parent.
    gc.freeze()
    server = serve(app)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    reply({"group": group, "port": server.port, "pid": os.getpid()})
    server.serve_forever()
    os._exit(0)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(0)


if __name__ == "__main__":
    main()
