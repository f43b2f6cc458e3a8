"""Synthetic fleets: each profile behaves as its name says, the mix is read strictly, and a seed replays a run."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.readings.schema import parse_reading
from shared.synthetic.fleets import (
    CADENCE,
    DEFAULT_MIX,
    DROPOUT_GAP,
    FLUSH_OFFLINE,
    FleetMix,
    FleetMixError,
    Profile,
    fleet_records,
    profile_of,
)
from shared.synthetic.readings import NORMAL_RANGES, SyntheticRecord

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MIX = FleetMix.parse(DEFAULT_MIX)


def fleet(count: int = 2000, **options: Any) -> list[SyntheticRecord]:
    return fleet_records(count, mix=MIX, run_id="unit", now=NOW, **options)


def by_device(records: list[SyntheticRecord]) -> dict[str, list[tuple[datetime, float, str]]]:
    devices = defaultdict(list)
    for record in records:
        reading = parse_reading(record.data, now=NOW)
        devices[record.sensor_id].append((reading.timestamp, float(reading.value), reading.sensor_type))
    return devices


def test_the_mix_is_read_as_whole_weights_per_profile() -> None:
    assert MIX.weights == {Profile.STEADY: 70, Profile.DAILY: 10, Profile.DRIFT: 5, Profile.STUCK: 5,
                           Profile.DROPOUT: 5, Profile.FLUSH: 5}  # fmt: skip
    assert FleetMix.parse(" drift = 1 ").weights == {Profile.DRIFT: 1}
    assert FleetMix.parse("steady=0,flush=3").apportion(4) == [Profile.FLUSH] * 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steady", "'steady' is not profile=weight"),
        ("=5", "'=5' is not profile=weight"),
        ("steady=70,", "'' is not profile=weight"),
        ("sleepy=5", "unknown profile 'sleepy'; the profiles: steady, daily, drift, stuck, dropout, flush"),
        ("steady=1,steady=2", "profile 'steady' is given twice"),
        ("steady=-1", "the weight of 'steady' must be a whole number of 0 or more, got '-1'"),
        ("steady=0.5", "got '0.5'"),
        ("steady=0,drift=0", "the weights add up to 0"),
    ],
)
def test_a_bad_mix_is_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(FleetMixError, match=message.replace("(", r"\(")):
        FleetMix.parse(text)


def test_devices_are_apportioned_by_the_largest_remainders() -> None:
    assert Counter(MIX.apportion(200)) == {Profile.STEADY: 140, Profile.DAILY: 20, Profile.DRIFT: 10,
                                           Profile.STUCK: 10, Profile.DROPOUT: 10, Profile.FLUSH: 10}  # fmt: skip
    assert Counter(FleetMix.parse("steady=2,drift=1").apportion(4)) == {Profile.STEADY: 3, Profile.DRIFT: 1}
    assert len(MIX.apportion(7)) == 7


def test_a_seed_replays_a_fleet_exactly_and_another_seed_does_not() -> None:
    assert [r.data for r in fleet(seed=3)] == [r.data for r in fleet(seed=3)]
    assert [r.data for r in fleet(seed=3)] != [r.data for r in fleet(seed=4)]


def test_the_count_is_exact_and_every_reading_is_valid() -> None:
    records = fleet(1234, devices=50)
    assert len(records) == 1234
    assert all(parse_reading(record.data, now=NOW) for record in records)
    assert len({profile_of(record) for record in records}) == len(Profile)


def test_only_drifting_devices_cross_the_bound_and_they_end_above_it() -> None:
    records = fleet()
    anomalous = {profile_of(record) for record in records if record.anomaly}
    assert anomalous == {Profile.DRIFT}
    for readings in (by_device([r for r in records if profile_of(r) is Profile.DRIFT])).values():
        values = [value for _, value, _ in sorted(readings)]
        assert values[0] < 100 < values[-1]
        assert {sensor_type for _, _, sensor_type in readings} == {"temperature"}


def test_a_stuck_device_repeats_one_value_and_a_steady_one_does_not() -> None:
    devices = by_device(fleet())
    for sensor_id, readings in devices.items():
        distinct = len({value for _, value, _ in readings})
        if f"-{Profile.STUCK}-" in sensor_id:
            assert distinct == 1
        elif f"-{Profile.STEADY}-" in sensor_id:
            assert distinct > 1


def test_values_outside_drift_stay_in_the_normal_range() -> None:
    for sensor_id, readings in by_device(fleet()).items():
        if f"-{Profile.DRIFT}-" not in sensor_id:
            for _, value, sensor_type in readings:
                low, high = NORMAL_RANGES[sensor_type]
                assert low <= value <= high


def test_a_daily_device_follows_the_time_of_day() -> None:
    # One device over a day: its readings at 06:00 (the cycle's top) sit above those at 18:00 (its bottom).
    records = fleet_records(2880, mix=FleetMix.parse("daily=1"), run_id="unit", now=NOW, devices=1)
    (readings,) = by_device(records).values()
    morning = [value for moment, value, _ in readings if moment.hour == 6]
    evening = [value for moment, value, _ in readings if moment.hour == 18]
    assert min(morning) > max(evening)


def test_a_dropout_device_falls_silent_once_for_the_gap() -> None:
    for sensor_id, readings in by_device(fleet()).items():
        gaps = [later[0] - earlier[0] for earlier, later in zip(sorted(readings), sorted(readings)[1:], strict=False)]
        if f"-{Profile.DROPOUT}-" in sensor_id:
            assert sorted(gaps)[-1] == CADENCE + DROPOUT_GAP
            assert sorted(gaps)[:-1] == [CADENCE] * (len(gaps) - 1)
        else:
            assert set(gaps) <= {CADENCE}


def test_flushed_readings_are_hours_old_and_come_last_in_one_burst_per_device() -> None:
    records = fleet()
    flushed = [index for index, record in enumerate(records) if profile_of(record) is Profile.FLUSH]
    assert flushed == list(range(len(records) - len(flushed), len(records)))
    order = [records[index].sensor_id for index in flushed]
    assert order == sorted(order, key=order.index)  # each device's buffer together
    for index in flushed:
        moment = datetime.fromisoformat(json.loads(records[index].data)["timestamp"])
        assert NOW - moment >= FLUSH_OFFLINE
        assert NOW - moment < FLUSH_OFFLINE + timedelta(hours=1)


def test_a_share_of_invalid_records_replaces_readings() -> None:
    records = fleet(1000, invalid_share=0.05)
    assert len(records) == 1000
    assert sum(record.invalid_reason is not None for record in records) == 50


@pytest.mark.parametrize("options", [{"count": -1}, {"devices": 0}, {"invalid_share": 1.5}])
def test_impossible_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="count must be >= 0"):
        fleet_records(**{"count": 10, **options}, mix=MIX, run_id="unit", now=NOW)
