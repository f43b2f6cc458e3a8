"""The base of every service stack: ownership tags, removal policy, outputs, and values shared in the stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack, Tags
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from shared.infra.naming import parameter_name, stack_name
from stages.config import StageConfig


@dataclass(frozen=True, kw_only=True)
class ServiceIdentity:
    name: str
    owner_team: str


@dataclass(frozen=True, kw_only=True)
class SharedValue:
    """A value one stack of a stage publishes in SSM and other stacks of the same stage read at deploy time.

    Going through SSM instead of CloudFormation exports lets each service deploy on its own: an export
    cannot change while another stack imports it.
    """

    parameter_name: str

    def read(self, scope: Construct) -> str:
        """A deploy-time token for the value (a CloudFormation SSM parameter; no lookup at synth)."""
        return ssm.StringParameter.value_for_string_parameter(scope, self.parameter_name)


class ServiceStack(Stack):
    """A stack owned by one service team in one stage; subclasses only compose constructs, grants and outputs."""

    SERVICE: ServiceIdentity

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, description: str, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=stack_name(config.name, self.SERVICE.name),
            description=f"IoT {config.name} {self.SERVICE.name}: {description}",
            termination_protection=config.is_production,
            **kwargs,
        )
        self.config = config
        self.removal_policy = RemovalPolicy.RETAIN if config.removal_policy == "retain" else RemovalPolicy.DESTROY
        self.outputs: dict[str, CfnOutput] = {}
        for key, value in {
            "Environment": config.name,
            "Service": self.SERVICE.name,
            "OwnerTeam": self.SERVICE.owner_team,
            "CostCenter": config.cost_center,
        }.items():
            Tags.of(self).add(key, value)

    def output(self, construct_id: str, value: str, description: str) -> CfnOutput:
        """A stack output for people and tools (the pipeline's post-deploy steps read these)."""
        self.outputs[construct_id] = CfnOutput(self, construct_id, value=value, description=description)
        return self.outputs[construct_id]

    def share(self, key: str, value: str, description: str) -> SharedValue:
        """Publish ``value`` for the other stacks of the stage (SSM) and as a stack output."""
        name = parameter_name(self.config.name, self.SERVICE.name, key)
        construct_id = "".join(part.title() for part in key.split("-"))
        ssm.StringParameter(
            self, f"{construct_id}Parameter", parameter_name=name, string_value=value, description=description
        )
        self.output(construct_id, value, description)
        return SharedValue(parameter_name=name)
