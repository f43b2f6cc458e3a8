"""What one request to the embedded emulator costs, on the server's side and the client's: the local run's ceiling.

    python -m tools.local.benchmarks.emulator [--requests 300]

Starts the emulator (tools/local/emulator.py, with every shortcut of the local run) and a readings table and stream
shaped as the ingest stack's, then sends ``--requests`` requests of each kind the local data path and its checks
make, one at a time, from this process: GetRecords with the local consumers' client, the rest with boto3's (the
processor's own table client, which writes its batches with less CPU, is measured by ``make bench``). For each kind
it prints the emulator's CPU per request (read from ``/proc``, so Linux only), this process's CPU per request
(botocore: serializing, signing, HTTP, parsing) and the wall time per request.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from services.iot_processor.contract import PARTITION_KEY, SORT_KEY
from shared.readings.schema import parse_reading
from shared.synthetic.readings import synthetic_records
from tools.common.arguments import positive_int
from tools.local.emulator import LOCAL_REGION, embedded_aws
from tools.local.shard_reader import kinesis_client

TABLE = "readings"
STREAM = "readings"
WRITE_BATCH = 25  # BatchWriteItem's limit, as the processor writes
GET_BATCH = 100  # BatchGetItem's limit, as the checks read
PUT_BATCH = 500  # PutRecords of the local producer


@dataclass(frozen=True, kw_only=True)
class RequestCost:
    name: str
    server_ms: float
    client_ms: float
    wall_ms: float


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process, from /proc/<pid>/stat (fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, call: Callable[[], object], *, requests: int, server_pid: int) -> RequestCost:
    call()  # the first of a kind loads models and fills caches on both sides
    server, client, wall = process_cpu_seconds(server_pid), time.process_time(), time.perf_counter()
    for _ in range(requests):
        call()
    per_request = 1000 / requests
    return RequestCost(
        name=name,
        server_ms=(process_cpu_seconds(server_pid) - server) * per_request,
        client_ms=(time.process_time() - client) * per_request,
        wall_ms=(time.perf_counter() - wall) * per_request,
    )


def reading_items(count: int) -> list[dict[str, Any]]:
    """Items of synthetic readings' fields, each a string attribute as the readings table's items mostly are."""
    now = datetime.now(UTC)
    records = synthetic_records(count, run_id="bench", now=now, anomaly_share=0.01, invalid_share=0)
    items = []
    for record in records:
        reading = parse_reading(record.data, now=now)
        fields = {**reading.to_json(), PARTITION_KEY: reading.sensor_id, SORT_KEY: reading.sort_key}
        items.append({name: {"S": str(value)} for name, value in fields.items() if value is not None})
    return items


def request_kinds(*, requests: int) -> Iterator[tuple[str, Callable[[], object]]]:
    dynamodb: Any = boto3.client("dynamodb")
    kinesis: Any = boto3.client("kinesis")
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": SORT_KEY, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    setup_batches = -(-GET_BATCH // WRITE_BATCH)  # written first, so that a read finds a full batch of keys
    items = iter(reading_items((setup_batches + requests + 1) * WRITE_BATCH))
    written: list[dict[str, Any]] = []
    consumer: Any = kinesis_client()  # as the local event source mapping and Firehose read

    def write_batch() -> None:
        batch = list(itertools.islice(items, WRITE_BATCH))
        dynamodb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": item}} for item in batch]})
        written.extend(batch)

    def read_batch(**projection: Any) -> Callable[[], object]:
        keys = [{PARTITION_KEY: item[PARTITION_KEY], SORT_KEY: item[SORT_KEY]} for item in written[:GET_BATCH]]
        return lambda: dynamodb.batch_get_item(RequestItems={TABLE: {"Keys": keys, **projection}})

    for _ in range(setup_batches):
        write_batch()
    records = [{"Data": b"x" * 200, "PartitionKey": f"sensor-{index}"} for index in range(PUT_BATCH)]
    shard_id = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]

    def read_records() -> None:
        iterator = consumer.get_shard_iterator(StreamName=STREAM, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
        consumer.get_records(ShardIterator=iterator["ShardIterator"], Limit=PUT_BATCH)

    yield (
        "DynamoDB GetItem, a missing key (the fixed cost)",
        lambda: dynamodb.get_item(TableName=TABLE, Key={PARTITION_KEY: {"S": "none"}, SORT_KEY: {"S": "none"}}),
    )
    yield f"DynamoDB BatchWriteItem of {WRITE_BATCH} readings' items", write_batch
    yield f"DynamoDB BatchGetItem of {GET_BATCH} whole items", read_batch()
    yield (
        f"DynamoDB BatchGetItem of {GET_BATCH} items, keys and flag projected",
        read_batch(
            ProjectionExpression="#p, #s, anomaly", ExpressionAttributeNames={"#p": PARTITION_KEY, "#s": SORT_KEY}
        ),
    )
    yield f"Kinesis PutRecords of {PUT_BATCH}", lambda: kinesis.put_records(StreamName=STREAM, Records=records)
    yield f"Kinesis GetShardIterator, GetRecords of {PUT_BATCH}, the consumers' client", read_records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=positive_int, default=300, help="requests of each kind (default 300)")
    args = parser.parse_args(argv)
    with embedded_aws(LOCAL_REGION) as emulator:
        print(f"{'request':<68} {'emulator CPU':>13} {'client CPU':>11} {'wall':>9}")
        for name, call in request_kinds(requests=args.requests):
            cost = measure(name, call, requests=args.requests, server_pid=emulator.pid)
            print(f"{cost.name:<68} {cost.server_ms:10.2f} ms {cost.client_ms:8.2f} ms {cost.wall_ms:6.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
