"""One service's stack synthesized for every configured stage, on its own: what the services' infra tests read.

Each stack is built inside a CDK Stage of the stage's account and region, as the platform deploys it, but without
the other services and the pipeline, so a team's infra tests synthesize only its own stack. Every nag pack checks
it: the synth fails on any unacknowledged finding. Values the stage wires between services (another service's
settings) are the test's to choose; the cross-service tests in tests/ check the wiring of the real stage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aws_cdk import App, Environment, Stage
from aws_cdk.assertions import Template
from constructs import Construct

from shared.config import committed_context, configured_stages, load_section
from shared.environment import StageEnvironment, load_stage_environment
from shared.infra.compliance import enable_nag
from shared.infra.service import ServiceStack

Settings = TypeVar("Settings")
StackOf = TypeVar("StackOf", bound=ServiceStack)


@dataclass(frozen=True, kw_only=True)
class SynthesizedService(Generic[Settings, StackOf]):
    environment: StageEnvironment
    config: Settings
    stack: StackOf
    template: Template


class ServiceTemplate(Generic[Settings, StackOf]):
    """One stage's synthesized stack of a service, with the lookups every infra test makes."""

    def __init__(self, service: SynthesizedService[Settings, StackOf]) -> None:
        self.stack = service.stack
        self.environment = service.environment
        self.config = service.config
        self.template = service.template
        self.body: Mapping[str, Any] = self.template.to_json()

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.body["Resources"].items() if r["Type"] == resource_type}

    def props(self, logical_id: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.body["Resources"][logical_id].get("Properties", {})
        return properties

    def output_target(self, output: str, resource_type: str) -> str:
        """The logical id an output refers to (``Ref`` or ``GetAtt .Arn``), checked to be a ``resource_type``."""
        value = self.body["Outputs"][output]["Value"]
        logical_id = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
        assert self.body["Resources"][logical_id]["Type"] == resource_type, output
        assert isinstance(logical_id, str)
        return logical_id


def synthesize_per_stage(
    build: Callable[[Construct, StageEnvironment, Settings], StackOf],
    *,
    config_type: type[Settings],
    section: str,
    overrides: Mapping[str, Any] | None = None,
    only: str | None = None,
) -> dict[str, SynthesizedService[Settings, StackOf]]:
    """``build`` the stack of each stage in cdk.json (plus ``overrides``; ``only`` that one stage) from
    ``iot.stages.<stage>.<section>``."""
    context = {**committed_context(), **(overrides or {})}
    synthesized = {}
    for name in configured_stages(context) if only is None else (only,):
        environment = load_stage_environment(context, name)
        config = load_section(context, config_type, "stages", name, section)
        app = App(context=context)
        stage = Stage(app, name.title(), env=Environment(account=environment.account, region=environment.region))
        stack = build(stage, environment, config)
        enable_nag(app)
        app.synth()
        synthesized[name] = SynthesizedService(
            environment=environment, config=config, stack=stack, template=Template.from_stack(stack)
        )
    return synthesized
