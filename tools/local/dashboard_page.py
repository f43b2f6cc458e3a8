"""reports/dashboard.html: the stage's synthesized dashboard drawn from the local run's datapoints, beside the run's
own picture (readings per second, end-to-end latency, outcomes by reason). Charts are plotly's.

Every widget of the dashboard body keeps its title, its place in the grid, its series (metrics, metric math and
SEARCH, read from the emulator's CloudWatch) and its alarm annotations (threshold lines); the alarm status widget
shows each alarm's state over the run. A run lasts seconds, so every graph is drawn at a period that fits the run
(``display_period``) instead of the dashboard's minute.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import plotly.io
import plotly.offline

from tools.alarms.definitions import MetricStat, State
from tools.alarms.evaluator import MetricSource, Transition
from tools.alarms.expressions import Context, Series, evaluate

GRID_COLUMNS = 24
ROW_PIXELS = 48  # one unit of a widget's height
POINTS_PER_GRAPH = 40
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\}\s*(.*?)'\s*,\s*'([^']+)'")
SEARCH_TERM = re.compile(r'(\w+)="([^"]*)"')
CHART_CONFIG = {"displayModeBar": False, "responsive": True}
STATE_LEVELS = {State.OK: 0, State.INSUFFICIENT_DATA: 1, State.ALARM: 2}


@dataclass(frozen=True, kw_only=True)
class RunPicture:
    """What the run itself saw: when readings were put and stored, their latency, where they ended."""

    put_at: Sequence[float]
    stored_at: Sequence[float]
    latencies: Sequence[float]  # seconds
    outcomes: Mapping[str, int]


@dataclass(frozen=True, kw_only=True)
class Window:
    start: float
    end: float

    @property
    def display_period(self) -> int:
        """A period that gives a graph of the run about POINTS_PER_GRAPH points, a second at least."""
        return max(1, round((self.end - self.start) / POINTS_PER_GRAPH))


@dataclass
class _Line:
    label: str
    axis: str  # "left" or "right"
    stat: MetricStat | None = None
    expression: str | None = None
    query_id: str | None = None
    visible: bool = True
    series: Series = field(default_factory=dict)


def dashboard_page(
    *,
    dashboards: Sequence[Mapping[str, Any]],
    source: MetricSource,
    list_metrics: Any,
    alarm_states: Mapping[str, State],
    transitions: Sequence[Transition],
    picture: RunPicture,
    window: Window,
) -> str:
    """The whole page: every dashboard, then the run's picture."""
    period = window.display_period
    sections: list[str] = []
    for body in dashboards:
        widgets = list(body.get("widgets", []))
        lines = {index: list(_lines(widget, period, list_metrics)) for index, widget in enumerate(widgets)}
        _fetch([line for found in lines.values() for line in found], source, window, period)
        for index, widget in enumerate(widgets):
            sections.append(
                _widget(
                    index,
                    widget,
                    lines=lines[index],
                    states=alarm_states,
                    transitions=transitions,
                    window=window,
                    period=period,
                )
            )
    sections.extend(_run_picture(picture))
    return _html(sections, period)


def _lines(widget: Mapping[str, Any], period: int, list_metrics: Any) -> Iterator[_Line]:
    """Every series of a graph: its metrics, its metric math, and what each SEARCH finds."""
    for entry in widget.get("properties", {}).get("metrics", []) if widget.get("type") == "metric" else []:
        options = entry[-1] if isinstance(entry[-1], dict) else {}
        axis = options.get("yAxis", "left")
        if "expression" in options and len(entry) == 1:
            found = SEARCH.match(options["expression"])
            if found:
                yield from _searched(found, axis, period, list_metrics)
                continue
            label = str(options.get("label") or options.get("id") or options["expression"])
            yield _Line(label=label, axis=axis, expression=options["expression"])
            continue
        namespace, name, *pairs = [part for part in entry if not isinstance(part, dict)]
        dimensions = tuple(sorted(zip(pairs[::2], pairs[1::2], strict=True)))
        stat = MetricStat(
            namespace=namespace, name=name, dimensions=dimensions, stat=options.get("stat", "Average"), period=period
        )
        yield _Line(
            label=options.get("label", name),
            axis=axis,
            stat=stat,
            query_id=options.get("id"),
            visible=options.get("visible", True),
        )


