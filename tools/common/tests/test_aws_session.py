"""A tool's session: the caller's own, or the temporary credentials of a role assumed in a stage's account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tools.common import aws_session
from tools.common.aws_session import credentials_environment, session_for

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


def test_a_role_assumed_through_another_session_keeps_its_region_and_gives_its_credentials_as_variables(
    sts: list[dict[str, Any]],
) -> None:
    via = boto3.Session(region_name="eu-central-1")
    session = session_for(ROLE, session_name="iot-rehearsal", via=via)
    assert sts == []  # assumed with ``via``'s own client, not the caller's
    assert session.region_name == "eu-central-1"
    assert (
        session.client("sts")
        .get_caller_identity()["Arn"]
        .startswith("arn:aws:sts::222222222222:assumed-role/iot-dev-smoke-test/iot-rehearsal")
    )
    environment = credentials_environment(session)
    assert sorted(environment) == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
    credentials = session.get_credentials()
    assert credentials is not None
    assert environment["AWS_ACCESS_KEY_ID"] == credentials.access_key
    assert session_for(None, session_name="unused", via=via) is via


def test_a_session_without_credentials_has_no_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ValueError, match="no credentials"):
        credentials_environment(boto3.Session())
