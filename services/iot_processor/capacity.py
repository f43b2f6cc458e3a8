"""Capacity arithmetic of the ingest path at the design load (docs/capacity.md): how much of each limit it uses.

Pure functions of an ``IngestConfig`` and a ``Load``; no AWS, no CDK. The test keeps every figure below
``HEADROOM_LIMIT``; ``python -m services.iot_processor.capacity [stage]`` prints the table that
docs/capacity.md quotes (``prod`` by default, read from cdk.json).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from services.iot_processor.config import IngestConfig
from shared.config import committed_context, load_section

MIB = 1024 * 1024
# Per-shard limits of a provisioned Kinesis data stream.
SHARD_WRITE_RECORDS_PER_SECOND = 1000
SHARD_WRITE_BYTES_PER_SECOND = 1 * MIB
SHARD_READ_BYTES_PER_SECOND = 2 * MIB  # shared by every standard (polling) consumer of the shard
SHARD_GET_RECORDS_PER_SECOND = 5  # GetRecords calls per shard, shared by every standard consumer
GET_RECORDS_PER_CONSUMER_PER_SECOND = 1  # Lambda's mapping and Firehose each poll a shard about once a second
# DynamoDB: one partition takes 1,000 WCU/s; an item of up to 1 KB costs one WCU per write.
PARTITION_WRITE_UNITS_PER_SECOND = 1000
# A new on-demand table or index starts at this many WCU/s unless warm throughput is set.
ON_DEMAND_INITIAL_WRITE_UNITS = 4000
# From `make bench`: processor cost per reading (decode, validate, anomaly check, its share of the batched
# DynamoDB/S3 writes). An upper bound that includes AWS request latency, not only CPU time.
MEASURED_SECONDS_PER_READING = 0.0005
# At most this share of any limit may be used at the design load: 30 % headroom.
HEADROOM_LIMIT = 0.70
# An on-demand stream starts with the write capacity of this many shards and adds shards as the load grows.
ON_DEMAND_INITIAL_SHARDS = 4


@dataclass(frozen=True, kw_only=True)
class Load:
    """The design load and the assumptions the figures rest on."""

    readings_per_second: int = 10_000
    reading_bytes: int = 300
    # The processor's mapping and the archive's Firehose delivery stream; neither uses enhanced fan-out.
    standard_consumers: int = 2
    # Assumption: no single sensor emits more than this; a sensor is a partition key of the table.
    max_readings_per_sensor_per_second: int = 10
    seconds_per_reading: float = MEASURED_SECONDS_PER_READING


@dataclass(frozen=True, kw_only=True)
class Utilisation:
    """``demand`` of one limit against its ``capacity``, both in ``unit``."""

    name: str
    demand: float
    capacity: float
    unit: str
    basis: str

    @property
    def share(self) -> float:
        return self.demand / self.capacity

    @property
    def within_headroom(self) -> bool:
        return self.share <= HEADROOM_LIMIT


@dataclass(frozen=True, kw_only=True)
class Batching:
    """How the event source mapping cuts the stream into invocations at a load."""

    lanes: int  # shards x parallelization factor: batches in flight at once, one per lane
    arrival: float  # readings/s reaching one lane
    per_invocation: float  # readings in one invocation


def shards_at(config: IngestConfig, *, readings_per_second: float, reading_bytes: int) -> int:
    """The stream's shards: as configured when provisioned; when on demand, as many as the load needs."""
    if config.stream_mode == "provisioned":
        return config.shard_count
    return max(
        ON_DEMAND_INITIAL_SHARDS,
        math.ceil(readings_per_second / SHARD_WRITE_RECORDS_PER_SECOND),
        math.ceil(readings_per_second * reading_bytes / SHARD_WRITE_BYTES_PER_SECOND),
    )


def batching(config: IngestConfig, *, readings_per_second: float, shards: int) -> Batching:
    lanes = shards * config.parallelization_factor
    arrival = readings_per_second / lanes
    # A batch goes when full or when the window closes; without a window, after the next poll (~1 s). A lane that
    # receives less than a reading per window is invoked once per reading.
    per_invocation = min(config.batch_size, max(1.0, arrival * max(config.max_batching_window_seconds, 1)))
    return Batching(lanes=lanes, arrival=arrival, per_invocation=per_invocation)


