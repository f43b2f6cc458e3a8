"""For tests of the drift check (here and in tools/operations): CloudFormation answering from recorded drift-detection
calls (tests/runtime/drift_responses/*.json), one queue of calls per stack.

Each file holds the calls of one stack in order: the operation, the request the check must send, and the response
(or the error) CloudFormation gives. The responses are written in the shapes of CloudFormation's API, which
``shape_problems`` checks against botocore's model of the service. A request that is not the next one recorded for its
stack fails the test, naming both.
"""

from __future__ import annotations

import json
from collections import deque
from functools import cache
from pathlib import Path
from typing import Any, cast

import botocore.session
from botocore.exceptions import ClientError
from botocore.model import ServiceModel
from botocore.validate import ParamValidator

RESPONSES = Path(__file__).parent / "tests" / "runtime" / "drift_responses"


def load(name: str) -> dict[str, Any]:
    recorded: dict[str, Any] = json.loads((RESPONSES / f"{name}.json").read_text(encoding="utf-8"))
    return recorded


@cache
def _model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("cloudformation")


def shape_problems(call: dict[str, Any]) -> list[str]:
    """What in a recorded call does not fit CloudFormation's API model: its request, and its response or error."""
    operation = _model().operation_model(call["operation"])
    assert operation.input_shape is not None
    assert operation.output_shape is not None
    problems = []
    request = ParamValidator().validate(call["request"], operation.input_shape)
    if request.has_errors():
        problems.append(f"{call['operation']} request: {request.generate_report()}")
    if "response" in call:
        response = ParamValidator().validate(call["response"], operation.output_shape)
        if response.has_errors():
            problems.append(f"{call['operation']} response: {response.generate_report()}")
    elif set(call["error"]) != {"Code", "Message", "HTTPStatusCode"}:
        problems.append(f"{call['operation']} error: needs Code, Message and HTTPStatusCode, got {call['error']}")
    return problems


class RecordedCloudFormation:
    def __init__(self, *names: str) -> None:
        self.calls: dict[str, deque[dict[str, Any]]] = {}
        self.detections: dict[str, str] = {}  # detection id -> stack
        for name in names:
            recorded = load(name)["calls"]
            stack = recorded[0]["request"]["StackName"]
            self.calls[stack] = deque(recorded)
            for call in recorded:
                if call["operation"] == "DetectStackDrift":
                    self.detections[call["response"]["StackDriftDetectionId"]] = stack

    def unanswered(self) -> dict[str, list[str]]:
        """The recorded calls the check did not make, by stack."""
        return {stack: [c["operation"] for c in calls] for stack, calls in self.calls.items() if calls}

    def _answer(self, operation: str, request: dict[str, Any]) -> Any:
        stack = request.get("StackName") or self.detections[request["StackDriftDetectionId"]]
        if not self.calls.get(stack):
            raise AssertionError(f"{operation}({request}): nothing more was recorded for {stack}")
        call = self.calls[stack].popleft()
        assert (operation, request) == (call["operation"], call["request"]), f"recorded next for {stack}: {call}"
        if "error" in call:
            error = call["error"]
            raise ClientError(
                cast(
                    Any,
                    {
                        "Error": {"Code": error["Code"], "Message": error["Message"]},
                        "ResponseMetadata": {"HTTPStatusCode": error["HTTPStatusCode"]},
                    },
                ),
                operation,
            )
        return json.loads(json.dumps(call["response"]))  # a copy: the check may not change the recording

    def describe_stacks(self, **request: Any) -> Any:
        return self._answer("DescribeStacks", request)

    def list_stack_resources(self, **request: Any) -> Any:
        return self._answer("ListStackResources", request)

    def detect_stack_drift(self, **request: Any) -> Any:
        return self._answer("DetectStackDrift", request)

    def describe_stack_drift_detection_status(self, **request: Any) -> Any:
        return self._answer("DescribeStackDriftDetectionStatus", request)

    def describe_stack_resource_drifts(self, **request: Any) -> Any:
        return self._answer("DescribeStackResourceDrifts", request)
