"""What merging a pull request would change, from two synthesized cloud assemblies: the base branch's and the PR's.

    python -m tools.reports.pr_changes --before BASE_CDK_OUT --after PR_CDK_OUT [--output comment.md]
        [--github-output "$GITHUB_OUTPUT"]

No AWS credentials: both sides are synthesized from their checkouts (``make pr-changes``). The Markdown, for the job
summary and the pull request's one comment (found again by its first line, ``MARKER``, and updated on each push):

- a danger notice when a stateful resource (stream, table, bucket, key) is replaced, may be replaced, or is removed:
  the pull request then needs a second approval (the ``second approval`` check fails until a maintainer labels it
  ``APPROVAL_LABEL``; docs/decisions/0014);
- the permission difference: per role, the policy statements added and removed, and the wildcards the added ones bring;
- the cdk-nag difference: findings and acknowledgements added and removed;
- the change report (tools/common/stack_changes.py), stack by stack.

``--github-output`` appends ``second-approval=needed`` or ``not-needed`` for the workflow. Exits 0 when the comment
is written (whatever it says), 2 on a bad argument.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.infra.compliance import Acknowledged
from tools.common.cloud_assembly import NotAnAssemblyError, assemblies
from tools.common.stack_changes import (
    Concern,
    ReplacementSpec,
    Report,
    assembly_templates,
    compare,
    render_markdown,
    render_statement,
    render_value,
)
from tools.reports.nag_report import Finding, read_acknowledgements, read_findings

MARKER = "<!-- iot-platform:pr-changes -->"
APPROVAL_LABEL = "stateful-change-approved"
# GitHub refuses comments over 65,536 characters; the change report is cut first, the job summary keeps all of it.
MAX_COMMENT = 65_000
IAM_ROLE = "AWS::IAM::Role"
ATTACHED_POLICIES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


@dataclass(frozen=True, kw_only=True)
class RoleChanges:
    role: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    wildcards: tuple[str, ...]  # the wildcard actions and resources of the added statements


@dataclass(frozen=True, kw_only=True)
class NagChanges:
    findings_added: tuple[Finding, ...] = ()
    findings_removed: tuple[Finding, ...] = ()
    acknowledgements_added: tuple[Acknowledged, ...] = ()
    acknowledgements_removed: tuple[Acknowledged, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PullRequestChanges:
    report: Report
    roles: tuple[RoleChanges, ...]
    nag: NagChanges
    dangers: tuple[str, ...] = field(default=())

    @property
    def needs_second_approval(self) -> bool:
        return bool(self.dangers)


# --- permissions, per role --------------------------------------------------------------------------------------------


def role_statements(templates: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Every role's statements, each rendered on one line (with the statement itself): its trust policy, inline and
    attached policies and managed policies, wherever in the assembly they are (a stack may grant another's role, by
    name)."""
    statements: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for stack, template in templates.items():
        resources = template.get("Resources", {})
        roles = {lid: _role_key(stack, lid, r) for lid, r in resources.items() if r["Type"] == IAM_ROLE}
        for logical_id, resource in resources.items():
            properties = resource.get("Properties", {})
            if resource["Type"] == IAM_ROLE:
                role = statements[roles[logical_id]]
                role.update(_rendered(properties.get("AssumeRolePolicyDocument"), "trust"))
                for policy in properties.get("Policies", []):
                    role.update(_rendered(policy.get("PolicyDocument"), f"inline {policy.get('PolicyName')}"))
                for arn in properties.get("ManagedPolicyArns", []):
                    managed = {"ManagedPolicy": arn}
                    role[render_statement(managed)] = managed
            elif resource["Type"] in ATTACHED_POLICIES:
                for attached in properties.get("Roles", []):
                    name = roles.get(attached["Ref"], attached["Ref"]) if isinstance(attached, dict) else attached
                    statements[str(name)].update(_rendered(properties.get("PolicyDocument"), logical_id))
    return statements


def _role_key(stack: str, logical_id: str, role: dict[str, Any]) -> str:
    """A role named in its template is known by that name, as other stacks attach policies to it by name; else by
    its stack and logical id."""
    name = role.get("Properties", {}).get("RoleName")
    return name if isinstance(name, str) else f"{stack}/{logical_id}"


