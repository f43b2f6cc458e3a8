"""The delivery pipeline as synthesized: its stages and actions in the order CodePipeline runs them, each CodeBuild
project's buildspec and variables, each CloudFormation action's configuration. Read from the cloud assembly, never
written by hand: a change to pipeline/ changes what the rehearsal runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from tools.common.cloud_assembly import NotAnAssemblyError, stack_artifacts

PIPELINE_TYPE = "AWS::CodePipeline::Pipeline"
PARTITION = "aws"
PHASES = ("install", "pre_build", "build", "post_build")
# `#{Namespace.Variable}`: a variable CodePipeline resolves when the action starts.
VARIABLE_REFERENCE = re.compile(r"#\{([^.}]+)\.([^}]+)\}")


class PipelineError(ValueError):
    """The assembly holds no pipeline, or one this reader cannot follow; the message names what and where."""


class ActionKind(Enum):
    SOURCE = "source"
    BUILD = "build"  # a CodeBuild project: synth, self-mutation, assets, or a step
    CHANGE_SET_REPLACE = "change set"
    CHANGE_SET_EXECUTE = "deploy"
    APPROVAL = "approval"


@dataclass(frozen=True, kw_only=True)
class BuildProject:
    logical_id: str
    role_logical_id: str
    variables: dict[str, str]  # the project's plain variables
    commands: dict[str, list[str]]  # by phase, in PHASES order
    output_directory: str | None  # the primary artifact's base directory
    exported_variables: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Action:
    stage: str
    name: str
    run_order: int
    kind: ActionKind
    configuration: dict[str, Any]
    namespace: str | None
    role_arn: Any  # as synthesized: a literal, or a reference to a role of the pipeline stack
    project: BuildProject | None = None

    @property
    def label(self) -> str:
        return f"{self.stage}/{self.name}"

    def variable_references(self) -> dict[str, tuple[str, str]]:
        """The action's variables that CodePipeline resolves: name -> (namespace, variable)."""
        raw = self.configuration.get("EnvironmentVariables")
        found: dict[str, tuple[str, str]] = {}
        for variable in json.loads(raw) if isinstance(raw, str) else []:
            match = VARIABLE_REFERENCE.fullmatch(str(variable["value"]))
            if match:
                found[str(variable["name"])] = (match.group(1), match.group(2))
        return found

    def plain_action_variables(self) -> dict[str, str]:
        """Variables the action passes as literals (CDK's project-configuration hash, say)."""
        raw = self.configuration.get("EnvironmentVariables")
        return {
            str(v["name"]): str(v["value"])
            for v in (json.loads(raw) if isinstance(raw, str) else [])
            if not VARIABLE_REFERENCE.fullmatch(str(v["value"]))
        }


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    name: str
    stack_name: str
    assembly: Path
    template: dict[str, Any]
    role_logical_id: str  # the pipeline's own role, which assumes each action's role
    actions: tuple[Action, ...]  # in the order CodePipeline runs them

    def rounds(self) -> Iterator[tuple[str, int, list[Action]]]:
        """(stage, run order, the actions CodePipeline starts together), in order."""
        group: list[Action] = []
        for action in self.actions:
            if group and (group[0].stage, group[0].run_order) != (action.stage, action.run_order):
                yield group[0].stage, group[0].run_order, group
                group = []
            group.append(action)
        if group:
            yield group[0].stage, group[0].run_order, group

    def commands(self) -> list[tuple[str, str]]:
        """Every command of every project, in every phase: (action label, command)."""
        return [
            (action.label, command)
            for action in self.actions
            if action.project is not None
            for phase in PHASES
            for command in action.project.commands.get(phase, [])
        ]


def read_pipeline(assembly: Path) -> Pipeline:
    """The one pipeline stack of the cloud assembly at ``assembly``."""
    try:
        found = [a for a in stack_artifacts(assembly) if PIPELINE_TYPE in _types(a.template())]
    except NotAnAssemblyError as error:
        raise PipelineError(str(error)) from None
    if len(found) != 1:
        raise PipelineError(f"{assembly}: expected one stack with a {PIPELINE_TYPE}, found {len(found)}")
    artifact = found[0]
    template = artifact.template()
    (pipeline_id,) = [lid for lid, r in template["Resources"].items() if r["Type"] == PIPELINE_TYPE]
    properties = template["Resources"][pipeline_id]["Properties"]
    actions = []
    for stage in properties["Stages"]:
        ordered = sorted(stage["Actions"], key=lambda a: int(a.get("RunOrder", 1)))
        for raw in ordered:
            actions.append(_action(stage["Name"], raw, template))
    return Pipeline(
        name=str(properties.get("Name", pipeline_id)),
        stack_name=artifact.stack_name,
        assembly=artifact.directory,
        template=template,
        role_logical_id=_role_id(properties["RoleArn"], "the pipeline"),
        actions=tuple(actions),
    )


