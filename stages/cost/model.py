"""What one stage costs a month at a load, dimension by dimension, from its configuration (docs/cost.md).

Pure functions of a ``StageConfig``, a ``Load``, a ``Processor`` (ours, or the seed's for the comparison row) and a
``PriceList``: no AWS, no CDK. Every line is one billed dimension: its quantity in the price's unit, the price's name
and what the quantity rests on. Steady state: every store holds as much as its expiry lets it, and the load is
constant over a month of 730 hours.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from services.iot_processor.capacity import MEASURED_SECONDS_PER_READING, batching, shards_at
from services.iot_processor.config import IngestConfig, ScaledCapacity
from services.iot_processor.contract import DECLARED_METRICS
from stages.config import Load, StageConfig
from stages.cost.prices import PriceList

HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
GB = 1024**3  # AWS bills storage and transfer in GiB, which its pages call GB
KB = 1024
KINESIS_PUT_PAYLOAD_UNIT = 25 * KB
KINESIS_ON_DEMAND_RECORD_UNIT = 1 * KB
KINESIS_INCLUDED_RETENTION_HOURS = 24
KINESIS_EXTENDED_RETENTION_HOURS = 7 * 24
FIREHOSE_RECORD_UNIT = 5 * KB
DYNAMODB_WRITE_UNIT = 1 * KB
DYNAMODB_ITEM_OVERHEAD_BYTES = 100  # DynamoDB adds this to every item (and index entry) it bills for storage
SNS_MESSAGES_PER_BATCH = 10  # PublishBatch; ten small messages are one billed request
STANDARD_CONSUMERS = 2  # the processor's mapping and Firehose (docs/capacity.md)


@dataclass(frozen=True, kw_only=True)
class Processor:
    """How a processor turns readings into billed work: ours, or the seed's for the comparison row (docs/cost.md)."""

    name: str
    # Lambda time per reading, I/O included (docs/capacity.md, docs/performance.md).
    seconds_per_reading: float
    # What a table item holds beyond the reading's own bytes (keys, expiry, flags, the seed's processing metadata).
    item_bytes_beyond_reading: int
    # Alerts per billed SNS request: a PublishBatch carries ten; the seed publishes one per anomaly.
    alerts_per_request: int
    # Bytes of the processed object per byte of reading: ours gzips JSON lines; the seed writes plain JSON.
    processed_bytes_per_reading_byte: float
    # Each invalid record is one quarantine object (ours); the seed stores or drops it with the batch.
    quarantines_invalid_records: bool
    # The sparse anomaly index (ours); the seed's table has none.
    anomaly_index: bool


# gzip of JSON lines of readings: 15x on `make local`'s synthetic readings, which repeat more than a real fleet's;
# the model takes 10x (docs/cost.md).
GZIP_RATIO = 10.0
OURS = Processor(
    name="ours",
    seconds_per_reading=MEASURED_SECONDS_PER_READING,
    item_bytes_beyond_reading=0,
    alerts_per_request=SNS_MESSAGES_PER_BATCH,
    processed_bytes_per_reading_byte=1 / GZIP_RATIO,
    quarantines_invalid_records=True,
    anomaly_index=True,
)
# The seed's handler: twice our time per reading (make bench), its processing metadata on every item
# (processed_at, lambda_request_id, partition_key, sequence_number, anomaly_detected), one publish per anomaly,
# and the batch as one plain JSON document (docs/cost.md).
SEED = Processor(
    name="seed",
    seconds_per_reading=2 * MEASURED_SECONDS_PER_READING,
    item_bytes_beyond_reading=200,
    alerts_per_request=1,
    processed_bytes_per_reading_byte=1.2,
    quarantines_invalid_records=False,
    anomaly_index=False,
)


