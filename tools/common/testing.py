"""For the tests of every command line: its --help as a person sees it, and as docs/command-lines.md shows it."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

import pytest

from shared.repository import REPO_ROOT

DOCUMENT = REPO_ROOT / "docs" / "command-lines.md"
COLUMNS = "100"  # as tools/reports/command_lines.py writes the document


def printed_help(main: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """What ``main(["--help"])`` prints, 100 columns wide; it must exit 0."""
    monkeypatch.setenv("COLUMNS", COLUMNS)
    output = io.StringIO()
    with contextlib.redirect_stdout(output), pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    return output.getvalue()


def documented_help(module: str) -> str:
    """The --help of ``python -m <module>`` as docs/command-lines.md shows it."""
    document = DOCUMENT.read_text(encoding="utf-8")
    heading = f"## `python -m {module}`\n\n```text\n"
    start = document.index(heading) + len(heading)
    return document[start : document.index("\n```\n", start)] + "\n"