def _types(template: Mapping[str, Any]) -> set[str]:
    return {str(resource["Type"]) for resource in template.get("Resources", {}).values()}


def _action(stage: str, raw: Mapping[str, Any], template: Mapping[str, Any]) -> Action:
    type_id = raw["ActionTypeId"]
    configuration = dict(raw.get("Configuration", {}))
    kind = _kind(type_id, configuration, f"{stage}/{raw['Name']}")
    project = None
    if kind is ActionKind.BUILD:
        project = _project(configuration["ProjectName"], template, f"{stage}/{raw['Name']}")
    return Action(
        stage=stage,
        name=str(raw["Name"]),
        run_order=int(raw.get("RunOrder", 1)),
        kind=kind,
        configuration=configuration,
        namespace=raw.get("Namespace"),
        role_arn=raw.get("RoleArn"),
        project=project,
    )


def _kind(type_id: Mapping[str, str], configuration: Mapping[str, Any], label: str) -> ActionKind:
    provider = type_id["Provider"]
    if type_id["Category"] == "Source":
        return ActionKind.SOURCE
    if provider == "CodeBuild":
        return ActionKind.BUILD
    if provider == "Manual":
        return ActionKind.APPROVAL
    if provider == "CloudFormation":
        mode = configuration.get("ActionMode")
        if mode == "CHANGE_SET_REPLACE":
            return ActionKind.CHANGE_SET_REPLACE
        if mode == "CHANGE_SET_EXECUTE":
            return ActionKind.CHANGE_SET_EXECUTE
        raise PipelineError(f"{label}: CloudFormation action mode {mode!r} is not rehearsed (only change sets)")
    raise PipelineError(f"{label}: no rehearsal for {type_id['Category']} actions of provider {provider!r}")


def _project(reference: Any, template: Mapping[str, Any], label: str) -> BuildProject:
    if not (isinstance(reference, dict) and "Ref" in reference):
        raise PipelineError(f"{label}: its ProjectName is not a project of the pipeline stack: {reference!r}")
    logical_id = reference["Ref"]
    properties = template["Resources"][logical_id]["Properties"]
    spec = _build_spec(properties["Source"].get("BuildSpec"), label)
    phases = spec.get("phases", {})
    environment = properties.get("Environment", {}).get("EnvironmentVariables", [])
    return BuildProject(
        logical_id=logical_id,
        role_logical_id=_role_id(properties["ServiceRole"], label),
        variables={str(v["Name"]): str(v["Value"]) for v in environment if v.get("Type", "PLAINTEXT") == "PLAINTEXT"},
        commands={phase: [str(c) for c in phases[phase].get("commands", [])] for phase in PHASES if phase in phases},
        output_directory=spec.get("artifacts", {}).get("base-directory"),
        exported_variables=tuple(spec.get("env", {}).get("exported-variables", [])),
    )


def _build_spec(raw: Any, label: str) -> dict[str, Any]:
    """An inline buildspec: JSON, or JSON joined around references (the permission check names its function)."""
    if isinstance(raw, dict) and "Fn::Join" in raw:
        separator, parts = raw["Fn::Join"]
        raw = separator.join(part if isinstance(part, str) else json.dumps(json.dumps(part))[1:-1] for part in parts)
    try:
        spec: dict[str, Any] = json.loads(raw)
    except (TypeError, json.JSONDecodeError):
        raise PipelineError(f"{label}: its buildspec is not inline JSON: {str(raw)[:200]!r}") from None
    return spec


def _role_id(reference: Any, label: str) -> str:
    if isinstance(reference, dict) and "Fn::GetAtt" in reference:
        return str(reference["Fn::GetAtt"][0])
    raise PipelineError(f"{label}: its role is not a role of the pipeline stack: {reference!r}")


def literal_arn(value: Any) -> str:
    """A role ARN the pipeline names in another account: a literal, or joined around the partition."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        if all(isinstance(part, str) or part == {"Ref": "AWS::Partition"} for part in parts):
            return str(separator).join(PARTITION if isinstance(part, dict) else part for part in parts)
    raise PipelineError(f"not a role ARN of another account: {value!r}")
