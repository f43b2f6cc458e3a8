"""The metric contract, proven by running the handler: what it emits is exactly what contract.py declares, and
every alarm and graph of every stage reads only metrics it emits, under exactly their dimension sets.

"Emitted" is what the handler printed as EMF in a real run on moto (the lines CloudWatch Logs turns into metrics),
over a batch that takes every path that adds a metric: plain and aggregated readings, a quarantined one, an anomaly
whose webhook fails, in a fresh execution environment (the cold start). The readers are every
``AWS::CloudWatch::Alarm`` (plain or metric math) and every graph of every dashboard in the synthesized templates of
every stage, in any namespace that is not AWS's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.metrics.provider import cold_start

from services.iot_processor.contract import DECLARED_METRICS, METRICS_NAMESPACE, Metric, per_service_dimensions
from services.iot_processor.tests.harness import REGION, Aws, invoke, reading
from shared.metrics.emf import EmbeddedMetric, metrics_in_output
from shared.synthetic.kinesis_events import kinesis_event
from shared.synthetic.kpl import kpl_record

ANOMALY = 130
FAILING_WEBHOOK = {"url": "https://127.0.0.1:0/alerts", "token": "t"}  # port 0: the connection fails at once
TOKEN = re.compile(r"\$\{[^}]+\}")  # a reference CloudFormation resolves at deploy time
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\}[^']*MetricName=\\?\"([^\"\\]+)\\?\"")


@dataclass(frozen=True, kw_only=True)
class Reader:
    """A metric an alarm or a graph reads: dimension values that CloudFormation resolves are None."""

    where: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str | None], ...]

    def reads(self, emitted: EmbeddedMetric) -> bool:
        if (emitted.namespace, emitted.name, emitted.dimension_names) != (
            self.namespace,
            self.name,
            frozenset(name for name, _ in self.dimensions),
        ):
            return False
        values = dict(emitted.dimensions)
        return all(value is None or values[name] == value for name, value in self.dimensions)

    def __str__(self) -> str:
        dimensions = ", ".join(f"{name}={value or '<resolved at deploy>'}" for name, value in self.dimensions)
        return f"{self.where} reads {self.namespace} {self.name} {{{dimensions}}}"


@pytest.fixture
def emitted(aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> list[EmbeddedMetric]:
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="webhook", SecretString=json.dumps(FAILING_WEBHOOK)
    )
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", secret["ARN"])
    monkeypatch.setattr(cold_start, "is_cold_start", True)  # a new execution environment
    capsys.readouterr()
    aggregate = kpl_record([("agg-1", reading(sensor_id="agg-1")), ("agg-2", reading(sensor_id="agg-2"))])
    invoke(kinesis_event([reading(), reading(sensor_id="hot", value=ANOMALY), b"{broken", aggregate]))
    return metrics_in_output(capsys.readouterr().out)


def test_the_handler_emits_exactly_the_declared_metrics(emitted: list[EmbeddedMetric]) -> None:
    found = {(m.namespace, m.name, m.unit, m.dimension_names) for m in emitted}
    declared = {
        (METRICS_NAMESPACE, str(d.name), d.unit, frozenset(str(n) for n in d.dimensions))
        for d in DECLARED_METRICS.values()
    }
    assert found == declared, (
        f"emitted but not declared: {sorted(found - declared, key=str)}; "
        f"declared but not emitted: {sorted(declared - found, key=str)}"
    )


def test_every_alarm_and_graph_of_every_stage_reads_a_metric_the_handler_emits(
    emitted: list[EmbeddedMetric], stage_templates: dict[str, dict[str, dict[str, Any]]]
) -> None:
    readers = {stage: list(custom_readers(templates)) for stage, templates in stage_templates.items()}
    assert sorted(readers) == ["assembly-IotPipeline-Dev", "assembly-IotPipeline-Prod", "assembly-IotPipeline-Staging"]
    assert all(readers.values()), readers  # every stage reads the processor's metrics
    unread = [
        f"{stage}: {reader}" for stage, found in readers.items() for reader in found if not _emitted(reader, emitted)
    ]
    assert not unread, "\n".join(
        [*unread, "the handler emitted:", *sorted({f"  {m.namespace} {m.name} {dict(m.dimensions)}" for m in emitted})]
    )


def _emitted(reader: Reader, emitted: list[EmbeddedMetric]) -> bool:
    return any(reader.reads(metric) for metric in emitted)


@pytest.fixture
def stage_templates(app: object, assembly_dir: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Stage assembly -> stack template file -> template, for every stage of the synthesized app."""
    stages = {
        directory.name: {path.name: json.loads(path.read_text()) for path in sorted(directory.glob("*.template.json"))}
        for directory in sorted(assembly_dir.glob("assembly-*"))
        if directory.is_dir()
    }
    return {name: templates for name, templates in stages.items() if templates}


def custom_readers(templates: dict[str, dict[str, Any]]) -> Iterator[Reader]:
    """Every metric outside AWS's namespaces that an alarm or a dashboard graph of these stacks reads."""
    for stack, template in templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            properties = resource.get("Properties", {})
            where = f"{stack} {logical_id}"
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                yield from _alarm_readers(f"{where} ({properties.get('AlarmName')})", properties)
            elif resource["Type"] == "AWS::CloudWatch::Dashboard":
                yield from _dashboard_readers(where, properties["DashboardBody"])


def _custom(reader: Reader) -> Iterator[Reader]:
    if not reader.namespace.startswith("AWS/"):
        yield reader


