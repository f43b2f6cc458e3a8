"""``make environments`` over moto's SSM and CloudFormation (one account per stage, reached by assuming a role there,
as in AWS) and a git clone of three commits: the table, how far behind main, the comparison of two stages, and every
way a record or an argument can be wrong. The same over stages deployed on the emulator: tests/test_what_runs_where.py.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pipeline.config import PlatformConfig
from tools.common.deployment_record import DeploymentRecord
from tools.common.testing import moto_credentials
from tools.operations.environments import aligned, as_stage, by_parameter_name, main

ACCOUNTS = {"dev": "222222222222", "staging": "333333333333", "prod": "444444444444"}
DIGEST = "sha256:" + "5e" * 32
UNKNOWN_COMMIT = "0123456789abcdef0123456789abcdef01234567"  # pragma: allowlist secret (a commit id)
# A function version's logical id in two stages: the same readable part, each with the hash of its own settings.
STAGING_VERSION = "VersionBE6E35173836a30711a6f441f014d358795cf22d"  # pragma: allowlist secret (a logical id)
DEV_VERSION = "VersionBE6E351752678ca2c28336275261e437497d1b4e"  # pragma: allowlist secret (a logical id)


def _git(repository: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repository), *arguments], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    """A repository whose main has three commits, and one commit on a branch off the first."""
    repository = tmp_path_factory.mktemp("clone")
    _git(repository, "init", "--quiet", "--initial-branch", "main")
    for setting in ("user.name=t", "user.email=t@example.com", "commit.gpgsign=false"):
        _git(repository, "config", *setting.split("="))
    commits = []
    for number in range(3):
        _git(repository, "commit", "--quiet", "--allow-empty", "-m", f"commit {number}")
        commits.append(_git(repository, "rev-parse", "HEAD"))
    _git(repository, "checkout", "--quiet", "-b", "side", commits[0])
    _git(repository, "commit", "--quiet", "--allow-empty", "-m", "on a branch")
    side = _git(repository, "rev-parse", "HEAD")
    _git(repository, "checkout", "--quiet", "main")
    return repository, commits, side


def _session(stage: str) -> boto3.Session:
    """Credentials of the stage's account, as moto hands them out for a role assumed there."""
    role = f"arn:aws:iam::{ACCOUNTS[stage]}:role/operator"
    keys = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="test")["Credentials"]
    return boto3.Session(
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
        region_name="eu-west-1",
    )


