"""CloudFormation's drift detection over the stacks of a stage, and the message that tells people what drifted.

The drift-check Lambda of each stage (drift_handler.py) and ``make drift`` on a laptop (tools/operations/drift.py) run
this same logic with different credentials. No CDK here; the CloudFormation client is passed in.

1. DescribeStacks: a stack in an ``*_IN_PROGRESS`` state (a deploy or rollback running) is not checked: its template
   is on its way in or out. It is reported as not checked; the next check covers it. A stack that does not exist is
   reported as missing.
2. ListStackResources, then DetectStackDrift on every other stack at once, naming every resource but those whose
   reading reads data (``UNREAD_TYPES``: CloudFormation's read of a secret asks for its value, which the check must not
   see); then DescribeStackDriftDetectionStatus on each until it leaves DETECTION_IN_PROGRESS or the deadline passes.
3. DescribeStackResourceDrifts (MODIFIED and DELETED resources, every page) for each stack found DRIFTED, also after
   DETECTION_FAILED: CloudFormation keeps the results of the resources it could read.
4. The stage's ignore rules (config) drop the differences AWS makes on its own; a resource left with no difference
   is in sync, and so is a stack left with no drifted resource.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.client import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackResourceDriftTypeDef

RUNBOOK = "docs/runbooks.md#stack-drifted"
# The resource states DescribeStackResourceDrifts is asked for: the ones that differ from the template.
DRIFTED_RESOURCE_STATES = ("MODIFIED", "DELETED")
POLL_SECONDS = 10.0
# A stack of this platform takes a minute or two; the Lambda's timeout leaves room beyond this.
DEFAULT_DEADLINE_SECONDS = 600.0
# SNS refuses subjects of 100 characters or more.
MAX_SUBJECT = 99
# A policy document can be kilobytes long; the message shows its start and the runbook says how to see all of it.
MAX_VALUE = 400
# Resource types drift detection is not asked to read, and why: their drift stays unseen (docs/decisions/0014).
UNREAD_TYPES = {
    "AWS::SecretsManager::Secret": "CloudFormation reads a secret's value to check it, and the check may not read it",
}
_RESOURCE_TYPE = re.compile(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+")


class DriftError(ValueError):
    """An ignore rule or a setting of the check that cannot be used; the message names it."""


class Verdict(StrEnum):
    IN_SYNC = "in sync"
    DRIFTED = "DRIFTED"
    DETECTION_FAILED = "DETECTION FAILED"
    MISSING = "MISSING"
    NOT_CHECKED = "not checked"


# What needs a person: everything but in sync, and a stack skipped because a deploy is running.
ATTENTION = frozenset({Verdict.DRIFTED, Verdict.DETECTION_FAILED, Verdict.MISSING})


@dataclass(frozen=True, kw_only=True)
class IgnoreRule:
    """A property AWS changes on its own: differences of ``resource_type`` at paths matching ``property_path`` (a glob
    over CloudFormation's property path, such as ``*/WarmThroughput/*``) are not drift."""

    resource_type: str
    property_path: str
    reason: str

    def problems(self) -> list[str]:
        found = []
        if not _RESOURCE_TYPE.fullmatch(self.resource_type):
            found.append(
                f"resourceType must be a CloudFormation type such as AWS::S3::Bucket, got {self.resource_type!r}"
            )
        if not self.property_path.startswith(("/", "*")):
            found.append(
                f"propertyPath must start with / or *, as CloudFormation's paths do, got {self.property_path!r}"
            )
        if len(self.reason.split()) < 5:
            found.append(f"reason must say in a sentence why AWS changes {self.property_path!r}, got {self.reason!r}")
        return found

    def matches(self, resource_type: str, path: str) -> bool:
        return resource_type == self.resource_type and fnmatch.fnmatchcase(path, self.property_path)


def encode_rules(rules: Iterable[IgnoreRule]) -> str:
    """The rules as the stack hands them to the function (an environment variable)."""
    return json.dumps(
        [{"resourceType": r.resource_type, "propertyPath": r.property_path, "reason": r.reason} for r in rules],
        sort_keys=True,
    )


def parse_rules(raw: str) -> tuple[IgnoreRule, ...]:
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as error:
        raise DriftError(f"ignore rules are not JSON: {error}") from None
    if not isinstance(entries, list):
        raise DriftError(f"ignore rules must be a JSON list, got {type(entries).__name__}")
    rules = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != {"resourceType", "propertyPath", "reason"}:
            raise DriftError(f"ignore rule {index}: needs exactly resourceType, propertyPath and reason, got {entry!r}")
        rule = IgnoreRule(
            resource_type=str(entry["resourceType"]),
            property_path=str(entry["propertyPath"]),
            reason=str(entry["reason"]),
        )
        if problems := rule.problems():
            raise DriftError(f"ignore rule {index}: {'; '.join(problems)}")
        rules.append(rule)
    return tuple(rules)


@dataclass(frozen=True, kw_only=True)
class PropertyDifference:
    path: str
    kind: str  # ADD (set by hand, not in the template), REMOVE (in the template, gone) or NOT_EQUAL
    expected: str
    actual: str

    def describe(self) -> str:
        if self.kind == "ADD":
            return f"{self.path}: not in the template, now {_shorten(self.actual)}"
        if self.kind == "REMOVE":
            return f"{self.path}: removed, the template has {_shorten(self.expected)}"
        return f"{self.path}: expected {_shorten(self.expected)}, actual {_shorten(self.actual)}"


@dataclass(frozen=True, kw_only=True)
class ResourceDrift:
    logical_id: str
    physical_id: str
    resource_type: str
    status: str  # MODIFIED or DELETED
    differences: tuple[PropertyDifference, ...]


@dataclass(frozen=True, kw_only=True)
class StackDrift:
    stack: str
    verdict: Verdict
    resources: tuple[ResourceDrift, ...] = ()
    ignored: int = 0  # differences the ignore rules dropped
    unread: tuple[str, ...] = ()  # logical ids of resources of UNREAD_TYPES, left out of the detection
    reason: str = ""  # why it was not checked, or why detection failed


@dataclass(frozen=True, kw_only=True)
class DriftReport:
    stage: str
    checked_at: datetime
    stacks: tuple[StackDrift, ...]

    @property
    def needs_attention(self) -> bool:
        return any(stack.verdict in ATTENTION for stack in self.stacks)

    @property
    def all_checked(self) -> bool:
        return all(stack.verdict is not Verdict.NOT_CHECKED for stack in self.stacks)


@dataclass(frozen=True, kw_only=True)
class Message:
    subject: str
    body: str


@dataclass(kw_only=True)
class _Detection:
    stack: str
    detection_id: str
    unread: tuple[str, ...]
    status: dict[str, Any] = field(default_factory=dict)


def check_stage(
    cloudformation: CloudFormationClient,
    *,
    stage: str,
    stacks: Sequence[str],
    rules: Sequence[IgnoreRule] = (),
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DriftReport:
    """Detect drift on every stack of ``stacks`` at once and report each, in the order given.

    ``sleep`` waits between reads of the detections' status: ``time.sleep`` as it is when called."""
    wait = sleep or time.sleep
    if not stacks:
        raise DriftError(f"stage {stage}: no stacks to check")
    checked_at = now()
    results: dict[str, StackDrift] = {}
    running: list[_Detection] = []
    for stack in stacks:
        early = _start(cloudformation, stack)
        if isinstance(early, StackDrift):
            results[stack] = early
        else:
            running.append(early)
    started = clock()
    while True:
        for detection in running:
            if detection.status.get("DetectionStatus", "DETECTION_IN_PROGRESS") == "DETECTION_IN_PROGRESS":
                detection.status = dict(
                    cloudformation.describe_stack_drift_detection_status(StackDriftDetectionId=detection.detection_id)
                )
        waiting = [d for d in running if d.status["DetectionStatus"] == "DETECTION_IN_PROGRESS"]
        if not waiting or clock() - started >= deadline_seconds:
            break
        wait(poll_seconds)
    for detection in running:
        results[detection.stack] = _finish(cloudformation, detection, rules, deadline_seconds)
    return DriftReport(stage=stage, checked_at=checked_at, stacks=tuple(results[stack] for stack in stacks))


def _start(cloudformation: CloudFormationClient, stack: str) -> _Detection | StackDrift:
    try:
        (description,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        if "does not exist" in message:
            return StackDrift(stack=stack, verdict=Verdict.MISSING, reason=message)
        return StackDrift(stack=stack, verdict=Verdict.DETECTION_FAILED, reason=f"DescribeStacks: {message}")
    status = description["StackStatus"]
    if status.endswith("_IN_PROGRESS"):
        return StackDrift(stack=stack, verdict=Verdict.NOT_CHECKED, reason=f"{status}: checked next time")
    request: dict[str, Any] = {"StackName": stack}
    try:
        resources = _stack_resources(cloudformation, stack)
        unread = tuple(logical_id for logical_id, kind in resources if kind in UNREAD_TYPES)
        if unread:
            request["LogicalResourceIds"] = [logical_id for logical_id, kind in resources if kind not in UNREAD_TYPES]
        detection_id = cloudformation.detect_stack_drift(**request)["StackDriftDetectionId"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        return StackDrift(stack=stack, verdict=Verdict.DETECTION_FAILED, reason=f"{error.operation_name}: {message}")
    return _Detection(stack=stack, detection_id=detection_id, unread=unread)


def _stack_resources(cloudformation: CloudFormationClient, stack: str) -> list[tuple[str, str]]:
    """(logical id, type) of every resource of the stack, every page."""
    request: dict[str, Any] = {"StackName": stack}
    resources: list[tuple[str, str]] = []
    while True:
        page = cloudformation.list_stack_resources(**request)
        resources += [
            (summary["LogicalResourceId"], summary["ResourceType"]) for summary in page["StackResourceSummaries"]
        ]
        if not page.get("NextToken"):
            return resources
        request["NextToken"] = page["NextToken"]


def _finish(
    cloudformation: CloudFormationClient, detection: _Detection, rules: Sequence[IgnoreRule], deadline_seconds: float
) -> StackDrift:
    status = detection.status
    if status["DetectionStatus"] == "DETECTION_IN_PROGRESS":
        reason = f"still in progress after {deadline_seconds:g} s (detection {detection.detection_id})"
        return StackDrift(stack=detection.stack, verdict=Verdict.DETECTION_FAILED, reason=reason)
    drifted: list[ResourceDrift] = []
    ignored = 0
    if status.get("StackDriftStatus") == "DRIFTED":
        for raw in _resource_drifts(cloudformation, detection.stack):
            resource, dropped = _apply_rules(_resource_drift(raw), rules)
            ignored += dropped
            if resource is not None:
                drifted.append(resource)
    if status["DetectionStatus"] == "DETECTION_FAILED":
        reason = str(status.get("DetectionStatusReason", "no reason given"))
        verdict = Verdict.DETECTION_FAILED
    else:
        reason = ""
        verdict = Verdict.DRIFTED if drifted else Verdict.IN_SYNC
    return StackDrift(
        stack=detection.stack,
        verdict=verdict,
        resources=tuple(drifted),
        ignored=ignored,
        unread=detection.unread,
        reason=reason,
    )


def _resource_drifts(cloudformation: CloudFormationClient, stack: str) -> list[StackResourceDriftTypeDef]:
    request: dict[str, Any] = {"StackName": stack, "StackResourceDriftStatusFilters": list(DRIFTED_RESOURCE_STATES)}
    drifts: list[StackResourceDriftTypeDef] = []
    while True:
        page = cloudformation.describe_stack_resource_drifts(**request)
        drifts.extend(page["StackResourceDrifts"])
        if not page.get("NextToken"):
            return drifts
        request["NextToken"] = page["NextToken"]


def _resource_drift(raw: StackResourceDriftTypeDef) -> ResourceDrift:
    return ResourceDrift(
        logical_id=raw["LogicalResourceId"],
        physical_id=raw.get("PhysicalResourceId", ""),
        resource_type=raw["ResourceType"],
        status=raw["StackResourceDriftStatus"],
        differences=tuple(
            PropertyDifference(
                path=difference["PropertyPath"],
                kind=difference["DifferenceType"],
                expected=difference["ExpectedValue"],
                actual=difference["ActualValue"],
            )
            for difference in raw.get("PropertyDifferences", [])
        ),
    )


def _apply_rules(resource: ResourceDrift, rules: Sequence[IgnoreRule]) -> tuple[ResourceDrift | None, int]:
    """The resource without the differences a rule explains, or None when none is left; and how many were dropped.

    A deleted resource has no differences to explain: it always stays."""
    if resource.status == "DELETED":
        return resource, 0
    kept = tuple(
        d for d in resource.differences if not any(rule.matches(resource.resource_type, d.path) for rule in rules)
    )
    dropped = len(resource.differences) - len(kept)
    if not kept and resource.differences:
        return None, dropped
    return ResourceDrift(
        logical_id=resource.logical_id,
        physical_id=resource.physical_id,
        resource_type=resource.resource_type,
        status=resource.status,
        differences=kept,
    ), dropped


# --- the message ---------------------------------------------------------------------------------------------------


def render_message(report: DriftReport) -> Message:
    """What the ops topic receives, and what ``make drift`` prints."""
    total = len(report.stacks)
    counts = {verdict: sum(1 for s in report.stacks if s.verdict is verdict) for verdict in Verdict}
    found = ", ".join(f"{counts[v]} {v}" for v in Verdict if counts[v] and v is not Verdict.IN_SYNC) or "all in sync"
    subject = f"iot-{report.stage} drift check: {found} of {_count(total, 'stack')}"
    lines = [
        f"Drift check of stage {report.stage} at {report.checked_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}: "
        f"CloudFormation's drift detection on {_count(total, 'stack')}.",
        "",
    ]
    for stack in report.stacks:
        lines += _stack_lines(stack)
    advice = [_ADVICE[verdict] for verdict in Verdict if counts[verdict] and verdict in _ADVICE]
    if advice:
        lines += ["", "What to do (runbook: " + RUNBOOK + "):", *(f"- {line}" for line in advice)]
    return Message(subject=subject[:MAX_SUBJECT], body="\n".join(lines) + "\n")


_ADVICE = {
    Verdict.DRIFTED: "DRIFTED: find who changed it and why (CloudTrail), then reconcile (set the expected value back; "
    "a redeploy of an unchanged template does not) or adopt (make the same change in git, through a pull request). "
    "Never leave it: the next deploy may revert it, or keep it unseen.",
    Verdict.DETECTION_FAILED: "DETECTION FAILED: the reason names what CloudFormation could not do. A permission it "
    "names is missing from the drift check's role (services/observability/infra/drift_check.py); the resources it "
    "could read are listed.",
    Verdict.MISSING: "MISSING: a stack of the stage was deleted outside the pipeline. Re-run the stage's deploy.",
}


def _stack_lines(stack: StackDrift) -> list[str]:
    notes = []
    if stack.resources:
        notes.append(f"{_count(len(stack.resources), 'resource')} drifted")
    if stack.ignored:
        notes.append(f"{_count(stack.ignored, 'difference')} ignored by rule")
    if stack.unread:
        notes.append(f"not read: {', '.join(stack.unread)}")
    lines = [f"{stack.stack}: {stack.verdict}" + (f" ({'; '.join(notes)})" if notes else "")]
    if stack.reason:
        lines.append(f"  {stack.reason}")
    for resource in stack.resources:
        lines.append(
            f"  - {resource.logical_id} ({resource.resource_type}, {resource.physical_id or 'no physical id'}): "
            f"{resource.status}"
        )
        lines += [f"      {difference.describe()}" for difference in resource.differences]
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _shorten(value: str) -> str:
    compact = _compact_json(value)
    if len(compact) <= MAX_VALUE:
        return compact
    return f"{compact[:MAX_VALUE]}... ({len(compact) - MAX_VALUE} more characters)"


def _compact_json(value: str) -> str:
    """CloudFormation sends values as JSON text, objects pretty-printed at times: one line each."""
    try:
        return json.dumps(json.loads(value), separators=(",", ":"), sort_keys=True)
    except json.JSONDecodeError:
        return value
