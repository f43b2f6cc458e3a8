"""The dashboard page: every widget's series (metrics, hidden ones for metric math, SEARCH), threshold lines and
alarm states, drawn at a period that fits the run; the run's own charts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tools.alarms.definitions import MetricStat, State
from tools.alarms.evaluator import Transition
from tools.alarms.expressions import Series
from tools.local.dashboard_page import RunPicture, Window, _alarm_figure, _graph_figure, _lines, dashboard_page

START = 1_800_000_000
FUNCTION = ["FunctionName", "fn"]
SEARCHED = [
    {
        "MetricName": "SystemErrors",
        "Dimensions": [{"Name": "TableName", "Value": "t"}, {"Name": "Operation", "Value": op}],
    }
    for op in ("BatchWriteItem", "PutItem")
] + [
    {
        "MetricName": "SystemErrors",
        "Dimensions": [{"Name": "TableName", "Value": "other"}, {"Name": "Operation", "Value": "GetItem"}],
    }
]
SEARCH_SYSTEM_ERRORS = (
    "SEARCH('{AWS/DynamoDB,TableName,Operation} MetricName=\"SystemErrors\" TableName=\"t\"', 'Sum', 60)"
)
GRAPH: dict[str, Any] = {
    "type": "metric",
    "x": 0,
    "y": 2,
    "width": 8,
    "height": 6,
    "properties": {
        "title": "Errors and share",
        "metrics": [
            ["AWS/Lambda", "Errors", *FUNCTION, {"stat": "Sum", "period": 60}],
            ["AWS/Lambda", "Invocations", *FUNCTION, {"stat": "Sum", "visible": False, "id": "calls"}],
            [{"expression": "calls * 2", "label": "doubled", "id": "e1"}],
            ["AWS/Lambda", "Throttles", *FUNCTION, {"stat": "Sum", "yAxis": "right"}],
        ],
        "annotations": {"horizontal": [{"label": "Errors >= 1", "value": 1, "yAxis": "left"}]},
    },
}


class Datapoints:
    def __init__(self, series: dict[str, Series]) -> None:
        self.series = series
        self.asked: list[tuple[list[str], int, int]] = []

    def fetch(self, stats: Sequence[MetricStat], *, start: int, end: int) -> list[Series]:
        self.asked.append(([s.name for s in stats], start, end))
        return [dict(self.series.get(s.name, {})) for s in stats]


def test_a_run_of_minutes_or_seconds_is_drawn_at_about_forty_points() -> None:
    assert Window(start=0, end=10).display_period == 1  # never below a second
    assert Window(start=0, end=400).display_period == 10
    assert Window(start=0, end=4000).display_period == 100


def test_a_graph_reads_its_metrics_at_the_display_period_and_evaluates_its_math() -> None:
    lines = list(_lines(GRAPH, 5, lambda *_: []))
    assert [(line.label, line.axis, line.visible) for line in lines] == [
        ("Errors", "left", True),
        ("Invocations", "left", False),
        ("doubled", "left", True),
        ("Throttles", "right", True),
    ]
    assert lines[0].stat == MetricStat(
        namespace="AWS/Lambda", name="Errors", dimensions=(("FunctionName", "fn"),), stat="Sum", period=5
    )
    lines[1].series = {START: 3.0, START + 5: 4.0}
    figure = _graph_figure(lines, GRAPH["properties"], 5)
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert list(traces) == ["Errors", "doubled", "Throttles"]  # the hidden metric only feeds the expression
    assert traces["doubled"]["y"] == [6.0, 8.0]
    assert traces["Throttles"]["yaxis"] == "y2"
    (line,) = figure["layout"]["shapes"]
    assert (line["y0"], line["yref"]) == (1, "y")
    assert "no data" not in str(figure["layout"]["annotations"])


def test_a_graph_without_any_datapoint_says_so() -> None:
    figure = _graph_figure(list(_lines(GRAPH, 5, lambda *_: [])), {}, 5)
    assert [note["text"] for note in figure["layout"]["annotations"]] == ["no data"]


def test_a_search_finds_exactly_its_dimension_names_and_terms() -> None:
    widget = {
        "type": "metric",
        "properties": {"metrics": [[{"expression": SEARCH_SYSTEM_ERRORS}]]},
    }
    asked: list[tuple[str, str | None]] = []

    def list_metrics(namespace: str, name: str | None) -> list[dict[str, Any]]:
        asked.append((namespace, name))
        return SEARCHED

    lines = list(_lines(widget, 10, list_metrics))
    assert asked == [("AWS/DynamoDB", "SystemErrors")]
    assert [line.label for line in lines] == ["BatchWriteItem", "PutItem"]
    assert {line.stat.stat for line in lines if line.stat} == {"Sum"}


def test_the_alarm_status_is_each_alarms_state_over_the_run() -> None:
    transitions = [
        Transition(at=START + 1, alarm="a", previous=State.INSUFFICIENT_DATA, state=State.OK),
        Transition(at=START + 5, alarm="a", previous=State.OK, state=State.ALARM),
    ]
    figure = _alarm_figure(
        ["arn:aws:cloudwatch:r:1:alarm:a", "arn:aws:cloudwatch:r:1:alarm:b"],
        {"a": State.ALARM},
        transitions,
        Window(start=START, end=START + 9),
    )
    a, b = figure["data"]
    assert (a["name"], a["y"]) == ("a: ALARM", [1, 0, 2, 2])
    assert (b["name"], b["y"]) == ("b: INSUFFICIENT_DATA", [1, 1])


def test_the_page_has_every_widget_and_the_runs_charts() -> None:
    source = Datapoints({"Errors": {START: 1.0}})
    body = {"widgets": [{"type": "text", "properties": {"markdown": "# IoT <dev>\nplain `code`"}}, GRAPH]}
    page = dashboard_page(
        dashboards=[body],
        source=source,
        list_metrics=lambda *_: [],
        alarm_states={},
        transitions=[],
        picture=RunPicture(put_at=[START, START + 1.5], stored_at=[START + 2], latencies=[1.2], outcomes={"stored": 1}),
        window=Window(start=START, end=START + 10),
    )
    assert "<h2>IoT &lt;dev&gt;</h2><p>plain code</p>" in page
    for title in ("Errors and share", "Readings per second (put, stored)", "End-to-end latency (put to stored)",
                  "Outcomes by reason"):  # fmt: skip
        assert f'data-widget="{title}"' in page
    assert page.count("Plotly.newPlot") == 4
    (asked,) = source.asked
    assert asked == (["Errors", "Invocations", "Throttles"], START, START + 11)


@pytest.mark.parametrize("hidden", [True, False])
def test_only_visible_series_are_drawn(hidden: bool) -> None:
    widget = {"type": "metric", "properties": {"metrics": [["N", "M", {"visible": not hidden}]]}}
    (line,) = _lines(widget, 1, lambda *_: [])
    line.series = {START: 1.0}
    assert len(_graph_figure([line], {}, 1)["data"]) == (0 if hidden else 1)