@dataclass(frozen=True, kw_only=True)
class Assumptions:
    """What the bill rests on beyond the configuration and the load; each is explained in docs/cost.md."""

    # DynamoDB deletes expired items within days of their expiry, not at once.
    ttl_deletion_lag_days: float = 2.0
    # Logs per invocation: the EMF document, the "batch settled" line and Lambda's START/END/REPORT lines.
    log_bytes_per_invocation: int = 2048
    processor_log_retention_days: int = 90
    # Server access log records, one per request to a data bucket.
    access_log_bytes_per_request: int = 400
    # Firehose's JQ time per record (the partition query), as the local Firehose measures jq (docs/performance.md).
    jq_seconds_per_record: float = 0.0001
    # X-Ray's default sampling rule for Lambda: the first request each second, then 5 % of the rest.
    xray_reservoir_per_second: float = 1.0
    xray_sampled_share: float = 0.05
    # KMS: services reuse a data key for about five minutes per caller; one caller per shard, lane and consumer.
    kms_data_key_reuse_seconds: float = 300.0


@dataclass(frozen=True, kw_only=True)
class StageResources:
    """Resources every stage has whatever its load; tests/test_cost_templates.py counts them in the templates."""

    kms_keys: int = 4  # the stream's, the storage's, the archive's and the ops topic's
    secrets: int = 1  # the alert webhook's
    # Alarm metrics (a metric-math alarm bills each metric it reads): the observability stack's alarms and the three
    # CodeDeploy watches; a provisioned table adds its two auto scaling ceilings, a stage that expects steady traffic
    # its ingest-silence alarm.
    alarm_metrics: int = 14
    capacity_alarm_metrics: int = 2
    silence_alarm_metrics: int = 1
    composite_alarms: int = 1
    dashboards: int = 1


@dataclass(frozen=True, kw_only=True)
class PipelineUsage:
    """The delivery pipeline in the tooling account, per month (docs/cost.md): not part of any stage's bill."""

    executions: int = 40  # merges to main a month
    build_minutes: float = 70.0  # every CodeBuild step of one execution: synth, assets, smoke tests, bakes, report
    action_minutes: float = 120.0  # every action of one execution, the stacks' deploys included
    kms_keys: int = 2  # the artifact bucket's and the notifications topic's


@dataclass(frozen=True, kw_only=True)
class Line:
    service: str
    dimension: str
    quantity: float
    price: str  # its name in the price list; the quantity is in that price's unit
    usd: float
    basis: str


@dataclass(frozen=True, kw_only=True)
class Bill:
    stage: str
    processor: str
    load: Load
    lines: tuple[Line, ...]

    @property
    def monthly_usd(self) -> float:
        return sum(line.usd for line in self.lines)

    @property
    def readings_per_month(self) -> float:
        return self.load.readings_per_second * SECONDS_PER_MONTH

    @property
    def usd_per_million_readings(self) -> float:
        return self.monthly_usd / self.readings_per_month * 1e6

    def by_service(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.service] = totals.get(line.service, 0.0) + line.usd
        return totals


def monthly_bill(
    stage: StageConfig,
    load: Load,
    prices: PriceList,
    *,
    processor: Processor = OURS,
    assumptions: Assumptions | None = None,
    resources: StageResources | None = None,
) -> Bill:
    """The stage's monthly bill at ``load``, one line per billed dimension."""
    traffic = Traffic.of(stage.ingest, load, processor)
    costing = _Costing(
        stage=stage,
        load=load,
        traffic=traffic,
        processor=processor,
        prices=prices,
        assume=assumptions or Assumptions(),
        resources=resources or StageResources(),
    )
    return Bill(stage=stage.name, processor=processor.name, load=load, lines=tuple(costing.lines()))


def monthly_budget_usd(stage: StageConfig, prices: PriceList) -> int:
    """The stage's AWS Budget: the model's monthly figure at its expected load, plus its configured margin."""
    expected = monthly_bill(stage, stage.expected_load, prices).monthly_usd
    return math.ceil(expected * (1 + stage.observability.budget_margin_percent / 100))


