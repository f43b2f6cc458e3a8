"""What a deploy changes, stack by stack: two sets of CloudFormation templates compared, and the Markdown a reviewer
reads (the prod change report, ``make diff``, ``make environments``, the pull-request comment).

For every stack it lists the resources added, modified, replaced and removed. Whether a change replaces a
resource comes from the CloudFormation resource specification the pinned CDK CLI ships (its ``db.json.gz``:
per property, whether changing it causes replacement), so the comparison works offline. At the top the report calls
out what a reviewer must look at: replaced or removed stateful resources (streams, tables, buckets, keys), IAM
changes statement by statement, key policies, resource policies (bucket, topic, queue, function) and network.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from shared.repository import REPO_ROOT
from tools.common.cloud_assembly import NotAnAssemblyError, stack_artifacts

RESOURCE_SPEC = REPO_ROOT / "node_modules" / "aws-cdk" / "db.json.gz"

STATEFUL_TYPES = {
    "AWS::Kinesis::Stream": "stream",
    "AWS::DynamoDB::Table": "table",
    "AWS::DynamoDB::GlobalTable": "table",
    "AWS::S3::Bucket": "bucket",
    "AWS::KMS::Key": "key",
}
# Where each kind of policy document sits: resource type -> properties holding policy documents.
IAM_POLICY_PROPERTIES = {
    "AWS::IAM::Role": ("AssumeRolePolicyDocument", "Policies", "ManagedPolicyArns", "PermissionsBoundary"),
    "AWS::IAM::Policy": ("PolicyDocument", "Roles", "Users", "Groups"),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument", "Roles", "Users", "Groups"),
    "AWS::IAM::User": ("Policies", "ManagedPolicyArns", "PermissionsBoundary"),
    "AWS::IAM::Group": ("Policies", "ManagedPolicyArns"),
}
KEY_POLICY_PROPERTIES = {"AWS::KMS::Key": ("KeyPolicy",)}
RESOURCE_POLICY_PROPERTIES = {
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::Lambda::Permission": ("Action", "Principal", "SourceArn", "SourceAccount", "FunctionName"),
}
NETWORK_TYPE_PREFIX = "AWS::EC2::"
NETWORK_PROPERTIES = ("VpcConfig", "SecurityGroupIds", "SubnetIds", "SecurityGroups", "VpcId")
# Resource attributes that are not properties but change what a deploy does.
ATTRIBUTES = ("DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy", "Condition")
# The attributes that decide whether a stateful resource's data outlives its removal or replacement, and the values
# that keep it; without the attribute, CloudFormation deletes.
RETENTION_ATTRIBUTES = ("DeletionPolicy", "UpdateReplacePolicy")
KEEPING_POLICIES = frozenset({"Retain", "RetainExceptOnCreate", "Snapshot"})
IGNORED_TYPES = {"AWS::CDK::Metadata"}


class ChangeKind(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    MAY_BE_REPLACED = "may be replaced"
    REPLACED = "replaced"
    REMOVED = "removed"


class Concern(StrEnum):
    """What the report calls out at the top, in this order."""

    STATEFUL = "Stateful resources replaced or removed"
    RETENTION = "Stateful resources no longer kept when removed or replaced"
    IAM = "IAM"
    KEY_POLICY = "Key policies"
    RESOURCE_POLICY = "Resource policies (bucket, topic, queue, function)"
    NETWORK = "Network"


@dataclass(frozen=True, kw_only=True)
class ResourceChange:
    stack: str
    logical_id: str
    resource_type: str
    kind: ChangeKind
    changed: tuple[str, ...] = ()  # properties and attributes whose value differs
    replacing: tuple[str, ...] = ()  # the ones among them that (may) cause replacement
    scalar_values: tuple[tuple[str, str, str], ...] = ()  # (property, before, after) of changed plain values
    statements_added: tuple[str, ...] = ()
    statements_removed: tuple[str, ...] = ()
    loosened: tuple[tuple[str, str, str], ...] = ()  # (attribute, before, after) of a retention policy given up
    concerns: frozenset[Concern] = frozenset()


@dataclass(frozen=True, kw_only=True)
class StackChanges:
    name: str
    status: str  # "new", "removed", "changed", "unchanged"
    changes: tuple[ResourceChange, ...]


@dataclass(frozen=True, kw_only=True)
class Report:
    stacks: tuple[StackChanges, ...]

    @property
    def changes(self) -> list[ResourceChange]:
        return [change for stack in self.stacks for change in stack.changes]

    def concerning(self, concern: Concern) -> list[ResourceChange]:
        return [change for change in self.changes if concern in change.concerns]


@dataclass
class ReplacementSpec:
    """Per resource type, per property: "yes" or "maybe" when changing it replaces the resource."""

    properties: dict[str, dict[str, str | None]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = RESOURCE_SPEC) -> ReplacementSpec:
        return _spec(path)

    def replacement(self, resource_type: str, property_name: str) -> str | None:
        if resource_type not in self.properties:
            return "maybe"  # a type the specification does not know: assume the worst
        return self.properties[resource_type].get(property_name)


@cache
def _spec(path: Path) -> ReplacementSpec:
    if not path.exists():
        raise SystemExit(f"error: {path} not found; run `make install` (the CDK CLI ships the resource specification)")
    with gzip.open(path) as handle:
        database = json.load(handle)
    entities = database["schema"]["resource"]["entities"]
    return ReplacementSpec(
        properties={
            entity["cloudFormationType"]: {
                name: spec.get("causesReplacement") for name, spec in entity.get("properties", {}).items()
            }
            for entity in entities
        }
    )


# --- loading templates -------------------------------------------------------------------------------------------


def assembly_templates(assembly_dir: Path) -> dict[str, dict[str, Any]]:
    """Every stack template of a cloud assembly and of the stage assemblies nested in it, by stack name."""
    try:
        return {stack.stack_name: stack.template() for stack in stack_artifacts(assembly_dir)}
    except NotAnAssemblyError as error:
        raise SystemExit(f"error: {error}") from None


def deployed_templates(cloudformation: Any, stack_names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The templates deployed now; a stack that does not exist yet is left out (all its resources are new)."""
    templates: dict[str, dict[str, Any]] = {}
    for name in stack_names:
        try:
            body = cloudformation.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
        except cloudformation.exceptions.ClientError as error:
            if "does not exist" in str(error):
                continue
            raise
        templates[name] = body if isinstance(body, dict) else json.loads(body)
    return templates