def _rendered(document: Any, source: str) -> dict[str, dict[str, Any]]:
    if not isinstance(document, dict):
        return {}
    raw = document.get("Statement", [])
    return {f"{render_statement(s)} ({source})": s for s in (raw if isinstance(raw, list) else [raw])}


def role_changes(before: Mapping[str, dict[str, Any]], after: Mapping[str, dict[str, Any]]) -> list[RoleChanges]:
    old, new = role_statements(before), role_statements(after)
    changes = []
    for role in sorted(set(old) | set(new)):
        had, has = old.get(role, {}), new.get(role, {})
        added = sorted(set(has) - set(had))
        removed = sorted(set(had) - set(has))
        if not (added or removed):
            continue
        known = {token for statement in had.values() for token in _wildcards(statement)}
        introduced = {token for line in added for token in _wildcards(has[line])} - known
        changes.append(
            RoleChanges(role=role, added=tuple(added), removed=tuple(removed), wildcards=tuple(sorted(introduced)))
        )
    return changes


def _wildcards(statement: dict[str, Any]) -> set[str]:
    """Each action and resource of a statement that holds a ``*``, as ``action `s3:Get*```."""
    tokens = set()
    for key, label in (("Action", "action"), ("NotAction", "not-action"), ("Resource", "resource")):
        raw = statement.get(key, [])
        for value in raw if isinstance(raw, list) else [raw]:
            rendered = render_value(value)
            if "*" in rendered:
                tokens.add(f"{label} `{rendered}`")
    return tokens


# --- cdk-nag ----------------------------------------------------------------------------------------------------------


def nag_changes(before: Path, after: Path) -> NagChanges:
    def findings(assembly: Path) -> dict[tuple[str, str], Finding]:
        return {
            (f.rule_id, f.construct_path): f
            for directory in assemblies(assembly)
            for f in read_findings(directory / "validation-report.json")
        }

    def acknowledged(assembly: Path) -> dict[tuple[str, str], Acknowledged]:
        return {(a.scope, a.rule_id): a for a in read_acknowledgements(assembly)}

    old_findings, new_findings = findings(before), findings(after)
    old_acks, new_acks = acknowledged(before), acknowledged(after)
    return NagChanges(
        findings_added=tuple(new_findings[k] for k in sorted(set(new_findings) - set(old_findings))),
        findings_removed=tuple(old_findings[k] for k in sorted(set(old_findings) - set(new_findings))),
        acknowledgements_added=tuple(new_acks[k] for k in sorted(set(new_acks) - set(old_acks))),
        acknowledgements_removed=tuple(old_acks[k] for k in sorted(set(old_acks) - set(new_acks))),
    )


# --- putting it together ----------------------------------------------------------------------------------------------


def pull_request_changes(before: Path, after: Path) -> PullRequestChanges:
    old, new = assembly_templates(before), assembly_templates(after)
    report = compare(old, new, ReplacementSpec.load())
    dangers = tuple(
        f"`{c.stack}` / `{c.logical_id}` ({c.resource_type}) {c.kind}"
        + (f": {', '.join(c.replacing)} changed" if c.replacing else "")
        for c in report.concerning(Concern.STATEFUL)
    )
    return PullRequestChanges(
        report=report, roles=tuple(role_changes(old, new)), nag=nag_changes(before, after), dangers=dangers
    )


