"""The alarms of a synthesized template as typed models, each property checked with an error that names it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar


class DefinitionError(ValueError):
    """An alarm the evaluator cannot take as it is: the message names the alarm and the property."""


class State(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class Comparison(StrEnum):
    GREATER = "GreaterThanThreshold"
    GREATER_OR_EQUAL = "GreaterThanOrEqualToThreshold"
    LESS = "LessThanThreshold"
    LESS_OR_EQUAL = "LessThanOrEqualToThreshold"

    def breaches(self, value: float, threshold: float) -> bool:
        match self:
            case Comparison.GREATER:
                return value > threshold
            case Comparison.GREATER_OR_EQUAL:
                return value >= threshold
            case Comparison.LESS:
                return value < threshold
            case Comparison.LESS_OR_EQUAL:
                return value <= threshold


class MissingData(StrEnum):
    BREACHING = "breaching"
    NOT_BREACHING = "notBreaching"
    IGNORE = "ignore"
    MISSING = "missing"  # CloudWatch's default


@dataclass(frozen=True, kw_only=True)
class MetricStat:
    """One metric and how it is aggregated per period."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # (name, value), sorted by name
    stat: str
    period: int  # seconds

    def describe(self) -> str:
        dimensions = ", ".join(f"{name}={value}" for name, value in self.dimensions)
        return f"{self.namespace} {self.name} {{{dimensions}}} {self.stat}/{self.period}s"


@dataclass(frozen=True, kw_only=True)
class Query:
    """One entry of an alarm's metrics: a metric, or a metric-math expression over the others."""

    id: str
    stat: MetricStat | None = None
    expression: str | None = None
    returns_data: bool = True


@dataclass(frozen=True, kw_only=True)
class MetricAlarm:
    name: str
    queries: tuple[Query, ...]  # a plain alarm has one, its metric
    period: int
    threshold: float
    comparison: Comparison
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: MissingData

    @property
    def result(self) -> Query:
        """The query whose values are compared with the threshold."""
        (returned,) = [query for query in self.queries if query.returns_data]
        return returned

    def with_period(self, seconds: int) -> MetricAlarm:
        """The same alarm over periods of ``seconds``: every metric of it is read at that period."""
        queries = tuple(
            dataclasses.replace(query, stat=dataclasses.replace(query.stat, period=seconds)) if query.stat else query
            for query in self.queries
        )
        return dataclasses.replace(self, period=seconds, queries=queries)


@dataclass(frozen=True, kw_only=True)
class CompositeAlarm:
    name: str
    rule: str


Alarm = MetricAlarm | CompositeAlarm


def alarms_in(template: Mapping[str, Any]) -> Iterator[Alarm]:
    """Every metric and composite alarm of a template whose references are resolved (templates.resolve)."""
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::CloudWatch::Alarm":
            yield metric_alarm(resource.get("Properties", {}), where=logical_id)
        elif resource.get("Type") == "AWS::CloudWatch::CompositeAlarm":
            properties = resource.get("Properties", {})
            name = _required(properties, "AlarmName", str, where=logical_id)
            yield CompositeAlarm(name=name, rule=_required(properties, "AlarmRule", str, where=name))


def metric_alarm(properties: Mapping[str, Any], *, where: str) -> MetricAlarm:
    name = _required(properties, "AlarmName", str, where=where)
    if "ThresholdMetricId" in properties:
        raise DefinitionError(f"{name}: anomaly-detection alarms (ThresholdMetricId) are not evaluated here")
    if "MetricName" in properties:
        period = _positive(properties, "Period", where=name)
        queries: tuple[Query, ...] = (Query(id="m", stat=_metric_stat(properties, period=period, where=name)),)
    else:
        queries = tuple(_query(entry, where=name) for entry in _required(properties, "Metrics", list, where=name))
        periods = {query.stat.period for query in queries if query.stat}
        if len(periods) != 1:
            raise DefinitionError(f"{name}: the metrics of a math alarm must share one period, got {sorted(periods)}")
        (period,) = periods
        if sum(query.returns_data for query in queries) != 1:
            raise DefinitionError(f"{name}: exactly one of its Metrics must have ReturnData true")
    evaluation_periods = _positive(properties, "EvaluationPeriods", where=name)
    datapoints = int(properties.get("DatapointsToAlarm", evaluation_periods))
    if not 1 <= datapoints <= evaluation_periods:
        raise DefinitionError(
            f"{name}: DatapointsToAlarm must be between 1 and EvaluationPeriods ({evaluation_periods}), "
            f"got {datapoints}"
        )
    return MetricAlarm(
        name=name,
        queries=queries,
        period=period,
        threshold=float(_required(properties, "Threshold", (int, float), where=name)),
        comparison=_member(Comparison, _required(properties, "ComparisonOperator", str, where=name), name),
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints,
        treat_missing_data=_member(MissingData, properties.get("TreatMissingData", MissingData.MISSING), name),
    )


def _query(entry: Mapping[str, Any], *, where: str) -> Query:
    query_id = _required(entry, "Id", str, where=where)
    returns_data = bool(entry.get("ReturnData", True))
    if "Expression" in entry:
        return Query(
            id=query_id, expression=_required(entry, "Expression", str, where=where), returns_data=returns_data
        )
    stat = _required(entry, "MetricStat", dict, where=f"{where} {query_id}")
    metric = _required(stat, "Metric", dict, where=f"{where} {query_id}")
    period = _positive(stat, "Period", where=f"{where} {query_id}")
    fields = {**metric, "Statistic": _required(stat, "Stat", str, where=f"{where} {query_id}")}
    return Query(
        id=query_id, stat=_metric_stat(fields, period=period, where=f"{where} {query_id}"), returns_data=returns_data
    )


def _metric_stat(fields: Mapping[str, Any], *, period: int, where: str) -> MetricStat:
    dimensions: Sequence[Mapping[str, Any]] = fields.get("Dimensions", [])
    pairs = [(_required(d, "Name", str, where=where), _required(d, "Value", str, where=where)) for d in dimensions]
    statistic = fields.get("Statistic") or fields.get("ExtendedStatistic")
    if not isinstance(statistic, str):
        raise DefinitionError(f"{where}: no Statistic or ExtendedStatistic")
    return MetricStat(
        namespace=_required(fields, "Namespace", str, where=where),
        name=_required(fields, "MetricName", str, where=where),
        dimensions=tuple(sorted(pairs)),
        stat=statistic,
        period=period,
    )


def _required(fields: Mapping[str, Any], key: str, kind: type | tuple[type, ...], *, where: str) -> Any:
    if key not in fields:
        raise DefinitionError(f"{where}: {key} is missing")
    value = fields[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DefinitionError(
            f"{where}: {key} must be {_kind_name(kind)}, got {value!r} (a reference left unresolved?)"
        )
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__


def _positive(fields: Mapping[str, Any], key: str, *, where: str) -> int:
    value = _required(fields, key, int, where=where)
    if value < 1:
        raise DefinitionError(f"{where}: {key} must be at least 1, got {value}")
    return int(value)


Member = TypeVar("Member", bound=StrEnum)


def _member(kind: type[Member], value: str, where: str) -> Member:
    try:
        return kind(value)
    except ValueError:
        raise DefinitionError(f"{where}: {value!r} is not one of {[str(m) for m in kind]}") from None
