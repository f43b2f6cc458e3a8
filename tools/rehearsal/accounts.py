"""The four accounts of cdk.json in the emulator, each bootstrapped with the locked CLI's own bootstrap template.

The emulator keeps each account apart by the credentials a request carries: credentials from an assumed role in an
account act in that account (moto maps them). Stage accounts trust the tooling account, as
``cdk bootstrap --trust <tooling> --trust-for-lookup <tooling>`` makes them (docs/bootstrapping.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from shared.repository import REPO_ROOT
from tools.common.aws_session import session_for

BOOTSTRAP_TEMPLATE = REPO_ROOT / "node_modules" / "aws-cdk" / "lib" / "api" / "bootstrap" / "bootstrap-template.yaml"
BOOTSTRAP_STACK = "CDKToolkit"
# Who the rehearsal itself acts as in each account (CodePipeline, CodeBuild and CloudFormation in AWS): its calls
# are not the steps', and are not evaluated.
REHEARSAL_ROLE = "pipeline-rehearsal"
EXECUTION_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


@dataclass(frozen=True, kw_only=True)
class Accounts:
    tooling: str
    stages: Mapping[str, str]  # stage name -> account
    region: str

    def every(self) -> list[str]:
        return [self.tooling, *dict.fromkeys(self.stages.values())]


def rehearsal_session(account: str, region: str) -> boto3.Session:
    """The rehearsal's own identity in ``account`` (its calls are not evaluated: ADR 0017)."""
    return session_for(
        f"arn:aws:iam::{account}:role/{REHEARSAL_ROLE}", session_name="rehearsal", via=boto3.Session(region_name=region)
    )


def bootstrap(accounts: Accounts) -> None:
    """``cdk bootstrap`` of every account with the locked CLI's template: the bootstrap bucket and key, the deploy,
    file-publishing, lookup and CloudFormation execution roles, the version parameter."""
    template = BOOTSTRAP_TEMPLATE.read_text(encoding="utf-8")
    for account in accounts.every():
        trusted = "" if account == accounts.tooling else accounts.tooling
        parameters: dict[str, Any] = {
            "TrustedAccounts": trusted,
            "TrustedAccountsForLookup": trusted,
            "CloudFormationExecutionPolicies": EXECUTION_POLICY,
        }
        cloudformation = rehearsal_session(account, accounts.region).client("cloudformation")
        cloudformation.create_stack(
            StackName=BOOTSTRAP_STACK,
            TemplateBody=template,
            Capabilities=["CAPABILITY_NAMED_IAM"],
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        )