def render(changes: PullRequestChanges, *, before_label: str, after_label: str, limit: int = MAX_COMMENT) -> str:
    lines = [MARKER, "## What merging this pull request would change", ""]
    if changes.needs_second_approval:
        lines += [
            "> [!CAUTION]",
            "> **Needs a second approval: stateful resources replaced or removed.** Their data stays with the old "
            "resource, or is deleted with it.",
            *(f"> - {danger}" for danger in changes.dangers),
            ">",
            f"> A second maintainer reviews the migration plan, then labels the pull request `{APPROVAL_LABEL}`; the "
            "`second approval` check passes after that.",
            "",
        ]
    lines += [_summary(changes), "", *_permissions(changes.roles), *_nag(changes.nag)]
    report = render_markdown(changes.report, before_label=before_label, after_label=after_label)
    # Below this comment's own headings: the report's "# Change report" becomes a third-level heading, and so on.
    demoted = "\n".join(f"##{line}" if line.startswith("#") else line for line in report.splitlines())
    opening, closing = "\n<details><summary>Change report, stack by stack</summary>\n\n", "\n</details>\n"
    head = "\n".join(lines)
    if len(head) + len(opening) + len(demoted) + len(closing) > limit:
        cut = "\n\n*(The change report is cut here: all of it is in the job summary of the check.)*"
        demoted = demoted[: max(limit - len(head) - len(opening) - len(cut) - len(closing), 0)] + cut
    return head + opening + demoted + closing


def _summary(changes: PullRequestChanges) -> str:
    stacks = [s for s in changes.report.stacks if s.status != "unchanged"]
    statements = sum(len(r.added) + len(r.removed) for r in changes.roles)
    wildcards = sum(len(r.wildcards) for r in changes.roles)
    nag = changes.nag
    return (
        f"{len(stacks)} of {len(changes.report.stacks)} stacks change ({len(changes.report.changes)} resources). "
        f"Permissions: {statements} statements added or removed in {len(changes.roles)} roles, {wildcards} wildcards "
        f"in added statements. cdk-nag: {len(nag.findings_added)} findings added, {len(nag.findings_removed)} removed; "
        f"{len(nag.acknowledgements_added)} acknowledgements added, {len(nag.acknowledgements_removed)} removed."
    )


def _permissions(roles: tuple[RoleChanges, ...]) -> list[str]:
    lines = ["### Permissions, per role", ""]
    if not roles:
        return [*lines, "No statement added or removed.", ""]
    for role in roles:
        lines.append(f"- **{role.role}**")
        lines += [f"  - added: `{s}`" for s in role.added]
        lines += [f"  - removed: `{s}`" for s in role.removed]
        if role.wildcards:
            lines.append(f"  - :warning: wildcards introduced: {', '.join(role.wildcards)}")
    return [*lines, ""]


def _nag(nag: NagChanges) -> list[str]:
    lines = ["### cdk-nag", ""]
    if not (nag.findings_added or nag.findings_removed or nag.acknowledgements_added or nag.acknowledgements_removed):
        return [*lines, "No finding or acknowledgement added or removed.", ""]
    for title, findings in (("Findings added", nag.findings_added), ("Findings removed", nag.findings_removed)):
        if findings:
            lines += [f"{title}:", "", "| rule | construct |", "| --- | --- |"]
            lines += [f"| `{f.rule_id}` | `{f.construct_path}` |" for f in findings] + [""]
    for title, acks in (
        ("Acknowledgements added", nag.acknowledgements_added),
        ("Acknowledgements removed", nag.acknowledgements_removed),
    ):
        if acks:
            lines += [f"{title}:", "", "| rule | scope | reason |", "| --- | --- | --- |"]
            lines += [f"| `{a.rule_id}` | `{a.scope}` | {a.reason} |" for a in acks] + [""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.reports.pr_changes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--before", type=Path, required=True, help="the base branch's cloud assembly")
    parser.add_argument("--after", type=Path, required=True, help="the pull request's cloud assembly")
    parser.add_argument("--before-label", default="base", help="how the report names the base (default: base)")
    parser.add_argument("--after-label", default="this pull request", help="how it names the pull request")
    parser.add_argument("--output", type=Path, help="write the comment's Markdown here too (it is always printed)")
    parser.add_argument("--github-output", type=Path, help="append second-approval=needed|not-needed to this file")
    args = parser.parse_args(argv)
    for assembly in (args.before, args.after):
        try:
            assemblies(assembly)
        except NotAnAssemblyError as error:
            parser.error(str(error))
    changes = pull_request_changes(args.before, args.after)
    text = render(changes, before_label=args.before_label, after_label=args.after_label)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    if args.github_output:
        with args.github_output.open("a", encoding="utf-8") as outputs:
            outputs.write(f"second-approval={'needed' if changes.needs_second_approval else 'not-needed'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
