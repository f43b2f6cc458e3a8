"""``make drift``: the stage's drift check from a laptop, over recorded CloudFormation responses; its exit codes and
every way its arguments or its credentials can be wrong."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from services.observability.testing import RecordedCloudFormation
from tools.operations.drift import main


class Sessions:
    """Stands in for tools.common.aws_session.session_for: records what the CLI asked for, hands out ``client``."""

    def __init__(self, client: Any) -> None:
        self.client_of = client
        self.asked: list[tuple[str | None, str, str]] = []

    def __call__(self, role_arn: str | None, *, session_name: str) -> Any:
        sessions = self

        class Session:
            def client(self, service: str, *, region_name: str) -> Any:
                sessions.asked.append((role_arn, service, region_name))
                return sessions.client_of

        assert session_name == "iot-drift-check"
        return Session()


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _: None)


def _main(arguments: list[str], *recorded: str) -> tuple[int, Sessions]:
    sessions = Sessions(RecordedCloudFormation(*recorded))
    return main(arguments, session=sessions), sessions


def test_a_stage_in_sync_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, sessions = _main(
        ["--stage", "prod"], "prod-ingest-in-sync", "prod-archive-in-sync", "prod-observability-in-sync"
    )
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("iot-prod drift check: all in sync of 3 stacks\n\nDrift check of stage prod at ")
    assert "iot-prod-archive: in sync\niot-prod-observability: in sync\n" in out
    assert sessions.asked == [(None, "cloudformation", "eu-west-1")]  # the caller's credentials, the stage's region
    assert sessions.client_of.unanswered() == {}


def test_drift_exits_1_with_the_message_ops_would_receive_and_the_stages_own_rules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _ = _main(
        ["--stage", "prod"],
        "prod-ingest-warm-throughput",
        "prod-archive-bucket-policy",
        "prod-observability-alarm-threshold",
    )
    assert code == 1
    out = capsys.readouterr().out
    assert out.startswith("iot-prod drift check: 2 DRIFTED of 3 stacks\n")
    # prod's rule from cdk.json explains the warm throughput; the hand-made changes are named
    assert "iot-prod-ingest: in sync (2 differences ignored by rule; not read: AlertsWebhookSecret4E288CBA)" in out
    assert "      /Threshold: expected 1, actual 25\n" in out
    assert "  - RawArchivePolicy0B546A99 (AWS::S3::BucketPolicy, " in out


def test_the_named_stacks_alone_are_checked_and_a_deploy_in_progress_exits_3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _ = _main(["--stage", "dev", "--stacks", " iot-dev-archive "], "dev-archive-being-updated")
    assert code == 3
    assert capsys.readouterr().out.startswith("iot-dev drift check: 1 not checked of 1 stack\n")


def test_a_deleted_stack_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _main(["--stage", "dev", "--stacks", "iot-dev-observability"], "dev-observability-deleted")
    assert code == 1
    assert "iot-dev-observability: MISSING" in capsys.readouterr().out


def test_a_role_is_assumed_when_named() -> None:
    role = "arn:aws:iam::444444444444:role/iot-prod-operator"
    code, sessions = _main(
        ["--stage", "prod", "--stacks", "iot-prod-ingest", "--role-arn", role], "prod-ingest-in-sync"
    )
    assert code == 0
    assert sessions.asked == [(role, "cloudformation", "eu-west-1")]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "the following arguments are required: --stage"),
        (["--stage", "qa"], "stage 'qa' is not configured (configured: ['dev', 'staging', 'prod'])"),
        (["--stage", ""], "stage '' is not configured"),
        (
            ["--stage", "prod", "--stacks", "iot-prod-ingest,iot-dev-ingest"],
            "--stacks: iot-dev-ingest not of stage prod (its stacks: iot-prod-ingest, iot-prod-archive, "
            "iot-prod-observability)",
        ),
        (["--stage", "prod", "--deadline-minutes", "0"], "must be a number greater than 0, got 0"),
        (["--stage", "prod", "--deadline-minutes", "soon"], "must be a number, got 'soon'"),
    ],
)
def test_a_bad_argument_exits_2_naming_it(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _main(arguments)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


class Unreachable:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def describe_stacks(self, **_: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (NoCredentialsError(), "error: cannot check the prod stacks: Unable to locate credentials"),
        (
            ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "AssumeRole"),
            "error: cannot check the prod stacks: An error occurred (AccessDenied) when calling the AssumeRole",
        ),
    ],
)
def test_aws_out_of_reach_exits_2_saying_why(
    error: Exception, message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def session(role_arn: str | None, *, session_name: str) -> Any:
        if isinstance(error, ClientError):  # STS refuses the role
            raise error
        return Sessions(Unreachable(error))(role_arn, session_name=session_name)

    assert main(["--stage", "prod"], session=session) == 2
    assert message in capsys.readouterr().err
