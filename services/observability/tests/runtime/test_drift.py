"""The drift check over recorded drift-detection responses (drift_responses/): what it asks CloudFormation, in which
order, the verdict of each stack, the ignore rules, and the message ops receive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from services.observability.runtime import drift
from services.observability.runtime.drift import (
    MAX_SUBJECT,
    MAX_VALUE,
    DriftError,
    IgnoreRule,
    PropertyDifference,
    ResourceDrift,
    StackDrift,
    Verdict,
    check_stage,
    encode_rules,
    parse_rules,
    render_message,
)
from services.observability.testing import RESPONSES, RecordedCloudFormation, load, shape_problems

PROD = ("iot-prod-ingest", "iot-prod-archive", "iot-prod-observability")
CHECKED_AT = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
WARM_THROUGHPUT = IgnoreRule(
    resource_type="AWS::DynamoDB::Table",
    property_path="*/WarmThroughput/*",
    reason="DynamoDB raises a table's warm throughput by itself as its traffic grows",
)

# The recorded case of the issue: an alarm threshold and a bucket policy changed by hand in prod, the table's warm
# throughput raised by DynamoDB (prod's rule), the webhook secret left unread.
PROD_MESSAGE = """\
Drift check of stage prod at 2026-11-27T06:00:00Z: CloudFormation's drift detection on 3 stacks.

iot-prod-ingest: in sync (2 differences ignored by rule; not read: AlertsWebhookSecret4E288CBA)
iot-prod-archive: DRIFTED (1 resource drifted)
  - RawArchivePolicy0B546A99 (AWS::S3::BucketPolicy, iot-prod-archive-rawarchivedefaa071-n4xk2lq8v1ht): MODIFIED
      /PolicyDocument/Statement/1: not in the template, now {"Action":["s3:GetObject","s3:ListBucket"],\
"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Resource":\
["arn:aws:s3:::iot-prod-archive-rawarchivedefaa071-n4xk2lq8v1ht","arn:aws:s3:::iot-prod-archive-rawarchivedefaa071-\
n4xk2lq8v1ht/*"],"Sid":"PartnerRead"}
iot-prod-observability: DRIFTED (1 resource drifted)
  - AlarmsProcessorErrors9FCC592D (AWS::CloudWatch::Alarm, iot-prod-processor-errors): MODIFIED
      /Threshold: expected 1, actual 25