def select(templates: Mapping[str, dict[str, Any]], patterns: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = list(patterns)
    return {name: t for name, t in templates.items() if not wanted or any(fnmatch.fnmatch(name, p) for p in wanted)}


# --- comparing -----------------------------------------------------------------------------------------------------


def compare(before: Mapping[str, dict[str, Any]], after: Mapping[str, dict[str, Any]], spec: ReplacementSpec) -> Report:
    stacks = []
    for name in sorted(set(before) | set(after)):
        changes = tuple(compare_stack(name, before.get(name), after.get(name), spec))
        status = (
            "new" if name not in before else "removed" if name not in after else "changed" if changes else "unchanged"
        )
        stacks.append(StackChanges(name=name, status=status, changes=changes))
    return Report(stacks=tuple(stacks))


def compare_stack(
    stack: str, before: dict[str, Any] | None, after: dict[str, Any] | None, spec: ReplacementSpec
) -> list[ResourceChange]:
    old = _resources(before)
    new = _resources(after)
    changes = []
    for logical_id in sorted(set(old) | set(new)):
        change = _compare_resource(stack, logical_id, old.get(logical_id), new.get(logical_id), spec)
        if change is not None:
            changes.append(change)
    return changes


def _resources(template: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    resources = (template or {}).get("Resources", {})
    return {lid: r for lid, r in resources.items() if r.get("Type") not in IGNORED_TYPES}


def _compare_resource(
    stack: str, logical_id: str, old: dict[str, Any] | None, new: dict[str, Any] | None, spec: ReplacementSpec
) -> ResourceChange | None:
    resource_type = str((new or old or {})["Type"])
    if old is None or new is None:
        kind = ChangeKind.ADDED if old is None else ChangeKind.REMOVED
        present = new or old or {}
        changed = tuple(sorted(present.get("Properties", {})))
        return _with_concerns(
            stack=stack,
            logical_id=logical_id,
            resource_type=resource_type,
            kind=kind,
            changed=changed,
            replacing=(),
            old_statements=_statements(resource_type, old),
            new_statements=_statements(resource_type, new),
        )
    if old["Type"] != new["Type"]:
        return _with_concerns(
            stack=stack,
            logical_id=logical_id,
            resource_type=resource_type,
            kind=ChangeKind.REPLACED,
            changed=("Type",),
            replacing=("Type",),
            old_statements=[],
            new_statements=[],
        )
    old_properties, new_properties = old.get("Properties", {}), new.get("Properties", {})
    changed_properties = sorted(
        name
        for name in set(old_properties) | set(new_properties)
        if old_properties.get(name) != new_properties.get(name)
    )
    changed_attributes = sorted(name for name in ATTRIBUTES if old.get(name) != new.get(name))
    if not changed_properties and not changed_attributes:
        return None
    verdicts = {name: spec.replacement(resource_type, name) for name in changed_properties}
    replacing = tuple(name for name, verdict in verdicts.items() if verdict in ("yes", "maybe"))
    kind = (
        ChangeKind.REPLACED
        if any(verdict == "yes" for verdict in verdicts.values())
        else ChangeKind.MAY_BE_REPLACED
        if replacing
        else ChangeKind.MODIFIED
    )
    change = _with_concerns(
        stack=stack,
        logical_id=logical_id,
        resource_type=resource_type,
        kind=kind,
        changed=tuple(changed_properties + changed_attributes),
        replacing=replacing,
        old_statements=_statements(resource_type, old),
        new_statements=_statements(resource_type, new),
    )
    scalars = tuple(
        (name, json.dumps(old_properties[name]), json.dumps(new_properties[name]))
        for name in changed_properties
        if isinstance(old_properties.get(name), str | int | float)
        and isinstance(new_properties.get(name), str | int | float)
    )
    loosened = tuple(
        (name, str(old[name]), str(new.get(name, "absent: Delete")))
        for name in RETENTION_ATTRIBUTES
        if resource_type in STATEFUL_TYPES
        and old.get(name) in KEEPING_POLICIES
        and new.get(name) not in KEEPING_POLICIES
    )
    concerns = change.concerns | {Concern.RETENTION} if loosened else change.concerns
    return dataclasses.replace(change, scalar_values=scalars, loosened=loosened, concerns=concerns)


def _with_concerns(
    *,
    stack: str,
    logical_id: str,
    resource_type: str,
    kind: ChangeKind,
    changed: tuple[str, ...],
    replacing: tuple[str, ...],
    old_statements: list[str],
    new_statements: list[str],
) -> ResourceChange:
    concerns = set()
    if resource_type in STATEFUL_TYPES and kind in (
        ChangeKind.REPLACED,
        ChangeKind.MAY_BE_REPLACED,
        ChangeKind.REMOVED,
    ):
        concerns.add(Concern.STATEFUL)
    for concern, table in (
        (Concern.IAM, IAM_POLICY_PROPERTIES),
        (Concern.KEY_POLICY, KEY_POLICY_PROPERTIES),
        (Concern.RESOURCE_POLICY, RESOURCE_POLICY_PROPERTIES),
    ):
        if resource_type in table and set(changed) & set(table[resource_type]):
            concerns.add(concern)
    if resource_type.startswith(NETWORK_TYPE_PREFIX) or set(changed) & set(NETWORK_PROPERTIES):
        concerns.add(Concern.NETWORK)
    return ResourceChange(
        stack=stack,
        logical_id=logical_id,
        resource_type=resource_type,
        kind=kind,
        changed=changed,
        replacing=replacing,
        statements_added=tuple(s for s in new_statements if s not in old_statements),
        statements_removed=tuple(s for s in old_statements if s not in new_statements),
        concerns=frozenset(concerns),
    )


def _statements(resource_type: str, resource: dict[str, Any] | None) -> list[str]:
    """Every policy statement of a resource, rendered as one line each, for statement-level differences."""
    if resource is None:
        return []
    properties = resource.get("Properties", {})
    documents: list[tuple[str, Any]] = []
    for name in (*IAM_POLICY_PROPERTIES.get(resource_type, ()), *KEY_POLICY_PROPERTIES.get(resource_type, ())):
        value = properties.get(name)
        if name == "Policies" and isinstance(value, list):
            documents += [(f"inline {p.get('PolicyName')}", p.get("PolicyDocument")) for p in value]
        elif name == "ManagedPolicyArns" and isinstance(value, list):
            documents += [("managed policy", {"Statement": [{"ManagedPolicy": arn} for arn in value]})]
        elif isinstance(value, dict):
            documents.append((name, value))
    if resource_type in RESOURCE_POLICY_PROPERTIES and "PolicyDocument" in properties:
        documents.append(("PolicyDocument", properties["PolicyDocument"]))
    if resource_type == "AWS::Lambda::Permission":
        documents.append(("permission", {"Statement": [properties]}))
    lines = []
    for source, document in documents:
        statements = document.get("Statement", []) if isinstance(document, dict) else []
        for statement in statements if isinstance(statements, list) else [statements]:
            lines.append(f"{render_statement(statement)} ({source})")
    return lines


def render_statement(statement: dict[str, Any]) -> str:
    if "ManagedPolicy" in statement:
        return f"attach {render_value(statement['ManagedPolicy'])}"
    parts = [str(statement.get("Effect", "Allow"))]
    parts.append(render_value(statement.get("Action", statement.get("NotAction", "?"))))
    if "Principal" in statement:
        parts.append(f"for {render_value(statement['Principal'])}")
    if "Resource" in statement or "NotResource" in statement:
        parts.append(f"on {render_value(statement.get('Resource', statement.get('NotResource')))}")
    for key in ("SourceArn", "SourceAccount", "FunctionName"):
        if key in statement:
            parts.append(f"{key} {render_value(statement[key])}")
    if "Condition" in statement:
        parts.append(f"when {render_value(statement['Condition'])}")
    return " ".join(parts)


def render_value(value: Any) -> str:
    """CloudFormation values for people: ``<Logical.Attr>`` for references, joins flattened."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(render_value(item) for item in value) if len(value) != 1 else render_value(value[0])
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return f"<{value['Ref']}>"
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            return f"<{'.'.join(target) if isinstance(target, list) else target}>"
        if set(value) == {"Fn::Join"}:
            separator, items = value["Fn::Join"]
            return str(separator).join(render_value(item) for item in items)
        if set(value) == {"Fn::Sub"}:
            return render_value(value["Fn::Sub"])
        return "{" + ", ".join(f"{key}: {render_value(item)}" for key, item in value.items()) + "}"
    return json.dumps(value)


# --- Markdown --------------------------------------------------------------------------------------------------


def render_markdown(report: Report, *, before_label: str, after_label: str) -> str:
    changes = report.changes
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in ChangeKind}
    changed_stacks = [s for s in report.stacks if s.status != "unchanged"]
    lines = [
        f"# Change report: {before_label} -> {after_label}",
        "",
        f"{len(changed_stacks)} of {len(report.stacks)} stacks change. Resources: "
        + ", ".join(f"{counts[kind]} {kind}" for kind in ChangeKind)
        + ".",
        "",
        "## Needs attention",
        "",
    ]
    for concern in Concern:
        flagged = report.concerning(concern)
        lines.append(f"### {concern} ({len(flagged)})")
        lines.append("")
        if not flagged:
            lines += ["none", ""]
            continue
        for change in flagged:
            lines.append(_attention_line(concern, change))
            if concern not in (Concern.STATEFUL, Concern.RETENTION):
                lines += [f"  - added: `{s}`" for s in change.statements_added]
                lines += [f"  - removed: `{s}`" for s in change.statements_removed]
        lines.append("")
    for stack in report.stacks:
        lines += [f"## {stack.name} ({stack.status})", ""]
        if not stack.changes:
            lines += ["no resource changes", ""]
            continue
        lines += ["| change | logical id | type | what changed |", "| --- | --- | --- | --- |"]
        for change in stack.changes:
            values = {name: f"{name} ({before} -> {after})" for name, before, after in change.scalar_values}
            what = ", ".join(
                f"**{values.get(name, name)}**" if name in change.replacing else values.get(name, name)
                for name in change.changed
            )
            kind = (
                f"**{change.kind.upper()}**"
                if change.kind in (ChangeKind.REPLACED, ChangeKind.REMOVED)
                else change.kind
            )
            lines.append(f"| {kind} | `{change.logical_id}` | {change.resource_type} | {what} |")
        lines.append("")
    lines += [
        "Bold properties cause (or may cause) replacement, per the CloudFormation resource specification. A resource "
        "that references a replaced one receives the new name or ARN at deploy time without a change shown here.",
        "",
    ]
    return "\n".join(lines)


def _attention_line(concern: Concern, change: ResourceChange) -> str:
    where = f"`{change.stack}` / `{change.logical_id}` ({change.resource_type}, {change.kind})"
    if concern is Concern.RETENTION:
        given_up = ", ".join(f"{name} {before} -> {after}" for name, before, after in change.loosened)
        what = STATEFUL_TYPES[change.resource_type]
        return f"- **DANGER: {what} no longer kept** {where}: {given_up}; removing or replacing it now deletes its data"
    if concern is Concern.STATEFUL:
        what = STATEFUL_TYPES[change.resource_type]
        because = f": {', '.join(change.replacing)} changed" if change.replacing else ""
        consequence = (
            "its data stays behind with the old one (or is deleted with it)"
            if change.kind is not ChangeKind.REMOVED
            else "CloudFormation deletes it unless its DeletionPolicy retains it"
        )
        return f"- **DANGER: {what} {change.kind}** {where}{because}; {consequence}"
    return f"- {where}: {', '.join(change.changed)}"
