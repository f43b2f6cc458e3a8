"""The last step of every stage: it writes the deployment record through the role the pipeline names, and exits 0, 1
or 2 as it should, from its flags or from the variables the pipeline passes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tools.common.deployment_record import DeploymentRecord, assembly_digest
from tools.common.testing import moto_credentials, note_assumed_roles
from tools.steps import record_deployment
from tools.steps.record_deployment import main

COMMIT = "4af6e50a1b2c3d4e5f60718293a4b5c6d7e8f901"  # pragma: allowlist secret (a commit id)
ROLE = "arn:aws:iam::222222222222:role/iot-dev-smoke-test"
PIPELINE = {
    "STAGE_NAME": "dev",
    "DEPLOYED_COMMIT": COMMIT,
    "PIPELINE_EXECUTION_ID": "7b6c1f0e-2d4a-4c3b-9e8f-0a1b2c3d4e5f",
    "INGEST_SMOKETESTROLEARN": ROLE,
}
NOW = datetime(2026, 11, 27, 10, 2, 11, tzinfo=UTC)


@pytest.fixture
def assembly(tmp_path: Path) -> Path:
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {}}))
    (tmp_path / "IotPipeline.template.json").write_text("{}")
    return tmp_path


@pytest.fixture
def assumed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """moto's SSM and STS; the roles the step assumed."""
    moto_credentials(monkeypatch)
    roles = note_assumed_roles(monkeypatch, record_deployment, session_name="iot-record-deployment")
    with mock_aws():
        yield roles


def _recorded(account: str = "222222222222") -> DeploymentRecord:
    """The record as the stage's account holds it (the assumed role's credentials belong to that account)."""
    credentials = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/reader", RoleSessionName="test")
    keys = credentials["Credentials"]
    ssm = boto3.client(
        "ssm",
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    return DeploymentRecord.from_json(
        ssm.get_parameter(Name="/iot/dev/observability/deployment-record")["Parameter"]["Value"]
    )


def test_the_record_is_written_in_the_stages_account_through_the_role_the_pipeline_names(
    assembly: Path, assumed: list[str | None], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--from-environment", "--assembly", str(assembly)], PIPELINE, now=lambda: NOW) == 0
    assert assumed == [ROLE]
    assert _recorded() == DeploymentRecord(
        stage="dev",
        commit=COMMIT,
        assembly_digest=assembly_digest(assembly),
        pipeline_execution_id=PIPELINE["PIPELINE_EXECUTION_ID"],
        recorded_at=NOW,
    )
    assert capsys.readouterr().out == (
        f"stage dev runs {COMMIT} ({assembly_digest(assembly)}), recorded in /iot/dev/observability/deployment-record\n"
    )


def test_the_next_deploy_replaces_the_record(assembly: Path, assumed: list[str | None]) -> None:
    assert main(["--from-environment", "--assembly", str(assembly)], PIPELINE, now=lambda: NOW) == 0
    later = "b" * 40
    assert main(["--from-environment", "--commit", later, "--assembly", str(assembly)], PIPELINE) == 0
    assert _recorded().commit == later  # the flag wins over DEPLOYED_COMMIT


def test_flags_alone_need_no_environment(assembly: Path, assumed: list[str | None]) -> None:
    arguments = ["--stage", "dev", "--commit", COMMIT, "--execution-id", "x1", "--assembly", str(assembly)]
    assert main(arguments, {}) == 0
    assert assumed == [None]  # no role named: the caller's credentials (moto's default account here)
    assert _recorded("123456789012").pipeline_execution_id == "x1"


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("STAGE_NAME", "--stage (or --from-environment with STAGE_NAME) is required"),
        ("DEPLOYED_COMMIT", "--commit (or --from-environment with DEPLOYED_COMMIT) is required"),
        ("PIPELINE_EXECUTION_ID", "--execution-id (or --from-environment with PIPELINE_EXECUTION_ID) is required"),
    ],
)
def test_a_missing_value_exits_2_naming_flag_and_variable(
    missing: str, message: str, assembly: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = {name: value for name, value in PIPELINE.items() if name != missing}
    with pytest.raises(SystemExit) as exit_info:
        main(["--from-environment", "--assembly", str(assembly)], environment)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DEPLOYED_COMMIT": "main"}, "commit must be a full 40-character git commit id, got 'main'"),
        ({"ASSEMBLY": "nowhere"}, "nowhere is not a cloud assembly (no manifest.json)"),
    ],
)
def test_a_bad_value_exits_2_naming_it(
    change: dict[str, str], message: str, assembly: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = change.get("ASSEMBLY", str(assembly))
    with pytest.raises(SystemExit) as exit_info:
        main(["--from-environment", "--assembly", where], {**PIPELINE, **change})
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_refused_write_exits_1_naming_the_parameter(
    assembly: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Refusing:
        def client(self, service: str) -> Any:
            return self

        def put_parameter(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutParameter")

    monkeypatch.setattr(record_deployment, "session_for", lambda role_arn, session_name: Refusing())
    assert main(["--from-environment", "--assembly", str(assembly)], PIPELINE) == 1
    error = capsys.readouterr().err
    assert "error: could not record what stage dev runs in /iot/dev/observability/deployment-record:" in error
    assert "AccessDeniedException" in error
