"""The change report without a synth: resource attributes (not properties) that change what a deploy does, and the
command line, from hand-written cloud assemblies and moto's CloudFormation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tools.common import aws_session
from tools.common.testing import documented_help, printed_help
from tools.steps import change_report
from tools.steps.change_report import ChangeKind, Concern, ReplacementSpec, compare, main

STACK = "iot-prod-ingest"


def _table(**attributes: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {"KeySchema": [{"AttributeName": "sensor_id", "KeyType": "HASH"}]},
        **attributes,
    }


def _compare(before: dict[str, Any], after: dict[str, Any]) -> Any:
    return compare(
        {STACK: {"Resources": {"Readings": before}}},
        {STACK: {"Resources": {"Readings": after}}},
        ReplacementSpec.load(),
    )


@pytest.mark.parametrize(
    ("before", "after", "loosened"),
    [
        ({"DeletionPolicy": "Retain"}, {"DeletionPolicy": "Delete"}, ("DeletionPolicy", "Retain", "Delete")),
        ({"DeletionPolicy": "Retain"}, {}, ("DeletionPolicy", "Retain", "absent: Delete")),
        (
            {"UpdateReplacePolicy": "Snapshot"},
            {"UpdateReplacePolicy": "Delete"},
            ("UpdateReplacePolicy", "Snapshot", "Delete"),
        ),
        (
            {"DeletionPolicy": "RetainExceptOnCreate"},
            {"DeletionPolicy": "Delete"},
            ("DeletionPolicy", "RetainExceptOnCreate", "Delete"),
        ),
    ],
)
def test_a_stateful_resource_no_longer_kept_is_flagged_as_a_danger(
    before: dict[str, str], after: dict[str, str], loosened: tuple[str, str, str]
) -> None:
    report = _compare(_table(**before), _table(**after))
    (change,) = report.changes
    assert change.kind is ChangeKind.MODIFIED
    assert change.loosened == (loosened,)
    assert report.concerning(Concern.RETENTION) == [change]
    text = change_report.render_markdown(report, before_label="a", after_label="b")
    assert f"**DANGER: table no longer kept** `{STACK}` / `Readings`" in text
    assert f"{loosened[0]} {loosened[1]} -> {loosened[2]}" in text


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"DeletionPolicy": "Delete"}, {"DeletionPolicy": "Retain"}),  # tightened
        ({"DeletionPolicy": "Retain"}, {"DeletionPolicy": "Snapshot"}),  # still kept
        ({"UpdateReplacePolicy": "Delete"}, {}),  # never kept
    ],
)
def test_a_retention_policy_kept_or_tightened_is_a_plain_modification(
    before: dict[str, str], after: dict[str, str]
) -> None:
    report = _compare(_table(**before), _table(**after))
    (change,) = report.changes
    assert (change.kind, change.loosened) == (ChangeKind.MODIFIED, ())
    assert report.concerning(Concern.RETENTION) == []
    assert set(change.changed) == set(before) | set(after)


def test_a_stateless_resource_loses_nothing_when_its_retention_changes() -> None:
    topic = {"Type": "AWS::SNS::Topic", "Properties": {}}
    report = _compare({**topic, "DeletionPolicy": "Retain"}, topic)
    (change,) = report.changes
    assert change.changed == ("DeletionPolicy",)
    assert report.concerning(Concern.RETENTION) == []


@pytest.mark.parametrize("attribute", ["UpdatePolicy", "Condition"])
def test_other_resource_attributes_are_changes_too(attribute: str) -> None:
    report = _compare(_table(), _table(**{attribute: "IsProduction"}))
    (change,) = report.changes
    assert change.changed == (attribute,)


# --- the command line ----------------------------------------------------------------------------------------------


def _assembly(directory: Path, templates: dict[str, dict[str, Any]]) -> Path:
    """A cloud assembly holding ``templates``, named by stack name, in a nested stage assembly as CDK writes it."""
    stage = directory / "assembly-Prod"
    stage.mkdir(parents=True)
    artifacts = {}
    for name, template in templates.items():
        (stage / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "properties": {"templateFile": f"{name}.template.json", "stackName": name},
        }
    (stage / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    top = {"artifacts": {"Prod": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Prod"}}}}
    (directory / "manifest.json").write_text(json.dumps(top))
    return directory


def _threshold(value: int) -> dict[str, Any]:
    alarm = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Threshold": value, "EvaluationPeriods": 1}}
    return {"Resources": {"Failed": alarm}}


def test_main_compares_two_assemblies_and_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _assembly(tmp_path / "before", {STACK: _threshold(1), "iot-prod-archive": _threshold(1)})
    after = _assembly(tmp_path / "after", {STACK: _threshold(5), "iot-prod-archive": _threshold(1)})
    output = tmp_path / "out" / "change-report.md"
    arguments = ["--before", str(before), "--after", str(after), "--stacks", "iot-prod-in*", "--output", str(output)]
    assert main(arguments) == 0
    printed = capsys.readouterr().out
    assert output.read_text(encoding="utf-8") + "\n" == printed
    assert "1 of 1 stacks change." in printed
    assert "| modified | `Failed` | AWS::CloudWatch::Alarm | Threshold (1 -> 5) |" in printed
    assert "iot-prod-archive" not in printed  # not among --stacks


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--after", "x"], "one of the arguments --before --deployed is required"),
        (["--before", "nowhere", "--after", "nowhere"], "nowhere is not a cloud assembly (no manifest.json)"),
        (["--deployed", "--after", "AFTER"], "--deployed needs --stacks"),
        (["--deployed", "--from-environment", "--after", "AFTER"], "--deployed needs --stacks"),
    ],
)
def test_bad_arguments_exit_2_naming_what_is_wrong(
    arguments: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    after = _assembly(tmp_path / "after", {STACK: _threshold(1)})
    with pytest.raises(SystemExit) as exit_info:
        main([str(after) if argument == "AFTER" else argument for argument in arguments], environment={})
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """moto's CloudFormation with the prod ingest stack deployed; the roles the report assumed."""
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }.items():
        monkeypatch.setenv(name, value)
    assumed: list[str | None] = []

    def session_for(role_arn: str | None, *, session_name: str) -> Any:
        assumed.append(role_arn)
        return aws_session.session_for(role_arn, session_name=session_name)

    monkeypatch.setattr(change_report, "session_for", session_for)
    with mock_aws():
        boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(_threshold(1)))
        yield assumed


def test_main_reads_the_deployed_stacks_through_the_role_the_pipeline_names(
    deployed: list[str | None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    after = _assembly(tmp_path / "after", {STACK: _threshold(5), "iot-prod-archive": _threshold(1)})
    role = "arn:aws:iam::123456789012:role/cdk-hnb659fds-lookup-role-123456789012-eu-west-1"
    environment = {"STACKS": f"{STACK},iot-prod-archive", "LOOKUP_ROLE_ARN": role}
    assert main(["--deployed", "--from-environment", "--after", str(after)], environment=environment) == 0
    printed = capsys.readouterr().out
    assert deployed == [role]
    assert "# Change report: deployed -> " in printed
    assert "Threshold (1 -> 5)" in printed
    assert "## iot-prod-archive (new)" in printed  # not deployed yet: every resource is new


def test_the_help_is_what_docs_command_lines_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    assert printed_help(main, monkeypatch) == documented_help("tools.steps.change_report")
