"""EMF lines read as CloudWatch Logs reads them, and every way a line can break the format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.metrics.emf import EmbeddedMetric, EmfError, embedded_metrics, metrics_in_output


def line(**overrides: Any) -> str:
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Shop",
                    "Dimensions": [["service"], ["service", "stage"]],
                    "Metrics": [{"Name": "Orders", "Unit": "Count"}, {"Name": "Latency"}],
                }
            ],
        },
        "service": "cart",
        "stage": "prod",
        "Orders": 3,
        "Latency": [1.5, 2],
    }
    document.update(overrides)
    return json.dumps(document)


def test_each_metric_is_recorded_under_every_dimension_set_with_its_unit_and_values() -> None:
    found = embedded_metrics(line())
    assert found == [
        EmbeddedMetric(
            namespace="Shop",
            name="Orders",
            unit="Count",
            dimensions=(("service", "cart"),),
            values=(3.0,),
            timestamp_ms=1_700_000_000_000,
        ),
        EmbeddedMetric(
            namespace="Shop",
            name="Orders",
            unit="Count",
            dimensions=(("service", "cart"), ("stage", "prod")),
            values=(3.0,),
            timestamp_ms=1_700_000_000_000,
        ),
        EmbeddedMetric(
            namespace="Shop",
            name="Latency",
            unit=None,
            dimensions=(("service", "cart"),),
            values=(1.5, 2.0),
            timestamp_ms=1_700_000_000_000,
        ),
        EmbeddedMetric(
            namespace="Shop",
            name="Latency",
            unit=None,
            dimensions=(("service", "cart"), ("stage", "prod")),
            values=(1.5, 2.0),
            timestamp_ms=1_700_000_000_000,
        ),
    ]
    assert found[1].dimension_names == {"service", "stage"}


@pytest.mark.parametrize(
    "text", ["plain log line", '{"level": "INFO", "message": "no metrics"}', '"_aws" but not json', '["_aws"]']
)
def test_a_line_that_is_not_emf_has_no_metrics(text: str) -> None:
    assert embedded_metrics(text) == []


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"_aws": {"CloudWatchMetrics": []}}, "without 'Timestamp'"),
        ({"_aws": {"Timestamp": "now", "CloudWatchMetrics": []}}, "'Timestamp' is str, not int"),
        ({"_aws": {"Timestamp": 1}}, "without 'CloudWatchMetrics'"),
        ({"Orders": "three"}, "'Orders' holds 'three'"),
        ({"Orders": [True]}, "'Orders' holds [True]"),
        ({"Orders": []}, "'Orders' holds []"),
        ({"stage": 7}, "'stage' is int, not str"),
    ],
)
def test_a_line_that_breaks_the_format_is_an_error_naming_what(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(EmfError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        embedded_metrics(line(**overrides))


def test_a_missing_dimension_member_is_an_error() -> None:
    document = json.loads(line())
    del document["stage"]
    with pytest.raises(EmfError, match="without 'stage'"):
        embedded_metrics(json.dumps(document))


def test_the_output_of_a_process_is_read_line_by_line() -> None:
    text = "\n".join(["START", line(), '{"message": "x"}', line(Orders=1)])
    orders = [m.values for m in metrics_in_output(text) if m.name == "Orders" and len(m.dimensions) == 1]
    assert orders == [(3.0,), (1.0,)]
