"""Metrics in CloudWatch's embedded metric format (EMF): what CloudWatch Logs extracts from a log line.

A line is EMF when it is a JSON object with an ``_aws`` member whose ``CloudWatchMetrics`` directives name, per
namespace, the metrics (members of the object holding a number or a list of numbers) and the dimension sets (lists
of members holding strings); each metric is recorded once under every dimension set of its directive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

EMF_MARKER = '"_aws"'


class EmfError(ValueError):
    """A line that claims to be EMF (a JSON object with ``_aws``) but breaks the format; says what is wrong."""


@dataclass(frozen=True, kw_only=True)
class EmbeddedMetric:
    namespace: str
    name: str
    unit: str | None
    dimensions: tuple[tuple[str, str], ...]  # (name, value), sorted by name
    values: tuple[float, ...]
    timestamp_ms: int

    @property
    def dimension_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.dimensions)


def embedded_metrics(line: str) -> list[EmbeddedMetric]:
    """The metrics a log line carries: none for a line that is not EMF."""
    if EMF_MARKER not in line:
        return []
    try:
        document = json.loads(line)
    except ValueError:
        return []
    if not isinstance(document, dict) or "_aws" not in document:
        return []
    return list(_metrics(document))


def metrics_in_output(text: str) -> list[EmbeddedMetric]:
    """Every metric of every EMF line of ``text`` (a process's output, one log record per line)."""
    return [metric for line in text.splitlines() for metric in embedded_metrics(line)]


def _metrics(document: dict[str, Any]) -> Iterator[EmbeddedMetric]:
    metadata = _member(document, "_aws", dict)
    timestamp = _member(metadata, "Timestamp", int)
    for directive in _member(metadata, "CloudWatchMetrics", list):
        namespace = _member(directive, "Namespace", str)
        dimension_sets = _member(directive, "Dimensions", list)
        for metric in _member(directive, "Metrics", list):
            name = _member(metric, "Name", str)
            unit = metric.get("Unit")
            values = _values(document, name)
            for names in dimension_sets:
                dimensions = tuple(sorted((key, _member(document, key, str)) for key in names))
                yield EmbeddedMetric(
                    namespace=namespace,
                    name=name,
                    unit=unit,
                    dimensions=dimensions,
                    values=values,
                    timestamp_ms=timestamp,
                )


def _member(document: Any, key: str, kind: type) -> Any:
    if not isinstance(document, dict) or key not in document:
        raise EmfError(f"EMF without {key!r} where the format requires it")
    value = document[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise EmfError(f"EMF member {key!r} is {type(value).__name__}, not {kind.__name__}")
    return value


def _values(document: dict[str, Any], name: str) -> tuple[float, ...]:
    value = document.get(name)
    values: list[Any] = value if isinstance(value, list) else [value]
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not values or len(numbers) != len(values):
        raise EmfError(f"EMF metric {name!r} holds {value!r}, not a number or a list of numbers")
    return tuple(numbers)