What to do (runbook: docs/runbooks.md#stack-drifted):
- DRIFTED: find who changed it and why (CloudTrail), then reconcile (set the expected value back; a redeploy of an \
unchanged template does not) or adopt (make the same change in git, through a pull request). Never leave it: the next \
deploy may revert it, or keep it unseen.
"""


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _check(
    cloudformation: RecordedCloudFormation,
    stage: str,
    stacks: tuple[str, ...],
    *,
    rules: tuple[IgnoreRule, ...] = (),
    deadline_seconds: float = 600,
    time: FakeTime | None = None,
) -> drift.DriftReport:
    clock = time or FakeTime()
    return check_stage(
        cast(Any, cloudformation),
        stage=stage,
        stacks=stacks,
        rules=rules,
        deadline_seconds=deadline_seconds,
        poll_seconds=10,
        clock=lambda: clock.now,
        sleep=clock.sleep,
        now=lambda: CHECKED_AT,
    )


@pytest.mark.parametrize("name", sorted(path.stem for path in RESPONSES.glob("*.json")))
def test_every_recorded_call_has_the_shape_of_cloudformations_api(name: str) -> None:
    problems = [problem for call in load(name)["calls"] for problem in shape_problems(call)]
    assert problems == []


def test_the_shape_check_catches_a_misspelt_response() -> None:
    call = load("prod-ingest-in-sync")["calls"][-1]
    call["response"]["DriftStatus"] = call["response"].pop("StackDriftStatus")
    assert shape_problems(call)


def test_the_recorded_prod_case_names_each_stack_resource_and_difference() -> None:
    cloudformation = RecordedCloudFormation(
        "prod-ingest-warm-throughput", "prod-archive-bucket-policy", "prod-observability-alarm-threshold"
    )
    time = FakeTime()
    report = _check(cloudformation, "prod", PROD, rules=(WARM_THROUGHPUT,), time=time)
    assert cloudformation.unanswered() == {}
    assert [(s.stack, s.verdict) for s in report.stacks] == [
        ("iot-prod-ingest", Verdict.IN_SYNC),
        ("iot-prod-archive", Verdict.DRIFTED),
        ("iot-prod-observability", Verdict.DRIFTED),
    ]
    assert time.sleeps == [10, 10]  # the archive's detection took two more reads, the others one
    message = render_message(report)
    assert message.subject == "iot-prod drift check: 2 DRIFTED of 3 stacks"
    assert message.body == PROD_MESSAGE
    assert report.needs_attention


def test_an_in_sync_stack_lists_no_resource_drifts() -> None:
    cloudformation = RecordedCloudFormation("prod-ingest-in-sync")
    report = _check(cloudformation, "prod", ("iot-prod-ingest",))
    assert cloudformation.unanswered() == {}  # and DescribeStackResourceDrifts was never called: nothing recorded
    (stack,) = report.stacks
    assert (stack.verdict, stack.resources, stack.ignored) == (Verdict.IN_SYNC, (), 0)
    assert not report.needs_attention
    assert render_message(report).subject == "iot-prod drift check: all in sync of 1 stack"


def test_a_secret_is_left_out_of_the_detection_and_said_so() -> None:
    # The recorded DetectStackDrift request names every resource of the stack but the secret; any other fails.
    report = _check(RecordedCloudFormation("prod-ingest-in-sync"), "prod", ("iot-prod-ingest",))
    (stack,) = report.stacks
    assert stack.unread == ("AlertsWebhookSecret4E288CBA",)
    assert "not read: AlertsWebhookSecret4E288CBA" in render_message(report).body


def test_a_stack_without_a_secret_is_detected_whole() -> None:
    calls = load("prod-archive-bucket-policy")["calls"]
    (detect,) = [call for call in calls if call["operation"] == "DetectStackDrift"]
    assert detect["request"] == {"StackName": "iot-prod-archive"}
    report = _check(RecordedCloudFormation("prod-archive-bucket-policy"), "prod", ("iot-prod-archive",))
    assert report.stacks[0].unread == ()


def test_without_the_stages_rule_the_warm_throughput_is_drift() -> None:
    report = _check(RecordedCloudFormation("prod-ingest-warm-throughput"), "prod", ("iot-prod-ingest",))
    (stack,) = report.stacks
    assert stack.verdict is Verdict.DRIFTED
    (table,) = stack.resources
    assert [d.path for d in table.differences] == [
        "/WarmThroughput/WriteUnitsPerSecond",
        "/GlobalSecondaryIndexes/0/WarmThroughput/WriteUnitsPerSecond",  # pragma: allowlist secret (a path)
    ]
    assert "/WarmThroughput/WriteUnitsPerSecond: expected 15000, actual 21500" in render_message(report).body


def test_with_the_rule_both_differences_are_ignored_and_counted() -> None:
    report = _check(
        RecordedCloudFormation("prod-ingest-warm-throughput"), "prod", ("iot-prod-ingest",), rules=(WARM_THROUGHPUT,)
    )
    (stack,) = report.stacks
    assert (stack.verdict, stack.resources, stack.ignored) == (Verdict.IN_SYNC, (), 2)


@pytest.mark.parametrize(
    "rule",
    [
        IgnoreRule(resource_type="AWS::DynamoDB::GlobalTable", property_path="*/WarmThroughput/*", reason="x " * 5),
        IgnoreRule(resource_type="AWS::DynamoDB::Table", property_path="/WarmThroughput/*", reason="x " * 5),
    ],
    ids=["another type", "a path that matches only the table's own"],
)
def test_a_rule_ignores_only_what_it_matches(rule: IgnoreRule) -> None:
    report = _check(RecordedCloudFormation("prod-ingest-warm-throughput"), "prod", ("iot-prod-ingest",), rules=(rule,))
    (stack,) = report.stacks
    assert stack.verdict is Verdict.DRIFTED
    kept = [d.path for d in stack.resources[0].differences]
    if rule.resource_type == "AWS::DynamoDB::Table":
        index = "/GlobalSecondaryIndexes/0/WarmThroughput/WriteUnitsPerSecond"  # pragma: allowlist secret (a path)
        assert (kept, stack.ignored) == ([index], 1)
    else:
        assert (len(kept), stack.ignored) == (2, 0)


def test_a_failed_detection_reports_its_reason_and_what_it_could_read() -> None:
    cloudformation = RecordedCloudFormation("staging-archive-detection-failed")
    report = _check(cloudformation, "staging", ("iot-staging-archive",))
    assert cloudformation.unanswered() == {}  # both pages of resource drifts were read
    (stack,) = report.stacks
    assert stack.verdict is Verdict.DETECTION_FAILED
    assert stack.reason.startswith("Failed to detect drift on resources [QueriesReadingsTableB666B559]")
    (stream,) = stack.resources
    assert stream.logical_id == "DeliveryDeliveryStream59941FF5"
    message = render_message(report)
    assert message.subject == "iot-staging drift check: 1 DETECTION FAILED of 1 stack"
    assert "lakeformation:GetDataAccess" in message.body
    assert (
        "/ExtendedS3DestinationConfiguration/BufferingHints/IntervalInSeconds: expected 60, actual 900" in message.body
    )
    assert "- DETECTION FAILED: the reason names what CloudFormation could not do" in message.body
    assert "- DRIFTED:" not in message.body


def test_a_stack_being_updated_is_not_checked_and_needs_nobody() -> None:
    cloudformation = RecordedCloudFormation("dev-archive-being-updated")
    report = _check(cloudformation, "dev", ("iot-dev-archive",))
    assert cloudformation.unanswered() == {}  # no detection started
    (stack,) = report.stacks
    assert (stack.verdict, stack.reason) == (Verdict.NOT_CHECKED, "UPDATE_IN_PROGRESS: checked next time")
    assert not report.needs_attention
    assert not report.all_checked
    message = render_message(report)
    assert message.subject == "iot-dev drift check: 1 not checked of 1 stack"
    assert "What to do" not in message.body


def test_a_deleted_stack_is_missing() -> None:
    report = _check(RecordedCloudFormation("dev-observability-deleted"), "dev", ("iot-dev-observability",))
    (stack,) = report.stacks
    assert (stack.verdict, stack.reason) == (Verdict.MISSING, "Stack with id iot-dev-observability does not exist")
    assert report.needs_attention
    assert "- MISSING: a stack of the stage was deleted outside the pipeline" in render_message(report).body


def test_detections_run_side_by_side_until_the_deadline() -> None:
    """The archive's detection needs three reads, 20 s apart at 10 s per poll: a deadline of 10 s stops it after two."""
    time = FakeTime()
    cloudformation = RecordedCloudFormation("prod-archive-bucket-policy", "prod-observability-alarm-threshold")
    report = _check(cloudformation, "prod", PROD[1:], deadline_seconds=10, time=time)
    archive, observability = report.stacks
    assert archive.verdict is Verdict.DETECTION_FAILED
    assert archive.reason == "still in progress after 10 s (detection 4e9b7c21-6d3a-4f0e-b812-9c5d1a7e3f60)"
    assert observability.verdict is Verdict.DRIFTED
    assert cloudformation.unanswered() == {
        "iot-prod-archive": ["DescribeStackDriftDetectionStatus", "DescribeStackResourceDrifts"]
    }


def test_a_deadline_just_long_enough_sees_every_detection_finish() -> None:
    cloudformation = RecordedCloudFormation("prod-archive-bucket-policy")
    report = _check(cloudformation, "prod", ("iot-prod-archive",), deadline_seconds=20)
    assert report.stacks[0].verdict is Verdict.DRIFTED
    assert cloudformation.unanswered() == {}


def _refusing(operation: str, code: str, text: str) -> RecordedCloudFormation:
    """The recorded observability stack, with ``operation`` answered by an error instead."""
    cloudformation = RecordedCloudFormation("prod-observability-alarm-threshold")
    calls = cloudformation.calls["iot-prod-observability"]
    index = next(i for i, call in enumerate(calls) if call["operation"] == operation)
    calls[index] = {**calls[index], "error": {"Code": code, "Message": text, "HTTPStatusCode": 400}}
    del calls[index]["response"]
    while len(calls) > index + 1:
        calls.pop()
    return cloudformation


@pytest.mark.parametrize(
    ("operation", "code", "text"),
    [
        ("DescribeStacks", "AccessDenied", "not authorized to perform: cloudformation:DescribeStacks"),
        ("ListStackResources", "Throttling", "Rate exceeded"),
        ("DetectStackDrift", "ValidationError", "Stack [iot-prod-observability] is in UPDATE_IN_PROGRESS state"),
    ],
)
def test_a_refused_call_fails_that_stack_naming_the_call(operation: str, code: str, text: str) -> None:
    cloudformation = _refusing(operation, code, text)
    report = _check(cloudformation, "prod", ("iot-prod-observability",))
    (stack,) = report.stacks
    assert (stack.verdict, stack.reason) == (Verdict.DETECTION_FAILED, f"{operation}: {text}")
    assert cloudformation.unanswered() == {}


def test_a_stage_without_stacks_is_refused() -> None:
    with pytest.raises(DriftError, match="stage prod: no stacks to check"):
        _check(RecordedCloudFormation(), "prod", ())


# --- the ignore rules as config and the stack hand them over --------------------------------------------------------


def test_rules_survive_their_trip_through_the_environment() -> None:
    assert parse_rules(encode_rules([WARM_THROUGHPUT])) == (WARM_THROUGHPUT,)
    assert parse_rules("[]") == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{", "ignore rules are not JSON"),
        ('{"resourceType": "AWS::S3::Bucket"}', "ignore rules must be a JSON list, got dict"),
        ('[{"resourceType": "AWS::S3::Bucket", "propertyPath": "/Tags/*"}]', "ignore rule 0: needs exactly"),
        (
            '[{"resourceType": "S3 bucket", "propertyPath": "/Tags/*", "reason": "tags set by the org policy"}]',
            "ignore rule 0: resourceType must be a CloudFormation type such as AWS::S3::Bucket, got 'S3 bucket'",
        ),
        (
            '[{"resourceType": "AWS::S3::Bucket", "propertyPath": "Tags", "reason": "tags set by the org policy"}]',
            "ignore rule 0: propertyPath must start with / or *",
        ),
        (
            '[{"resourceType": "AWS::S3::Bucket", "propertyPath": "/Tags/*", "reason": "noise"}]',
            "ignore rule 0: reason must say in a sentence why AWS changes '/Tags/*'",
        ),
    ],
)
def test_a_bad_rule_is_refused_naming_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(DriftError, match="^" + message.replace("*", r"\*").replace("(", r"\(")):
        parse_rules(raw)