def utilisations(config: IngestConfig, load: Load | None = None) -> list[Utilisation]:
    """Every limit the design load meets on the ingest path, for a provisioned stream."""
    if config.stream_mode != "provisioned":
        raise ValueError(f"the capacity model covers provisioned streams only, got {config.stream_mode!r}")
    load = load or Load()
    shards = config.shard_count
    bytes_per_second = load.readings_per_second * load.reading_bytes
    cut = batching(config, readings_per_second=load.readings_per_second, shards=shards)
    partitions, arrival, per_invocation = cut.lanes, cut.arrival, cut.per_invocation
    fill_seconds = config.batch_size / arrival
    table_writes, index_writes = _write_capacities(config)
    return [
        Utilisation(
            name="kinesis shard writes: records",
            demand=load.readings_per_second / shards,
            capacity=SHARD_WRITE_RECORDS_PER_SECOND,
            unit="records/s per shard",
            basis=f"{load.readings_per_second:,} readings/s spread over {shards} shards",
        ),
        Utilisation(
            name="kinesis shard writes: bytes",
            demand=bytes_per_second / shards / MIB,
            capacity=SHARD_WRITE_BYTES_PER_SECOND / MIB,
            unit="MiB/s per shard",
            basis=f"{load.reading_bytes} bytes per reading",
        ),
        Utilisation(
            name="kinesis shard reads: bytes",
            demand=load.standard_consumers * bytes_per_second / shards / MIB,
            capacity=SHARD_READ_BYTES_PER_SECOND / MIB,
            unit="MiB/s per shard",
            basis=f"{load.standard_consumers} standard consumers (processor, Firehose) each read every byte",
        ),
        Utilisation(
            name="kinesis shard reads: GetRecords calls",
            demand=load.standard_consumers * GET_RECORDS_PER_CONSUMER_PER_SECOND,
            capacity=SHARD_GET_RECORDS_PER_SECOND,
            unit="calls/s per shard",
            basis="each standard consumer polls each shard about once a second",
        ),
        Utilisation(
            name="lambda reserved concurrency",
            demand=partitions,
            capacity=config.reserved_concurrency,
            unit="concurrent invocations",
            basis=f"{shards} shards x parallelization factor {config.parallelization_factor}",
        ),
        Utilisation(
            name="lambda time budget per shard-partition",
            demand=arrival * load.seconds_per_reading,
            capacity=1.0,
            unit="busy s per s",
            basis=(
                f"{arrival:,.2f} readings/s per shard-partition x {load.seconds_per_reading} s per reading; "
                f"a {config.batch_size}-reading batch would take {fill_seconds:,.1f} s to fill, the "
                f"{config.max_batching_window_seconds} s window sends ~{per_invocation:,.0f} per invocation"
            ),
        ),
        *(
            Utilisation(
                name=name,
                demand=load.readings_per_second,
                capacity=capacity,
                unit="WCU/s",
                basis=f"{why}; {how}",
            )
            for name, why, (capacity, how) in (
                ("dynamodb table writes", "one item of <= 1 KB per reading", table_writes),
                (
                    "dynamodb anomalies_by_type index writes",
                    "worst case: every reading an anomaly in the sparse index",
                    index_writes,
                ),
            )
        ),
        Utilisation(
            name="dynamodb busiest sensor partition key",
            demand=load.max_readings_per_sensor_per_second,
            capacity=PARTITION_WRITE_UNITS_PER_SECOND,
            unit="WCU/s per partition",
            basis=f"assumption: one sensor emits at most {load.max_readings_per_sensor_per_second} readings/s",
        ),
        Utilisation(
            name="dynamodb anomalies_by_type partition",
            demand=load.readings_per_second / config.anomaly_index_shards,
            capacity=PARTITION_WRITE_UNITS_PER_SECOND,
            unit="WCU/s per partition",
            basis=(
                f"worst case: every reading is an anomaly of one type, spread over "
                f"{config.anomaly_index_shards} index shards"
            ),
        ),
    ]


def _write_capacities(config: IngestConfig) -> tuple[tuple[int, str], tuple[int, str]]:
    """The write capacity the table and its anomaly index have, each with why, for the design load."""
    capacity = config.table_capacity
    if capacity is not None:
        # The table's floor is there at once; the index's worst case is met once auto scaling reaches its ceiling
        # (minutes: until then a storm of anomalies throttles the table's writes and the stream holds the backlog).
        return (
            (capacity.writes.min_units, f"provisioned floor (auto scaled up to {capacity.writes.max_units:,})"),
            (
                capacity.index_writes.max_units,
                f"provisioned index auto scaled from {capacity.index_writes.min_units:,} up to this ceiling",
            ),
        )
    if config.warm_write_units_per_second:
        warm = f"warm throughput {config.warm_write_units_per_second:,} WCU/s (the index has its own, set to the same)"
        return (config.warm_write_units_per_second, warm), (config.warm_write_units_per_second, warm)
    start = f"on-demand start {ON_DEMAND_INITIAL_WRITE_UNITS:,} WCU/s, no warm throughput set"
    return (ON_DEMAND_INITIAL_WRITE_UNITS, start), (ON_DEMAND_INITIAL_WRITE_UNITS, start)


def render(rows: Sequence[Utilisation]) -> str:
    """A Markdown table of the figures, as docs/capacity.md shows them."""
    lines = [
        f"| limit | demand | capacity | used | within {HEADROOM_LIMIT:.0%} |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row.name} | {_figure(row.demand)} | {_figure(row.capacity)} {row.unit} | {row.share:.1%} | "
            f"{'yes' if row.within_headroom else 'NO'} |"
        )
    lines.append("")
    lines.extend(f"- {row.name}: {row.basis}" for row in rows)
    return "\n".join(lines)


def _figure(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}"


def main(argv: Sequence[str] = ()) -> int:
    stage = argv[0] if argv else "prod"
    context = committed_context()
    try:
        config = load_section(context, IngestConfig, "stages", stage, "ingest")
        rows = utilisations(config)
    except ValueError as error:  # ConfigError included: an unknown stage or a bad setting
        print(f"{stage}: {error}", file=sys.stderr)
        return 2
    load = Load()
    print(
        f"{stage}: {load.readings_per_second:,} readings/s of {load.reading_bytes} bytes, "
        f"{config.shard_count} shards, parallelization factor {config.parallelization_factor}"
    )
    print()
    print(render(rows))
    return 0 if all(row.within_headroom for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
