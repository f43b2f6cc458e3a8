"""Where a stage's readings land, found from its stacks' outputs or from the variables the pipeline passes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from tools.landing.targets import MissingOutputError, Targets, outputs_from_environment, stack_outputs

INGEST = {
    "StreamName": "readings",
    "TableName": "table",
    "ProcessedBucketName": "processed",
    "FailureBucketName": "failures",
    "AlertInboxUrl": "https://sqs/inbox",
}


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("cloudformation")


def _stack(name: str, outputs: dict[str, str] | None) -> None:
    template: dict[str, object] = {"Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}
    if outputs is not None:
        template["Outputs"] = {key: {"Value": value} for key, value in outputs.items()}
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_a_stage_is_found_from_the_outputs_of_its_ingest_and_archive_stacks(cloudformation: object) -> None:
    _stack("iot-dev-ingest", INGEST)
    _stack("iot-dev-archive", {"RawBucketName": "raw", "GlueDatabase": "db"})
    _stack("iot-staging-archive", {"RawBucketName": "another stage's"})
    assert Targets.from_stage(boto3.Session(), "dev") == Targets(
        stream_name="readings",
        table_name="table",
        processed_bucket="processed",
        failure_bucket="failures",
        archive_bucket="raw",
        alert_inbox_url="https://sqs/inbox",
    )


def test_a_stack_without_outputs_has_none_rather_than_failing(cloudformation: object) -> None:
    _stack("iot-dev-archive", None)
    assert stack_outputs(boto3.Session(), "dev", "archive") == {}
    _stack("iot-dev-ingest", INGEST)
    targets = Targets.from_stage(boto3.Session(), "dev")
    assert targets.archive_bucket is None
    with pytest.raises(MissingOutputError, match="the archive stack has no RawBucketName output"):
        targets.require_archive()


@pytest.mark.parametrize("output", ["StreamName", "TableName", "ProcessedBucketName", "FailureBucketName"])
def test_each_output_the_smoke_test_cannot_do_without_is_named_when_missing_or_empty(output: str) -> None:
    with pytest.raises(MissingOutputError, match=rf"the ingest stack has no outputs \['{output}'\]"):
        Targets.from_outputs({key: value for key, value in INGEST.items() if key != output}, None)
    with pytest.raises(MissingOutputError, match=rf"\['{output}'\]"):
        Targets.from_outputs({**INGEST, output: ""}, None)


def test_every_missing_output_is_named_at_once() -> None:
    with pytest.raises(
        MissingOutputError, match=r"\['StreamName', 'TableName', 'ProcessedBucketName', 'FailureBucketName'\]"
    ):
        Targets.from_outputs({}, None)


def test_the_inbox_and_the_archive_are_optional_until_required() -> None:
    targets = Targets.from_outputs(
        {key: value for key, value in INGEST.items() if key != "AlertInboxUrl"}, {"RawBucketName": ""}
    )
    assert (targets.alert_inbox_url, targets.archive_bucket) == (None, None)
    with pytest.raises(MissingOutputError, match="the ingest stack has no AlertInboxUrl output"):
        targets.require_alert_inbox()
    with pytest.raises(MissingOutputError, match="the archive stack has no RawBucketName output"):
        targets.require_archive()
    complete = Targets.from_outputs(INGEST, {"RawBucketName": "raw"})
    assert (complete.require_alert_inbox(), complete.require_archive()) == ("https://sqs/inbox", "raw")


def test_the_pipelines_variables_are_read_by_service_and_output() -> None:
    environment = {
        "INGEST_STREAMNAME": "readings",
        "INGEST_TABLENAME": "table",
        "ARCHIVE_RAWBUCKETNAME": "raw",
        "ARCHIVE_STREAMNAME": "not the ingest stack's",
        "INGEST_GLUEDATABASE": "",  # empty: as good as absent
    }
    assert outputs_from_environment(environment, "ingest", ["StreamName", "TableName", "GlueDatabase"]) == {
        "StreamName": "readings",
        "TableName": "table",
    }
    assert outputs_from_environment(environment, "archive", ["RawBucketName"]) == {"RawBucketName": "raw"}