def pipeline_bill(prices: PriceList, usage: PipelineUsage | None = None) -> tuple[Line, ...]:
    """The delivery pipeline's fixed monthly cost, in the tooling account."""
    usage = usage or PipelineUsage()
    pipeline = "pipeline (tooling account)"
    return tuple(
        _line(prices, service=pipeline, dimension=dimension, quantity=quantity, price=price, basis=basis)
        for dimension, quantity, price, basis in (
            (
                "CodeBuild minutes",
                usage.executions * usage.build_minutes,
                "codebuild_medium_minute",
                f"{usage.executions} executions x {usage.build_minutes:g} build minutes",
            ),
            (
                "CodePipeline action minutes",
                usage.executions * usage.action_minutes,
                "codepipeline_action_minute",
                f"{usage.executions} executions x {usage.action_minutes:g} action minutes",
            ),
            ("KMS keys", usage.kms_keys, "kms_key", "the artifact bucket's and the notifications' keys"),
        )
    )


@dataclass(frozen=True, kw_only=True)
class Traffic:
    """What the load makes the data path do each second."""

    readings: float
    valid: float  # stored in the table
    anomalies: float
    invalid: float
    shards: int
    lanes: int
    invocations: float
    reading_bytes: int
    item_bytes: int  # a stored item, as DynamoDB sizes it for writes

    @classmethod
    def of(cls, ingest: IngestConfig, load: Load, processor: Processor) -> Traffic:
        shards = shards_at(ingest, readings_per_second=load.readings_per_second, reading_bytes=load.reading_bytes)
        cut = batching(ingest, readings_per_second=load.readings_per_second, shards=shards)
        return cls(
            readings=load.readings_per_second,
            valid=load.readings_per_second * (1 - load.invalid_share),
            anomalies=load.readings_per_second * load.anomaly_share,
            invalid=load.readings_per_second * load.invalid_share,
            shards=shards,
            lanes=cut.lanes,
            invocations=cut.lanes * cut.arrival / cut.per_invocation,
            reading_bytes=load.reading_bytes,
            item_bytes=load.reading_bytes + processor.item_bytes_beyond_reading,
        )

    def monthly(self, per_second: float) -> float:
        return per_second * SECONDS_PER_MONTH


def _line(prices: PriceList, *, service: str, dimension: str, quantity: float, price: str, basis: str) -> Line:
    return Line(
        service=service,
        dimension=dimension,
        quantity=quantity,
        price=price,
        usd=prices[price].cost(quantity),
        basis=basis,
    )


