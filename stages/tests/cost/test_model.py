"""The cost model, one billed dimension at a time, each on both sides of its pricing tier or rounding step."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from services.iot_processor.config import ProvisionedTable, ScaledCapacity
from shared.config import committed_context
from stages.config import Load, StageConfig, load_stage
from stages.cost.model import (
    GB,
    HOURS_PER_MONTH,
    OURS,
    SECONDS_PER_MONTH,
    SEED,
    Assumptions,
    Bill,
    Line,
    PipelineUsage,
    Processor,
    StageResources,
    monthly_bill,
    pipeline_bill,
    provisioned_units,
)
from stages.cost.prices import PriceList, load_prices
from stages.cost.seed import seed_stage

PRICES = load_prices()
MONTH = SECONDS_PER_MONTH
LOAD = Load(readings_per_second=10_000, reading_bytes=300, anomaly_share=0.01, invalid_share=0.01)


@pytest.fixture(scope="module")
def prod() -> StageConfig:
    return load_stage(committed_context(), "prod")


def bill(stage: StageConfig, load: Load = LOAD, *, processor: Processor = OURS, **ingest: Any) -> Bill:
    changed = dataclasses.replace(stage, ingest=dataclasses.replace(stage.ingest, **ingest))
    return monthly_bill(changed, load, PRICES, processor=processor)


def line(of: Bill, service: str, dimension: str) -> Line:
    (found,) = [each for each in of.lines if (each.service, each.dimension) == (service, dimension)]
    return found


def has(of: Bill, service: str, dimension: str) -> bool:
    return any((each.service, each.dimension) == (service, dimension) for each in of.lines)


def usd(price: str, quantity: float, prices: PriceList = PRICES) -> float:
    return prices[price].cost(quantity)


def with_load(**changes: Any) -> Load:
    return dataclasses.replace(LOAD, **changes)


def test_every_line_costs_its_quantity_at_its_price(prod: StageConfig) -> None:
    for each in bill(prod).lines:
        if each.dimension.endswith("Standard storage"):
            continue  # priced together across the buckets: test_s3_standard_storage_is_tiered_across_the_buckets
        assert each.usd == pytest.approx(usd(each.price, each.quantity)), each


def test_the_total_and_the_cost_per_million_readings(prod: StageConfig) -> None:
    result = bill(prod)
    assert result.monthly_usd == pytest.approx(sum(each.usd for each in result.lines))
    assert result.readings_per_month == 10_000 * MONTH
    assert result.usd_per_million_readings == pytest.approx(result.monthly_usd / (10_000 * MONTH) * 1e6)
    assert sum(result.by_service().values()) == pytest.approx(result.monthly_usd)


# Kinesis


def test_kinesis_shard_hours_follow_the_shard_count(prod: StageConfig) -> None:
    assert line(bill(prod, shard_count=16), "kinesis", "shard hours").quantity == 16 * HOURS_PER_MONTH
    assert line(bill(prod, shard_count=17), "kinesis", "shard hours").quantity == 17 * HOURS_PER_MONTH


@pytest.mark.parametrize(("reading_bytes", "units"), [(25 * 1024, 1), (25 * 1024 + 1, 2)])
def test_kinesis_put_payload_units_round_each_record_up_to_25_kb(
    prod: StageConfig, reading_bytes: int, units: int
) -> None:
    found = line(bill(prod, with_load(reading_bytes=reading_bytes)), "kinesis", "PUT payload units")
    assert found.quantity == pytest.approx(10_000 * MONTH * units / 1e6)


@pytest.mark.parametrize(("hours", "extended", "long_term_gb"), [(24, False, 0), (168, True, 0), (169, True, 1)])
def test_kinesis_retention_beyond_a_day_then_beyond_a_week(
    prod: StageConfig, hours: int, extended: bool, long_term_gb: float
) -> None:
    result = bill(prod, retention_hours=hours, max_record_age_seconds=3600)
    assert has(result, "kinesis", "extended retention") is extended
    if extended:
        assert line(result, "kinesis", "extended retention").quantity == 16 * HOURS_PER_MONTH
    gb_per_hour = 10_000 * 300 * 3600 / GB
    assert has(result, "kinesis", "long-term retention") is bool(long_term_gb)
    if long_term_gb:
        assert line(result, "kinesis", "long-term retention").quantity == pytest.approx(gb_per_hour * long_term_gb)


@pytest.mark.parametrize(("reading_bytes", "billed_kb"), [(1024, 1), (1025, 2)])
def test_an_on_demand_stream_bills_hours_and_data_rounded_to_1_kb(
    prod: StageConfig, reading_bytes: int, billed_kb: int
) -> None:
    result = bill(prod, with_load(reading_bytes=reading_bytes), stream_mode="on_demand", retention_hours=48)
    gb_in = 10_000 * MONTH * billed_kb * 1024 / GB
    assert line(result, "kinesis", "stream hours").quantity == HOURS_PER_MONTH
    assert line(result, "kinesis", "data in").quantity == pytest.approx(gb_in)
    assert line(result, "kinesis", "data out").quantity == pytest.approx(2 * gb_in)
    retained = line(result, "kinesis", "extended retention").quantity
    assert retained == pytest.approx(10_000 * reading_bytes * 3600 / GB * 24)
    assert not has(result, "kinesis", "shard hours")


# Lambda


def test_lambda_requests_are_one_per_invocation_of_a_lane(prod: StageConfig) -> None:
    # 64 lanes, each invoked once a second by the 1 s window (156.25 readings each): 64 invocations/s.
    assert line(bill(prod), "lambda", "requests").quantity == pytest.approx(64 * MONTH / 1e6)
    # A batch size below what the window gathers: invocations follow the batch size instead.
    assert line(bill(prod, batch_size=100), "lambda", "requests").quantity == pytest.approx(100 * MONTH / 1e6)


@pytest.mark.parametrize("readings_per_second", [3_000_000, 3_400_000])
def test_lambda_gb_seconds_on_both_sides_of_the_first_tier(prod: StageConfig, readings_per_second: int) -> None:
    found = line(bill(prod, with_load(readings_per_second=readings_per_second)), "lambda", "GB-seconds")
    gb_seconds = readings_per_second * MONTH * 0.0005 * prod.ingest.processor_memory_mb / 1024
    assert found.quantity == pytest.approx(gb_seconds)
    first = min(gb_seconds, 7.5e9)
    assert found.usd == pytest.approx(first * 0.0000133334 + (gb_seconds - first) * 0.0000120001)
    assert (gb_seconds > 7.5e9) is (readings_per_second == 3_400_000)


# DynamoDB


@pytest.mark.parametrize(("reading_bytes", "units"), [(1024, 1), (1025, 2)])
def test_on_demand_writes_are_one_unit_per_kb_of_each_stored_reading(
    prod: StageConfig, reading_bytes: int, units: int
) -> None:
    result = bill(prod, with_load(reading_bytes=reading_bytes), table_capacity=None)
    stored = 10_000 * 0.99 * MONTH
    assert line(result, "dynamodb", "table writes (on demand)").quantity == pytest.approx(stored * units / 1e6)
    assert line(result, "dynamodb", "anomaly index writes (on demand)").quantity == pytest.approx(
        100 * MONTH * units / 1e6
    )
    assert not has(result, "dynamodb", "table write capacity")


def test_the_seed_has_no_anomaly_index_and_larger_items(prod: StageConfig) -> None:
    result = bill(prod, processor=SEED, table_capacity=None)
    assert not has(result, "dynamodb", "anomaly index writes (on demand)")
    assert line(result, "dynamodb", "storage").basis.endswith("600 B per item")


def capacity(**writes: int) -> ProvisionedTable:
    scaled = ScaledCapacity(min_units=15_000, max_units=30_000, target_utilization_percent=70)
    return ProvisionedTable(
        writes=dataclasses.replace(scaled, **writes),
        index_writes=ScaledCapacity(min_units=1_000, max_units=15_000, target_utilization_percent=70),
        reads=ScaledCapacity(min_units=25, max_units=1_000, target_utilization_percent=70),
    )


@pytest.mark.parametrize(
    ("readings_per_second", "units"),
    [(10_000, 15_000), (10_606, 15_000), (10_607, 15_002), (15_000, 21_215), (30_000, 30_000)],
)
def test_provisioned_writes_are_consumed_over_target_between_floor_and_ceiling(
    prod: StageConfig, readings_per_second: int, units: int
) -> None:
    # 99 % of the readings are stored: 10,606 readings/s consume 10,499.94 WCU/s, 70 % of 14,999.9 units;
    # 10,607 consume 10,500.93, 70 % of 15,001.3, rounded up to whole units.
    result = bill(prod, with_load(readings_per_second=readings_per_second), table_capacity=capacity())
    assert line(result, "dynamodb", "table write capacity").quantity == units * HOURS_PER_MONTH
    assert not has(result, "dynamodb", "table writes (on demand)")


def test_provisioned_index_writes_and_reads(prod: StageConfig) -> None:
    result = bill(prod, table_capacity=capacity())
    assert line(result, "dynamodb", "anomaly index write capacity").quantity == 1_000 * HOURS_PER_MONTH
    assert line(result, "dynamodb", "read capacity").quantity == 2 * 25 * HOURS_PER_MONTH
    storm = bill(prod, with_load(anomaly_share=0.5), table_capacity=capacity())
    assert line(storm, "dynamodb", "anomaly index write capacity").quantity == math.ceil(5000 / 0.7) * HOURS_PER_MONTH


def test_provisioned_units_never_leave_their_bounds() -> None:
    scaled = ScaledCapacity(min_units=10, max_units=100, target_utilization_percent=50)
    assert [provisioned_units(scaled, consumed=c) for c in (0, 5, 5.5, 49.5, 50, 51)] == [10, 10, 11, 99, 100, 100]


@pytest.mark.parametrize(("ttl", "anomaly_ttl"), [(7, 90), (90, 90)])
def test_storage_holds_readings_and_anomalies_for_their_own_days(prod: StageConfig, ttl: int, anomaly_ttl: int) -> None:
    result = bill(prod, table_ttl_days=ttl, anomaly_ttl_days=anomaly_ttl)
    per_day = 86400 * 400 / GB  # an item of 300 B plus DynamoDB's 100 B
    table = (9_800 * (ttl + 2) + 100 * (anomaly_ttl + 2)) * per_day
    index = 100 * (anomaly_ttl + 2) * per_day
    assert line(result, "dynamodb", "storage").quantity == pytest.approx(table + index)
    assert line(result, "dynamodb", "point-in-time recovery").quantity == pytest.approx(table)
    assert line(result, "dynamodb", "on-demand backups").usd == 0


def test_the_standard_ia_table_class_trades_storage_for_writes(prod: StageConfig) -> None:
    standard = bill(prod, table_capacity=None)
    ia = bill(prod, table_capacity=None, table_class="standard_infrequent_access")
    for dimension, dearer in (("table writes (on demand)", True), ("storage", False)):
        assert (line(ia, "dynamodb", dimension).usd > line(standard, "dynamodb", dimension).usd) is dearer
    assert line(ia, "dynamodb", "storage").price == "dynamodb_storage_ia"
    provisioned = bill(prod, table_capacity=capacity(), table_class="standard_infrequent_access")
    assert line(provisioned, "dynamodb", "table write capacity").price == "dynamodb_wcu_hour_ia"
    assert line(provisioned, "dynamodb", "read capacity").price == "dynamodb_rcu_hour_ia"


# S3


def test_s3_puts_one_per_invocation_invalid_record_and_archive_flush(prod: StageConfig) -> None:
    result = bill(prod)
    assert line(result, "s3", "processed objects: PUTs").quantity == pytest.approx(64 * MONTH / 1e3)
    assert line(result, "s3", "quarantine objects: PUTs").quantity == pytest.approx(100 * MONTH / 1e3)
    # 2.87 MiB/s fill the 128 MiB buffer every 44.6 s, more often than the 300 s interval; plus one per hour.
    flushes = 10_000 * 301 / (128 * 1024 * 1024) + 1 / 3600
    assert line(result, "s3", "raw archive objects: PUTs").quantity == pytest.approx(flushes * MONTH / 1e3)
    assert not has(bill(prod, processor=SEED), "s3", "quarantine objects: PUTs")


def test_a_quiet_stage_flushes_the_archive_on_its_interval(prod: StageConfig) -> None:
    quiet = line(bill(prod, with_load(readings_per_second=1)), "s3", "raw archive objects: PUTs").quantity
    assert quiet == pytest.approx((1 / 300 + 1 / 3600) * MONTH / 1e3)


@pytest.mark.parametrize("readings_per_second", [10_000, 50_000])
def test_s3_standard_storage_is_tiered_across_the_buckets(prod: StageConfig, readings_per_second: int) -> None:
    result = bill(prod, with_load(readings_per_second=readings_per_second))
    standard = [each for each in result.lines if each.dimension.endswith("Standard storage")]
    assert {each.dimension for each in standard} == {
        f"{bucket}: Standard storage" for bucket in ("processed", "quarantine", "raw archive", "access logs")
    }
    total = sum(each.quantity for each in standard)
    assert (total > 50 * 1024) is (readings_per_second == 50_000)
    assert sum(each.usd for each in standard) == pytest.approx(usd("s3_standard_storage", total))
    for each in standard:
        assert each.usd == pytest.approx(usd("s3_standard_storage", total) * each.quantity / total)


def test_the_raw_archive_moves_through_its_storage_classes(prod: StageConfig) -> None:
    result, archive = bill(prod), prod.archive
    per_day = 10_000 * 301 * 86400 / 10 / GB  # gzip 10:1, a newline after each reading
    expected = {
        "raw archive: Standard storage": per_day * archive.infrequent_access_after_days,
        "raw archive: Standard-IA storage": per_day
        * (archive.archive_after_days - archive.infrequent_access_after_days),
        "raw archive: Glacier Instant Retrieval storage": per_day
        * (archive.expiration_days - archive.archive_after_days),
    }
    for dimension, gb in expected.items():
        assert line(result, "s3", dimension).quantity == pytest.approx(gb)
    puts = line(result, "s3", "raw archive objects: PUTs").quantity
    assert line(result, "s3", "raw archive: transitions to Standard-IA").quantity == puts
    assert line(result, "s3", "raw archive: transitions to Glacier IR").quantity == puts


def test_processed_objects_are_smaller_gzipped_than_the_seeds_plain_json(prod: StageConfig) -> None:
    ours = line(bill(prod), "s3", "processed: Standard storage").quantity
    seed = line(bill(prod, processor=SEED), "s3", "processed: Standard storage").quantity
    assert seed == pytest.approx(ours * 12)


# Firehose


@pytest.mark.parametrize(("reading_bytes", "billed_kb"), [(5 * 1024, 5), (5 * 1024 + 1, 10)])
def test_firehose_ingestion_rounds_each_record_up_to_5_kb(
    prod: StageConfig, reading_bytes: int, billed_kb: int
) -> None:
    found = line(bill(prod, with_load(reading_bytes=reading_bytes)), "firehose", "ingestion")
    assert found.quantity == pytest.approx(10_000 * MONTH * billed_kb * 1024 / GB)


@pytest.mark.parametrize("readings_per_second", [40_000, 41_000])
def test_firehose_ingestion_on_both_sides_of_the_first_tier(prod: StageConfig, readings_per_second: int) -> None:
    found = line(bill(prod, with_load(readings_per_second=readings_per_second)), "firehose", "ingestion")
    first = min(found.quantity, 512_000)
    assert found.usd == pytest.approx(first * 0.029 + (found.quantity - first) * 0.025)
    assert (found.quantity > 512_000) is (readings_per_second == 41_000)


def test_firehose_dynamic_partitioning_and_jq(prod: StageConfig) -> None:
    result = bill(prod)
    assert line(result, "firehose", "dynamic partitioning: data").quantity == pytest.approx(10_000 * MONTH * 300 / GB)
    assert (
        line(result, "firehose", "dynamic partitioning: objects").quantity
        == line(result, "s3", "raw archive objects: PUTs").quantity
    )
    assert line(result, "firehose", "JQ processing hours").quantity == pytest.approx(10_000 * MONTH * 0.0001 / 3600)


# SNS


@pytest.mark.parametrize(
    ("anomaly_share", "requests_per_second"),
    [
        (0.01, 64 * (1 - math.exp(-1.5625))),  # 1.56 per invocation: most invocations send one batch
        (0.10, 64 * 15.625 / 10),  # 15.6 per invocation: batches of ten
    ],
)
def test_our_alerts_go_ten_to_a_request(prod: StageConfig, anomaly_share: float, requests_per_second: float) -> None:
    found = line(bill(prod, with_load(anomaly_share=anomaly_share)), "sns", "alert publishes")
    assert found.quantity == pytest.approx(requests_per_second * MONTH / 1e6)


def test_the_seed_publishes_once_per_anomaly_and_emails_follow_subscribers(prod: StageConfig) -> None:
    assert line(bill(prod, processor=SEED), "sns", "alert publishes").quantity == pytest.approx(100 * MONTH / 1e6)
    assert line(bill(prod), "sns", "alert e-mails").quantity == 0
    two = line(bill(prod, alert_emails=("a@example.com", "b@example.com")), "sns", "alert e-mails")
    assert two.quantity == pytest.approx(2 * 100 * MONTH / 1e5)


# CloudWatch, X-Ray, KMS, Secrets Manager


def test_cloudwatch_metrics_logs_alarms_and_dashboard(prod: StageConfig) -> None:
    result = bill(prod)
    assert line(result, "cloudwatch", "custom metrics").quantity == 11  # the processor's ten and Powertools' ColdStart
    ingested = 64 * MONTH * 2048 / GB
    assert line(result, "cloudwatch", "log ingestion").quantity == pytest.approx(ingested)
    assert line(result, "cloudwatch", "log storage").quantity == pytest.approx(ingested * 90 / (730 / 24))
    resources = StageResources()
    silent = dataclasses.replace(
        prod, observability=dataclasses.replace(prod.observability, ingest_silence_minutes=None)
    )
    on_demand = line(bill(silent, table_capacity=None), "cloudwatch", "alarms")
    assert on_demand.quantity == resources.alarm_metrics
    assert line(bill(silent, table_capacity=capacity()), "cloudwatch", "alarms").quantity == resources.alarm_metrics + 2
    watched = line(bill(prod, table_capacity=capacity()), "cloudwatch", "alarms")
    assert watched.quantity == resources.alarm_metrics + 3
    assert watched.basis.endswith("the table's auto scaling ceilings included, the ingest-silence alarm included")
    assert line(result, "cloudwatch", "composite alarms").quantity == 1
    assert line(result, "cloudwatch", "dashboards").quantity == 1


@pytest.mark.parametrize(("metrics", "usd_expected"), [(10_000, 3_000.0), (10_001, 3_000.10)])
def test_custom_metrics_on_both_sides_of_the_first_tier(metrics: int, usd_expected: float) -> None:
    assert usd("cloudwatch_custom_metrics", metrics) == pytest.approx(usd_expected)


@pytest.mark.parametrize(
    ("readings_per_second", "ingest", "traced"),
    [
        (10_000, {}, 1 + 0.05 * 63),  # 64 invocations/s: the first each second, then 5 % of the other 63
        (0.5, {"shard_count": 1, "parallelization_factor": 1}, 0.5),  # fewer than one a second: every one
    ],
)
def test_xray_records_the_first_invocation_a_second_and_5_percent_of_the_rest(
    prod: StageConfig, readings_per_second: float, ingest: dict[str, Any], traced: float
) -> None:
    found = line(bill(prod, with_load(readings_per_second=readings_per_second), **ingest), "x-ray", "traces recorded")
    assert found.quantity == pytest.approx(traced * MONTH / 1e6)


def test_kms_requests_keys_and_secrets(prod: StageConfig) -> None:
    result = bill(prod)
    callers = 16 * 3 + 64
    assert line(result, "kms", "requests").quantity == pytest.approx(callers / 300 * MONTH / 1e4)
    assert line(result, "kms", "keys").quantity == StageResources().kms_keys
    assert line(result, "secrets manager", "secrets").quantity == 1
    quicker = monthly_bill(prod, LOAD, PRICES, assumptions=Assumptions(kms_data_key_reuse_seconds=60))
    assert line(quicker, "kms", "requests").quantity == pytest.approx(callers / 60 * MONTH / 1e4)


# The pipeline, and the seed's row


def test_the_pipeline_costs_its_executions_minutes() -> None:
    lines = {each.dimension: each for each in pipeline_bill(PRICES, PipelineUsage(executions=10))}
    assert lines["CodeBuild minutes"].quantity == 10 * 70
    assert lines["CodePipeline action minutes"].quantity == 10 * 120
    assert lines["KMS keys"].quantity == 2


def test_the_seed_design_is_an_on_demand_table_of_every_reading_for_90_days() -> None:
    seed = seed_stage()
    assert seed.ingest.table_capacity is None
    assert (seed.ingest.table_ttl_days, seed.ingest.anomaly_ttl_days) == (90, 90)
    assert (seed.ingest.shard_count, seed.ingest.retention_hours) == (16, 168)
    assert seed.archive.expiration_days == 2555
