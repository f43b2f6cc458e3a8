"""The emulator's GetMetricData (emulator_server.metric_data): metrics matched by namespace, name and exact dimension
set, periods on the clock's boundaries, every statistic the alarms and graphs use, and what it refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.cloudwatch.models import CloudWatchBackend

from tools.local.emulator_server import metric_data
from tools.local.tests.emulated import REGION, emulated_account

BASE = 1_800_000_000  # a multiple of 60 and of 300
FUNCTION = [{"Name": "FunctionName", "Value": "fn"}]


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(CloudWatchBackend, "get_metric_data", metric_data)
    with emulated_account():
        yield boto3.client("cloudwatch", region_name=REGION)


def put(cloudwatch: Any, value: float, second: float, *, namespace: str = "AWS/Lambda", dimensions: Any = None) -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "Duration",
                "Dimensions": FUNCTION if dimensions is None else dimensions,
                "Value": value,
                "Timestamp": datetime.fromtimestamp(second, UTC),
            }
        ],
    )


def query(cloudwatch: Any, stat: str, *, period: int = 60, dimensions: Any = None, **more: Any) -> dict[int, float]:
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Duration",
                        "Dimensions": FUNCTION if dimensions is None else dimensions,
                    },
                    "Period": period,
                    "Stat": stat,
                },
            }
        ],
        StartTime=datetime.fromtimestamp(BASE - 600, UTC),
        EndTime=datetime.fromtimestamp(BASE + 600, UTC),
        **more,
    )
    (result,) = response["MetricDataResults"]
    return {int(t.timestamp()) - BASE: v for t, v in zip(result["Timestamps"], result["Values"], strict=True)}


def test_periods_start_on_the_clocks_boundaries_and_each_statistic_is_computed(cloudwatch: Any) -> None:
    for value, second in ((10, BASE - 30), *((float(v), BASE + 5 + v) for v in range(1, 101))):
        put(cloudwatch, value, second)
    assert query(cloudwatch, "Sum") == {-60: 10.0, 0: 1485.0, 60: 3565.0}  # 1 to 54, then 55 to 100
    assert query(cloudwatch, "SampleCount", period=300) == {-300: 1.0, 0: 100.0}
    assert query(cloudwatch, "Average", period=300) == {-300: 10.0, 0: 50.5}
    assert query(cloudwatch, "Minimum", period=300) == {-300: 10.0, 0: 1.0}
    assert query(cloudwatch, "Maximum", period=300) == {-300: 10.0, 0: 100.0}
    assert query(cloudwatch, "p50", period=300) == {-300: 10.0, 0: 50.0}
    assert query(cloudwatch, "p99", period=300) == {-300: 10.0, 0: 99.0}
    assert list(query(cloudwatch, "Sum", ScanBy="TimestampDescending")) == [60, 0, -60]


def test_a_metric_is_its_namespace_name_and_exact_dimension_set(cloudwatch: Any) -> None:
    put(cloudwatch, 1, BASE, namespace="IotPlatform")  # same name and dimensions, another namespace
    put(cloudwatch, 2, BASE, dimensions=[*FUNCTION, {"Name": "Resource", "Value": "fn:live"}])
    put(cloudwatch, 4, BASE, dimensions=[])
    put(cloudwatch, 8, BASE)
    assert query(cloudwatch, "Sum") == {0: 8.0}
    assert query(cloudwatch, "Sum", dimensions=[{"Name": "Resource", "Value": "fn:live"}, *FUNCTION]) == {0: 2.0}
    assert query(cloudwatch, "Sum", dimensions=[]) == {0: 4.0}


def test_metric_math_and_unknown_statistics_are_refused(cloudwatch: Any) -> None:
    put(cloudwatch, 1, BASE)
    with pytest.raises(ClientError, match="metric math is not evaluated by the emulator"):
        cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "e", "Expression": "1 + 1"}],
            StartTime=datetime.fromtimestamp(BASE - 60, UTC),
            EndTime=datetime.fromtimestamp(BASE + 60, UTC),
        )
    with pytest.raises(ClientError, match="the statistic tm90 is not computed"):
        query(cloudwatch, "tm90")
