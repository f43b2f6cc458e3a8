"""A tool's session: the caller's own, or the temporary credentials of a role assumed in a stage's account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tools.common import aws_session
from tools.common.aws_session import session_for

ROLE = "arn:aws:iam::222222222222:role/iot-dev-smoke-test"


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """moto, and every AssumeRole request made, as sent."""
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "caller",
        "AWS_SECRET_ACCESS_KEY": "x",
    }.items():
        monkeypatch.setenv(name, value)
    requests: list[dict[str, Any]] = []
    with mock_aws():
        client = boto3.client("sts")
        real = client.assume_role

        def assume_role(**request: Any) -> Any:
            requests.append(request)
            answer = real(**request)
            requests.append({"answered": answer["Credentials"]})
            return answer

        client.assume_role = assume_role  # type: ignore[method-assign]
        monkeypatch.setattr(aws_session.boto3, "client", lambda service: client)  # type: ignore[attr-defined]
        yield requests


def test_without_a_role_the_callers_own_credentials_are_used(sts: list[dict[str, Any]]) -> None:
    credentials = session_for(None, session_name="iot-test").get_credentials()
    callers = boto3.Session().get_credentials()
    assert credentials is not None
    assert callers is not None
    assert credentials.access_key == callers.access_key
    assert sts == []


def test_a_role_is_assumed_for_an_hour_under_the_tools_name_and_its_credentials_used_whole(
    sts: list[dict[str, Any]],
) -> None:
    session = session_for(ROLE, session_name="iot-smoke-test")
    request, answered = sts
    assert request == {"RoleArn": ROLE, "RoleSessionName": "iot-smoke-test", "DurationSeconds": 3600}
    credentials = session.get_credentials()
    assert credentials is not None
    issued = answered["answered"]
    assert (credentials.access_key, credentials.secret_key, credentials.token) == (
        issued["AccessKeyId"],
        issued["SecretAccessKey"],
        issued["SessionToken"],
    )
    assert session.client("sts").get_caller_identity()["Account"] == "222222222222"
