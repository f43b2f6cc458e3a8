"""The local stage's alarms and dashboard, from its synthesized templates, evaluated over the local run.

They are read from the templates that were deployed, with every reference resolved as CloudFormation resolved it: a
resource to its physical id, an SSM-typed parameter to the value the other stacks published, an alarm's ARN to its
name. ``AlarmWatch`` evaluates them while the platform runs (tools/alarms), over the emulator's CloudWatch, which
evaluates no alarm, and sets each alarm's state there (SetAlarmState) as CloudWatch's own evaluation would: the
emulator's CloudFormation creates the alarms (ADR 0012), so DescribeAlarms answers, for the pipeline's bake, with
what the evaluator found.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from tools.alarms.definitions import Alarm, State, alarms_in
from tools.alarms.evaluator import AlarmEvaluator, CloudWatchSource
from tools.alarms.templates import resolve
from tools.local.deploy import DeployedStack, DeployedStage
from tools.local.metrics import MetricPublisher
from tools.local.watchdog import ComponentFailure, ThreadGroup

WATCHED_TYPES = frozenset({"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm", "AWS::CloudWatch::Dashboard"})
SSM_PARAMETER = "AWS::SSM::Parameter::Value<String>"
DEFAULT_EVALUATION_SECONDS = 5.0  # how often the alarms are evaluated during a run at their own periods


@dataclass(frozen=True, kw_only=True)
class StageMonitoring:
    alarms: list[Alarm]
    dashboards: list[dict[str, Any]]  # each dashboard's body, parsed


def stage_monitoring(stage: DeployedStage, *, account: str, region: str) -> StageMonitoring:
    ssm = boto3.client("ssm")
    parameter_values: dict[str, str] = {}  # of this deployment only: another emulator's stage has other names

    def parameter(name: str) -> str:
        if name not in parameter_values:
            parameter_values[name] = str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        return parameter_values[name]

    resources = [
        resource for stack in stage.stacks.values() for resource in _resolved(stack, account, region, parameter)
    ]
    template = {"Resources": {str(index): resource for index, resource in enumerate(resources)}}
    return StageMonitoring(
        alarms=list(alarms_in(template)),
        dashboards=[
            _json(resource["Properties"]["DashboardBody"])
            for resource in resources
            if resource["Type"] == "AWS::CloudWatch::Dashboard"
        ],
    )


def _json(text: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(text)
    return body


def _resolved(
    stack: DeployedStack, account: str, region: str, parameter: Callable[[str], str]
) -> Iterator[dict[str, Any]]:
    resources = stack.template["Resources"]
    alarm_names = {
        logical_id: resource["Properties"]["AlarmName"]
        for logical_id, resource in resources.items()
        if resource["Type"] in WATCHED_TYPES and "AlarmName" in resource.get("Properties", {})
    }
    parameters = stack.template.get("Parameters", {})
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }

    def ref(name: str) -> str:
        if name in pseudo:
            return pseudo[name]
        if name in parameters and parameters[name]["Type"] == SSM_PARAMETER:
            return parameter(parameters[name]["Default"])
        return stack.physical_ids[name]

    def attribute(logical_id: str, name: str) -> str:
        if name != "Arn" or logical_id not in alarm_names:
            raise KeyError(f"{logical_id}.{name}")
        return f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm_names[logical_id]}"

    for resource in resources.values():
        if resource["Type"] in WATCHED_TYPES:
            yield resolve(resource, ref=ref, attribute=attribute)


class AlarmNotDeployedError(LookupError):
    pass


class AlarmWatch:
    """Evaluates the stage's alarms every few seconds while the platform runs, and on request; sets every state that
    changed in CloudWatch, with the evaluator's reason."""

    def __init__(
        self,
        alarms: list[Alarm],
        metrics: MetricPublisher,
        *,
        period_override: int | None = None,
        cloudwatch: Any = None,
    ) -> None:
        self._cloudwatch = cloudwatch or boto3.client("cloudwatch")
        self.evaluator = AlarmEvaluator(alarms, CloudWatchSource(self._cloudwatch), period_override=period_override)
        self._written: dict[str, State] = {}  # each alarm's state as last set in CloudWatch
        self._metrics = metrics
        self._interval = period_override / 2 if period_override else DEFAULT_EVALUATION_SECONDS
        self._lock = threading.Lock()
        self._threads = ThreadGroup("the alarm evaluator")
        self._threads.add("its evaluation loop", self._watch)

    def start(self) -> None:
        self._threads.start()

    def failures(self) -> list[ComponentFailure]:
        return self._threads.failures()

    def stop(self, *, timeout: float | None = None) -> None:
        self._threads.stop(timeout=timeout)

    def evaluate_now(self) -> Mapping[str, State]:
        """Every datapoint the loops have so far in CloudWatch, then every alarm evaluated on it."""
        self._metrics.flush()
        return self._evaluate()

    def _evaluate(self) -> Mapping[str, State]:
        with self._lock:
            states = self.evaluator.evaluate(time.time())
            for name, state in states.items():
                if self._written.get(name) is not state:
                    self._set_state(name, state)
                    self._written[name] = state
            return states

    def _set_state(self, name: str, state: State) -> None:
        try:
            self._cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=self.evaluator.reason(name))
        except self._cloudwatch.exceptions.ResourceNotFound:
            raise AlarmNotDeployedError(
                f"the alarm {name} of the stage's templates is not in CloudWatch: the deploy did not create it"
            ) from None

    def _watch(self) -> None:
        while not self._threads.stopping.wait(self._interval):
            self._evaluate()
