"""The scheduled drift check of every stage, read from the synthesized observability templates: the schedule, the
function and what it is told, its role, and where its results and its failures go.

Expected values are written out here; that the read actions are the ones drift detection needs for the resource types
of the whole stage is tests/test_drift_permissions.py's to check.
"""

from __future__ import annotations

import ast
import json
from functools import cached_property
from typing import Any

import pytest

from services.observability.infra import drift_check
from services.observability.tests.stacks import synthesize_observability
from shared.repository import REPO_ROOT
from shared.testing.service_stacks import ServiceTemplate
from shared.testing.templates import Statement, arn, ref

pytestmark = pytest.mark.synth  # synthesizes stacks: not in `make unit`

STAGE_NAMES = ("dev", "staging", "prod")
SCHEDULES = {"dev": "rate(1 day)", "staging": "rate(1 day)", "prod": "cron(0 5 * * ? *)"}


class DriftCheckTemplate(ServiceTemplate[Any, Any]):
    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        """The drift check's one resource of this type: (logical id, properties)."""
        ((logical_id, resource),) = [
            (lid, r) for lid, r in self.of_type(resource_type).items() if lid.startswith("DriftCheck")
        ]
        return logical_id, resource["Properties"]

    @cached_property
    def function(self) -> str:
        return self.only("AWS::Lambda::Function")[0]

    @cached_property
    def role(self) -> str:
        return str(self.props(self.function)["Role"]["Fn::GetAtt"][0])

    @cached_property
    def statements(self) -> list[dict[str, Any]]:
        return [
            statement
            for policy in self.of_type("AWS::IAM::Policy").values()
            if ref(self.role) in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]

    def statement(self, sid: str) -> dict[str, Any]:
        (found,) = [s for s in self.statements if s.get("Sid") == sid]
        return found

    @cached_property
    def topic(self) -> str:
        return str(self.body["Outputs"]["OpsTopicArn"]["Value"]["Ref"])


@pytest.fixture(scope="module")
def templates() -> dict[str, DriftCheckTemplate]:
    return {name: DriftCheckTemplate(service) for name, service in synthesize_observability().items()}


@pytest.fixture(params=STAGE_NAMES)
def check(request: pytest.FixtureRequest, templates: dict[str, DriftCheckTemplate]) -> DriftCheckTemplate:
    return templates[request.param]


def test_the_schedule_comes_from_the_stages_config_and_invokes_the_function(check: DriftCheckTemplate) -> None:
    rule_id, rule = check.only("AWS::Events::Rule")
    assert rule["ScheduleExpression"] == SCHEDULES[check.environment.name]
    assert rule["State"] == "ENABLED"
    assert rule["Targets"] == [
        {"Arn": arn(check.function), "Id": "Target0", "RetryPolicy": {"MaximumRetryAttempts": 1}}
    ]
    _, permission = check.only("AWS::Lambda::Permission")
    assert permission == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": arn(check.function),
        "Principal": "events.amazonaws.com",
        "SourceArn": arn(rule_id),
    }


def test_an_overridden_schedule_reaches_the_rule() -> None:
    overrides = {"iot.stages.staging.observability.drift.schedule": "rate(6 hours)"}
    template = synthesize_observability(overrides, only="staging")["staging"].template
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(6 hours)"})


def test_the_function_is_told_the_stages_stacks_topic_and_rules(check: DriftCheckTemplate) -> None:
    stage = check.environment.name
    variables = check.props(check.function)["Environment"]["Variables"]
    assert variables["STAGE_NAME"] == stage
    assert variables["STACK_NAMES"] == f"iot-{stage}-ingest,iot-{stage}-archive,iot-{stage}-observability"
    assert variables["TOPIC_ARN"] == ref(check.topic)
    rules = json.loads(variables["IGNORE_RULES"])
    expected = (
        [
            {"resourceType": "AWS::DynamoDB::Table", "propertyPath": "*/WarmThroughput/*"},
            {"resourceType": "AWS::DynamoDB::Table", "propertyPath": "*/ProvisionedThroughput/*"},
        ]
        if stage == "prod"
        else []
    )
    assert [{k: rule[k] for k in ("resourceType", "propertyPath")} for rule in rules] == expected


