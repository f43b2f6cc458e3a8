"""The change report's command line, from hand-written cloud assemblies and moto's CloudFormation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tools.common.testing import documented_help, moto_credentials, note_assumed_roles, printed_help
from tools.steps import change_report
from tools.steps.change_report import main

STACK = "iot-prod-ingest"


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
    moto_credentials(monkeypatch)
    assumed = note_assumed_roles(monkeypatch, change_report, session_name="iot-change-report")
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
