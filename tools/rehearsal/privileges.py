"""Least privilege, proven on the rehearsal's calls: every call a step's identity made, evaluated against that
identity's policies as deployed, with a maintained IAM policy simulator (@cloud-copilot/iam-simulate, driven through
tools/rehearsal/simulate.mjs; AGPL-3.0, so a development tool only, never part of what is deployed: ADR 0017).

- The policies are read from the emulator's IAM, where the deploys put them from the synthesized templates: the
  role's inline and attached policies, its permissions boundary, and, for AssumeRole, the target role's trust policy
  (moto's STS does not evaluate trust policies); for S3, the bucket's policy.
- A call the policies do not allow is a ``Denial``: the call, the identity and what is missing.
- Every allowing statement is remembered: ``unused_report`` lists, per role, the actions its policies allow that
  no call used, for the reviewer to decide.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from shared.repository import REPO_ROOT
from tools.rehearsal.calls import Call, IamRequest, iam_requests

SIMULATOR = Path(__file__).with_name("simulate.mjs")
AWS_MANAGED = "arn:aws:iam::aws:policy/"
ALLOWED = "Allowed"


class SimulatorError(RuntimeError):
    """The simulator refused a request or stopped; the message says which and why."""


@dataclass(frozen=True, kw_only=True)
class Policy:
    name: str  # an inline policy's name, or a managed policy's ARN
    document: dict[str, Any]

    @property
    def statements(self) -> list[dict[str, Any]]:
        raw = self.document.get("Statement", [])
        return [raw] if isinstance(raw, dict) else list(raw)


@dataclass(frozen=True, kw_only=True)
class RolePolicies:
    arn: str
    identity: tuple[Policy, ...]
    boundary: Policy | None
    trust: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Denial:
    principal: str
    request: IamRequest
    missing: str  # what no policy gives, in words

    def __str__(self) -> str:
        return (
            f"{self.principal} called {self.request.action} on {self.request.resource}, which its policies do not "
            f"allow: {self.missing}"
        )


class PolicySimulator:
    """@cloud-copilot/iam-simulate in one Node process, one request a line; answers are cached by request."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - node from PATH with our own script
            ["node", str(SIMULATOR)],  # noqa: S607
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._answers: dict[str, dict[str, Any]] = {}

    def __enter__(self) -> PolicySimulator:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=30)

    def simulate(self, simulation: Mapping[str, Any]) -> dict[str, Any]:
        key = json.dumps(simulation, sort_keys=True)
        if key not in self._answers:
            assert self._process.stdin is not None
            assert self._process.stdout is not None
            self._process.stdin.write(json.dumps({"id": len(self._answers), "simulation": simulation}) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
            if not line:
                raise SimulatorError(f"the IAM simulator stopped (exit code {self._process.poll()})")
            answer: dict[str, Any] = json.loads(line)
            if "error" in answer:
                request = simulation["request"]
                raise SimulatorError(
                    f"the IAM simulator refused {request['action']} on {request['resource']['resource']} by "
                    f"{request['principal']}: {answer['error'][:500]}"
                )
            self._answers[key] = answer
        return self._answers[key]


@dataclass
class LeastPrivilege:
    """Evaluates the calls of the identities it is given; remembers which statements allowed them."""

    simulator: PolicySimulator
    region: str
    policies_of: Callable[[str], RolePolicies]  # a role ARN -> its policies as deployed
    bucket_policy_of: Callable[[str, str], dict[str, Any] | None]  # (account, bucket) -> its policy
    evaluated: Callable[[Call], bool]  # whose calls are evaluated
    _used: dict[str, dict[tuple[str, int], set[str]]] = field(default_factory=dict)  # role -> statement -> actions
    _roles: dict[str, RolePolicies] = field(default_factory=dict)

    def check(self, calls: Iterable[Call]) -> list[Denial]:
        """Every call by an evaluated identity, against its policies; the ones they do not allow."""
        denials: list[Denial] = []
        for call in calls:
            role_arn = call.role_arn
            if role_arn is None or call.principal is None or not self.evaluated(call):
                continue
            policies = self._policies(role_arn)
            for request in iam_requests(call, region=self.region):
                answer = self.simulator.simulate(self._simulation(call.principal, policies, request))
                if answer["result"] == ALLOWED:
                    self._remember(policies, request, answer["grants"])
                else:
                    denials.append(
                        Denial(principal=role_arn, request=request, missing=_missing(answer, request, role_arn))
                    )
        return denials

    def unused_report(self) -> str:
        """Markdown: per role that made calls, the actions its policies allow that no call used."""
        lines = [
            "# Permissions no rehearsed call used",
            "",
            "Each role below made calls during the rehearsal; these are the actions its policies allow that none of",
            "them used. Some are used by what the rehearsal does not run (CodeBuild's logs and artifacts, the",
            "permission check, CloudFormation's own use of a passed role): for the reviewer to decide.",
            "",
        ]
        for arn, policies in sorted(self._roles.items()):
            used = self._used.get(arn, {})
            rows = list(_unused_rows(policies, used))
            lines.extend([f"## {arn}", "", *(rows or ["every allowed action was used"]), ""])
        return "\n".join(lines)

    def _policies(self, role_arn: str) -> RolePolicies:
        if role_arn not in self._roles:
            self._roles[role_arn] = self.policies_of(role_arn)
        return self._roles[role_arn]

    def _simulation(self, principal: str, policies: RolePolicies, request: IamRequest) -> dict[str, Any]:
        principal_account = policies.arn.split(":")[4]
        resource_policy = self._resource_policy(request)
        return {
            "request": {
                "principal": principal,
                "action": request.action,
                "resource": {"resource": request.resource, "accountId": request.account},
                # What AWS puts in every request of an assumed-role session over HTTPS.
                "contextVariables": {
                    "aws:PrincipalArn": policies.arn,
                    "aws:PrincipalAccount": principal_account,
                    "aws:PrincipalType": "AssumedRole",
                    "aws:SecureTransport": "true",
                    "aws:RequestedRegion": self.region,
                    "aws:ResourceAccount": request.account,
                    **request.context,
                },
            },
            "identityPolicies": [{"name": p.name, "policy": p.document} for p in policies.identity],
            "serviceControlPolicies": [],
            "resourceControlPolicies": [],
            **({"resourcePolicy": resource_policy} if resource_policy else {}),
            **(
                {"permissionBoundaryPolicies": [{"name": policies.boundary.name, "policy": policies.boundary.document}]}
                if policies.boundary
                else {}
            ),
        }

    def _resource_policy(self, request: IamRequest) -> dict[str, Any] | None:
        if request.action == "sts:AssumeRole":
            return self._policies(request.resource).trust
        if request.action.startswith("s3:") and request.resource.startswith("arn:aws:s3:::"):
            bucket = request.resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            return self.bucket_policy_of(request.account, bucket)
        return None

    def _remember(self, policies: RolePolicies, request: IamRequest, grants: list[dict[str, Any]]) -> None:
        used = self._used.setdefault(policies.arn, {})
        for grant in grants:
            if grant.get("policyType") == "identity":
                used.setdefault((grant["policyIdentifier"], int(grant["statementIndex"])), set()).add(request.action)


def _missing(answer: Mapping[str, Any], request: IamRequest, role_arn: str) -> str:
    """What denied the request, in words: an explicit Deny, no identity statement, or a resource (trust) policy
    that does not admit the role."""
    reasons = []
    for denial in answer.get("denials", []):
        kind = denial.get("policyType")
        if denial.get("denialType") == "Explicit":
            statement = denial.get("statementId") or f"statement {denial.get('statementIndex')}"
            reasons.append(f"explicitly denied by {statement} of {denial.get('policyIdentifier') or kind} policy")
        elif kind == "identity":
            reasons.append(f"no statement of {role_arn}'s policies allows {request.action} on {request.resource}")
        elif kind == "resource" and request.action == "sts:AssumeRole":
            reasons.append(f"the trust policy of {request.resource} does not admit {role_arn}")
        elif kind == "resource":
            reasons.append(f"the resource policy of {request.resource} does not admit {role_arn}")
        else:
            reasons.append(f"denied by the {kind} policy")
    return "; ".join(reasons) or str(answer.get("result"))


def _unused_rows(policies: RolePolicies, used: Mapping[tuple[str, int], set[str]]) -> Iterator[str]:
    for policy in policies.identity:
        if policy.name.startswith(AWS_MANAGED):
            count = sum(len(actions) for (name, _), actions in used.items() if name == policy.name)
            yield f"- {policy.name} (AWS managed): {count} of its actions used; not listed action by action"
            continue
        for index, statement in enumerate(policy.statements, start=1):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            patterns = [actions] if isinstance(actions, str) else list(actions)
            called = used.get((policy.name, index), set())
            unused = [p for p in patterns if not any(fnmatch.fnmatch(a.lower(), p.lower()) for a in called)]
            if unused:
                resources = statement.get("Resource", "*")
                label = statement.get("Sid") or f"statement {index}"
                yield f"- {policy.name}, {label}: {', '.join(unused)} on {json.dumps(resources)}"


def role_policies(session_of_account: Callable[[str], boto3.Session]) -> Callable[[str], RolePolicies]:
    """Reads a role's policies as deployed, from the IAM of its account (through ``session_of_account``)."""

    def read(role_arn: str) -> RolePolicies:
        account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[1]
        iam = session_of_account(account).client("iam")
        role = iam.get_role(RoleName=name)["Role"]
        inline = [
            Policy(name=policy, document=_document(iam.get_role_policy(RoleName=name, PolicyName=policy)))
            for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]
        ]
        attached = [
            _managed(iam, attached["PolicyArn"])
            for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        ]
        boundary = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
        return RolePolicies(
            arn=role_arn,
            identity=(*inline, *attached),
            boundary=_managed(iam, boundary) if boundary else None,
            trust=_parsed(role["AssumeRolePolicyDocument"]),
        )

    return read


def bucket_policies(session_of_account: Callable[[str], boto3.Session]) -> Callable[[str, str], dict[str, Any] | None]:
    def read(account: str, bucket: str) -> dict[str, Any] | None:
        s3 = session_of_account(account).client("s3")
        try:
            return _parsed(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchBucketPolicy", "NoSuchBucket"):
                return None
            raise

    return read


def _managed(iam: Any, arn: str) -> Policy:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return Policy(name=arn, document=_parsed(document))


def _document(response: Mapping[str, Any]) -> dict[str, Any]:
    return _parsed(response["PolicyDocument"])


def _parsed(document: Any) -> dict[str, Any]:
    """A policy document as boto3 gives it: parsed already, or JSON text."""
    parsed: dict[str, Any] = json.loads(document) if isinstance(document, str) else dict(document)
    return parsed
