"""What a deploy will change, stack by stack, as Markdown a reviewer reads before approving prod.

    python -m tools.steps.change_report --before OLD_CDK_OUT --after cdk.out [--stacks 'iot-prod-*'] [--output FILE]
    python -m tools.steps.change_report --deployed --role-arn ARN --after cdk.out --stacks iot-prod-ingest,... \
        [--output FILE]
    python -m tools.steps.change_report --deployed --from-environment --after cdk.out   (in the pipeline)

The first form compares two synthesized cloud assemblies (``make diff`` compares the previous commit's with
this tree's); the second compares the templates deployed now (read with cloudformation:GetTemplate through a
role in the target account, in the pipeline the CDK lookup role) with the new assembly.

The comparison and the Markdown are tools/common/stack_changes.py's.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pipeline import step_environment as variables
from tools.common.aws_session import session_for
from tools.common.stack_changes import (
    ReplacementSpec,
    assembly_templates,
    compare,
    deployed_templates,
    render_markdown,
    select,
)

# --- command line ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None, environment: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.steps.change_report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--before", type=Path, help="the cloud assembly deployed now (e.g. the previous commit's)")
    source.add_argument("--deployed", action="store_true", help="compare with the stacks deployed in the account")
    parser.add_argument("--after", type=Path, required=True, help="the new cloud assembly")
    parser.add_argument("--stacks", default="", help="comma-separated stack names or patterns (default: all)")
    parser.add_argument("--role-arn", help="with --deployed: assume this role to read the deployed templates")
    parser.add_argument(
        "--from-environment",
        action="store_true",
        help=f"in the pipeline: --stacks from {variables.STACKS} and --role-arn from {variables.LOOKUP_ROLE_ARN}",
    )
    parser.add_argument("--output", type=Path, help="write the Markdown here too (it is always printed)")
    args = parser.parse_args(argv)
    if args.from_environment:
        args.stacks = args.stacks or environment.get(variables.STACKS, "")
        args.role_arn = args.role_arn or environment.get(variables.LOOKUP_ROLE_ARN)
    patterns = [p.strip() for p in args.stacks.split(",") if p.strip()]
    for assembly in (args.after, args.before):
        if assembly is not None and not (assembly / "manifest.json").is_file():
            parser.error(f"{assembly} is not a cloud assembly (no manifest.json)")
    after = select(assembly_templates(args.after), patterns)
    if args.deployed:
        if not patterns:
            parser.error("--deployed needs --stacks: the stacks to read from the account")
        cloudformation = session_for(args.role_arn, session_name="iot-change-report").client("cloudformation")
        before = deployed_templates(cloudformation, after)
        before_label = "deployed"
    else:
        before = select(assembly_templates(args.before), patterns)
        before_label = str(args.before)
    text = render_markdown(
        compare(before, after, ReplacementSpec.load()), before_label=before_label, after_label=str(args.after)
    )
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