@dataclass(frozen=True, kw_only=True)
class _Costing:
    stage: StageConfig
    load: Load
    traffic: Traffic
    processor: Processor
    prices: PriceList
    assume: Assumptions
    resources: StageResources

    def lines(self) -> Iterator[Line]:
        yield from self._kinesis()
        yield from self._lambda()
        yield from self._dynamodb()
        yield from self._s3()
        yield from self._firehose()
        yield from self._sns()
        yield from self._cloudwatch()
        yield from self._security()

    def _line(self, service: str, dimension: str, quantity: float, price: str, basis: str) -> Line:
        return _line(self.prices, service=service, dimension=dimension, quantity=quantity, price=price, basis=basis)

    def _kinesis(self) -> Iterator[Line]:
        ingest, t = self.stage.ingest, self.traffic
        retained_hours = ingest.retention_hours
        extended_hours = min(retained_hours, KINESIS_EXTENDED_RETENTION_HOURS) - KINESIS_INCLUDED_RETENTION_HOURS
        long_term_hours = max(0, retained_hours - KINESIS_EXTENDED_RETENTION_HOURS)
        gb_per_hour = t.readings * t.reading_bytes * 3600 / GB
        if ingest.stream_mode == "provisioned":
            payload_units = math.ceil(t.reading_bytes / KINESIS_PUT_PAYLOAD_UNIT)
            yield self._line(
                "kinesis", "shard hours", t.shards * HOURS_PER_MONTH, "kinesis_shard_hour", f"{t.shards} shards"
            )
            yield self._line(
                "kinesis",
                "PUT payload units",
                t.monthly(t.readings) * payload_units / 1e6,
                "kinesis_put_payload_units",
                f"one record per reading, {payload_units} unit(s) of 25 KB each",
            )
            if extended_hours > 0:
                yield self._line(
                    "kinesis",
                    "extended retention",
                    t.shards * HOURS_PER_MONTH,
                    "kinesis_extended_retention_shard_hour",
                    f"retention {retained_hours} h: every shard-hour beyond the included 24 h",
                )
        else:
            billed_gb = t.monthly(t.readings) * math.ceil(t.reading_bytes / KINESIS_ON_DEMAND_RECORD_UNIT) * KB / GB
            yield self._line("kinesis", "stream hours", HOURS_PER_MONTH, "kinesis_on_demand_stream_hour", "on demand")
            yield self._line(
                "kinesis", "data in", billed_gb, "kinesis_on_demand_data_in", "each record rounded up to 1 KB"
            )
            yield self._line(
                "kinesis",
                "data out",
                billed_gb * STANDARD_CONSUMERS,
                "kinesis_on_demand_data_out",
                f"{STANDARD_CONSUMERS} consumers read every record",
            )
            if extended_hours > 0:
                yield self._line(
                    "kinesis",
                    "extended retention",
                    gb_per_hour * extended_hours,
                    "kinesis_on_demand_extended_retention",
                    f"retention {retained_hours} h: the data of the hours beyond 24",
                )
        if long_term_hours:
            yield self._line(
                "kinesis",
                "long-term retention",
                gb_per_hour * long_term_hours,
                "kinesis_long_term_retention",
                f"retention {retained_hours} h: the data of the hours beyond 7 days",
            )

    def _lambda(self) -> Iterator[Line]:
        t, memory_gb = self.traffic, self.stage.ingest.processor_memory_mb / 1024
        yield self._line(
            "lambda",
            "requests",
            t.monthly(t.invocations) / 1e6,
            "lambda_requests",
            f"{t.lanes} lanes, {t.readings / t.invocations:,.0f} readings per invocation",
        )
        yield self._line(
            "lambda",
            "GB-seconds",
            t.monthly(t.readings) * self.processor.seconds_per_reading * memory_gb,
            "lambda_arm_gb_second",
            f"{self.processor.seconds_per_reading * 1e3:g} ms per reading at {memory_gb * 1024:.0f} MB",
        )

    def _dynamodb(self) -> Iterator[Line]:
        ingest, t, proc = self.stage.ingest, self.traffic, self.processor
        ia = ingest.table_class == "standard_infrequent_access"
        suffix = "_ia" if ia else ""
        units_per_item = math.ceil(t.item_bytes / DYNAMODB_WRITE_UNIT)
        table_writes = t.valid * units_per_item
        index_writes = t.anomalies * units_per_item if proc.anomaly_index else 0.0
        capacity = ingest.table_capacity
        if capacity is None:
            for dimension, per_second, why in (
                ("table writes", table_writes, f"every stored reading, {units_per_item} WRU each"),
                ("anomaly index writes", index_writes, "every anomaly, into the sparse index"),
            ):
                if per_second:
                    yield self._line(
                        "dynamodb",
                        f"{dimension} (on demand)",
                        t.monthly(per_second) / 1e6,
                        f"dynamodb_on_demand_write_request_units{suffix}",
                        why,
                    )
        else:
            for dimension, per_second, scaled in (
                ("table write capacity", table_writes, capacity.writes),
                ("anomaly index write capacity", index_writes, capacity.index_writes),
            ):
                units = provisioned_units(scaled, consumed=per_second)
                yield self._line(
                    "dynamodb",
                    dimension,
                    units * HOURS_PER_MONTH,
                    f"dynamodb_wcu_hour{suffix}",
                    f"{units:,.0f} WCU: {per_second:,.0f} WCU/s consumed at {scaled.target_utilization_percent} % "
                    f"target, floor {scaled.min_units:,}",
                )
            yield self._line(
                "dynamodb",
                "read capacity",
                2 * capacity.reads.min_units * HOURS_PER_MONTH,
                f"dynamodb_rcu_hour{suffix}",
                f"table and index at their floor of {capacity.reads.min_units} RCU each",
            )
        stored_bytes = t.item_bytes + DYNAMODB_ITEM_OVERHEAD_BYTES
        lag = self.assume.ttl_deletion_lag_days
        plain_days, anomaly_days = ingest.table_ttl_days + lag, ingest.anomaly_ttl_days + lag
        table_gb = ((t.valid - t.anomalies) * plain_days + t.anomalies * anomaly_days) * 86400 * stored_bytes / GB
        index_gb = t.anomalies * anomaly_days * 86400 * stored_bytes / GB if proc.anomaly_index else 0.0
        yield self._line(
            "dynamodb",
            "storage",
            table_gb + index_gb,
            f"dynamodb_storage{suffix}",
            f"readings for {ingest.table_ttl_days} d, anomalies for {ingest.anomaly_ttl_days} d (+{lag:g} d until "
            f"TTL deletes), {stored_bytes} B per item{' and index entry' if index_gb else ''}",
        )
        yield self._line(
            "dynamodb",
            "point-in-time recovery",
            table_gb,
            "dynamodb_pitr",
            "the table's size (indexes are not backed up)",
        )
        yield self._line(
            "dynamodb",
            "on-demand backups",
            0.0,
            "dynamodb_backup",
            "none scheduled: point-in-time recovery is the recovery path",
        )

    def _s3(self) -> Iterator[Line]:
        ingest, archive, t, proc = self.stage.ingest, self.stage.archive, self.traffic, self.processor
        quarantine_objects = t.invalid if proc.quarantines_invalid_records else 0.0
        yield self._line(
            "s3",
            "processed objects: PUTs",
            t.monthly(t.invocations) / 1e3,
            "s3_put_requests",
            "one processed object per invocation",
        )
        if quarantine_objects:
            yield self._line(
                "s3",
                "quarantine objects: PUTs",
                t.monthly(quarantine_objects) / 1e3,
                "s3_put_requests",
                "one object per invalid record",
            )
        objects = self._archive_objects_per_second()
        yield self._line(
            "s3",
            "raw archive objects: PUTs",
            t.monthly(objects) / 1e3,
            "s3_put_requests",
            "Firehose's objects, one per buffer flush",
        )
        archived_gb_per_day = t.readings * (t.reading_bytes + 1) * 86400 / GZIP_RATIO / GB
        standard_days = archive.infrequent_access_after_days
        ia_days = archive.archive_after_days - archive.infrequent_access_after_days
        glacier_days = archive.expiration_days - archive.archive_after_days
        requests_per_second = t.invocations + quarantine_objects + objects
        standard_gb = {
            "processed": t.valid
            * t.reading_bytes
            * proc.processed_bytes_per_reading_byte
            * 86400
            / GB
            * ingest.processed_expiration_days,
            "quarantine": quarantine_objects * t.reading_bytes * 2 * 86400 / GB * ingest.quarantine_expiration_days,
            "raw archive": archived_gb_per_day * standard_days,
            "access logs": requests_per_second
            * self.assume.access_log_bytes_per_request
            * 86400
            / GB
            * ingest.processed_expiration_days,
        }
        # S3 Standard's tiers apply to the account's storage as a whole: price the total, share it by bucket.
        total_standard = sum(standard_gb.values())
        total_usd = self.prices["s3_standard_storage"].cost(total_standard)
        for bucket, gb in standard_gb.items():
            if gb:
                yield Line(
                    service="s3",
                    dimension=f"{bucket}: Standard storage",
                    quantity=gb,
                    price="s3_standard_storage",
                    usd=total_usd * gb / total_standard,
                    basis=f"of {total_standard:,.0f} GB in Standard across the buckets",
                )
        yield self._line(
            "s3",
            "raw archive: Standard-IA storage",
            archived_gb_per_day * ia_days,
            "s3_standard_ia_storage",
            f"days {archive.infrequent_access_after_days} to {archive.archive_after_days}",
        )
        yield self._line(
            "s3",
            "raw archive: Glacier Instant Retrieval storage",
            archived_gb_per_day * glacier_days,
            "s3_glacier_ir_storage",
            f"days {archive.archive_after_days} to {archive.expiration_days}",
        )
        for target, price in (("Standard-IA", "s3_transition_to_ia"), ("Glacier IR", "s3_transition_to_glacier_ir")):
            yield self._line(
                "s3",
                f"raw archive: transitions to {target}",
                t.monthly(objects) / 1e3,
                price,
                "every archive object, once",
            )

    def _archive_objects_per_second(self) -> float:
        """Firehose flushes a partition's buffer when it is full or when its interval has passed."""
        archive, t = self.stage.archive, self.traffic
        buffer_bytes = archive.buffer_size_mib * 1024 * 1024
        bytes_per_second = t.readings * (t.reading_bytes + 1)
        interval = max(archive.buffer_interval_seconds, 1)
        # The current hour's partition flushes on size or interval; each hour closes one more partial object.
        return max(bytes_per_second / buffer_bytes, 1 / interval) + 1 / 3600

    def _firehose(self) -> Iterator[Line]:
        t = self.traffic
        record_units = math.ceil(t.reading_bytes / FIREHOSE_RECORD_UNIT)
        yield self._line(
            "firehose",
            "ingestion",
            t.monthly(t.readings) * record_units * FIREHOSE_RECORD_UNIT / GB,
            "firehose_ingestion",
            f"every record rounded up to {record_units * 5} KB",
        )
        yield self._line(
            "firehose",
            "dynamic partitioning: data",
            t.monthly(t.readings) * t.reading_bytes / GB,
            "firehose_dynamic_partitioning_data",
            "every byte is partitioned by its event time",
        )
        yield self._line(
            "firehose",
            "dynamic partitioning: objects",
            t.monthly(self._archive_objects_per_second()) / 1e3,
            "firehose_dynamic_partitioning_objects",
            "as the raw archive's PUTs",
        )
        yield self._line(
            "firehose",
            "JQ processing hours",
            t.monthly(t.readings) * self.assume.jq_seconds_per_record / 3600,
            "firehose_jq_hour",
            f"{self.assume.jq_seconds_per_record * 1e6:g} µs of JQ per record",
        )

    def _sns(self) -> Iterator[Line]:
        t, proc = self.traffic, self.processor
        per_invocation = t.anomalies / t.invocations
        if proc.alerts_per_request == 1:
            requests = t.anomalies
        else:
            # An invocation with anomalies publishes them in batches of ten; one with none publishes nothing.
            with_anomalies = 1 - math.exp(-per_invocation)  # Poisson: the share of invocations with any anomaly
            requests = t.invocations * max(with_anomalies, per_invocation / proc.alerts_per_request)
        yield self._line(
            "sns",
            "alert publishes",
            t.monthly(requests) / 1e6,
            "sns_publish_requests",
            f"{per_invocation:.2f} anomalies per invocation, {proc.alerts_per_request} per request",
        )
        emails = len(self.stage.ingest.alert_emails)
        yield self._line(
            "sns",
            "alert e-mails",
            t.monthly(t.anomalies) * emails / 1e5,
            "sns_email_deliveries",
            f"{emails} e-mail subscriber(s) of the alert topic",
        )

    def _cloudwatch(self) -> Iterator[Line]:
        t, r = self.traffic, self.resources
        ingested_gb = t.monthly(t.invocations) * self.assume.log_bytes_per_invocation / GB
        metrics = len(DECLARED_METRICS)  # each name with its one dimension set, Powertools' ColdStart included
        yield self._line(
            "cloudwatch", "custom metrics", metrics, "cloudwatch_custom_metrics", "the processor's EMF metrics"
        )
        yield self._line(
            "cloudwatch",
            "log ingestion",
            ingested_gb,
            "cloudwatch_log_ingestion",
            f"{self.assume.log_bytes_per_invocation} B per invocation (EMF and log lines)",
        )
        yield self._line(
            "cloudwatch",
            "log storage",
            ingested_gb * self.assume.processor_log_retention_days / DAYS_PER_MONTH,
            "cloudwatch_log_storage",
            f"kept {self.assume.processor_log_retention_days} d",
        )
        provisioned = self.stage.ingest.table_capacity is not None
        watches_silence = self.stage.observability.ingest_silence_minutes is not None
        alarms = (
            r.alarm_metrics
            + (r.capacity_alarm_metrics if provisioned else 0)
            + (r.silence_alarm_metrics if watches_silence else 0)
        )
        yield self._line(
            "cloudwatch",
            "alarms",
            alarms,
            "cloudwatch_alarm",
            "billed per metric"
            + (", the table's auto scaling ceilings included" if provisioned else "")
            + (", the ingest-silence alarm included" if watches_silence else ""),
        )
        yield self._line(
            "cloudwatch", "composite alarms", r.composite_alarms, "cloudwatch_composite_alarm", "data path unhealthy"
        )
        yield self._line("cloudwatch", "dashboards", r.dashboards, "cloudwatch_dashboard", "the data path's")
        sampled = min(
            t.invocations,
            self.assume.xray_reservoir_per_second
            + self.assume.xray_sampled_share * max(0.0, t.invocations - self.assume.xray_reservoir_per_second),
        )
        yield self._line(
            "x-ray",
            "traces recorded",
            t.monthly(sampled) / 1e6,
            "xray_traces_recorded",
            f"{sampled:.2f} traced invocations/s of {t.invocations:,.1f}",
        )

    def _security(self) -> Iterator[Line]:
        t, r = self.traffic, self.resources
        callers = t.shards * (1 + STANDARD_CONSUMERS) + t.lanes  # the stream's writers and readers, the lanes' writes
        yield self._line(
            "kms",
            "requests",
            t.monthly(callers / self.assume.kms_data_key_reuse_seconds) / 1e4,
            "kms_requests",
            f"{callers} callers, one data key each per {self.assume.kms_data_key_reuse_seconds:g} s",
        )
        yield self._line("kms", "keys", r.kms_keys, "kms_key", "one per store")
        yield self._line("secrets manager", "secrets", r.secrets, "secrets_manager_secret", "the webhook's")