def test_a_rule_needs_five_words_of_reason_no_fewer() -> None:
    rule = IgnoreRule(resource_type="AWS::S3::Bucket", property_path="/Tags/*", reason="set by the tag policy")
    assert rule.problems() == []
    short = IgnoreRule(resource_type="AWS::S3::Bucket", property_path="/Tags/*", reason="set by tag policy")
    assert len(short.problems()) == 1


# --- the message -----------------------------------------------------------------------------------------------------


def _difference(kind: str, expected: str, actual: str) -> str:
    return PropertyDifference(path="/P", kind=kind, expected=expected, actual=actual).describe()


def test_each_kind_of_difference_says_which_side_is_missing() -> None:
    assert _difference("NOT_EQUAL", "1", "25") == "/P: expected 1, actual 25"
    assert _difference("ADD", "null", '{"b": 1,\n "a": 2}') == '/P: not in the template, now {"a":2,"b":1}'
    assert _difference("REMOVE", '"x"', "null") == '/P: removed, the template has "x"'


def test_a_long_value_is_cut_after_its_first_characters_and_says_how_many_more() -> None:
    assert _difference("NOT_EQUAL", "1", "a" * MAX_VALUE) == f"/P: expected 1, actual {'a' * MAX_VALUE}"
    cut = _difference("NOT_EQUAL", "1", "a" * (MAX_VALUE + 7))
    assert cut == f"/P: expected 1, actual {'a' * MAX_VALUE}... (7 more characters)"