def test_the_function_runs_one_check_at_a_time_with_time_for_three_detections(check: DriftCheckTemplate) -> None:
    props = check.props(check.function)
    assert props["Handler"] == "services.observability.runtime.drift_handler.lambda_handler"
    assert props["Runtime"] == "python3.14"
    assert props["ReservedConcurrentExecutions"] == 1
    assert props["Timeout"] == 14 * 60
    assert props["TracingConfig"] == {"Mode": "Active"}


def test_a_failed_invocation_reaches_the_ops_topic_after_one_retry(check: DriftCheckTemplate) -> None:
    _, config = check.only("AWS::Lambda::EventInvokeConfig")
    assert config["FunctionName"] == ref(check.function)
    assert config["MaximumRetryAttempts"] == 1
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": ref(check.topic)}}


def test_the_role_may_detect_drift_on_the_stages_stacks_and_no_other(check: DriftCheckTemplate) -> None:
    environment = check.environment
    detect = check.statement("DetectDriftOfTheStagesStacks")
    assert sorted(detect["Action"]) == [
        "cloudformation:DescribeStackResourceDrifts",
        "cloudformation:DescribeStacks",
        "cloudformation:DetectStackDrift",
        "cloudformation:DetectStackResourceDrift",
        "cloudformation:ListStackResources",
    ]
    assert sorted(detect["Resource"]) == sorted(
        f"arn:aws:cloudformation:{environment.region}:{environment.account}:stack/iot-{environment.name}-{service}/*"
        for service in ("ingest", "archive", "observability")
    )
    assert check.statement("FollowTheDetections")["Action"] == "cloudformation:DescribeStackDriftDetectionStatus"
    cloudformation = [s for s in check.statements if "cloudformation:" in json.dumps(s["Action"])]
    assert len(cloudformation) == 2


def test_the_role_reads_configuration_only(check: DriftCheckTemplate) -> None:
    read = check.statement("ReadTheStacksResourcesConfiguration")
    actions = read["Action"]
    assert actions == sorted(set(actions))
    assert not [action for action in actions if "*" in action]
    for forbidden in (
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        "s3:GetObject",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "kinesis:GetRecords",
        "lakeformation:GetDataAccess",
        "iam:PassRole",
    ):
        assert not any(Statement.of(s).grants(forbidden, "*") for s in check.statements), forbidden
    assert not [
        action for action in actions if not action.split(":")[1].startswith(("Get", "Describe", "List", "View"))
    ]


def test_the_role_publishes_only_to_the_ops_topic_and_writes_only_its_own_logs(check: DriftCheckTemplate) -> None:
    publish = [s for s in check.statements if s["Action"] == "sns:Publish"]
    assert [s["Resource"] for s in publish] == [ref(check.topic)]
    key = check.props(check.topic)["KmsMasterKeyId"]
    (encrypt,) = [s for s in check.statements if "kms:GenerateDataKey*" in s["Action"]]
    assert encrypt["Resource"] == key
    log_group = check.props(check.function)["LoggingConfig"]["LogGroup"]
    (logs,) = [s for s in check.statements if "logs:PutLogEvents" in s["Action"]]
    assert logs["Resource"] == arn(log_group["Ref"])
    _, group = check.only("AWS::Logs::LogGroup")
    assert group["KmsKeyId"] == key


def test_the_role_is_assumed_by_lambda_alone(check: DriftCheckTemplate) -> None:
    trust = check.props(check.role)["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]
    assert "ManagedPolicyArns" not in check.props(check.role)


def test_the_asset_holds_the_runtime_alone_and_the_runtime_never_imports_cdk(tmp_path: Any) -> None:
    bundle = drift_check.build_bundle(tmp_path)
    files = sorted(str(path.relative_to(bundle)) for path in bundle.rglob("*") if path.is_file())
    assert files == [
        "services/__init__.py",
        "services/observability/__init__.py",
        "services/observability/runtime/__init__.py",
        "services/observability/runtime/drift.py",
        "services/observability/runtime/drift_handler.py",
    ]
    assert drift_check.build_bundle(tmp_path) == bundle  # built once per content
    for path in (REPO_ROOT / "services" / "observability" / "runtime").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        local = {name for name in imported if name.startswith("services.")}
        assert local <= {"services.observability.runtime.drift"}, path
        assert not [name for name in imported if name.split(".")[0] in ("aws_cdk", "constructs", "shared")], path
