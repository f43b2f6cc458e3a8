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

from tools.common.testing import documented_help, moto_credentials, note_assumed_roles, printed_help
from tools.steps import smoke_test
from tools.steps.smoke_test import main
from tools.steps.tests.stage import landing_stage

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


def test_the_help_is_what_docs_command_lines_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert printed_help(main, monkeypatch) == documented_help("tools.steps.smoke_test")


# --- the whole command on moto; the stage's processor, Firehose and alert topic played by tools/landing/testing ---


@pytest.fixture
def stage(aws: list[str | None], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A stage's landing places on moto, the variables the pipeline would pass for them, and what the stage does with
    what is put: everything lands, but for the indices listed in ``stage["lose"]``."""
    return landing_stage(smoke_test, monkeypatch, role=ROLE)


def test_the_smoke_test_passes_when_every_reading_landed_where_it_belongs(
    stage: dict[str, Any], aws: list[str | None], capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = [
        "--from-environment",
        "--skip-mqtt",
        "--records",
        "100",
        "--anomaly-share",
        "0.1",
        "--invalid-share",
        "0.2",
    ]
    assert main(arguments, environment=stage["environment"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("run smoke-")
    assert out[0].endswith(": putting 100 records to readings")
    assert out[1] == f"{'records put':<28}{100:>8}   (normal 70, anomalies 10, invalid 20)"
    assert f"{'in readings table':<28}{80:>8}" in out
    assert f"{'  alerted':<28}{10:>8}" in out
    assert f"{'in raw archive':<28}{100:>8}" in out
    assert out[-1] == f"{'result':<28}{'PASS':>8}"
    assert aws == [ROLE]
    run_ids = {json.loads(s.record.data)["synthetic_run"] for s in stage["sent"] if s.record.reading_id}
    (run_id,) = run_ids
    assert run_id.startswith("smoke-")  # the alert inbox admits smoke- runs only


def test_a_reading_that_did_not_land_fails_the_smoke_test_naming_it(
    stage: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    stage["lose"] = frozenset({0})
    arguments = ["--from-environment", "--skip-mqtt", "--records", "30", "--invalid-share", "0", "--timeout", "0.01"]
    arguments += ["--anomaly-share", "0"]  # every reading plain: a lost anomaly is missing from the alerts as well
    assert main(arguments, environment=stage["environment"]) == 1
    out = capsys.readouterr().out
    lost = stage["sent"][0].record
    assert f"  missing from archive, table: reading {lost.reading_id} sensor {lost.sensor_id}" in out
    assert f"{'result':<28}{'FAIL':>8}" in out.splitlines()


@pytest.mark.parametrize(("mqtt", "exit_code"), [(True, 0), (False, 1)])
def test_the_mqtt_leg_decides_the_exit_too(
    stage: dict[str, Any], monkeypatch: pytest.MonkeyPatch, mqtt: bool, exit_code: int
) -> None:
    legs: list[dict[str, Any]] = []

    def mqtt_leg(session: Any, targets: Any, **arguments: Any) -> bool:
        legs.append(arguments)
        return mqtt

    monkeypatch.setattr(smoke_test, "mqtt_leg", mqtt_leg)
    assert main(["--from-environment", "--records", "10"], environment=stage["environment"]) == exit_code
    (leg,) = legs
    assert leg["stage"] is None
    assert leg["environment"] == stage["environment"]  # the pipeline's variables name the topic
    assert leg["run_id"].startswith("smoke-")


def test_skip_mqtt_skips_the_leg(stage: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke_test, "mqtt_leg", lambda *_, **__: pytest.fail("the leg ran"))
    assert main(["--from-environment", "--skip-mqtt", "--records", "10"], environment=stage["environment"]) == 0


def test_a_stage_named_is_found_by_its_stacks_and_its_mqtt_leg_by_the_name(
    stage: dict[str, Any], monkeypatch: pytest.MonkeyPatch, aws: list[str | None]
) -> None:
    variables = stage["environment"]
    ingest = {
        output: variables[f"INGEST_{output.upper()}"]
        for output in ("StreamName", "TableName", "ProcessedBucketName", "FailureBucketName", "AlertInboxUrl")
    }
    for stack, outputs in {"iot-dev-ingest": ingest, "iot-dev-archive": {"RawBucketName": "raw"}}.items():
        boto3.client("cloudformation").create_stack(StackName=stack, TemplateBody=_template(outputs))
    legs: list[dict[str, Any]] = []

    def mqtt_leg(session: Any, targets: Any, **arguments: Any) -> bool:
        legs.append(arguments)
        return True

    monkeypatch.setattr(smoke_test, "mqtt_leg", mqtt_leg)
    assert main(["--stage", "dev", "--records", "10", "--role-arn", ROLE], environment=variables) == 0
    assert aws == [ROLE]
    assert [(leg["stage"], leg["environment"]) for leg in legs] == [("dev", None)]
