"""The base of every service stack: ownership tags, removal policy, outputs, and values shared in the stage.

Stacks of a stage share values through SSM parameters named after the publishing service and a key from its
contract, instead of CloudFormation exports: an export cannot change while another stack imports it, so each
service could no longer deploy on its own (ADR 0002). A reader needs only the publisher's contract, not its stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack, Tags
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from shared.environment import StageEnvironment
from shared.infra.naming import parameter_name, stack_name


@dataclass(frozen=True, kw_only=True)
class ServiceIdentity:
    name: str
    owner_team: str


class ServiceStack(Stack):
    """A stack owned by one service team in one stage; subclasses only compose constructs, grants and outputs."""

    SERVICE: ServiceIdentity

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: StageEnvironment,
        description: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=stack_name(environment.name, self.SERVICE.name),
            description=f"IoT {environment.name} {self.SERVICE.name}: {description}",
            termination_protection=environment.is_production,
            **kwargs,
        )
        self.stage_environment = environment
        self.removal_policy = RemovalPolicy.RETAIN if environment.removal_policy == "retain" else RemovalPolicy.DESTROY
        self.outputs: dict[str, CfnOutput] = {}
        for key, value in {
            "Environment": environment.name,
            "Service": self.SERVICE.name,
            "OwnerTeam": self.SERVICE.owner_team,
            "CostCenter": environment.cost_center,
        }.items():
            Tags.of(self).add(key, value)

    def output(self, construct_id: str, value: str, description: str) -> CfnOutput:
        """A stack output for people and tools (the pipeline's post-deploy steps read these)."""
        self.outputs[construct_id] = CfnOutput(self, construct_id, value=value, description=description)
        return self.outputs[construct_id]

    def share(self, key: str, value: str, description: str, *, output: str) -> None:
        """Publish ``value`` for the other stacks of the stage (SSM, under a key of this service's contract), and as
        the stack output ``output`` (the contract's name for it)."""
        ssm.StringParameter(
            self,
            f"{output}Parameter",
            parameter_name=parameter_name(self.stage_environment.name, self.SERVICE.name, key),
            string_value=value,
            description=description,
        )
        self.output(output, value, description)

    def read_shared(self, service: str, key: str) -> str:
        """A deploy-time token for a value another service of the stage shares (an SSM-typed stack parameter)."""
        return ssm.StringParameter.value_for_string_parameter(
            self, parameter_name(self.stage_environment.name, service, key)
        )
