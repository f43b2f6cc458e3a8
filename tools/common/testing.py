"""What the tools' tests share: credentials for moto, the roles a command asked to assume on it, and a command's
--help as a person sees it and as docs/command-lines.md shows it."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest

from shared.repository import REPO_ROOT
from tools.common import aws_session

MOTO_REGION = "eu-west-1"
MOTO_ENVIRONMENT = {"AWS_DEFAULT_REGION": MOTO_REGION, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
DOCUMENT = REPO_ROOT / "docs" / "command-lines.md"
COLUMNS = "100"  # as tools/reports/command_lines.py writes the document


def moto_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials and a region in the environment boto3 reads: moto's, never an account's."""
    for name, value in MOTO_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def note_assumed_roles(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, *, session_name: str | None = None
) -> list[str | None]:
    """``module``'s session_for noting each role it is asked for (None: the caller's credentials), and the session's
    name when one is expected, before assuming it as usual; the list it fills."""
    assumed: list[str | None] = []
    real = aws_session.session_for

    def session_for(role_arn: str | None, *, session_name: str) -> boto3.Session:
        assumed.append(role_arn)
        assert expected is None or session_name == expected, session_name
        return real(role_arn, session_name=session_name)

    expected = session_name
    monkeypatch.setattr(module, "session_for", session_for)
    return assumed


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
