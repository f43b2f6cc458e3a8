"""The observability stack of every stage, setting by setting, read from the synthesized templates.

Expected values are written out here (not imported from infra/), so a changed metric, period or threshold
source fails a test instead of moving both sides at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import pytest

from services.observability.config import ObservabilityConfig
from services.observability.infra.alarms import _capacity_specs
from services.observability.infra.stack import ObservabilityStack
from services.observability.tests.stacks import (
    FIREHOSE_BUFFER_SECONDS,
    MONTHLY_BUDGET_USD,
    WRITE_CEILINGS,
    synthesize_observability,
)
from shared.repository import REPO_ROOT
from shared.testing.service_stacks import ServiceTemplate
from shared.testing.templates import ref

pytestmark = pytest.mark.synth  # synthesizes stacks or the Lambda asset: not in `make unit`

STAGE_NAMES = ("dev", "staging", "prod")
# Every value the other stacks of a stage publish that the dashboard has to watch.
WATCHED_PARAMETERS = (
    "ingest/stream-name",
    "ingest/function-name",
    "ingest/table-name",
    "ingest/processed-bucket-name",
    "ingest/failure-bucket-name",
    "archive/delivery-stream-name",
    "archive/raw-bucket-name",
    "ingest/event-source-mapping-id",
)


@dataclass(frozen=True)
class ExpectedAlarm:
    symptom: str
    namespace: str
    metric_name: str
    statistic: str
    dimension: tuple[str, str]  # (dimension name, SSM parameter under /iot/<stage>/) or a literal for EMF metrics
    threshold: Callable[[ObservabilityConfig], float]
    comparison: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int | None = None


EXPECTED_ALARMS = (
    ExpectedAlarm(
        "processor-iterator-age",
        "AWS/Lambda",
        "IteratorAge",
        "Maximum",
        ("FunctionName", "ingest/function-name"),
        lambda c: c.iterator_age_threshold_seconds * 1000,
        "GreaterThanThreshold",
        period=60,
        evaluation_periods=5,
        datapoints_to_alarm=3,
    ),
    ExpectedAlarm(
        "processor-errors",
        "AWS/Lambda",
        "Errors",
        "Sum",
        ("FunctionName", "ingest/function-name"),
        lambda c: c.error_threshold,
        "GreaterThanOrEqualToThreshold",
        period=300,
        evaluation_periods=1,
    ),
    ExpectedAlarm(
        "processor-throttles",
        "AWS/Lambda",
        "Throttles",
        "Sum",
        ("FunctionName", "ingest/function-name"),
        lambda c: c.throttle_threshold,
        "GreaterThanOrEqualToThreshold",
        period=300,
        evaluation_periods=1,
    ),
    ExpectedAlarm(
        "processor-readings-failed",
        "IotPlatform",
        "ReadingsFailed",
        "Sum",
        ("service", "processor"),
        lambda c: 0,
        "GreaterThanThreshold",
        period=300,
        evaluation_periods=1,
    ),
    ExpectedAlarm(
        "mapping-dropped-events",
        "AWS/Lambda",
        "DroppedEventCount",
        "Sum",
        ("EventSourceMappingUUID", "ingest/event-source-mapping-id"),
        lambda c: 1,
        "GreaterThanOrEqualToThreshold",
        period=300,
        evaluation_periods=1,
    ),
    ExpectedAlarm(
        "stream-write-throttles",
        "AWS/Kinesis",
        "WriteProvisionedThroughputExceeded",
        "Sum",
        ("StreamName", "ingest/stream-name"),
        lambda c: c.throttle_threshold,
        "GreaterThanOrEqualToThreshold",
        period=300,
        evaluation_periods=1,
    ),
    ExpectedAlarm(
        "archive-freshness",
        "AWS/Firehose",
        "DeliveryToS3.DataFreshness",
        "Maximum",
        ("DeliveryStreamName", "archive/delivery-stream-name"),
        lambda c: FIREHOSE_BUFFER_SECONDS + c.freshness_margin_seconds,
        "GreaterThanThreshold",
        period=300,
        evaluation_periods=1,
    ),
)
QUARANTINE_SHARE = "processor-quarantine-share"
TABLE_THROTTLES = "table-write-throttles"
AT_CEILING = {"table-write-capacity-at-max": WRITE_CEILINGS.table, "index-write-capacity-at-max": WRITE_CEILINGS.index}
INGEST_SILENT = "ingest-silent"  # only where the stage expects traffic: prod in the committed config
COMPOSITE = "data-path-unhealthy"
ALL_SYMPTOMS = (
    *(a.symptom for a in EXPECTED_ALARMS),
    QUARANTINE_SHARE,
    TABLE_THROTTLES,
    *AT_CEILING,
    INGEST_SILENT,
    COMPOSITE,
)


class ObservabilityTemplate(ServiceTemplate[ObservabilityConfig, ObservabilityStack]):
    """The synthesized observability stack of one stage."""

    def name(self, symptom: str) -> str:
        return f"iot-{self.environment.name}-{symptom}"

    def parameter(self, path: str) -> dict[str, str]:
        """The reference to the template parameter that reads ``/iot/<this stage>/<path>`` from SSM."""
        wanted = f"/iot/{self.environment.name}/{path}"
        found = [
            logical_id
            for logical_id, parameter in self.body["Parameters"].items()
            if parameter.get("Default") == wanted and parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
        ]
        assert len(found) == 1, f"{self.environment.name}: no single template parameter for {wanted}: {found}"
        return ref(found[0])

    @cached_property
    def ssm_parameters(self) -> dict[str, str]:
        """Logical id -> SSM parameter name of every SSM-backed template parameter."""
        return {
            logical_id: parameter["Default"]
            for logical_id, parameter in self.body["Parameters"].items()
            if parameter["Type"] == "AWS::SSM::Parameter::Value<String>" and logical_id != "BootstrapVersion"
        }

    @cached_property
    def topic(self) -> str:
        value = self.body["Outputs"]["OpsTopicArn"]["Value"]
        assert self.body["Resources"][value["Ref"]]["Type"] == "AWS::SNS::Topic"
        return str(value["Ref"])

    @cached_property
    def alarms(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Alarm name -> (logical id, properties), metric and composite alarms alike."""
        found = {**self.of_type("AWS::CloudWatch::Alarm"), **self.of_type("AWS::CloudWatch::CompositeAlarm")}
        return {r["Properties"]["AlarmName"]: (logical_id, r["Properties"]) for logical_id, r in found.items()}

    def alarm(self, symptom: str) -> dict[str, Any]:
        assert self.name(symptom) in self.alarms, f"no alarm {self.name(symptom)}: {sorted(self.alarms)}"
        return self.alarms[self.name(symptom)][1]

    @cached_property
    def dashboard(self) -> str:
        (logical_id,) = self.of_type("AWS::CloudWatch::Dashboard")
        return logical_id

    def dashboard_body(self) -> tuple[str, dict[str, Any]]:
        """The dashboard body as JSON text with each reference written ``${Ref:<id>}`` / ``${GetAtt:<id>}``, parsed."""
        parts = self.props(self.dashboard)["DashboardBody"]["Fn::Join"]
        assert parts[0] == ""
        text = "".join(_placeholder(part) for part in parts[1])
        return text, json.loads(text)