def test_a_deleted_resource_is_reported_whatever_the_rules() -> None:
    deleted = ResourceDrift(
        logical_id="OpsTopic", physical_id="", resource_type="AWS::SNS::Topic", status="DELETED", differences=()
    )
    rule = IgnoreRule(resource_type="AWS::SNS::Topic", property_path="*", reason="everything about topics is noise")
    assert drift._apply_rules(deleted, [rule]) == (deleted, 0)
    stack = StackDrift(stack="iot-dev-observability", verdict=Verdict.DRIFTED, resources=(deleted,))
    report = drift.DriftReport(stage="dev", checked_at=CHECKED_AT, stacks=(stack,))
    assert "  - OpsTopic (AWS::SNS::Topic, no physical id): DELETED" in render_message(report).body


def test_the_subject_fits_sns_however_many_stacks() -> None:
    stacks = tuple(StackDrift(stack=f"s{i}", verdict=verdict) for i, verdict in enumerate(Verdict))
    report = drift.DriftReport(stage="staging", checked_at=CHECKED_AT, stacks=stacks)
    subject = render_message(report).subject
    assert subject == "iot-staging drift check: 1 DRIFTED, 1 DETECTION FAILED, 1 MISSING, 1 not checked of 5 stacks"
    assert len(subject) <= MAX_SUBJECT
    long_stage = drift.DriftReport(stage="x" * 120, checked_at=CHECKED_AT, stacks=stacks)
    assert len(render_message(long_stage).subject) == MAX_SUBJECT
