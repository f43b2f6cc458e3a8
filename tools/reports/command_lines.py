"""docs/command-lines.md: the --help of every command line the pipeline or a person runs, as each prints it.

    python -m tools.reports.command_lines [--check] [--doc docs/command-lines.md]

Each command runs in a process of its own (``python -m <module> --help``, 100 columns wide), so this report
imports none of them. ``--check`` fails when the document no longer matches what the commands print; the tests of
each command compare their own --help with its section here (tools/common/testing.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from shared.repository import REPO_ROOT

COMMANDS = (
    "tools.local.run",
    "tools.local.chaos",
    "tools.rehearsal.run",
    "tools.steps.smoke_test",
    "tools.steps.fault_injection",
    "tools.steps.bake",
    "tools.steps.change_report",
    "tools.operations.replay",
    "tools.operations.restore_drill",
    "tools.operations.drift",
    "tools.operations.environments",
    "tools.steps.record_deployment",
    "tools.reports.pr_changes",
    "tools.reports.nag_report",
    "tools.reports.architecture_diagram",
    "tools.reports.mutation",
)
COLUMNS = "100"  # argparse wraps to the terminal's width: a fixed one keeps the document stable
DOCUMENT = REPO_ROOT / "docs" / "command-lines.md"
HEADER = """# Command lines

What every command the pipeline or a person runs accepts, as its `--help` prints it. `make docs` writes this page
(`python -m tools.reports.command_lines`); a test fails when a command's help no longer matches it.
"""


def help_of(module: str) -> str:
    environment = {**os.environ, "COLUMNS": COLUMNS, "PYTHONPATH": str(REPO_ROOT)}
    completed = subprocess.run(  # noqa: S603 - our own interpreter and modules
        [sys.executable, "-m", module, "--help"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"python -m {module} --help exited {completed.returncode}: {completed.stderr.strip()}")
    return completed.stdout


def render(helps: Sequence[tuple[str, str]]) -> str:
    sections = [f"## `python -m {module}`\n\n```text\n{text.rstrip()}\n```\n" for module, text in helps]
    return "\n".join([HEADER, *sections])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.reports.command_lines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--doc", type=Path, default=DOCUMENT, help="the document to write or check")
    parser.add_argument("--check", action="store_true", help="only compare: fail when the document is stale")
    args = parser.parse_args(argv)
    with ThreadPoolExecutor(max_workers=4) as pool:
        helps = list(zip(COMMANDS, pool.map(help_of, COMMANDS), strict=True))
    document = render(helps)
    current = args.doc.read_text(encoding="utf-8") if args.doc.exists() else ""
    if args.check:
        if current != document:
            print(f"{args.doc} is stale: run `make docs`", file=sys.stderr)
            return 1
        print(f"{args.doc}: the help of {len(COMMANDS)} commands is up to date")
        return 0
    args.doc.write_text(document, encoding="utf-8")
    print(f"{args.doc}: the help of {len(COMMANDS)} commands")
    return 0


if __name__ == "__main__":
    sys.exit(main())