def _placeholder(part: Any) -> str:
    if isinstance(part, str):
        return part
    if set(part) == {"Ref"}:
        return f"${{Ref:{part['Ref']}}}"
    if set(part) == {"Fn::GetAtt"}:
        return f"${{GetAtt:{part['Fn::GetAtt'][0]}}}"
    raise AssertionError(f"unexpected intrinsic in the dashboard body: {part}")


def _dashboard_metrics(widgets: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(namespace, metric name) of every plain metric line of every graph."""
    for widget in widgets:
        for line in widget["properties"].get("metrics", []):
            if isinstance(line[0], str):
                yield line[0], line[1]


@pytest.fixture(scope="module")
def observability_templates() -> dict[str, ObservabilityTemplate]:
    templates = {name: ObservabilityTemplate(service) for name, service in synthesize_observability().items()}
    assert tuple(templates) == STAGE_NAMES
    return templates


@pytest.fixture(params=STAGE_NAMES)
def obs(
    request: pytest.FixtureRequest, observability_templates: dict[str, ObservabilityTemplate]
) -> ObservabilityTemplate:
    return observability_templates[request.param]


# --- alarms ---------------------------------------------------------------------------------------------------------


def test_the_stack_has_exactly_the_expected_alarms(obs: ObservabilityTemplate) -> None:
    expected = [s for s in ALL_SYMPTOMS if s != INGEST_SILENT or obs.config.ingest_silence_minutes is not None]
    assert sorted(obs.alarms) == sorted(obs.name(symptom) for symptom in expected)
    assert (obs.name(INGEST_SILENT) in obs.alarms) is (obs.environment.name == "prod")


def test_the_ingest_silent_alarm_fires_on_no_record_for_the_configured_time(
    observability_templates: dict[str, ObservabilityTemplate],
) -> None:
    prod = observability_templates["prod"]
    alarm = prod.alarm(INGEST_SILENT)
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Kinesis", "IncomingRecords", "Sum")
    assert alarm["Dimensions"] == [{"Name": "StreamName", "Value": prod.parameter("ingest/stream-name")}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "LessThanThreshold")
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (15 * 60, 1)
    assert alarm["TreatMissingData"] == "breaching"  # no datapoint is the silence itself
    assert alarm["AlarmActions"] == [ref(prod.topic)]


@pytest.mark.parametrize("expected", EXPECTED_ALARMS, ids=lambda e: e.symptom)
def test_alarm_metric_threshold_period_and_actions(obs: ObservabilityTemplate, expected: ExpectedAlarm) -> None:
    alarm = obs.alarm(expected.symptom)
    dimension_name, source = expected.dimension
    dimension_value = obs.parameter(source) if "/" in source else source
    assert alarm["Namespace"] == expected.namespace
    assert alarm["MetricName"] == expected.metric_name
    assert alarm["Statistic"] == expected.statistic
    assert alarm["Dimensions"] == [{"Name": dimension_name, "Value": dimension_value}]
    assert alarm["Threshold"] == expected.threshold(obs.config)
    assert alarm["ComparisonOperator"] == expected.comparison
    assert alarm["Period"] == expected.period
    assert alarm["EvaluationPeriods"] == expected.evaluation_periods
    assert alarm.get("DatapointsToAlarm") == expected.datapoints_to_alarm
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [ref(obs.topic)]
    assert alarm["OKActions"] == [ref(obs.topic)]


def test_thresholds_follow_each_stages_config(observability_templates: dict[str, ObservabilityTemplate]) -> None:
    """The committed config gives prod a tighter iterator age than dev (the Firehose buffer is the archive's:
    tests/test_stage.py checks the stage passes it)."""
    dev, prod = observability_templates["dev"], observability_templates["prod"]
    assert dev.alarm("processor-iterator-age")["Threshold"] == 300_000
    assert prod.alarm("processor-iterator-age")["Threshold"] == 120_000
    assert dev.alarm("archive-freshness")["Threshold"] == FIREHOSE_BUFFER_SECONDS + 300


def test_quarantine_share_alarm_divides_quarantined_by_received(obs: ObservabilityTemplate) -> None:
    alarm = obs.alarm(QUARANTINE_SHARE)
    assert "MetricName" not in alarm  # a metric-math alarm
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    (expression,) = [q for q in queries.values() if "Expression" in q]
    assert expression["ReturnData"] is True
    assert re.fullmatch(r"IF\(received > 0, quarantined / received, 0\)", expression["Expression"])
    for query_id, metric_name in (("quarantined", "ReadingsQuarantined"), ("received", "ReadingsReceived")):
        assert queries[query_id]["ReturnData"] is False
        assert queries[query_id]["MetricStat"] == {
            "Metric": {
                "Namespace": "IotPlatform",
                "MetricName": metric_name,
                "Dimensions": [{"Name": "service", "Value": "processor"}],
            },
            "Period": 300,
            "Stat": "Sum",
        }
    assert alarm["Threshold"] == obs.config.quarantine_share_threshold
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["EvaluationPeriods"] == 3
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [ref(obs.topic)]
    assert alarm["OKActions"] == [ref(obs.topic)]


def test_table_write_throttles_pages_only_when_the_table_or_its_index_throttle_for_5_minutes(
    obs: ObservabilityTemplate,
) -> None:
    alarm = obs.alarm(TABLE_THROTTLES)
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    (expression,) = [query for query in queries.values() if "Expression" in query]
    # An alarm on an AWS/DynamoDB metric ignores missing data whatever it asks for: unfilled, it would stay in ALARM
    # after the last throttled write.
    assert expression["Expression"] == "FILL(table, 0) + FILL(index, 0)"
    assert expression["ReturnData"] is True
    assert all(queries[query_id]["ReturnData"] is False for query_id in ("table", "index"))
    table = obs.parameter("ingest/table-name")
    for query_id, dimensions in (
        ("table", [{"Name": "TableName", "Value": table}]),
        (
            "index",
            [{"Name": "GlobalSecondaryIndexName", "Value": "anomalies_by_type"}, {"Name": "TableName", "Value": table}],
        ),
    ):
        metric = queries[query_id]["MetricStat"]
        assert metric["Metric"]["MetricName"] == "WriteThrottleEvents"
        assert sorted(metric["Metric"]["Dimensions"], key=lambda d: d["Name"]) == dimensions
        assert (metric["Period"], metric["Stat"]) == (60, "Sum")
    assert alarm["Threshold"] == obs.config.throttle_threshold
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == 5
    assert "DatapointsToAlarm" not in alarm  # every one of the 5 minutes
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("symptom", sorted(AT_CEILING))
def test_auto_scaling_at_its_ceiling_for_15_minutes_is_an_alarm(obs: ObservabilityTemplate, symptom: str) -> None:
    alarm = obs.alarm(symptom)
    dimensions: list[dict[str, Any]] = [{"Name": "TableName", "Value": obs.parameter("ingest/table-name")}]
    if symptom.startswith("index"):
        dimensions.append({"Name": "GlobalSecondaryIndexName", "Value": "anomalies_by_type"})
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/DynamoDB",
        "ProvisionedWriteCapacityUnits",
        "Maximum",
    )
    assert sorted(alarm["Dimensions"], key=lambda d: str(d["Name"])) == sorted(dimensions, key=lambda d: str(d["Name"]))
    assert alarm["Threshold"] == AT_CEILING[symptom]
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (300, 3)


def test_an_on_demand_table_has_no_ceiling_to_watch() -> None:
    assert _capacity_specs(cast(Any, None), None) == []


def test_composite_alarm_fires_on_any_alarm_and_notifies_the_ops_topic(obs: ObservabilityTemplate) -> None:
    composite = obs.alarm(COMPOSITE)
    parts = composite["AlarmRule"]["Fn::Join"][1]
    referenced = [part["Fn::GetAtt"][0] for part in parts if isinstance(part, dict)]
    members = sorted(logical_id for name, (logical_id, _) in obs.alarms.items() if name != obs.name(COMPOSITE))
    assert sorted(referenced) == members
    assert len(members) == len([s for s in ALL_SYMPTOMS if obs.name(s) in obs.alarms]) - 1
    text = "".join(part if isinstance(part, str) else "X" for part in parts)
    assert text == "(" + " OR ".join('ALARM("X")' for _ in members) + ")"
    assert composite["AlarmActions"] == [ref(obs.topic)]
    assert composite["OKActions"] == [ref(obs.topic)]
    assert obs.body["Outputs"]["CompositeAlarmName"]["Value"] == ref(obs.alarms[obs.name(COMPOSITE)][0])


def test_every_alarm_points_at_its_runbook_section(obs: ObservabilityTemplate) -> None:
    headings = set(re.findall(r"^## (\S+)$", (REPO_ROOT / "docs" / "runbooks.md").read_text(), re.MULTILINE))
    for symptom in (s for s in ALL_SYMPTOMS if obs.name(s) in obs.alarms):
        assert obs.alarm(symptom)["AlarmDescription"].endswith(f"Runbook: docs/runbooks.md#{symptom}")
        assert symptom in headings, f"docs/runbooks.md has no section '## {symptom}'"


def test_readme_lists_every_alarm() -> None:
    readme = (REPO_ROOT / "services" / "observability" / "README.md").read_text()
    for symptom in ALL_SYMPTOMS:
        assert f"`iot-<stage>-{symptom}`" in readme


# --- dashboard ------------------------------------------------------------------------------------------------------


def test_dashboard_watches_exactly_this_stages_resources(obs: ObservabilityTemplate) -> None:
    text, _ = obs.dashboard_body()
    referenced = {obs.ssm_parameters[m] for m in re.findall(r"\$\{Ref:([^}]+)\}", text) if m in obs.ssm_parameters}
    assert referenced == {f"/iot/{obs.environment.name}/{path}" for path in WATCHED_PARAMETERS}
    other_stages = [name for name in STAGE_NAMES if name != obs.environment.name]
    assert not [name for name in obs.ssm_parameters.values() if name.split("/")[2] in other_stages]
    assert obs.body["Outputs"]["DashboardName"]["Value"] == ref(obs.dashboard)
    assert obs.props(obs.dashboard)["DashboardName"] == f"iot-{obs.environment.name}-data-path"


def test_dashboard_graphs_the_data_path_metrics(obs: ObservabilityTemplate) -> None:
    _, body = obs.dashboard_body()
    graphed = set(_dashboard_metrics(body["widgets"]))
    expected = {
        ("AWS/Kinesis", name)
        for name in (
            "IncomingRecords",
            "IncomingBytes",
            "WriteProvisionedThroughputExceeded",
            "ReadProvisionedThroughputExceeded",
            "GetRecords.IteratorAgeMilliseconds",
        )
    }
    expected |= {
        ("AWS/Lambda", name)
        for name in ("Invocations", "Errors", "Duration", "ConcurrentExecutions", "Throttles", "IteratorAge")
    }
    expected |= {
        ("IotPlatform", name)
        for name in (
            "ReadingsReceived",
            "ReadingsStored",
            "ReadingsQuarantined",
            "AnomaliesDetected",
            "ReadingsFailed",
            "BatchDuration",
        )
    }
    expected |= {("AWS/DynamoDB", name) for name in ("ConsumedWriteCapacityUnits", "WriteThrottleEvents")}
    expected |= {
        ("AWS/Firehose", name)
        for name in ("DeliveryToS3.DataFreshness", "DeliveryToS3.Success", "DeliveryToS3.Records")
    }
    expected |= {("AWS/S3", "BucketSizeBytes"), ("AWS/S3", "NumberOfObjects")}
    expected |= {
        ("AWS/Lambda", name)
        for name in (
            "PolledEventCount",
            "InvokedEventCount",
            "OnFailureDestinationDeliveredEventCount",
            "DroppedEventCount",
        )
    }
    assert expected <= graphed, sorted(expected - graphed)


def test_dashboard_shows_duration_percentiles_system_errors_and_bucket_growth(obs: ObservabilityTemplate) -> None:
    text, body = obs.dashboard_body()
    duration_stats = {
        line[-1]["stat"]
        for widget in body["widgets"]
        for line in widget["properties"].get("metrics", [])
        if line[:2] == ["AWS/Lambda", "Duration"]
    }
    assert duration_stats == {"p50", "p99"}
    table = obs.parameter("ingest/table-name")["Ref"]
    assert f'MetricName=\\"SystemErrors\\" TableName=\\"${{Ref:{table}}}\\"' in text
    storage_buckets = {
        line[3] for widget in body["widgets"] for line in widget["properties"].get("metrics", []) if line[0] == "AWS/S3"
    }
    assert storage_buckets == {
        f"${{Ref:{obs.parameter(path)['Ref']}}}"
        for path in ("ingest/failure-bucket-name", "ingest/processed-bucket-name", "archive/raw-bucket-name")
    }


GRAPHED_ALARMS = {
    "Incoming records and bytes": [INGEST_SILENT],
    "Throttled writes and reads": ["stream-write-throttles"],
    "Iterator age (ms)": ["processor-iterator-age"],
    "Invocations, errors, throttles": ["processor-errors", "processor-throttles"],
    "Readings": ["processor-readings-failed"],
    "Quarantine share": [QUARANTINE_SHARE],
    "Write throttle events": [TABLE_THROTTLES],
    "Write capacity (WCU/s): consumed and provisioned": sorted(AT_CEILING),
    "Data freshness (s)": ["archive-freshness"],
    "Events polled and invoked; to the failure bucket and dropped": ["mapping-dropped-events"],
}


def test_each_alarm_is_a_threshold_line_on_the_graph_of_what_it_watches(obs: ObservabilityTemplate) -> None:
    _, body = obs.dashboard_body()
    lines = {
        widget["properties"]["title"]: sorted(
            line["value"] for line in widget["properties"].get("annotations", {}).get("horizontal", [])
        )
        for widget in body["widgets"]
        if widget["type"] == "metric"
    }
    expected = {
        title: sorted(obs.alarm(s)["Threshold"] for s in symptoms if obs.name(s) in obs.alarms)
        for title, symptoms in GRAPHED_ALARMS.items()
    }
    assert {title: lines[title] for title in expected} == expected
    assert not [title for title, values in lines.items() if values and title not in expected]
    graphed = {s for symptoms in GRAPHED_ALARMS.values() for s in symptoms}
    assert graphed == {s for s in ALL_SYMPTOMS if s != COMPOSITE}


def test_dashboard_alarm_status_shows_every_alarm(obs: ObservabilityTemplate) -> None:
    _, body = obs.dashboard_body()
    (status,) = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    shown = sorted(arn.removeprefix("${GetAtt:").removesuffix("}") for arn in status["properties"]["alarms"])
    assert shown == sorted(logical_id for logical_id, _ in obs.alarms.values())


# --- ops topic ------------------------------------------------------------------------------------------------------


def test_ops_topic_is_encrypted_with_a_rotating_key(obs: ObservabilityTemplate) -> None:
    key_arn = obs.props(obs.topic)["KmsMasterKeyId"]
    key = key_arn["Fn::GetAtt"][0]
    assert key_arn == {"Fn::GetAtt": [key, "Arn"]}
    assert obs.body["Resources"][key]["Type"] == "AWS::KMS::Key"
    assert obs.props(key)["EnableKeyRotation"] is True
    obs.template.resource_count_is("AWS::SNS::Subscription", len(obs.config.ops_emails))


def test_every_kms_key_rotates(obs: ObservabilityTemplate) -> None:
    keys = obs.of_type("AWS::KMS::Key")
    assert len(keys) == 1
    assert {name: key["Properties"].get("EnableKeyRotation") for name, key in keys.items()} == dict.fromkeys(keys, True)


@pytest.mark.parametrize(
    ("service", "source_arn"),
    [
        ("cloudwatch.amazonaws.com", "arn:aws:cloudwatch:{region}:{account}:alarm:iot-{stage}-*"),
        ("budgets.amazonaws.com", "arn:aws:budgets::{account}:*"),
    ],
)
def test_publishing_services_may_publish_and_use_the_key(
    obs: ObservabilityTemplate, service: str, source_arn: str
) -> None:
    environment = obs.environment
    conditions = {
        "StringEquals": {"aws:SourceAccount": environment.account},
        "ArnLike": {
            "aws:SourceArn": source_arn.format(
                region=environment.region, account=environment.account, stage=environment.name
            )
        },
    }
    key = obs.props(obs.topic)["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key_statements = [s for s in obs.props(key)["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": service}]
    assert len(key_statements) == 1
    assert key_statements[0]["Effect"] == "Allow"
    assert sorted(key_statements[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert key_statements[0]["Condition"] == conditions
    (policy,) = obs.of_type("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [ref(obs.topic)]
    topic_statements = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Principal"] == {"Service": service}
    ]
    assert len(topic_statements) == 1
    assert topic_statements[0]["Effect"] == "Allow"
    assert topic_statements[0]["Action"] == "sns:Publish"
    assert topic_statements[0]["Resource"] == ref(obs.topic)
    assert topic_statements[0]["Condition"] == conditions


def test_configured_ops_emails_each_get_one_email_subscription() -> None:
    """The committed config has no addresses; an override shows each one becomes a subscription (one more synth)."""
    overrides = {"iot.stages.staging.observability.opsEmails": "a@example.com,b@example.com"}
    template = synthesize_observability(overrides, only="staging")["staging"].template
    topic = template.to_json()["Outputs"]["OpsTopicArn"]["Value"]
    template.resource_count_is("AWS::SNS::Subscription", 2)
    for address in ("a@example.com", "b@example.com"):
        template.has_resource_properties(
            "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": address, "TopicArn": topic}
        )


# --- budget ---------------------------------------------------------------------------------------------------------


def test_budget_amount_and_notifications_come_from_config(obs: ObservabilityTemplate) -> None:
    watch = obs.config
    (budget,) = obs.of_type("AWS::Budgets::Budget").values()
    props = budget["Properties"]
    assert props["Budget"] == {
        "BudgetName": f"iot-{obs.environment.name}-monthly-cost",
        "BudgetType": "COST",
        "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": MONTHLY_BUDGET_USD, "Unit": "USD"},  # the stage's cost model figure: test_stage.py
    }
    notifications = props["NotificationsWithSubscribers"]
    assert [n["Notification"]["Threshold"] for n in notifications] == list(watch.budget_alert_percents)
    for notification in notifications:
        assert notification["Notification"] == {
            "NotificationType": "ACTUAL",
            "ComparisonOperator": "GREATER_THAN",
            "ThresholdType": "PERCENTAGE",
            "Threshold": notification["Notification"]["Threshold"],
        }
        assert notification["Subscribers"] == [{"SubscriptionType": "SNS", "Address": ref(obs.topic)}]
    # Budgets checks its permission to publish when the budget is created: the policies must exist first.
    (policy,) = obs.of_type("AWS::SNS::TopicPolicy")
    assert policy in budget["DependsOn"]


# --- outputs --------------------------------------------------------------------------------------------------------


def test_outputs_name_the_topic_dashboard_and_composite_alarm(obs: ObservabilityTemplate) -> None:
    assert set(obs.body["Outputs"]) == {"OpsTopicArn", "DashboardName", "CompositeAlarmName"}
