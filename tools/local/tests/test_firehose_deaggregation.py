"""The local Firehose splits KPL aggregates as Firehose does, and keeps a corrupt one whole for the error prefix."""

from __future__ import annotations

import jq
import pytest

from shared.synthetic.kpl import kpl_record
from tools.local.firehose import PartitioningError, deaggregated, partition_values

READINGS = [b'{"sensor_id": "a", "n": 1}', b'{"sensor_id": "b", "n": 2}', b'{"sensor_id": "a", "n": 3}']


def test_an_aggregate_is_delivered_as_its_readings_in_order() -> None:
    assert deaggregated(kpl_record([("a", READINGS[0]), ("b", READINGS[1]), ("a", READINGS[2])])) == READINGS


def test_a_plain_record_is_delivered_as_it_is() -> None:
    assert deaggregated(READINGS[0]) == [READINGS[0]]


def test_a_corrupt_aggregate_is_delivered_whole_and_fails_partitioning() -> None:
    corrupt = kpl_record([("a", READINGS[0])])[:-1]
    assert deaggregated(corrupt) == [corrupt]
    with pytest.raises(PartitioningError):
        partition_values(jq.compile("{sensor: .sensor_id}"), corrupt)