def _searched(found: re.Match[str], axis: str, period: int, list_metrics: Any) -> Iterator[_Line]:
    """The metrics a SEARCH finds: its namespace, with exactly its dimension names, and every term it names."""
    namespace, *keys = [part.strip() for part in found.group(1).split(",")]
    terms = dict(SEARCH_TERM.findall(found.group(2)))
    name = terms.pop("MetricName", None)
    for metric in list_metrics(namespace, name):
        dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
        if set(dimensions) == set(keys) and all(dimensions.get(k) == v for k, v in terms.items()):
            stat = MetricStat(
                namespace=namespace,
                name=metric["MetricName"],
                dimensions=tuple(sorted(dimensions.items())),
                stat=found.group(3),
                period=period,
            )
            label = " ".join(dimensions[key] for key in keys if key not in terms) or metric["MetricName"]
            yield _Line(label=label, axis=axis, stat=stat)


def _fetch(lines: Sequence[_Line], source: MetricSource, window: Window, period: int) -> None:
    stats = sorted({line.stat for line in lines if line.stat}, key=lambda stat: stat.describe())
    start = int(window.start // period) * period
    fetched = dict(zip(stats, source.fetch(stats, start=start, end=int(window.end) + 1), strict=True)) if stats else {}
    for line in lines:
        if line.stat:
            line.series = fetched[line.stat]


def _widget(
    index: int,
    widget: Mapping[str, Any],
    *,
    lines: list[_Line],
    states: Mapping[str, State],
    transitions: Sequence[Transition],
    window: Window,
    period: int,
) -> str:
    properties = widget.get("properties", {})
    kind = widget.get("type", "")
    style = (
        f"grid-column: {widget.get('x', 0) + 1} / span {widget.get('width', 6)}; "
        f"grid-row: {widget.get('y', 0) + 1} / span {widget.get('height', 6)};"
    )
    title = str(properties.get("title", ""))
    if kind == "text":
        return (
            f'<section class="widget text" style="{style}">{_markdown(str(properties.get("markdown", "")))}</section>'
        )
    if kind == "alarm":
        figure = _alarm_figure(properties.get("alarms", []), states, transitions, window)
    else:
        figure = _graph_figure(lines, properties, period)
    chart = plotly.io.to_html(
        figure,
        config=CHART_CONFIG,
        include_plotlyjs=False,
        full_html=False,
        div_id=f"widget-{index}",
        validate=False,
        default_height="100%",
    )
    return (
        f'<section class="widget {kind}" data-widget="{html.escape(title)}" style="{style}">'
        f"<h3>{html.escape(title)}</h3>{chart}</section>"
    )


def _graph_figure(lines: list[_Line], properties: Mapping[str, Any], period: int) -> dict[str, Any]:
    by_id = {line.query_id: line.series for line in lines if line.query_id}
    periods = sorted({start for line in lines for start in line.series})
    for line in lines:
        if line.expression:
            line.series = evaluate(line.expression, Context(series=by_id, periods=periods, period=period))
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": line.label,
            "x": [_time(start) for start in sorted(line.series)],
            "y": [line.series[start] for start in sorted(line.series)],
            "yaxis": "y2" if line.axis == "right" else "y",
        }
        for line in lines
        if line.visible
    ]
    shapes, notes = [], []
    for axis, key in (("left", "y"), ("right", "y2")):
        for annotation in properties.get("annotations", {}).get("horizontal", []):
            if annotation.get("yAxis", "left") != axis:
                continue
            shapes.append(
                {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": key, "y0": annotation["value"],
                 "y1": annotation["value"], "line": {"color": "#d62728", "dash": "dash"}}
            )  # fmt: skip
            notes.append(
                {"xref": "paper", "x": 1, "xanchor": "right", "yref": key, "y": annotation["value"], "showarrow": False,
                 "text": html.escape(str(annotation.get("label", ""))), "font": {"size": 9, "color": "#d62728"}}
            )  # fmt: skip
    if not any(trace["x"] for trace in traces):
        notes.append({"xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5, "showarrow": False, "text": "no data"})
    layout = {
        "margin": {"l": 50, "r": 50, "t": 10, "b": 30},
        "showlegend": True,
        "legend": {"orientation": "h", "y": -0.2},
        "shapes": shapes,
        "annotations": notes,
        "yaxis2": {"overlaying": "y", "side": "right", "rangemode": "tozero"},
        "yaxis": {"rangemode": "tozero"},
    }
    return {"data": traces, "layout": layout}


def _alarm_figure(
    arns: Sequence[str], states: Mapping[str, State], transitions: Sequence[Transition], window: Window
) -> dict[str, Any]:
    """Each alarm's state over the run, one row each: OK, INSUFFICIENT_DATA or ALARM, as it changed."""
    names = [arn.split(":alarm:", 1)[-1] for arn in arns]
    traces = []
    for name in names:
        changes = [t for t in transitions if t.alarm == name]
        times = [window.start, *(t.at for t in changes), window.end]
        levels = [STATE_LEVELS[State.INSUFFICIENT_DATA], *(STATE_LEVELS[t.state] for t in changes)]
        levels.append(STATE_LEVELS[states.get(name, State.INSUFFICIENT_DATA)])
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "line": {"shape": "hv"},
                "name": f"{name}: {states.get(name, State.INSUFFICIENT_DATA)}",
                "x": [_time(t) for t in times],
                "y": levels,
            }
        )
    layout = {
        "margin": {"l": 130, "r": 10, "t": 10, "b": 30},
        "yaxis": {
            "tickvals": list(STATE_LEVELS.values()),
            "ticktext": [str(s) for s in STATE_LEVELS],
            "range": [-0.3, 2.3],
        },
        "legend": {"orientation": "v", "x": 1.02},
    }
    return {"data": traces, "layout": layout}


