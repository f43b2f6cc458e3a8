"""The emulator's call log (``EMULATOR_CALL_LOG``, tools/local/emulator_server.py) read as typed calls, and each call
as the IAM requests AWS authorizes for it: the action under its IAM name, on each resource ARN it names.

moto names the resource of S3, SQS and STS calls; for the others the ARN is built here from the request's
parameters, as the service's authorization reference builds it. A CloudFormation stack's ARN ends in an id no
synthesized policy can name: a fixed placeholder stands for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# SigV4's signing name where IAM's action prefix differs.
IAM_PREFIX = {"monitoring": "cloudwatch"}
# API operations authorized under another action (the service authorization reference's "Actions" tables).
AUTHORIZED_AS = {
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
}
# Condition keys a request carries, by IAM action: the key, and the request parameter its value is (the service
# authorization reference's condition keys; only those the platform's policies use).
REQUEST_CONDITION_KEYS = {"s3:ListBucket": {"s3:prefix": "prefix"}}
# Operations no policy is asked about (STS answers GetCallerIdentity for any credentials).
NOT_AUTHORIZED = frozenset({("sts", "GetCallerIdentity")})
STACK_ID_PLACEHOLDER = "rehearsal"


class CallLogError(ValueError):
    """A line of the call log this reader cannot take; the message names the line."""


@dataclass(frozen=True, kw_only=True)
class Call:
    principal: str | None  # the assumed-role session ARN; None for the emulator's default credentials
    service: str  # SigV4's signing name
    operation: str  # moto's name for it: IAM's for S3, the API operation's elsewhere
    resource: str  # moto's resource ARN, or "*"
    account: str  # the account the request was served in
    params: Mapping[str, Any]  # its plain parameters

    @property
    def role_arn(self) -> str | None:
        """The IAM role of an assumed-role session (``arn:aws:sts::<account>:assumed-role/<role>/<session>``)."""
        if self.principal is None or ":assumed-role/" not in self.principal:
            return None
        account = self.principal.split(":")[4]
        role = self.principal.split(":assumed-role/", 1)[1].split("/", 1)[0]
        return f"arn:aws:iam::{account}:role/{role}"


@dataclass(frozen=True, kw_only=True)
class IamRequest:
    action: str  # service:Action
    resource: str
    account: str  # the resource's account
    context: Mapping[str, str] = field(default_factory=dict)  # the condition keys the request itself carries


def read_calls(path: Path, *, offset: int = 0) -> tuple[list[Call], int]:
    """The calls logged after byte ``offset`` of ``path`` (none when it does not exist yet), and the offset after
    the last complete line."""
    if not path.exists():
        return [], offset
    with path.open("rb") as file:
        file.seek(offset)
        data = file.read()
    complete = data[: data.rfind(b"\n") + 1]
    calls: list[Call] = []
    position = offset
    for line in complete.splitlines(keepends=True):
        if line.strip():
            calls.append(_call(line.decode("utf-8"), position))
        position += len(line)
    return calls, position


def _call(line: str, where: int) -> Call:  # ``where``: the line's first byte in the log
    try:
        raw = json.loads(line)
        return Call(
            principal=raw["principal"],
            service=str(raw["service"]),
            operation=str(raw["action"]),
            resource=str(raw["resource"]),
            account=str(raw["account"]),
            params=dict(raw.get("params") or {}),
        )
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise CallLogError(f"call log line at byte {where}: {error!r}: {line[:200]}") from None


def iam_requests(call: Call, *, region: str) -> list[IamRequest]:
    """What IAM authorizes for ``call``: one request per resource it names; none for an operation IAM does not
    authorize."""
    if (call.service, call.operation) in NOT_AUTHORIZED:
        return []
    prefix = IAM_PREFIX.get(call.service, call.service)
    action = f"{prefix}:{AUTHORIZED_AS.get((call.service, call.operation), call.operation)}"
    build = RESOURCES.get(prefix)
    resources = list(build(call, region)) if build and call.resource == "*" else []
    context = {
        key: str(call.params[parameter])
        for key, parameter in REQUEST_CONDITION_KEYS.get(action, {}).items()
        if isinstance(call.params.get(parameter), str)
    }
    return [
        IamRequest(action=action, resource=resource, account=_account_of(resource) or call.account, context=context)
        for resource in resources or [call.resource]
    ]


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _names(call: Call, *keys: str) -> list[str]:
    found: list[str] = []
    for key in keys:
        value = call.params.get(key)
        found.extend([value] if isinstance(value, str) else list(value or []))
    return found


def _dynamodb(call: Call, region: str) -> Iterator[str]:
    for table in _names(call, "TableName", "RequestItems"):
        arn = table if table.startswith("arn:") else f"arn:aws:dynamodb:{region}:{call.account}:table/{table}"
        index = call.params.get("IndexName")
        yield f"{arn}/index/{index}" if index else arn


def _kinesis(call: Call, region: str) -> Iterator[str]:
    for stream in _names(call, "StreamARN") or _names(call, "StreamName"):
        yield stream if stream.startswith("arn:") else f"arn:aws:kinesis:{region}:{call.account}:stream/{stream}"


def _ssm(call: Call, region: str) -> Iterator[str]:
    for name in _names(call, "Name", "Names"):
        yield f"arn:aws:ssm:{region}:{call.account}:parameter{name if name.startswith('/') else '/' + name}"


def _cloudformation(call: Call, region: str) -> Iterator[str]:
    for stack in _names(call, "StackName"):
        yield (
            stack
            if stack.startswith("arn:")
            else f"arn:aws:cloudformation:{region}:{call.account}:stack/{stack}/{STACK_ID_PLACEHOLDER}"
        )


def _cloudwatch(call: Call, region: str) -> Iterator[str]:
    for alarm in _names(call, "AlarmName", "AlarmNames"):
        yield f"arn:aws:cloudwatch:{region}:{call.account}:alarm:{alarm}"


RESOURCES: dict[str, Callable[[Call, str], Iterator[str]]] = {
    "dynamodb": _dynamodb,
    "kinesis": _kinesis,
    "ssm": _ssm,
    "cloudformation": _cloudformation,
    "cloudwatch": _cloudwatch,
}
