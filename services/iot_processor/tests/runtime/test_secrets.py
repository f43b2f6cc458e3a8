"""The webhook's secret: read once per max age, never cached when a read fails, and its value never in an error."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from services.iot_processor.runtime.clients import AwsClients
from services.iot_processor.runtime.secrets import CachedJsonSecret, SecretFormatError
from services.iot_processor.tests.harness import REGION, Aws, client_error

SECRET_ID = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:webhook-AbCdEf"
PRIVATE_URL = "https://hooks.example.com/private-path"  # what must never appear in an error
MAX_AGE = 300.0


class ScriptedSecrets:
    """GetSecretValue answering from a script: a response or an error per call."""

    def __init__(self, *script: dict[str, Any] | Exception) -> None:
        self._script = list(script)
        self.reads: list[str] = []

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:  # noqa: N803 - the SDK's argument name
        self.reads.append(SecretId)
        answer = self._script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def text(value: Any) -> dict[str, Any]:
    return {"SecretString": json.dumps(value)}


def secret(client: ScriptedSecrets, clock: Clock) -> CachedJsonSecret:
    return CachedJsonSecret(client=client, secret_id=SECRET_ID, max_age_seconds=MAX_AGE, clock=clock)  # type: ignore[arg-type]


def test_the_secret_is_read_once_per_max_age() -> None:
    client, clock = ScriptedSecrets(text({"url": "https://a"}), text({"url": "https://b"})), Clock()
    read = secret(client, clock)
    assert read() == {"url": "https://a"}
    clock.now += MAX_AGE - 0.5
    assert read() == {"url": "https://a"}
    assert client.reads == [SECRET_ID]
    clock.now += 0.5  # exactly the max age since the read: read again
    assert read() == {"url": "https://b"}
    assert client.reads == [SECRET_ID, SECRET_ID]


def test_a_failed_read_is_not_cached_and_the_next_call_reads_again() -> None:
    client = ScriptedSecrets(client_error("AccessDeniedException", "GetSecretValue"), text({"url": "u"}))
    read = secret(client, Clock())
    with pytest.raises(ClientError):
        read()
    assert read() == {"url": "u"}
    assert len(client.reads) == 2


def test_a_caller_changing_the_value_does_not_change_the_cached_one() -> None:
    read = secret(ScriptedSecrets(text({"url": "u"})), Clock())
    read()["url"] = "changed"
    assert read() == {"url": "u"}


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"SecretBinary": b'{"url": "u"}'}, "holds binary data, not a JSON object"),
        ({"SecretString": f"url={PRIVATE_URL}"}, "is not JSON"),
        (text([PRIVATE_URL]), "is JSON but not an object"),
        (text(PRIVATE_URL), "is JSON but not an object"),
    ],
)
def test_a_value_that_is_not_a_json_object_fails_naming_the_secret_and_never_its_value(
    answer: dict[str, Any], problem: str
) -> None:
    client = ScriptedSecrets(answer, text({"url": "u"}))
    read = secret(client, Clock())
    with pytest.raises(SecretFormatError) as raised:
        read()
    assert str(raised.value) == f"secret {SECRET_ID} {problem}"
    assert "private-path" not in repr(raised.value) + repr(raised.value.__cause__)
    assert read() == {"url": "u"}  # nothing was cached: the next call reads again


def test_the_sdk_client_reads_a_secret_made_in_secrets_manager(aws: Aws) -> None:
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="webhook", SecretString=json.dumps({"url": "https://hooks.example.com/x", "token": "t"})
    )["ARN"]
    read = CachedJsonSecret(client=AwsClients().secretsmanager, secret_id=arn, max_age_seconds=MAX_AGE)
    assert read() == {"url": "https://hooks.example.com/x", "token": "t"}
