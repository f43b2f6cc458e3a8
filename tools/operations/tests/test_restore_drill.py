"""The restore drill's parts on moto: the item-by-item compare and its exception, what the drill does to a table, the
table it creates again, the figures at prod's volume, and the command line. tests/test_restore_drill.py runs the
whole drill on the local platform."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from pipeline.config import PlatformConfig
from tools.common.local_service import LocalRunError
from tools.common.testing import documented_help, moto_credentials, printed_help
from tools.operations import restore_drill
from tools.operations.restore_drill import (
    EXPIRED,
    Comparison,
    DrillResult,
    PathResult,
    ProdVolume,
    compare,
    duration,
    expired,
    incident,
    main,
    play_ttl,
    rebuild_exception,
    replace_with_empty_table,
    scan_items,
)

NOW = 1_800_000_000.0
TABLE = "readings"


def item(sensor: str, when: str, *, value: str = "21.5", expires_at: float = NOW + 86400) -> dict[str, Any]:
    return {
        "sensor_id": {"S": sensor},
        "reading_key": {"S": f"{when}#r-{sensor}"},
        "event_time": {"S": when},
        "value": {"N": value},
        "expires_at": {"N": str(int(expires_at))},
    }


def by_key(*items: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["sensor_id"]["S"], i["reading_key"]["S"]): i for i in items}


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    moto_credentials(monkeypatch)
    from moto import mock_aws  # noqa: PLC0415 - moto only where a test emulates AWS

    with mock_aws():
        client = boto3.client("dynamodb")
        key = boto3.client("kms").create_key(Description="the table's")["KeyMetadata"]["Arn"]
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "sensor_id", "KeyType": "HASH"},
                {"AttributeName": "reading_key", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "sensor_id", "AttributeType": "S"},
                {"AttributeName": "reading_key", "AttributeType": "S"},
                {"AttributeName": "anomaly_partition", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "anomalies_by_type",
                    "KeySchema": [{"AttributeName": "anomaly_partition", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
        )
        client.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True}
        )
        client.update_continuous_backups(
            TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        yield client


def put_all(dynamodb: Any, *items: dict[str, Any]) -> None:
    for each in items:
        dynamodb.put_item(TableName=TABLE, Item=each)


# --- the compare ------------------------------------------------------------------------------------------------------


def test_equal_tables_have_no_difference_and_every_key_is_compared() -> None:
    items = by_key(item("a", "2026-12-01T00:00:00.000Z"), item("b", "2026-12-01T00:00:01.000Z"))
    result = compare(items, dict(items))
    assert (result.compared, result.differences, result.examples()) == (2, 0, [])


def test_a_missing_an_unexpected_and_a_changed_item_are_each_named() -> None:
    kept, lost, changed = item("a", "t1"), item("b", "t2"), item("c", "t3")
    new = item("d", "t4")
    result = compare(by_key(kept, lost, changed), by_key(kept, {**changed, "value": {"N": "-1"}}, new))
    assert result.compared == 4
    assert result.missing == [("b", "t2#r-b")]
    assert result.extra == [("d", "t4#r-d")]
    assert result.changed == {("c", "t3#r-c"): ["value"]}
    assert result.differences == 3
    assert result.examples() == [
        "missing ('b', 't2#r-b')",
        "not expected ('d', 't4#r-d')",
        "('c', 't3#r-c') differs in value",
    ]


def test_an_attribute_on_one_side_only_is_a_difference() -> None:
    plain = item("a", "t1")
    flagged = {**plain, "severity": {"S": "critical"}}
    assert compare(by_key(plain), by_key(flagged)).changed == {("a", "t1#r-a"): ["severity"]}


def test_only_ten_differences_are_listed_and_the_rest_counted() -> None:
    expected = by_key(*(item(f"s{n:02d}", "t") for n in range(13)))
    result = compare(expected, {})
    assert result.examples()[-1] == "... and 3 more"
    assert len(result.examples()) == 11


def test_an_item_expires_at_its_ttl_and_not_a_second_before() -> None:
    assert expired(item("a", "t", expires_at=NOW), now=NOW)
    assert not expired(item("a", "t", expires_at=NOW + 1), now=NOW)
    assert not expired({"sensor_id": {"S": "a"}}, now=NOW)  # no TTL: never expires


def test_the_rebuild_exception_covers_expired_items_on_either_side_and_nothing_else() -> None:
    gone = item("late", "t0", expires_at=NOW - 1)  # rebuilt, though TTL deleted it from the table
    stale = item("stale", "t0", expires_at=NOW - 1)  # still in the table, gone from the rebuild
    lost = item("lost", "t1")  # not expired: its absence is a difference
    result = compare(by_key(stale, lost), by_key(gone), exception=rebuild_exception(NOW))
    assert result.excepted == {EXPIRED: 2}
    assert result.missing == [("lost", "t1#r-lost")]
    assert result.differences == 1


def test_without_the_exception_an_expired_item_is_a_difference() -> None:
    gone = item("late", "t0", expires_at=NOW - 1)
    assert compare({}, by_key(gone)).extra == [("late", "t0#r-late")]


# --- what the drill does to a table -----------------------------------------------------------------------------------


def test_playing_ttl_deletes_the_expired_items_only(dynamodb: Any) -> None:
    fresh, old = item("fresh", "t1"), item("old", "t0", expires_at=NOW - 1)
    put_all(dynamodb, fresh, old)
    assert play_ttl(dynamodb, TABLE, scan_items(dynamodb, TABLE), now=NOW) == 1
    assert scan_items(dynamodb, TABLE) == by_key(fresh)


def test_the_incident_overwrites_and_deletes_distinct_items_the_same_way_for_a_seed(dynamodb: Any) -> None:
    items = by_key(*(item(f"s{n:02d}", "t") for n in range(10)))
    put_all(dynamodb, *items.values())
    overwritten, deleted = incident(dynamodb, TABLE, items, count=3, seed=7)
    assert (len(overwritten), len(deleted), len(set(overwritten) | set(deleted))) == (3, 3, 6)
    after = scan_items(dynamodb, TABLE)
    assert all(after[key]["value"] == {"N": "-999"} for key in overwritten)
    assert not set(deleted) & set(after)
    assert compare(items, after).differences == 6
    put_all(dynamodb, *items.values())
    assert incident(dynamodb, TABLE, items, count=3, seed=7) == (overwritten, deleted)


def test_the_lost_table_comes_back_empty_with_its_definition(dynamodb: Any) -> None:
    put_all(dynamodb, item("a", "t1"))
    before = dynamodb.describe_table(TableName=TABLE)["Table"]
    replace_with_empty_table(dynamodb, TABLE)
    after = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert scan_items(dynamodb, TABLE) == {}
    for attribute in ("KeySchema", "AttributeDefinitions", "BillingModeSummary"):
        assert after[attribute] == before[attribute], attribute
    assert after["SSEDescription"]["KMSMasterKeyArn"] == before["SSEDescription"]["KMSMasterKeyArn"]
    index = after["GlobalSecondaryIndexes"][0]
    assert (index["IndexName"], index["Projection"]) == ("anomalies_by_type", {"ProjectionType": "ALL"})
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    recovery = dynamodb.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"]
    assert recovery["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_a_provisioned_table_comes_back_with_its_capacity(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName="provisioned",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 25, "WriteCapacityUnits": 15000},
    )
    replace_with_empty_table(dynamodb, "provisioned")
    throughput = dynamodb.describe_table(TableName="provisioned")["Table"]["ProvisionedThroughput"]
    assert (throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]) == (25, 15000)
    ttl = dynamodb.describe_time_to_live(TableName="provisioned")["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "DISABLED"  # it had none


# --- prod's volume ----------------------------------------------------------------------------------------------------


def test_prods_table_holds_every_stored_reading_until_its_ttl(platform_config: PlatformConfig) -> None:
    volume = ProdVolume.of(platform_config.stage("prod"))
    # 10,000/s x 86,400 s x (0.98 x 7 d + 0.01 x 90 d)
    assert volume.table_items == pytest.approx(6_704_640_000)
    assert volume.table_items_arithmetic().endswith("= 6,704,640,000 items")
    assert volume.replay_capacity == 16 * 1000 - 10_000
    assert (volume.archive_lag_seconds, volume.stream_retention_hours) == (300, 168)


def test_an_on_demand_stream_has_no_fixed_spare_capacity(platform_config: PlatformConfig) -> None:
    dev = platform_config.stage("dev")
    assert dev.ingest.stream_mode == "on_demand"
    volume = ProdVolume.of(dev)
    assert (volume.stream_capacity, volume.replay_capacity) == (None, None)


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (119.94, "119.9 s"),
        (120, "2 min"),
        (7199, "120 min"),
        (7200, "2.0 h"),
        (2 * 86400 - 1, "48.0 h"),
        (2 * 86400, "2.0 days"),
    ],
)
def test_durations_are_said_in_the_unit_a_person_reads(seconds: float, said: str) -> None:
    assert duration(seconds) == said


# --- the verdict and the command line ---------------------------------------------------------------------------------


def _path(differences: int) -> PathResult:
    return PathResult("p", Comparison(compared=5, missing=[("a", "b")] * differences), {"step": 1.0})


@pytest.mark.parametrize(
    ("point_in_time", "rebuild", "seen", "ok"),
    [(0, 0, 40, True), (1, 0, 40, False), (0, 1, 40, False), (0, 0, 39, False)],
    ids=["both-equal", "restore-differs", "rebuild-differs", "incident-unseen"],
)
def test_the_drill_passes_only_when_both_paths_match_and_the_incident_was_seen(
    point_in_time: int, rebuild: int, seen: int, ok: bool
) -> None:
    result = DrillResult(
        point_in_time=_path(point_in_time), rebuild=_path(rebuild), incident_seen=seen, incident_made=40
    )
    assert result.ok is ok


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--records", "100", "--incident", "26"], "--incident 26 would damage more than half of 100 readings"),
        (["--scale-to", "qa"], "--scale-to qa: iot.stages.qa: missing"),
        (["--late", "0"], "must be a positive integer"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restore_drill, "LocalRun", None)  # nothing may start
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_local_platform_that_cannot_run_exits_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(_: list[str]) -> Any:
        raise LocalRunError("the local run ended with code 2 before it served")

    monkeypatch.setattr(restore_drill, "LocalRun", fails)
    assert main([]) == 3
    assert "error: the local run ended with code 2 before it served" in capsys.readouterr().err


def test_the_help_is_what_docs_command_lines_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert printed_help(main, monkeypatch) == documented_help("tools.operations.restore_drill")