def _run_picture(picture: RunPicture) -> list[str]:
    first = min([*picture.put_at, *picture.stored_at], default=0.0)
    put = Counter(int(t - first) for t in picture.put_at)
    stored = Counter(int(t - first) for t in picture.stored_at)
    seconds = sorted(put.keys() | stored.keys())
    figures = {
        "Readings per second (put, stored)": {
            "data": [
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": "put",
                    "x": seconds,
                    "y": [put[s] for s in seconds],
                },
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": "stored",
                    "x": seconds,
                    "y": [stored[s] for s in seconds],
                },
            ],
            "layout": {"xaxis": {"title": {"text": "seconds after the first put"}}, "margin": {"t": 10}},
        },
        "End-to-end latency (put to stored)": {
            "data": [{"type": "histogram", "name": "readings", "x": [round(v * 1000) for v in picture.latencies]}],
            "layout": {"xaxis": {"title": {"text": "milliseconds"}}, "margin": {"t": 10}},
        },
        "Outcomes by reason": {
            "data": [
                {"type": "bar", "name": "readings", "x": list(picture.outcomes), "y": list(picture.outcomes.values())}
            ],
            "layout": {"margin": {"t": 10}},
        },
    }
    sections = []
    for index, (title, figure) in enumerate(figures.items()):
        chart = plotly.io.to_html(
            figure, config=CHART_CONFIG, include_plotlyjs=False, full_html=False, div_id=f"run-{index}", validate=False
        )
        sections.append(
            f'<section class="widget run" data-widget="{html.escape(title)}" '
            f'style="grid-column: {index * 8 + 1} / span 8;"><h3>{html.escape(title)}</h3>{chart}</section>'
        )
    return sections


def _markdown(text: str) -> str:
    """The headings and lines of a text widget (the dashboard's markdown is headings and plain text only)."""
    parts = []
    for line in text.splitlines():
        level = len(line) - len(line.lstrip("#"))
        content = html.escape(line.lstrip("#").strip()).replace("`", "")
        parts.append(f"<h{min(level + 1, 4)}>{content}</h{min(level + 1, 4)}>" if level else f"<p>{content}</p>")
    return "".join(parts)


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _html(sections: Sequence[str], period: int) -> str:
    grid = "".join(section for section in sections if 'class="widget run"' not in section)
    run = "".join(section for section in sections if 'class="widget run"' in section)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Data path dashboard, local run</title>
<script>{plotly.offline.get_plotlyjs()}</script>
<style>
body {{ font-family: sans-serif; margin: 16px; }}
.grid {{ display: grid; grid-template-columns: repeat({GRID_COLUMNS}, 1fr); grid-auto-rows: {ROW_PIXELS}px; gap: 6px; }}
.run-grid {{ display: grid; grid-template-columns: repeat({GRID_COLUMNS}, 1fr); grid-auto-rows: 320px; gap: 6px; }}
.widget {{ border: 1px solid #ddd; padding: 4px; overflow: hidden; display: flex; flex-direction: column; }}
.widget.text {{ border: none; }}
.widget h3 {{ font-size: 13px; margin: 2px 4px; }}
.widget > div {{ flex: 1; min-height: 0; }}
</style></head><body>
<p>The stage's dashboard as synthesized, drawn from the local run's datapoints in the emulator's CloudWatch, at
{period}-second periods (the dashboard's are a minute; a run lasts seconds).</p>
<div class="grid">{grid}</div>
<h2>The run</h2>
<div class="run-grid">{run}</div>
</body></html>
"""