def _record(stage: str, commit: str, *, parameter_stage: str | None = None, raw: str | None = None) -> None:
    record = DeploymentRecord(
        stage=stage,
        commit=commit,
        assembly_digest=DIGEST,
        pipeline_execution_id=f"execution-of-{stage}",
        recorded_at=datetime(2026, 11, 27, 10, 2, 11, tzinfo=UTC),
    )
    name = f"/iot/{parameter_stage or stage}/observability/deployment-record"
    _session(parameter_stage or stage).client("ssm").put_parameter(
        Name=name, Value=raw or record.to_json(), Type="String", Overwrite=True
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    moto_credentials(monkeypatch)
    with mock_aws():
        yield


def _roles(*stages: str) -> list[str]:
    return [
        argument for stage in stages for argument in ("--role-arn", f"{stage}=arn:aws:iam::{ACCOUNTS[stage]}:role/r")
    ]


def _main(clone: tuple[Path, list[str], str], *arguments: str) -> int:
    return main([*arguments, "--main", "main", "--repository", str(clone[0])])


def test_every_stage_with_its_commit_and_how_far_behind_main(
    aws: None, clone: tuple[Path, list[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, commits, _ = clone
    _record("dev", commits[2])
    _record("staging", commits[1])
    _record("prod", commits[0])
    assert _main(clone, *_roles("dev", "staging", "prod")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"What runs where (main is {commits[2][:12]})"
    assert lines[2].split() == [
        "stage",
        "commit",
        "behind",
        "main",
        "deployed",
        "(UTC)",
        "pipeline",
        "execution",
        "assembly",
    ]
    rows = {line.split()[0]: line for line in lines[3:]}
    assert rows["dev"].split() == [
        "dev", commits[2][:12], "up", "to", "date", "2026-11-27", "10:02:11", "execution-of-dev", DIGEST[:19]
    ]  # fmt: skip
    assert rows["staging"].split()[1:4] == [commits[1][:12], "1", "commit"]
    assert rows["prod"].split()[1:4] == [commits[0][:12], "2", "commits"]


def test_a_stage_without_a_record_is_shown_and_exits_1(
    aws: None, clone: tuple[Path, list[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, commits, _ = clone
    _record("dev", commits[2])
    assert _main(clone, *_roles("dev", "staging", "prod")) == 1
    out = capsys.readouterr().out
    assert "\nstaging  -" in out
    assert (
        "staging: no record: /iot/staging/observability/deployment-record does not exist (no pipeline run has "
        "finished the stage)" in out
    )


@pytest.mark.parametrize(
    ("commit", "behind"),
    [
        ("side", "not on main"),
        (UNKNOWN_COMMIT, "commit unknown here (git fetch)"),
    ],
)
def test_a_commit_off_main_or_unknown_here_says_so(
    aws: None, clone: tuple[Path, list[str], str], capsys: pytest.CaptureFixture[str], commit: str, behind: str
) -> None:
    _record("dev", clone[2] if commit == "side" else commit)
    _record("staging", clone[1][0])
    assert _main(clone, "dev", "staging", *_roles("dev", "staging")) == 0
    assert behind in capsys.readouterr().out.splitlines()[3]


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"raw": "not json"}, "dev: a deployment record must be JSON"),
        ({"raw": json.dumps({"stage": "dev"})}, "dev: a deployment record needs exactly"),
        (
            {"parameter_stage": "dev", "stage": "prod"},
            "dev: /iot/dev/observability/deployment-record holds the record of stage prod",
        ),
    ],
)
def test_a_record_that_cannot_be_read_is_named_and_exits_1(
    aws: None,
    clone: tuple[Path, list[str], str],
    capsys: pytest.CaptureFixture[str],
    record: dict[str, str],
    problem: str,
) -> None:
    _record(record.get("stage", "dev"), clone[1][2], parameter_stage="dev", raw=record.get("raw"))
    assert _main(clone, *_roles("dev", "staging", "prod")) == 1
    assert problem in capsys.readouterr().out


def _alarm(stage: str, threshold: int) -> dict[str, Any]:
    alarm = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": f"iot-{stage}-processor-errors",
            "AlarmActions": [f"arn:aws:sns:eu-west-1:{ACCOUNTS[stage]}:iot-{stage}-observability-OpsTopic"],
            "MetricName": "Errors",
            "Namespace": "AWS/Lambda",
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    }
    return {"Resources": {"AlarmsProcessorErrors": alarm}}


def test_two_stages_print_what_promoting_the_first_would_change_in_the_second(
    aws: None, clone: tuple[Path, list[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, commits, _ = clone
    for stage, commit, threshold in (("staging", commits[2], 5), ("prod", commits[0], 1)):
        _record(stage, commit)
        _session(stage).client("cloudformation").create_stack(
            StackName=f"iot-{stage}-observability", TemplateBody=json.dumps(_alarm(stage, threshold))
        )
    assert _main(clone, "staging", "prod", *_roles("staging", "prod")) == 0
    out = capsys.readouterr().out
    table, report = out.split("\n# Change report: ")
    assert [line.split()[0] for line in table.splitlines()[3:]] == ["staging", "prod"]
    assert report.startswith(f"prod ({commits[0][:7]}) -> staging's templates in prod ({commits[2][:7]})\n")
    assert "1 of 1 stacks change." in report
    # the stage's name and account in the alarm's name and actions are not a change; the threshold is
    assert "| modified | `AlarmsProcessorErrors` | AWS::CloudWatch::Alarm | Threshold (1 -> 5) |" in report


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["dev"], "name no stage (all of them) or two (SOURCE TARGET), got 1: ['dev']"),
        (["dev", "staging", "prod"], "got 3"),
        (["dev", "qa"], "stage 'qa' is not configured"),
        (["prod", "prod"], "SOURCE and TARGET are both prod"),
        (["--profile", "dev"], "must be STAGE=VALUE, got 'dev'"),
        (["--role-arn", "=arn:aws:iam::222222222222:role/r"], "must be STAGE=VALUE"),
        (["--role-arn", "qa=arn:aws:iam::222222222222:role/r"], "stage 'qa' is not configured"),
        (["--main", "no-such-branch"], "--main: no-such-branch is not a commit in"),
        (["--main=--output=x"], "--main: --output=x is not a commit in"),
    ],
)
def test_a_bad_argument_exits_2_naming_it(
    clone: tuple[Path, list[str], str], arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    given = any(argument.startswith("--main") for argument in arguments)
    with pytest.raises(SystemExit) as exit_info:
        main([*arguments, "--repository", str(clone[0]), *([] if given else ["--main", "main"])])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_profile_per_stage_is_used_for_that_stage(
    clone: tuple[Path, list[str], str], platform_config: PlatformConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = []

    def session(access: Any) -> Any:
        asked.append((access.stage.name, access.profile, access.role_arn))
        raise SystemExit(0)  # enough: the factory was asked with the right access

    with pytest.raises(SystemExit):
        main(
            ["dev", "prod", "--profile", "dev=iot-dev", "--role-arn", "prod=arn:aws:iam::444444444444:role/r",
             "--main", "main", "--repository", str(clone[0])],
            config=platform_config,
            session=session,
        )  # fmt: skip
    assert asked == [("dev", "iot-dev", None)]


# --- reading one stage's templates as another's -----------------------------------------------------------------------


def test_a_stages_name_and_account_become_the_others_and_nothing_else(platform_config: PlatformConfig) -> None:
    dev, prod = platform_config.stage("dev"), platform_config.stage("prod")
    templates = {
        "iot-dev-ingest": {
            "Resources": {
                "Policy": {"Properties": {"PolicyName": "iot-dev-device-readings", "Tag": "Dev", "Note": "devices"}},
                "Role": {"Properties": {"Arn": "arn:aws:iam::222222222222:role/iot-dev-smoke-test", "Path": "/dev/"}},
            }
        }
    }
    assert as_stage(templates, source=dev, target=prod) == {
        "iot-prod-ingest": {
            "Resources": {
                "Policy": {"Properties": {"PolicyName": "iot-prod-device-readings", "Tag": "Prod", "Note": "devices"}},
                "Role": {"Properties": {"Arn": "arn:aws:iam::444444444444:role/iot-prod-smoke-test", "Path": "/prod/"}},
            }
        }
    }


def test_a_logical_id_that_differs_by_the_stage_and_its_hash_alone_is_the_same_resource(
    platform_config: PlatformConfig,
) -> None:
    dev, staging = platform_config.stage("dev"), platform_config.stage("staging")
    permission = {"Type": "AWS::Lambda::Permission", "Properties": {"Action": "lambda:InvokeFunction"}}
    version = {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}}

    def stack(permission_id: str, version_id: str) -> dict[str, Any]:
        alias = {
            "Type": "AWS::Lambda::Alias",
            "Properties": {"FunctionVersion": {"Fn::GetAtt": [version_id, "Version"]}},
        }
        return {"Resources": {permission_id: permission, version_id: version, "Alias": alias}}

    before = stack("AllowRuleStagingObservabilityCheck85641D1FFFFCF62B", STAGING_VERSION)
    after = stack("AllowRuleDevObservabilityCheck71C4BAEA86C60901", DEV_VERSION)
    assert aligned(after, before, source=dev, target=staging) == before


@pytest.mark.parametrize(
    ("after_ids", "reason"),
    [
        (["AllowRuleDevCheck71C4BAEA", "AllowRuleDevCheck0A1B2C3D"], "two candidates on one side"),
        (["AllowRuleDevOther71C4BAEA"], "another construct"),
    ],
)
def test_a_logical_id_without_a_single_counterpart_keeps_its_name(
    platform_config: PlatformConfig, after_ids: list[str], reason: str
) -> None:
    permission = {"Type": "AWS::Lambda::Permission", "Properties": {}}
    before = {"Resources": {"AllowRuleStagingCheck85641D1F": permission}}
    after = {"Resources": dict.fromkeys(after_ids, permission)}
    dev, staging = platform_config.stage("dev"), platform_config.stage("staging")
    assert aligned(after, before, source=dev, target=staging) == after, reason


def test_a_resource_of_another_type_is_another_resource(platform_config: PlatformConfig) -> None:
    before = {"Resources": {"InboxStagingTopic85641D1F": {"Type": "AWS::SNS::Subscription", "Properties": {}}}}
    after = {"Resources": {"InboxDevTopic71C4BAEA": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
    dev, staging = platform_config.stage("dev"), platform_config.stage("staging")
    assert aligned(after, before, source=dev, target=staging) == after


def test_references_to_ssm_typed_parameters_are_written_as_the_parameter_they_read() -> None:
    function_name = (
        "SsmParameterValueiotdevingestfunctionnameC96584B6F00A464EAD1953AFF4B05118Parameter"  # pragma: allowlist secret
    )
    ssm = "AWS::SSM::Parameter::Value<String>"
    template = {
        "Parameters": {
            function_name: {"Type": ssm, "Default": "/iot/dev/ingest/function-name"},
            "Plain": {"Type": "String", "Default": "x"},
        },
        "Resources": {
            "Alarm": {
                "Properties": {
                    "Dimensions": [{"Value": {"Ref": function_name}}],
                    "Other": [{"Ref": "Plain"}, {"Ref": "Topic"}],
                }
            }
        },
    }
    properties = by_parameter_name(template)["Resources"]["Alarm"]["Properties"]
    assert properties["Dimensions"] == [{"Value": {"Ref": "ssm:/iot/dev/ingest/function-name"}}]
    assert properties["Other"] == [{"Ref": "Plain"}, {"Ref": "Topic"}]
