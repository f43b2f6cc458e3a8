"""Capacity at the design load (docs/capacity.md): every limit of the prod ingest path keeps 30 % headroom."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import pytest

from services.iot_processor import capacity
from services.iot_processor.capacity import HEADROOM_LIMIT, MIB, Load, Utilisation, utilisations
from services.iot_processor.config import IngestConfig, ProvisionedTable
from shared.config import committed_context, load_section
from shared.repository import REPO_ROOT

CHECKS = (
    "kinesis shard writes: records",
    "kinesis shard writes: bytes",
    "kinesis shard reads: bytes",
    "kinesis shard reads: GetRecords calls",
    "lambda reserved concurrency",
    "lambda time budget per shard-partition",
    "dynamodb table writes",
    "dynamodb anomalies_by_type index writes",
    "dynamodb busiest sensor partition key",
    "dynamodb anomalies_by_type partition",
)


def provisioned(**changes: dict[str, int]) -> ProvisionedTable:
    """Prod's provisioned table with some of its capacities' fields changed."""
    table = committed_prod().table_capacity
    assert table is not None
    return dataclasses.replace(
        table, **{name: dataclasses.replace(getattr(table, name), **fields) for name, fields in changes.items()}
    )


def committed_prod() -> IngestConfig:
    return load_section(committed_context(), IngestConfig, "stages", "prod", "ingest")


@pytest.fixture
def prod() -> IngestConfig:
    return committed_prod()


def by_name(rows: list[Utilisation]) -> dict[str, float]:
    return {row.name: row.share for row in rows}


def test_every_limit_is_computed_once(prod: IngestConfig) -> None:
    assert [row.name for row in utilisations(prod)] == list(CHECKS)


def test_prod_keeps_30_percent_headroom_on_every_limit(prod: IngestConfig) -> None:
    over = {name: round(share, 3) for name, share in by_name(utilisations(prod)).items() if share > HEADROOM_LIMIT}
    assert HEADROOM_LIMIT == 0.70
    assert over == {}, f"limits above {HEADROOM_LIMIT:.0%} at 10,000 readings/s: {over}"


def test_figures_follow_the_formulas_of_the_design(prod: IngestConfig) -> None:
    shards, pf, table = prod.shard_count, prod.parallelization_factor, prod.table_capacity
    assert table is not None
    expected = {
        "kinesis shard writes: records": 10_000 / (shards * 1000),
        "kinesis shard writes: bytes": 10_000 * 300 / (shards * MIB),
        "kinesis shard reads: bytes": 2 * 10_000 * 300 / (shards * 2 * MIB),
        "kinesis shard reads: GetRecords calls": 2 / 5,
        "lambda reserved concurrency": shards * pf / prod.reserved_concurrency,
        "lambda time budget per shard-partition": 10_000 / (shards * pf) * 0.0005,
        "dynamodb table writes": 10_000 / table.writes.min_units,
        "dynamodb anomalies_by_type index writes": 10_000 / table.index_writes.max_units,
        "dynamodb busiest sensor partition key": 10 / 1000,
        "dynamodb anomalies_by_type partition": 10_000 / prod.anomaly_index_shards / 1000,
    }
    assert by_name(utilisations(prod)) == pytest.approx(expected, rel=1e-12)
    assert capacity.MEASURED_SECONDS_PER_READING == 0.0005


def test_the_committed_prod_figures(prod: IngestConfig) -> None:
    """The numbers docs/capacity.md discusses, for the committed config (16 shards, PF 4, 100 reserved, a table
    provisioned from 15k WCU, its index up to 15k)."""
    assert by_name(utilisations(prod)) == pytest.approx(
        {
            "kinesis shard writes: records": 0.625,
            "kinesis shard writes: bytes": 0.17881,
            "kinesis shard reads: bytes": 0.17881,
            "kinesis shard reads: GetRecords calls": 0.4,
            "lambda reserved concurrency": 0.64,
            "lambda time budget per shard-partition": 0.078125,
            "dynamodb table writes": 0.66667,
            "dynamodb anomalies_by_type index writes": 0.66667,
            "dynamodb busiest sensor partition key": 0.01,
            "dynamodb anomalies_by_type partition": 0.625,
        },
        abs=1e-5,
    )


def test_halving_the_shards_breaks_the_headroom(prod: IngestConfig) -> None:
    halved = dataclasses.replace(prod, shard_count=prod.shard_count // 2)
    shares = by_name(utilisations(halved))
    assert shares["kinesis shard writes: records"] > HEADROOM_LIMIT
    assert not all(row.within_headroom for row in utilisations(halved))


@pytest.mark.parametrize(
    ("checks", "change", "load"),
    [
        ("kinesis shard writes: records", {"shard_count": 14}, Load()),
        ("kinesis shard writes: bytes", {}, Load(reading_bytes=1200, standard_consumers=1)),
        ("kinesis shard reads: bytes", {}, Load(reading_bytes=800, standard_consumers=3)),
        ("kinesis shard reads: GetRecords calls", {}, Load(standard_consumers=4)),
        ("lambda reserved concurrency", {"reserved_concurrency": 90}, Load()),
        ("lambda time budget per shard-partition", {}, Load(seconds_per_reading=0.005)),
        ("dynamodb table writes", {"table_capacity": provisioned(writes={"min_units": 14_000})}, Load()),
        (
            "dynamodb anomalies_by_type index writes",
            {"table_capacity": provisioned(index_writes={"max_units": 14_000})},
            Load(),
        ),
        (
            ("dynamodb table writes", "dynamodb anomalies_by_type index writes"),
            {"table_capacity": None, "warm_write_units_per_second": 14_000},
            Load(),
        ),
        (
            ("dynamodb table writes", "dynamodb anomalies_by_type index writes"),
            {"table_capacity": None, "warm_write_units_per_second": 0},
            Load(),
        ),
        ("dynamodb busiest sensor partition key", {}, Load(max_readings_per_sensor_per_second=800)),
        ("dynamodb anomalies_by_type partition", {"anomaly_index_shards": 14}, Load()),
    ],
)
def test_each_limit_can_break_the_headroom(
    prod: IngestConfig, checks: str | tuple[str, ...], change: dict[str, Any], load: Load
) -> None:
    """Negative controls: a change makes exactly the checks it concerns exceed the limit (an on-demand table's warm
    throughput: two)."""
    expected = [checks] if isinstance(checks, str) else list(checks)
    assert all(by_name(utilisations(prod))[check] <= HEADROOM_LIMIT for check in expected)
    over = [row.name for row in utilisations(dataclasses.replace(prod, **change), load) if not row.within_headroom]
    assert over == expected


def test_on_demand_streams_are_outside_the_model() -> None:
    with pytest.raises(ValueError, match="provisioned streams only"):
        utilisations(load_section(committed_context(), IngestConfig, "stages", "dev", "ingest"))


def test_the_document_shows_what_the_command_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "services.iot_processor.capacity"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "| lambda reserved concurrency | 64 | 100 concurrent invocations | 64.0% | yes |" in printed
    document = (REPO_ROOT / "docs" / "capacity.md").read_text(encoding="utf-8")
    assert printed.strip() in document, "docs/capacity.md is stale: paste `python -m services.iot_processor.capacity`"


def test_an_unknown_stage_is_an_error_that_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity.main(["qa"]) == 2
    assert "iot.stages.qa: missing" in capsys.readouterr().err
    assert capacity.main(["dev"]) == 2  # configured, but on demand: outside the model
    assert "dev: the capacity model covers provisioned streams only" in capsys.readouterr().err
