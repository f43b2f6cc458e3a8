"""What the tools' tests share: credentials for moto, and the roles a command asked to assume on it."""

from __future__ import annotations

from types import ModuleType

import boto3
import pytest

from tools.common import aws_session

MOTO_REGION = "eu-west-1"
MOTO_ENVIRONMENT = {"AWS_DEFAULT_REGION": MOTO_REGION, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}


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
