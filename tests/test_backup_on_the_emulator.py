"""The stage's backups on the embedded emulator: its real templates deployed, then every vault, lock, plan and
selection read back through the AWS Backup API as an operator would read them in an account.

The local stage is the dev config with a prod-like policy on top (a vault lock and a copy rule), so the lock and the
copy are deployed too; the template tests check each stage's own policy (shared/tests/infra/test_backup.py and the
services' infra tests). moto's CloudFormation skips backup resources: the local deploy creates them through the API
(tools/local/deploy.py), and the emulator keeps a plan's selections (ADR 0012).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from services.iot_archive import contract as archive
from services.iot_processor import contract as ingest
from tools.local.deploy import DeployedStage, deploy_stage
from tools.local.emulator import LOCAL_ACCOUNT, LOCAL_REGION, embedded_aws
from tools.local.run import _stack_files, synthesize_local_stage

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LOCK = {"minRetentionDays": 3, "maxRetentionDays": 30, "changeableForDays": 3}
COPY = {"account": "555555555555", "vaultName": "iot-readings-copy", "retentionDays": 21}
RETENTION_DAYS = 10


@dataclass(frozen=True)
class Deployed:
    stage: DeployedStage
    backup: Any
    iam: Any

    def plan_of(self, service: str) -> dict[str, Any]:
        (plan,) = [
            p for p in self.backup.list_backup_plans()["BackupPlansList"] if p["BackupPlanName"].endswith(service)
        ]
        found: dict[str, Any] = self.backup.get_backup_plan(BackupPlanId=plan["BackupPlanId"])
        return found

    def selection_of(self, service: str) -> dict[str, Any]:
        plan_id = self.plan_of(service)["BackupPlanId"]
        (listed,) = self.backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
        found: dict[str, Any] = self.backup.get_backup_selection(
            BackupPlanId=plan_id, SelectionId=listed["SelectionId"]
        )
        return found


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    overrides = {
        "iot.stages.dev.backup.vaultLock": json.dumps(LOCK),
        "iot.stages.dev.backup.copy": json.dumps(COPY),
        "iot.stages.dev.backup.retentionDays": str(RETENTION_DAYS),
    }
    with embedded_aws(LOCAL_REGION) as emulator:
        stage_dir = synthesize_local_stage(Path(tmp_path_factory.mktemp("assembly")), overrides=overrides)
        stage = deploy_stage(
            stage_dir,
            _stack_files(stage_dir),
            account=LOCAL_ACCOUNT,
            region=LOCAL_REGION,
            modelled_types=emulator.modelled_types,
        )
        yield Deployed(stage, boto3.client("backup"), boto3.client("iam"))


def test_each_data_service_has_a_locked_vault_under_its_own_stacks_key(deployed: Deployed) -> None:
    vaults = {v["BackupVaultName"]: v for v in deployed.backup.list_backup_vaults()["BackupVaultList"]}
    assert set(vaults) == {"iot-sandbox-ingest", "iot-sandbox-archive"}
    for service in (ingest.SERVICE, archive.SERVICE):
        vault = vaults[f"iot-sandbox-{service}"]
        assert (vault["Locked"], vault["MinRetentionDays"], vault["MaxRetentionDays"]) == (True, 3, 30)
        stack = deployed.stage.stacks[service]
        key_ids = [stack.physical_ids[lid] for lid in stack.resources_of_type("AWS::KMS::Key") if "Backup" in lid]
        assert vault["EncryptionKeyArn"] == f"arn:aws:kms:{LOCAL_REGION}:{LOCAL_ACCOUNT}:key/{key_ids[0]}"


def test_each_plan_keeps_daily_recovery_points_and_copies_them_to_the_backup_account(deployed: Deployed) -> None:
    for service in (ingest.SERVICE, archive.SERVICE):
        (rule,) = deployed.plan_of(service)["BackupPlan"]["Rules"]
        assert rule["TargetBackupVaultName"] == f"iot-sandbox-{service}"
        assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
        assert rule["Lifecycle"] == {"DeleteAfterDays": RETENTION_DAYS}
        assert rule["CopyActions"] == [
            {
                "DestinationBackupVaultArn": f"arn:aws:backup:{LOCAL_REGION}:{COPY['account']}:backup-vault:"
                f"{COPY['vaultName']}",
                "Lifecycle": {"DeleteAfterDays": 21},
            }
        ]


def test_the_ingest_selection_is_the_table_and_the_failed_batches_with_a_role_that_backs_up_only_them(
    deployed: Deployed,
) -> None:
    outputs = deployed.stage.stacks[ingest.SERVICE].outputs
    table = f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{outputs[ingest.Output.TABLE_NAME]}"
    failures = f"arn:aws:s3:::{outputs[ingest.Output.FAILURE_BUCKET_NAME]}"
    selection = deployed.selection_of(ingest.SERVICE)["BackupSelection"]
    assert selection["Resources"] == [table, failures]
    statements = _statements(deployed.iam, selection["IamRoleArn"])
    assert statements["BackUpTheTables"]["Resource"] == table
    assert statements["ReadTheBuckets"]["Resource"] == failures


def test_the_archive_selection_is_the_raw_archive_alone(deployed: Deployed) -> None:
    raw = deployed.stage.stacks[archive.SERVICE].outputs[archive.Output.RAW_BUCKET_NAME]
    selection = deployed.selection_of(archive.SERVICE)["BackupSelection"]
    assert selection["Resources"] == [f"arn:aws:s3:::{raw}"]
    assert "BackUpTheTables" not in _statements(deployed.iam, selection["IamRoleArn"])


def _statements(iam: Any, role_arn: str) -> dict[str, dict[str, Any]]:
    """The role's inline policy statements by Sid (CDK's DefaultPolicy, which moto's CloudFormation attaches)."""
    role = role_arn.rsplit("/", maxsplit=1)[-1]
    statements = {}
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        statements.update({s["Sid"]: s for s in document["Statement"] if "Sid" in s})
    assert statements, f"{role} has no inline policy"
    return statements