def _alarm_readers(where: str, alarm: dict[str, Any]) -> Iterator[Reader]:
    stats = [query["MetricStat"]["Metric"] for query in alarm.get("Metrics", []) if "MetricStat" in query]
    plain = [alarm] if "MetricName" in alarm else []
    for metric in [*plain, *stats]:
        dimensions = tuple(
            (d["Name"], d["Value"] if isinstance(d["Value"], str) else None) for d in metric.get("Dimensions", [])
        )
        yield from _custom(
            Reader(where=where, namespace=metric["Namespace"], name=metric["MetricName"], dimensions=dimensions)
        )


def _dashboard_readers(where: str, body: Any) -> Iterator[Reader]:
    text = "".join(part if isinstance(part, str) else "${token}" for part in body["Fn::Join"][1])
    for widget in json.loads(text)["widgets"]:
        title = f"{where} widget {widget['properties'].get('title')!r}"
        for line in widget["properties"].get("metrics", []):
            if isinstance(line[0], dict):  # a metric-math expression; SEARCH names what it reads
                for namespace_and_keys, name in SEARCH.findall(line[0].get("expression", "")):
                    namespace, *keys = [part.strip() for part in namespace_and_keys.split(",")]
                    yield from _custom(
                        Reader(where=title, namespace=namespace, name=name, dimensions=tuple((k, None) for k in keys))
                    )
                continue
            fields = [field for field in line if not isinstance(field, dict)]
            pairs = zip(fields[2::2], fields[3::2], strict=True)
            dimensions = tuple((name, None if TOKEN.search(value) else value) for name, value in pairs)
            yield from _custom(Reader(where=title, namespace=fields[0], name=fields[1], dimensions=dimensions))


@pytest.mark.parametrize(
    ("readers", "passes"),
    [
        (
            [Reader(where="a", namespace="IotPlatform", name="ReadingsFailed", dimensions=(("service", "processor"),))],
            True,
        ),
        ([Reader(where="a", namespace="IotPlatform", name="ReadingsFailed", dimensions=(("service", None),))], True),
        (
            [Reader(where="a", namespace="IotPlatform", name="ReadingsFailed", dimensions=(("service", "ingest"),))],
            False,
        ),
        ([Reader(where="a", namespace="IotPlatform", name="ReadingsFailed", dimensions=())], False),
        (
            [Reader(where="a", namespace="IotPlatfrom", name="ReadingsFailed", dimensions=(("service", "processor"),))],
            False,
        ),
        (
            [Reader(where="a", namespace="IotPlatform", name="ReadingsLost", dimensions=(("service", "processor"),))],
            False,
        ),
        (
            [
                Reader(
                    where="a",
                    namespace="IotPlatform",
                    name="ReadingsFailed",
                    dimensions=(("service", "processor"), ("stage", "dev")),
                )
            ],
            False,
        ),
    ],
)
def test_a_reader_matches_only_the_exact_namespace_name_and_dimension_set(
    emitted: list[EmbeddedMetric], readers: list[Reader], passes: bool
) -> None:
    assert all(_emitted(reader, emitted) for reader in readers) is passes


def _template(alarm: dict[str, Any] | None = None, dashboard: list[Any] | None = None) -> dict[str, dict[str, Any]]:
    resources: dict[str, Any] = {}
    if alarm is not None:
        resources["Alarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": alarm}
    if dashboard is not None:
        body = {
            "Fn::Join": ["", ['{"widgets": [{"properties": {"title": "t", "metrics": ', json.dumps(dashboard), "}}]}"]]
        }
        resources["Dashboard"] = {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": body}}
    return {"stack.template.json": {"Resources": resources}}


Case = Callable[[], dict[str, dict[str, Any]]]


@pytest.mark.parametrize(
    ("templates", "expected"),
    [
        (
            lambda: _template(
                {"Namespace": "IotPlatform", "MetricName": "M", "Dimensions": [{"Name": "service", "Value": "p"}]}
            ),
            [("IotPlatform", "M", (("service", "p"),))],
        ),
        (
            lambda: _template(
                {
                    "Metrics": [
                        {"Id": "e", "Expression": "a / b"},
                        {"Id": "a", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "A"}}},
                        {
                            "Id": "b",
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": "AWS/Lambda",
                                    "MetricName": "B",
                                    "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "F"}}],
                                }
                            },
                        },
                    ]
                }
            ),
            [("N", "A", ())],
        ),
        (
            lambda: _template(
                dashboard=[
                    ["N", "A", "service", "p", {"stat": "Sum"}],
                    ["AWS/Kinesis", "IncomingRecords", "StreamName", "s"],
                    [{"expression": "SEARCH('{N,service} MetricName=\"B\"', 'Sum', 60)", "id": "e"}],
                    [{"expression": "SEARCH('{AWS/DynamoDB,TableName} MetricName=\"C\"', 'Sum', 60)", "id": "f"}],
                    ["N", "D", "FunctionName", "${Ref:X}"],
                ]
            ),
            [("N", "A", (("service", "p"),)), ("N", "B", (("service", None),)), ("N", "D", (("FunctionName", None),))],
        ),
    ],
)
def test_the_readers_are_found_in_alarms_math_and_graphs_outside_aws_namespaces(
    templates: Case, expected: list[tuple[str, str, tuple[tuple[str, str | None], ...]]]
) -> None:
    assert [(r.namespace, r.name, r.dimensions) for r in custom_readers(templates())] == expected


def test_the_dimensions_of_a_metric_per_service_are_the_service_alone() -> None:
    assert per_service_dimensions(Metric.READINGS_FAILED) == {"service": "processor"}
    with pytest.raises(ValueError, match="ColdStart carries \\['function_name', 'service'\\], not the service"):
        per_service_dimensions(Metric.COLD_START)
