"""Every alarm of a stage evaluated over the datapoints of a CloudWatch API, at the times it is asked to.

Each evaluation reads, per metric, the statistic of every period of the alarm's evaluation range (the period that
holds ``now`` is the newest, as far as it has gone), computes metric math, applies the rules of ``evaluation`` and
then the composite alarms' rules; every change of state is kept with its time. ``period_override`` evaluates every
metric alarm over periods of that many seconds instead of its own (its evaluation periods and datapoints to alarm
unchanged), so that a run of seconds can show what an account shows over minutes: the end-to-end tests use it, and
the pipeline's bake rehearsal will.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from tools.alarms.definitions import Alarm, CompositeAlarm, MetricAlarm, MetricStat, MissingData, State
from tools.alarms.evaluation import DYNAMODB_NAMESPACE, alarm_state, evaluation_range
from tools.alarms.expressions import Context, Series, evaluate, referenced_ids
from tools.alarms.rules import Predicate, parse_rule

QUERIES_PER_REQUEST = 500  # GetMetricData's limit


class MetricSource(Protocol):
    def fetch(self, stats: Sequence[MetricStat], *, start: int, end: int) -> list[Series]:
        """Each metric's statistic per period, for the periods that start in [start, end)."""
        ...


class CloudWatchSource:
    """Per-period statistics from GetMetricData of a CloudWatch API: the emulator's, or an account's."""

    def __init__(self, cloudwatch: Any) -> None:
        self._cloudwatch = cloudwatch

    def fetch(self, stats: Sequence[MetricStat], *, start: int, end: int) -> list[Series]:
        found: list[Series] = [{} for _ in stats]
        for first in range(0, len(stats), QUERIES_PER_REQUEST):
            chunk = stats[first : first + QUERIES_PER_REQUEST]
            queries = [
                {"Id": f"q{first + index}", "MetricStat": _metric_stat(stat)} for index, stat in enumerate(chunk)
            ]
            pages = self._cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries,
                StartTime=datetime.fromtimestamp(start, UTC),
                EndTime=datetime.fromtimestamp(end, UTC),
                ScanBy="TimestampAscending",
            )
            for page in pages:
                for result in page["MetricDataResults"]:
                    series = found[int(result["Id"][1:])]
                    for stamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                        series[int(stamp.timestamp())] = float(value)
        return found


def _metric_stat(stat: MetricStat) -> dict[str, Any]:
    return {
        "Metric": {
            "Namespace": stat.namespace,
            "MetricName": stat.name,
            "Dimensions": [{"Name": name, "Value": value} for name, value in stat.dimensions],
        },
        "Period": stat.period,
        "Stat": stat.stat,
    }


@dataclass(frozen=True, kw_only=True)
class Transition:
    at: float  # epoch seconds of the evaluation that changed it
    alarm: str
    previous: State
    state: State


