"""The delivery pipeline rehearsed on the embedded emulator: the pipeline synthesized from this tree, its own actions
run in its own order, across the four accounts of cdk.json (ADR 0017).

    python -m tools.rehearsal.run [--base REF] [--approve] [--reuse-assembly] [--bake-minutes 0.1]

With --base, the pipeline first rehearses REF, then the working tree on top of it: its deploys update the stacks
through change sets, and its change report compares the new assembly with what REF deployed in prod.
Every call a step's identity makes is evaluated against that identity's policies as deployed (an IAM policy
simulator): a call they do not allow fails the action, naming the call and what is missing; the actions the policies
allow that no call used are written to unused-permissions.md, for the reviewer.
Stops at the first action that fails, printing it, its output and its exit code; prints every action, how long it
took and its result. Exits 0 when every action passed, 1 when one failed or an approval was refused, 2 on a bad
argument.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.config import load_platform_config
from shared.config import committed_context
from shared.repository import REPO_ROOT
from tools.common.arguments import positive_int, positive_number
from tools.rehearsal.accounts import Accounts
from tools.rehearsal.rehearse import Overrides, rehearse, summary
from tools.rehearsal.source import SourceError, source_of

EXIT_FAILED, EXIT_USAGE = 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.rehearsal.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", help="rehearse this git ref first, then the working tree on top of it")
    parser.add_argument(
        "--approve", action="store_true", help="approve every approval (default: ask, showing the change report)"
    )
    parser.add_argument(
        "--reuse-assembly",
        action="store_true",
        help="skip the Synth step's commands (tests, synth, reports) when an assembly of this very tree is cached",
    )
    parser.add_argument(
        "--bake-minutes",
        type=positive_number,
        default=0.1,
        help="each bake's minutes instead of the stage's (default 0.1)",
    )
    parser.add_argument(
        "--alarm-period-seconds",
        type=positive_int,
        default=2,
        help="the period every alarm is evaluated over instead of its own, so a bake of seconds sees them change "
        "(default 2)",
    )
    parser.add_argument(
        "--archive-buffer-seconds",
        type=positive_int,
        default=2,
        help="the Firehose buffer interval instead of the stage's, so a smoke test waits seconds (default 2)",
    )
    return parser


def ask(label: str, change_report: str) -> bool:
    print(change_report or "(no change report in this execution)")
    if not sys.stdin.isatty():
        print(f"{label}: no terminal to ask; pass --approve", file=sys.stderr)
        return False
    return input(f"{label}: approve? [y/N] ").strip().lower() in ("y", "yes")


def main(argv: list[str] | None = None, *, repository: Path = REPO_ROOT) -> int:
    args = build_parser().parse_args(argv)
    config = load_platform_config(committed_context())
    accounts = Accounts(
        tooling=config.pipeline.tooling_account,
        stages={stage.name: stage.account for stage in config.stages},
        region=config.pipeline.region,
    )
    try:
        sources = [*([source_of(repository, args.base)] if args.base else []), source_of(repository, None)]
    except SourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    rehearsed = rehearse(
        sources,
        accounts=accounts,
        approve=(lambda _label, _report: True) if args.approve else ask,
        reuse_assembly=args.reuse_assembly,
        overrides=Overrides(
            bake_minutes=args.bake_minutes,
            alarm_period_seconds=args.alarm_period_seconds,
            archive_buffer_seconds=args.archive_buffer_seconds,
        ),
        log=lambda line: print(line, flush=True),
    )
    print(summary(rehearsed.rounds))
    print(f"permissions no call used, for the reviewer: {rehearsed.unused_permissions}")
    if rehearsed.failure is not None:
        failure = rehearsed.failure
        whole = rehearsed.workdir / "failed-action.log"  # the tail below is what a terminal can hold
        whole.write_text(failure.output, encoding="utf-8")
        print(f"\nFAILED: {failure.label}: {failure.detail}\n{failure.output[-6000:]}", file=sys.stderr)
        print(f"its whole output: {whole}", file=sys.stderr)
        return EXIT_FAILED
    print(f"rehearsal passed in {rehearsed.seconds:.0f} s ({rehearsed.workdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
