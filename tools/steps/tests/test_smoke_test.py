"""The smoke test's command line: what it refuses before putting anything, and how it exits.

Where the readings land, and how the report reads, is tested in tools/landing/tests; the whole command against a
deployed stage, passing and failing, in tests/test_steps_on_the_local_stage.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tools.common.testing import moto_credentials, note_assumed_roles
from tools.steps import smoke_test
from tools.steps.smoke_test import main

ROLE = "arn:aws:iam::123456789012:role/iot-dev-smoke-test"
ENVIRONMENT = {
    "INGEST_SMOKETESTROLEARN": ROLE,
    "INGEST_STREAMNAME": "readings",
    "INGEST_TABLENAME": "table",
    "INGEST_PROCESSEDBUCKETNAME": "processed",
    "INGEST_FAILUREBUCKETNAME": "failures",
    "INGEST_ALERTINBOXURL": "https://sqs.eu-west-1.amazonaws.com/123456789012/inbox",
    "ARCHIVE_RAWBUCKETNAME": "raw",
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """moto, and the roles the command assumed; nothing is put (every case here stops before)."""
    moto_credentials(monkeypatch)
    assumed = note_assumed_roles(monkeypatch, smoke_test, session_name="iot-smoke-test")

    def put_nothing(*_: Any, **__: Any) -> Any:
        raise AssertionError("nothing may be put when the targets are incomplete")

    monkeypatch.setattr(smoke_test, "put_records", put_nothing)
    with mock_aws():
        yield assumed


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "one of the arguments --stage --from-environment is required"),
        (["--stage", "dev", "--from-environment"], "not allowed with argument"),
        (["--stage", "dev", "--records", "0"], "must be a positive integer, got 0"),
        (["--stage", "dev", "--records", "-200"], "must be a positive integer, got -200"),
        (["--stage", "dev", "--records", "many"], "must be a whole number, got 'many'"),
        (["--stage", "dev", "--anomaly-share", "1.5"], "must be between 0 and 1, got 1.5"),
        (["--stage", "dev", "--invalid-share", "-0.1"], "must be between 0 and 1, got -0.1"),
        (["--stage", "dev", "--anomaly-share", "0.6", "--invalid-share", "0.5"], "add up to more than 1"),
        (["--stage", "dev", "--timeout", "0"], "must be a number greater than 0, got 0"),
        (["--stage", "dev", "--timeout", "inf"], "must be a finite number"),
    ],
)
def test_bad_arguments_exit_2_naming_what_is_wrong(
    arguments: list[str], message: str, aws: list[str | None], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(arguments, environment=ENVIRONMENT)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert aws == []  # refused before any AWS call


def test_the_pipelines_variables_need_the_smoke_test_role(
    aws: list[str | None], capsys: pytest.CaptureFixture[str]
) -> None:
    without_role = {key: value for key, value in ENVIRONMENT.items() if key != "INGEST_SMOKETESTROLEARN"}
    with pytest.raises(SystemExit) as exit_info:
        main(["--from-environment"], environment=without_role)
    assert exit_info.value.code == 2
    assert "set INGEST_SMOKETESTROLEARN or pass --role-arn" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("INGEST_TABLENAME", "the ingest stack has no outputs ['TableName']"),
        ("INGEST_STREAMNAME", "the ingest stack has no outputs ['StreamName']"),
        ("INGEST_PROCESSEDBUCKETNAME", "the ingest stack has no outputs ['ProcessedBucketName']"),
        ("INGEST_FAILUREBUCKETNAME", "the ingest stack has no outputs ['FailureBucketName']"),
        ("INGEST_ALERTINBOXURL", "the ingest stack has no AlertInboxUrl output"),
        ("ARCHIVE_RAWBUCKETNAME", "the archive stack has no RawBucketName output"),
    ],
)
def test_an_output_the_smoke_test_needs_is_named_and_exits_2_before_anything_is_put(
    missing: str, message: str, aws: list[str | None], capsys: pytest.CaptureFixture[str]
) -> None:
    environment = {key: value for key, value in ENVIRONMENT.items() if key != missing}
    assert main(["--from-environment", "--skip-mqtt"], environment=environment) == 2
    assert f"error: {message}; the smoke test needs it" in capsys.readouterr().err
    assert aws == [ROLE]  # the stage is reached through the role the pipeline names


def test_a_stage_that_is_not_deployed_exits_2_naming_it(
    aws: list[str | None], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--stage", "nowhere", "--skip-mqtt"], environment={}) == 2
    err = capsys.readouterr().err
    assert "error: cannot read the outputs of stage 'nowhere'" in err
    assert "iot-nowhere-ingest" in err
    assert aws == [None]


def test_a_stage_read_from_its_stacks_names_the_missing_output(
    aws: list[str | None], capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = {"StreamName": "readings", "TableName": "table", "ProcessedBucketName": "p", "FailureBucketName": "f"}
    for stack, stack_outputs in {"iot-dev-ingest": outputs, "iot-dev-archive": {"RawBucketName": "raw"}}.items():
        boto3.client("cloudformation").create_stack(StackName=stack, TemplateBody=_template(stack_outputs))
    assert main(["--stage", "dev", "--skip-mqtt"], environment={}) == 2
    assert "the ingest stack has no AlertInboxUrl output" in capsys.readouterr().err


def _template(outputs: dict[str, str]) -> str:
    return json.dumps(
        {
            "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
    )
