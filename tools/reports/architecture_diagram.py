"""Draw one stage of the synthesized cloud assembly as a Mermaid flowchart in docs/architecture.md.

    python -m tools.reports.architecture_diagram --assembly-dir cdk.out [--stage dev] [--check] \
        [--doc docs/architecture.md]

Reads only the assembly (manifest.json, the stage assemblies nested in it, their templates and metadata), never
the code that produced it. One subgraph per stack; the resources of the types in NODE_KINDS are the nodes, named
after their construct paths (the stacks' metadata maps logical ids to them); every edge is derived from the
templates: event source mappings, Firehose sources and destinations, IoT rule actions, alias traffic shifting,
alarm and budget notifications, and IAM statements that write (WRITE_ACTIONS). A reference through an SSM
parameter (how stacks share values, decisions/0002) resolves to the resource the publishing stack stored in it,
so those edges cross stacks.

The diagram goes between DIAGRAM_BEGIN and DIAGRAM_END in the document; --check only compares and fails when the
document is stale (`make docs` regenerates it).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIAGRAM_BEGIN = "<!-- diagram:begin (make docs) -->"
DIAGRAM_END = "<!-- diagram:end -->"
DEFAULT_STAGE = "dev"


@dataclass(frozen=True, kw_only=True)
class NodeKind:
    label: str
    # construct ids that only repeat the kind ("Stream" in Readings/Stream); the label keeps the rest
    generic_ids: tuple[str, ...]


NODE_KINDS: Mapping[str, NodeKind] = {
    "AWS::Kinesis::Stream": NodeKind(label="Kinesis stream", generic_ids=("Stream",)),
    "AWS::Lambda::Function": NodeKind(label="Lambda function", generic_ids=("Function",)),
    "AWS::DynamoDB::Table": NodeKind(label="DynamoDB table", generic_ids=("Table",)),
    "AWS::S3::Bucket": NodeKind(label="S3 bucket", generic_ids=("Bucket",)),
    "AWS::SNS::Topic": NodeKind(label="SNS topic", generic_ids=("Topic",)),
    "AWS::KinesisFirehose::DeliveryStream": NodeKind(label="Firehose delivery stream", generic_ids=("DeliveryStream",)),
    "AWS::IoT::TopicRule": NodeKind(label="IoT topic rule", generic_ids=("TopicRule", "Rule")),
    "AWS::CloudWatch::Dashboard": NodeKind(label="CloudWatch dashboard", generic_ids=("Dashboard",)),
    "AWS::CloudWatch::CompositeAlarm": NodeKind(label="Composite alarm", generic_ids=("CompositeAlarm", "Alarm")),
    "AWS::Glue::Table": NodeKind(label="Glue table", generic_ids=("Table",)),
    "AWS::Athena::WorkGroup": NodeKind(label="Athena workgroup", generic_ids=("WorkGroup", "Workgroup")),
    "AWS::Budgets::Budget": NodeKind(label="Budget", generic_ids=("Budget",)),
    "AWS::CodeDeploy::DeploymentGroup": NodeKind(
        label="CodeDeploy deployment group", generic_ids=("DeploymentGroup", "Group")
    ),
}
# Construct ids CDK renders as the L1 resource under an L2 construct: never part of a name.
RESOURCE_IDS = frozenset({"Resource", "Default"})

# Functions CDK adds for itself: singleton handlers (LogRetention<uuid>, BucketNotificationsHandler<uuid>,
# AWS<uuid> of AwsCustomResource), custom resource providers (Custom::...) and the provider framework.
CDK_INTERNAL_FUNCTION = re.compile(r"[A-Za-z]*[0-9a-f]{32}|Custom::.*|framework-[A-Za-z]+")

# Resources that are not drawn but stand for the nodes their properties reference (the processor's alias stands
# for its function; an alarm for what its dimensions name; a shared SSM parameter for the value stored in it).
PASS_THROUGH: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "AWS::Lambda::Alias": (("Properties", "FunctionName"),),
    "AWS::Lambda::Version": (("Properties", "FunctionName"),),
    "AWS::CloudWatch::Alarm": (("Properties", "Dimensions"), ("Properties", "Metrics")),
    "AWS::SSM::Parameter": (("Properties", "Value"),),
}
SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<String>"

FLOW = "-->"
WATCH = "-.->"


@dataclass(frozen=True, kw_only=True)
class Link:
    """An edge of every resource of `resource_type`: from the nodes under `source` to the nodes under `target`.

    A path is a sequence of keys from the resource's top level; the empty path is the resource itself.
    """

    resource_type: str
    source: tuple[str, ...]
    target: tuple[str, ...]
    label: str
    arrow: str = FLOW


# Earlier links win when two derive an edge between the same pair of nodes; IAM write edges come after all of
# them, so a specific label ("on failure") is not replaced by the generic one its permission implies ("writes").
LINKS: tuple[Link, ...] = (
    Link(
        resource_type="AWS::Lambda::EventSourceMapping",
        source=("Properties", "EventSourceArn"),
        target=("Properties", "FunctionName"),
        label="event source mapping",
    ),
    Link(
        resource_type="AWS::Lambda::EventSourceMapping",
        source=("Properties", "FunctionName"),
        target=("Properties", "DestinationConfig", "OnFailure", "Destination"),
        label="on failure",
    ),
    Link(
        resource_type="AWS::KinesisFirehose::DeliveryStream",
        source=("Properties", "KinesisStreamSourceConfiguration", "KinesisStreamARN"),
        target=(),
        label="stream source",
    ),
    Link(
        resource_type="AWS::KinesisFirehose::DeliveryStream",
        source=(),
        target=("Properties", "ExtendedS3DestinationConfiguration", "BucketARN"),
        label="delivers",
    ),
    Link(
        resource_type="AWS::KinesisFirehose::DeliveryStream",
        source=(),
        target=("Properties", "S3DestinationConfiguration", "BucketARN"),
        label="delivers",
    ),
    Link(
        resource_type="AWS::IoT::TopicRule",
        source=(),
        target=("Properties", "TopicRulePayload", "Actions"),
        label="rule action",
    ),
    Link(
        resource_type="AWS::IoT::TopicRule",
        source=(),
        target=("Properties", "TopicRulePayload", "ErrorAction"),
        label="error action",
    ),
    Link(
        resource_type="AWS::Lambda::Alias",
        source=("UpdatePolicy", "CodeDeployLambdaAliasUpdate", "DeploymentGroupName"),
        target=("Properties", "FunctionName"),
        label="shifts traffic",
    ),
    Link(
        resource_type="AWS::Glue::Table",
        source=("Properties", "TableInput", "StorageDescriptor", "Location"),
        target=(),
        label="table location",
    ),
    Link(
        resource_type="AWS::Athena::WorkGroup",
        source=(),
        target=("Properties", "WorkGroupConfiguration", "ResultConfiguration", "OutputLocation"),
        label="query results",
    ),
    Link(
        resource_type="AWS::CloudWatch::CompositeAlarm",
        source=(),
        target=("Properties", "AlarmActions"),
        label="notifies",
    ),
    Link(
        resource_type="AWS::Budgets::Budget",
        source=(),
        target=("Properties", "NotificationsWithSubscribers"),
        label="notifies",
    ),
    Link(
        resource_type="AWS::CloudWatch::CompositeAlarm",
        source=("Properties", "AlarmRule"),
        target=(),
        label="alarms",
        arrow=WATCH,
    ),
)


@dataclass(frozen=True, kw_only=True)
class WriteActions:
    verb: str
    actions: tuple[str, ...]  # lower case: IAM actions are case-insensitive


# The IAM actions that move data into a resource of each type, and the verb the edge of a role allowed them
# carries. A statement's action covers one when it matches it as an IAM pattern (s3:Put* covers s3:PutObject).
WRITE_ACTIONS: Mapping[str, WriteActions] = {
    "AWS::DynamoDB::Table": WriteActions(verb="writes", actions=("dynamodb:batchwriteitem", "dynamodb:putitem")),
    "AWS::S3::Bucket": WriteActions(verb="writes", actions=("s3:putobject",)),
    "AWS::SNS::Topic": WriteActions(verb="publishes", actions=("sns:publish",)),
    "AWS::Kinesis::Stream": WriteActions(verb="puts records", actions=("kinesis:putrecord", "kinesis:putrecords")),
    "AWS::KinesisFirehose::DeliveryStream": WriteActions(
        verb="puts records", actions=("firehose:putrecord", "firehose:putrecordbatch")
    ),
}


class DiagramError(Exception):
    """An input the diagram cannot be drawn from; the message names what is wrong."""


@dataclass(frozen=True, kw_only=True)
class StackTemplate:
    construct_path: str  # IotPipeline/Dev/Ingest
    title: str  # iot-<stage>-ingest
    template: Mapping[str, Any]
    # logical id -> construct path (IotPipeline/Dev/Ingest/Storage/Processed/Resource), from the assembly's metadata
    construct_paths: Mapping[str, str]

    @property
    def construct_id(self) -> str:
        return self.construct_path.rsplit("/", 1)[-1]


@dataclass(frozen=True, kw_only=True, order=True)
class Node:
    id: str
    stack: str
    label: str


@dataclass(frozen=True, kw_only=True, order=True)
class Edge:
    source: str
    target: str
    label: str
    arrow: str


@dataclass(frozen=True, kw_only=True)
class Diagram:
    stacks: tuple[tuple[str, str], ...]  # (subgraph id, title), in deploy order
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


# --- reading the assembly ----------------------------------------------------------------------------------------


def stage_stacks(assembly_dir: Path, stage: str) -> list[StackTemplate]:
    """The stacks of `stage` (the last part of a stage assembly's name, lower case: IotPipeline/Dev is `dev`)."""
    stages = {_stage_name(artifact): directory for artifact, directory in _stage_assemblies(assembly_dir)}
    if stage not in stages:
        known = ", ".join(sorted(stages)) or "none"
        raise DiagramError(f"no stage {stage!r} in {assembly_dir}; its stages: {known}")
    stage_dir = assembly_dir / stages[stage]
    manifest = _manifest(stage_dir)
    stacks = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        properties = artifact.get("properties", {})
        template = json.loads((stage_dir / properties["templateFile"]).read_text(encoding="utf-8"))
        stack_name = properties.get("stackName", artifact_id)
        stacks.append(
            StackTemplate(
                construct_path=artifact.get("displayName", artifact_id),
                title="-".join("<stage>" if part == stage else part for part in stack_name.split("-")),
                template=template,
                construct_paths=_construct_paths(stage_dir, artifact),
            )
        )
    return stacks


def _construct_paths(stage_dir: Path, artifact: Mapping[str, Any]) -> dict[str, str]:
    """Logical id -> construct path, from the stack's metadata (in the manifest or the file it names). CDK writes
    it on every synth, unlike the templates' aws:cdk:path, which only the CLI asks for."""
    metadata: dict[str, list[Mapping[str, Any]]] = dict(artifact.get("metadata", {}))
    if "additionalMetadataFile" in artifact:
        metadata |= json.loads((stage_dir / artifact["additionalMetadataFile"]).read_text(encoding="utf-8"))
    return {
        entry["data"]: path.lstrip("/")
        for path, entries in metadata.items()
        for entry in entries
        if entry.get("type") == "aws:cdk:logicalId"
    }


def _stage_assemblies(assembly_dir: Path) -> Iterator[tuple[Mapping[str, Any], str]]:
    for artifact in _manifest(assembly_dir).get("artifacts", {}).values():
        if artifact.get("type") == "cdk:cloud-assembly":
            yield artifact, artifact["properties"]["directoryName"]


def _stage_name(artifact: Mapping[str, Any]) -> str:
    properties = artifact["properties"]
    return str(properties.get("displayName", properties["directoryName"])).rsplit("/", 1)[-1].lower()


def _manifest(directory: Path) -> Mapping[str, Any]:
    if not directory.is_dir():
        raise DiagramError(f"{directory} does not exist: synthesize first (make synth)")
    path = directory / "manifest.json"
    if not path.is_file():
        raise DiagramError(f"{directory} is not a cloud assembly (no manifest.json)")
    manifest: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


# --- the diagram ---------------------------------------------------------------------------------------------------

ResourceKey = tuple[str, str]  # (stack construct id, logical id)


class _Stage:
    """The resources of a stage's stacks, and what a reference in one of them stands for."""

    def __init__(self, stacks: list[StackTemplate]) -> None:
        self.stacks = {stack.construct_id: stack for stack in stacks}
        self.resources: dict[ResourceKey, Mapping[str, Any]] = {
            (stack.construct_id, logical_id): resource
            for stack in stacks
            for logical_id, resource in stack.template.get("Resources", {}).items()
        }
        self.published: dict[str, ResourceKey] = {
            resource["Properties"]["Name"]: key
            for key, resource in self.resources.items()
            if resource["Type"] == "AWS::SSM::Parameter" and isinstance(resource.get("Properties", {}).get("Name"), str)
        }
        self.nodes = self._nodes()

    def _nodes(self) -> dict[ResourceKey, Node]:
        log_buckets = {
            (stack, ref)
            for (stack, _), resource in self.resources.items()
            if resource["Type"] == "AWS::S3::Bucket"
            for ref in _references(resource.get("Properties", {}).get("LoggingConfiguration", {}))
        }
        nodes: dict[ResourceKey, Node] = {}
        for key, resource in sorted(self.resources.items()):
            kind = NODE_KINDS.get(resource["Type"])
            if kind is None or key in log_buckets:
                continue
            parts = self._construct_parts(key)
            if resource["Type"] == "AWS::Lambda::Function" and any(CDK_INTERNAL_FUNCTION.fullmatch(p) for p in parts):
                continue
            stack = key[0]
            node = Node(id=_node_id([stack, *parts]), stack=stack, label=_label(parts, kind))
            if any(other.id == node.id for other in nodes.values()):
                raise DiagramError(f"two resources would both be drawn as {node.id}: give them distinct construct ids")
            nodes[key] = node
        return nodes

    def _construct_parts(self, key: ResourceKey) -> list[str]:
        """The construct path below the stack, without the L1 `Resource` ids (the logical id if there is none)."""
        stack, logical_id = key
        path = self.stacks[stack].construct_paths.get(logical_id, "")
        prefix = self.stacks[stack].construct_path + "/"
        relative = path.removeprefix(prefix) if path.startswith(prefix) else logical_id
        return [part for part in relative.split("/") if part not in RESOURCE_IDS]

    def nodes_in(self, stack: str, value: object, seen: frozenset[ResourceKey] = frozenset()) -> set[ResourceKey]:
        """The nodes `value`, a piece of `stack`'s template, references (through pass-through resources)."""
        found: set[ResourceKey] = set()
        for logical_id in _references(value):
            key = self._resource_behind(stack, logical_id)
            if key is None or key in seen:
                continue
            if key in self.nodes:
                found.add(key)
                continue
            resource = self.resources[key]
            for path in PASS_THROUGH.get(resource["Type"], ()):
                found |= self.nodes_in(key[0], _at(resource, path), seen | {key})
        return found

    def _resource_behind(self, stack: str, logical_id: str) -> ResourceKey | None:
        """The resource a Ref or GetAtt names: one of the stack's own, or the SSM parameter a template parameter
        reads, which another stack of the stage publishes."""
        if (stack, logical_id) in self.resources:
            return (stack, logical_id)
        parameter = self.stacks[stack].template.get("Parameters", {}).get(logical_id, {})
        if parameter.get("Type") == SSM_PARAMETER_TYPE:
            return self.published.get(parameter.get("Default", ""))
        return None

    def derived_edges(self) -> Iterator[tuple[ResourceKey, ResourceKey, str, str]]:
        """(source, target, label, arrow) of every edge: the LINKS first, then the IAM write edges."""
        for link in LINKS:
            for key, resource in sorted(self.resources.items()):
                if resource["Type"] == link.resource_type:
                    for source in self._ends(key, link.source):
                        for target in self._ends(key, link.target):
                            yield source, target, link.label, link.arrow
        for key, resource in sorted(self.resources.items()):
            if resource["Type"] == "AWS::IAM::Policy":
                yield from self._write_edges(key[0], resource.get("Properties", {}))

    def _ends(self, key: ResourceKey, path: tuple[str, ...]) -> list[ResourceKey]:
        if not path:
            return [key] if key in self.nodes else []
        return sorted(self.nodes_in(key[0], _at(self.resources[key], path)))

    def _write_edges(
        self, stack: str, policy: Mapping[str, Any]
    ) -> Iterator[tuple[ResourceKey, ResourceKey, str, str]]:
        """From the nodes that run as the policy's roles to each node a statement lets them write to."""
        roles = _references(policy.get("Roles", []))
        writers = sorted(
            key
            for key in self.nodes
            if key[0] == stack and roles & _references(self.resources[key].get("Properties", {}))
        )
        for statement in _as_list(policy.get("PolicyDocument", {}).get("Statement", [])):
            if statement.get("Effect") != "Allow":
                continue
            patterns = [str(action).lower() for action in _as_list(statement.get("Action", []))]
            for target in sorted(self.nodes_in(stack, statement.get("Resource", []))):
                writes = WRITE_ACTIONS.get(self.resources[target]["Type"])
                if writes and any(fnmatch.fnmatchcase(a, p) for a in writes.actions for p in patterns):
                    yield from ((writer, target, writes.verb, FLOW) for writer in writers)


def build_diagram(stacks: list[StackTemplate]) -> Diagram:
    stage = _Stage(stacks)
    edges: dict[tuple[str, str], Edge] = {}
    for source_key, target_key, label, arrow in stage.derived_edges():
        source, target = stage.nodes[source_key].id, stage.nodes[target_key].id
        if source != target:
            edges.setdefault((source, target), Edge(source=source, target=target, label=label, arrow=arrow))
    return Diagram(
        stacks=tuple((stack.construct_id, stack.title) for stack in stacks),
        nodes=tuple(sorted(stage.nodes.values())),
        edges=tuple(sorted(edges.values())),
    )


def _references(value: object) -> set[str]:
    """The logical ids (resources or parameters) a template value names with Ref or Fn::GetAtt, at any depth."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        if isinstance(value.get("Ref"), str) and not value["Ref"].startswith("AWS::"):
            found.add(value["Ref"])
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att and isinstance(get_att[0], str):
            found.add(get_att[0])
        elif isinstance(get_att, str):
            found.add(get_att.split(".", 1)[0])
        for item in value.values():
            found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _at(resource: Mapping[str, Any], path: tuple[str, ...]) -> object:
    value: object = resource
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _node_id(parts: list[str]) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts))


def _label(parts: list[str], kind: NodeKind) -> str:
    """`Processed` + S3 bucket from Storage/Processed; the last construct id that is more than the kind's name."""
    for part in reversed(parts):
        role = next((part.removesuffix(g) for g in kind.generic_ids if part.endswith(g)), part)
        if role:
            return f"{_words(role)}\n{kind.label}"
    return kind.label


def _words(construct_id: str) -> str:
    """FailedBatches -> Failed batches; acronyms stay as written (MQTT)."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", construct_id) or [construct_id]
    return " ".join([words[0], *(w if w.isupper() and len(w) > 1 else w.lower() for w in words[1:])])


# --- Mermaid and the document ------------------------------------------------------------------------------------


def render(diagram: Diagram) -> str:
    """The flowchart, without the fence."""
    lines = ["flowchart LR"]
    for stack_id, title in diagram.stacks:
        lines.append(f'  subgraph {_node_id([stack_id])}["{_escape(title)}"]')
        lines += [f'    {node.id}["{_escape(node.label)}"]' for node in diagram.nodes if node.stack == stack_id]
        lines.append("  end")
    lines += [f"  {edge.source} {edge.arrow}|{edge.label}| {edge.target}" for edge in diagram.edges]
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    """Mermaid's entity codes for what would end the label or read as HTML (`<stage>`); a newline breaks the line."""
    escaped = text.replace('"', "#quot;").replace("<", "#60;").replace(">", "#62;")
    return escaped.replace("\n", "<br/>")


def updated_document(document: str, *, assembly_dir: Path, stage: str) -> str:
    """`document` with the diagram of `stage` as synthesized in `assembly_dir`."""
    return with_diagram(document, render(build_diagram(stage_stacks(assembly_dir, stage))))


def with_diagram(document: str, flowchart: str) -> str:
    """`document` with the fenced `flowchart` between its markers (everything else unchanged)."""
    before, after = _outside_markers(document)
    return f"{before}{DIAGRAM_BEGIN}\n```mermaid\n{flowchart}```\n{DIAGRAM_END}{after}"


def _outside_markers(document: str) -> tuple[str, str]:
    for marker in (DIAGRAM_BEGIN, DIAGRAM_END):
        if document.count(marker) != 1:
            raise DiagramError(f"the document must contain the line {marker} exactly once")
    before, rest = document.split(DIAGRAM_BEGIN)
    if DIAGRAM_END not in rest:
        raise DiagramError(f"{DIAGRAM_END} must come after {DIAGRAM_BEGIN}")
    return before, rest.split(DIAGRAM_END)[1]


def _read_document(path: Path) -> str:
    if not path.is_file():
        raise DiagramError(f"{path} does not exist")
    return path.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.reports.architecture_diagram",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--assembly-dir", type=Path, default=Path("cdk.out"), help="synthesized cloud assembly")
    parser.add_argument("--stage", default=DEFAULT_STAGE, help=f"stage to draw (default: {DEFAULT_STAGE})")
    parser.add_argument("--doc", type=Path, default=Path("docs/architecture.md"), help="Markdown file with the markers")
    parser.add_argument("--check", action="store_true", help="only compare: fail when the document is stale")
    args = parser.parse_args(argv)
    try:
        document = _read_document(args.doc)
        updated = updated_document(document, assembly_dir=args.assembly_dir, stage=args.stage)
    except DiagramError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if updated == document:
        print(f"{args.doc}: diagram of the {args.stage} stage is up to date")
        return 0
    if args.check:
        print(f"{args.doc} is stale: run make docs", file=sys.stderr)
        return 1
    args.doc.write_text(updated, encoding="utf-8")
    print(f"{args.doc}: diagram of the {args.stage} stage regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