class AlarmEvaluator:
    def __init__(self, alarms: Iterable[Alarm], source: MetricSource, *, period_override: int | None = None) -> None:
        if period_override is not None and period_override < 1:
            raise ValueError(f"period_override must be at least 1 second, got {period_override}")
        alarms = list(alarms)
        self._metric_alarms = [
            alarm.with_period(period_override) if period_override else alarm
            for alarm in alarms
            if isinstance(alarm, MetricAlarm)
        ]
        names = [alarm.name for alarm in alarms]
        if len(set(names)) != len(names):
            raise ValueError(f"alarm names repeat: {sorted(n for n in set(names) if names.count(n) > 1)}")
        self._composites: list[tuple[str, Predicate]] = []
        self._members: dict[str, frozenset[str]] = {}  # each composite alarm's
        for composite in (alarm for alarm in alarms if isinstance(alarm, CompositeAlarm)):
            predicate, members = parse_rule(composite.rule)
            unknown = sorted(members - set(names))
            if unknown:
                raise ValueError(f"composite alarm {composite.name} names alarms that do not exist: {unknown}")
            self._composites.append((composite.name, predicate))
            self._members[composite.name] = members
        self._source = source
        self.states: dict[str, State] = dict.fromkeys(names, State.INSUFFICIENT_DATA)
        self.latest: dict[str, float | None] = {}  # each metric alarm's newest datapoint at the last evaluation
        self.transitions: list[Transition] = []

    @property
    def names(self) -> list[str]:
        return list(self.states)

    def evaluate(self, now: float) -> dict[str, State]:
        """Every alarm's state at ``now`` (epoch seconds); records each change."""
        values = self._values(now)
        self.latest = {
            name: next((v for v in reversed(points) if v is not None), None) for name, points in values.items()
        }
        new = {
            alarm.name: alarm_state(
                values[alarm.name],
                threshold=alarm.threshold,
                comparison=alarm.comparison,
                evaluation_periods=alarm.evaluation_periods,
                datapoints_to_alarm=alarm.datapoints_to_alarm,
                treat_missing_data=_missing_data_treatment(alarm),
                current=self.states[alarm.name],
            )
            for alarm in self._metric_alarms
        }
        states = {**self.states, **new}
        for _ in self._composites:  # a composite may watch another: settle them in as many rounds as there are
            states.update({name: State.ALARM if rule(states) else State.OK for name, rule in self._composites})
        for name, state in states.items():
            if state is not self.states[name]:
                self.transitions.append(Transition(at=now, alarm=name, previous=self.states[name], state=state))
        self.states = states
        return dict(states)

    def _values(self, now: float) -> dict[str, list[float | None]]:
        """Each metric alarm's evaluation range at ``now``: one value or None (missing) per period, oldest first."""
        ranges = {alarm.name: _range(alarm, now) for alarm in self._metric_alarms}
        wanted: dict[MetricStat, int] = {}  # each metric, from the oldest period an alarm reads it
        for alarm in self._metric_alarms:
            for query in alarm.queries:
                if query.stat:
                    oldest = ranges[alarm.name][0]
                    wanted[query.stat] = min(wanted.get(query.stat, oldest), oldest)
        stats = list(wanted)
        end = int(now // 1) + 1
        fetched: dict[MetricStat, Series] = {}
        for period in sorted({stat.period for stat in stats}):
            same = [stat for stat in stats if stat.period == period]
            start = min(wanted[stat] for stat in same)
            fetched.update(zip(same, self._source.fetch(same, start=start, end=end), strict=True))
        return {alarm.name: _result(alarm, ranges[alarm.name], fetched) for alarm in self._metric_alarms}

    def reason(self, name: str) -> str:
        """Why ``name`` is in its state, as CloudWatch's StateReason says it: a composite alarm's members in ALARM,
        a metric alarm's newest datapoint against its threshold."""
        state = self.states[name]
        if name in self._members:
            alarming = sorted(member for member in self._members[name] if self.states[member] is State.ALARM)
            return f"{state}: members in ALARM: {', '.join(alarming) or 'none'}"
        alarm = next(alarm for alarm in self._metric_alarms if alarm.name == name)
        latest = self.latest.get(name)
        newest = "no datapoint in its range" if latest is None else f"newest datapoint {latest:.6g}"
        return (
            f"{state}: {newest}; {alarm.comparison} {alarm.threshold:g}, {alarm.datapoints_to_alarm} of "
            f"{alarm.evaluation_periods} periods of {alarm.period} s"
        )

    def report(self, *, since: float) -> str:
        """Each alarm's state now and every change since ``since``, in seconds after it."""
        width = max((len(name) for name in self.states), default=0)
        lines = []
        for name, state in self.states.items():
            changes = [f"{t.state} at +{t.at - since:.1f} s" for t in self.transitions if t.alarm == name]
            latest = f"newest datapoint {self.latest[name]:.6g}" if self.latest.get(name) is not None else ""
            if name in self.latest and not latest:
                latest = "no datapoint in its range"
            lines.append(
                f"  {name:<{width}}  {state:<17}  {', '.join(changes) or 'never evaluated'}  {latest}".rstrip()
            )
        return "\n".join(lines)


def _missing_data_treatment(alarm: MetricAlarm) -> MissingData:
    (query,) = alarm.queries if len(alarm.queries) == 1 else (None,)
    if query is not None and query.stat is not None and query.stat.namespace == DYNAMODB_NAMESPACE:
        return MissingData.IGNORE
    return alarm.treat_missing_data


def _range(alarm: MetricAlarm, now: float) -> list[int]:
    newest = int(now // alarm.period) * alarm.period
    count = evaluation_range(alarm.evaluation_periods)
    return [newest - (count - 1 - index) * alarm.period for index in range(count)]


def _result(alarm: MetricAlarm, starts: list[int], fetched: Mapping[MetricStat, Series]) -> list[float | None]:
    series: dict[str, Series] = {
        query.id: {start: value for start, value in fetched[query.stat].items() if start >= starts[0]}
        for query in alarm.queries
        if query.stat
    }
    pending = [query for query in alarm.queries if query.expression]
    while pending:
        ready = [query for query in pending if referenced_ids(query.expression or "") <= series.keys()]
        if not ready:
            raise ValueError(f"{alarm.name}: expressions {[q.id for q in pending]} read ids that no query has")
        for query in ready:
            series[query.id] = evaluate(
                query.expression or "", Context(series=series, periods=starts, period=alarm.period)
            )
            pending.remove(query)
    result = series[alarm.result.id]
    return [result.get(start) for start in starts]