def provisioned_units(capacity: ScaledCapacity, *, consumed: float) -> float:
    """What auto scaling provisions for a steady ``consumed`` rate: consumed over the target, within the bounds."""
    wanted = consumed / (capacity.target_utilization_percent / 100)
    return float(min(capacity.max_units, max(capacity.min_units, math.ceil(wanted))))


def render(bill: Bill, *, pipeline: Sequence[Line] = ()) -> str:
    """A Markdown table of the bill, as docs/cost.md shows it."""
    lines = [
        f"{bill.stage} ({bill.processor} processor): {bill.load.readings_per_second:,.0f} readings/s of "
        f"{bill.load.reading_bytes} bytes, {bill.load.anomaly_share:.0%} anomalies, {bill.load.invalid_share:.0%} "
        f"invalid; {bill.readings_per_month / 1e9:,.2f} billion readings a month",
        "",
        "| service | dimension | quantity | price | USD / month | basis |",
        "| --- | --- | ---: | --- | ---: | --- |",
    ]
    lines += [_row(line) for line in bill.lines]
    lines += [
        f"| **total** | | | | **{bill.monthly_usd:,.2f}** | **{bill.usd_per_million_readings:.4f} USD per million "
        "readings** |",
    ]
    if pipeline:
        lines += ["", "| tooling account | dimension | quantity | price | USD / month | basis |"]
        lines += ["| --- | --- | ---: | --- | ---: | --- |"]
        lines += [_row(line) for line in pipeline]
    return "\n".join(lines)


def _row(line: Line) -> str:
    return (
        f"| {line.service} | {line.dimension} | {_quantity(line.quantity)} | {line.price} | {line.usd:,.2f} | "
        f"{line.basis} |"
    )


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.3f}"
