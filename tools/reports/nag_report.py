"""Write the cdk-nag compliance report (Markdown) for the whole app: packs, findings, acknowledgements.

    python -m tools.reports.nag_report [--assembly-dir cdk.out] [--output reports/nag-report.md]

Synthesizes the app in process with the context of cdk.json, so the report always matches the code.
CDK's validation report lists only unacknowledged findings; acknowledgements are read from the
construct tree.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import App, Stack, Validations

from shared.infra.compliance import NAG_PACKS, Acknowledged, acknowledgements
from tools.common.cdk_app import build_from_cdk_json
from tools.common.cloud_assembly import stack_artifacts


@dataclass(frozen=True, kw_only=True)
class Finding:
    pack: str
    rule_id: str
    description: str
    construct_path: str


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.reports.nag_report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--assembly-dir", type=Path, default=Path("cdk.out"), help="where to synthesize (default: cdk.out)"
    )
    parser.add_argument("--output", type=Path, default=Path("reports/nag-report.md"), help="Markdown file to write")
    args = parser.parse_args(argv)

    app = build_from_cdk_json(outdir=args.assembly_dir)
    try:
        app.synth()
    except RuntimeError as error:  # jsii surfaces ValidationFailed as RuntimeError; the report still gets written
        if "ValidationFailed" not in str(error):
            raise
    findings = read_findings(args.assembly_dir / "validation-report.json")
    report = render(app, findings, list(acknowledgements(app)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    print(f"nag report: {args.output} ({len(findings)} unacknowledged findings)")
    return 1 if findings else 0


def read_findings(report_path: Path) -> list[Finding]:
    if not report_path.exists():  # CDK writes the file only when a plugin reports something
        return []
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return [
        Finding(
            pack=plugin["pluginName"],
            rule_id=violation["ruleName"],
            description=violation["description"],
            construct_path=construct["constructPath"],
        )
        for plugin in report.get("pluginReports", [])
        for violation in plugin.get("violations", [])
        for construct in violation.get("violatingConstructs", [])
    ]


def read_acknowledgements(assembly_dir: Path) -> list[Acknowledged]:
    """Every acknowledgement a synthesized assembly records, from its stacks' construct metadata (the pull-request
    comment compares two assemblies, each synthesized from its own checkout: it cannot walk their construct trees)."""
    found = []
    for stack in stack_artifacts(assembly_dir):
        metadata = dict(stack.artifact.get("metadata", {}))
        if "additionalMetadataFile" in stack.artifact:
            extra = stack.directory / stack.artifact["additionalMetadataFile"]
            metadata.update(json.loads(extra.read_text(encoding="utf-8")))
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] != Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                    continue
                for key, reason in entry["data"].items():
                    # CDK stores keys as "<kind>::<rule id>", as the construct tree does.
                    found.append(Acknowledged(scope=path.lstrip("/"), rule_id=key.split("::", 1)[-1], reason=reason))
    return found


def render(app: App, findings: list[Finding], acknowledged: list[Acknowledged]) -> str:
    stacks = sorted(path for path in (node.node.path for node in app.node.find_all() if _is_stack(node)))
    lines = [
        "# cdk-nag compliance report",
        "",
        f"Packs run on every stack: {', '.join(pack.__name__ for pack in NAG_PACKS)}.",
        f"Stacks checked: {len(stacks)}. Unacknowledged findings: **{len(findings)}**. "
        f"Acknowledgements: {len(acknowledged)}.",
        "",
        "## Unacknowledged findings",
        "",
    ]
    if findings:
        lines += ["| rule | stack | construct | description |", "| --- | --- | --- | --- |"]
        for finding in sorted(findings, key=lambda f: (f.rule_id, f.construct_path)):
            stack = _stack_of(finding.construct_path, stacks)
            lines.append(f"| {finding.rule_id} | {stack} | `{finding.construct_path}` | {finding.description} |")
    else:
        lines.append("None: every finding of every pack is either fixed or acknowledged below.")
    lines += ["", "## Acknowledgements by pack and rule", "", "| pack | rule | count |", "| --- | --- | --- |"]
    by_rule: dict[str, int] = defaultdict(int)
    for item in acknowledged:
        by_rule[item.rule_id.split("[", 1)[0]] += 1
    lines += [f"| {rule.split('-', 1)[0]} | {rule} | {count} |" for rule, count in sorted(by_rule.items())]
    lines += ["", "## Acknowledgements by stack", ""]
    by_stack: dict[str, list[Acknowledged]] = defaultdict(list)
    for item in acknowledged:
        by_stack[_stack_of(item.scope, stacks)].append(item)
    for stack in sorted(by_stack):
        lines += [f"### {stack}", "", "| rule | scope | reason |", "| --- | --- | --- |"]
        lines += [f"| `{a.rule_id}` | `{a.scope}` | {a.reason} |" for a in by_stack[stack]]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _is_stack(node: object) -> bool:
    return isinstance(node, Stack)


def _stack_of(path: str, stacks: list[str]) -> str:
    matches = [stack for stack in stacks if path == stack or path.startswith(stack + "/")]
    return max(matches, key=len) if matches else "(app)"


if __name__ == "__main__":
    sys.exit(main())
