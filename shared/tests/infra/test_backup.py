"""A service's AWS Backup: vault, lock, plan, copy rule, selection and role, for each shape of the stage's policy.

One small stack per policy, with a table and a bucket as a service has them, every nag pack on: a finding fails the
synth. The services' infra tests check which of their resources they select; tests/test_backup_on_the_emulator.py
deploys the local stage's plans, selections and lock into the emulator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import App, Environment, RemovalPolicy, Stack, Stage
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk.assertions import Template

from shared.backup import BackupConfig, BackupCopy, VaultLock
from shared.config import committed_context
from shared.infra.backup import ACCOUNT_WIDE_ACTIONS, BACKUP_PRINCIPAL, ServiceBackup
from shared.infra.compliance import enable_nag
from shared.infra.encryption import rotating_key
from shared.infra.secure_bucket import access_log_bucket, data_bucket
from shared.testing.templates import Statement, arn, objects_in

pytestmark = pytest.mark.synth

ACCOUNT, REGION, BACKUP_ACCOUNT = "222222222222", "eu-west-1", "555555555555"
PLAIN = BackupConfig(retention_days=7)
LOCKED = BackupConfig(
    schedule="cron(30 2 * * ? *)",
    retention_days=35,
    vault_lock=VaultLock(min_retention_days=7, max_retention_days=400, changeable_for_days=3),
    copy=BackupCopy(account=BACKUP_ACCOUNT, vault_name="iot-prod-readings", retention_days=90),
)
GOVERNANCE = BackupConfig(retention_days=14, vault_lock=VaultLock(min_retention_days=1, max_retention_days=30))
POLICIES = {"plain": PLAIN, "locked": LOCKED, "governance": GOVERNANCE}


@dataclass(frozen=True)
class Backed:
    """One synthesized stack: a table and a bucket (each with its key) backed up under ``config``."""

    stage: str
    config: BackupConfig
    body: dict[str, Any]

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = [
            (name, r.get("Properties", {})) for name, r in self.body["Resources"].items() if r["Type"] == resource_type
        ]
        assert len(found) == 1, found
        return found[0]

    def named(self, resource_type: str, part: str) -> str:
        (name,) = [str(n) for n, r in self.body["Resources"].items() if r["Type"] == resource_type and part in n]
        return name

    @property
    def table(self) -> str:
        return self.one("AWS::DynamoDB::Table")[0]

    @property
    def bucket(self) -> str:
        return self.named("AWS::S3::Bucket", "Data")

    @property
    def role(self) -> str:
        return self.named("AWS::IAM::Role", "Backup")

    def statements(self) -> dict[str, Statement]:
        (policy,) = [
            r["Properties"]["PolicyDocument"]
            for r in self.body["Resources"].values()
            if r["Type"] == "AWS::IAM::Policy" and {"Ref": self.role} in r["Properties"]["Roles"]
        ]
        return {raw["Sid"]: Statement.of(raw) for raw in policy["Statement"]}


def _synthesize(configs: dict[str, BackupConfig]) -> dict[str, Backed]:
    app = App(context=committed_context())  # the repository's feature flags
    stacks = {}
    for name, config in configs.items():
        stage = Stage(app, name.title(), env=Environment(account=ACCOUNT, region=REGION))
        stack = Stack(stage, "Service")
        key = rotating_key(stack, "DataKey", description="the service's data", removal_policy=RemovalPolicy.DESTROY)
        table = dynamodb.Table(
            stack,
            "Table",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        logs = access_log_bucket(stack, "Logs", removal_policy=RemovalPolicy.DESTROY, expiration_days=30)
        bucket = data_bucket(stack, "Data", encryption_key=key, access_logs=logs, removal_policy=RemovalPolicy.DESTROY)
        ServiceBackup(
            stack,
            "Backup",
            stage=name,
            service="ingest",
            config=config,
            tables=[table],
            buckets=[bucket],
            removal_policy=RemovalPolicy.DESTROY,
        )
        stacks[name] = stack
    enable_nag(app)
    app.synth()  # a nag finding fails here
    return {
        name: Backed(name, configs[name], dict(Template.from_stack(stack).to_json())) for name, stack in stacks.items()
    }


@pytest.fixture(scope="module")
def backups() -> dict[str, Backed]:
    return _synthesize(POLICIES)


@pytest.fixture(params=sorted(POLICIES))
def backed(request: pytest.FixtureRequest, backups: dict[str, Backed]) -> Backed:
    return backups[request.param]


def test_the_vault_is_named_for_stage_and_service_and_encrypted_with_its_own_rotating_key(backed: Backed) -> None:
    _, vault = backed.one("AWS::Backup::BackupVault")
    assert vault["BackupVaultName"] == f"iot-{backed.stage}-ingest"
    key = vault["EncryptionKeyArn"]["Fn::GetAtt"][0]
    assert backed.body["Resources"][key]["Properties"]["EnableKeyRotation"] is True
    data_key = backed.named("AWS::KMS::Key", "DataKey")
    assert key != data_key  # the recovery points' key is not the data's


def test_the_vault_lock_follows_the_policy(backups: dict[str, Backed]) -> None:
    locks = {
        name: backed.one("AWS::Backup::BackupVault")[1].get("LockConfiguration") for name, backed in backups.items()
    }
    assert locks == {
        "plain": None,
        "locked": {"MinRetentionDays": 7, "MaxRetentionDays": 400, "ChangeableForDays": 3},
        "governance": {"MinRetentionDays": 1, "MaxRetentionDays": 30},  # no grace period: it never turns immutable
    }


def test_one_daily_rule_keeps_recovery_points_as_configured_in_the_vault(backed: Backed) -> None:
    vault, _ = backed.one("AWS::Backup::BackupVault")
    _, plan = backed.one("AWS::Backup::BackupPlan")
    (rule,) = plan["BackupPlan"]["BackupPlanRule"]
    assert rule["ScheduleExpression"] == backed.config.schedule
    assert rule["Lifecycle"] == {"DeleteAfterDays": backed.config.retention_days}
    assert rule["StartWindowMinutes"] == 60
    assert rule["TargetBackupVault"] == {"Fn::GetAtt": [vault, "BackupVaultName"]}


def test_the_copy_rule_sends_every_recovery_point_to_the_backup_accounts_vault(backups: dict[str, Backed]) -> None:
    copies = {
        name: backed.one("AWS::Backup::BackupPlan")[1]["BackupPlan"]["BackupPlanRule"][0].get("CopyActions")
        for name, backed in backups.items()
    }
    assert copies == {
        "plain": None,
        "governance": None,
        "locked": [
            {
                "DestinationBackupVaultArn": f"arn:aws:backup:{REGION}:{BACKUP_ACCOUNT}:backup-vault:iot-prod-readings",
                "Lifecycle": {"DeleteAfterDays": 90},
            }
        ],
    }


def test_only_a_copying_vault_shares_its_key_with_the_backup_account_through_aws_backup(
    backups: dict[str, Backed],
) -> None:
    def shared(backed: Backed) -> list[dict[str, Any]]:
        vault_key = backed.one("AWS::Backup::BackupVault")[1]["EncryptionKeyArn"]["Fn::GetAtt"][0]
        statements = backed.body["Resources"][vault_key]["Properties"]["KeyPolicy"]["Statement"]
        return [s for s in statements if s.get("Sid") == "BackupAccountCopiesRecoveryPoints"]

    assert shared(backups["plain"]) == shared(backups["governance"]) == []
    (statement,) = shared(backups["locked"])
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{BACKUP_ACCOUNT}:root"}
    assert sorted(statement["Action"]) == ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey"]
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": f"backup.{REGION}.amazonaws.com"},
        "Bool": {"kms:GrantIsForAWSResource": "true"},
    }


def test_the_selection_names_exactly_the_table_and_the_bucket_with_the_backup_role(backed: Backed) -> None:
    plan, _ = backed.one("AWS::Backup::BackupPlan")
    _, selection = backed.one("AWS::Backup::BackupSelection")
    assert selection["BackupPlanId"] == {"Fn::GetAtt": [plan, "BackupPlanId"]}
    assert selection["BackupSelection"]["IamRoleArn"] == arn(backed.role)
    assert selection["BackupSelection"]["Resources"] == [arn(backed.table), arn(backed.bucket)]
    assert "ListOfTags" not in selection["BackupSelection"]  # nothing else joins the plan by a tag


def test_the_role_is_aws_backups_alone_with_no_managed_policy(backed: Backed) -> None:
    role = backed.body["Resources"][backed.role]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": BACKUP_PRINCIPAL}}
    ]
    assert "ManagedPolicyArns" not in role


def test_the_role_reaches_only_the_selected_resources_and_their_keys(backed: Backed) -> None:
    statements = backed.statements()
    table, bucket = backed.table, backed.bucket
    data_key = backed.named("AWS::KMS::Key", "DataKey")
    vault_key = backed.one("AWS::Backup::BackupVault")[1]["EncryptionKeyArn"]["Fn::GetAtt"][0]
    assert statements["BackUpTheTables"].resources == (arn(table),)
    assert statements["ManageTheTablesBackups"].resources == ({"Fn::Join": ["", [arn(table), "/backup/*"]]},)
    assert statements["ReadTheBuckets"].resources == (arn(bucket),)
    assert statements["ReadEveryObjectVersion"].resources == (objects_in(bucket),)
    writes = [
        action for s in statements.values() for action in s.actions if action.startswith(("s3:Delete", "s3:PutO"))
    ]
    assert writes == []
    assert statements["FollowTheBucketsChanges"].resources == (
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/AwsBackupManagedRule*",
    )
    assert statements["ReadTheEncryptedData"].resources == (arn(data_key),)  # the table's and the bucket's, once
    assert statements["EncryptTheRecoveryPoints"].resources == (arn(vault_key),)
    assert sorted(statements["LetAwsBackupUseTheKeys"].resources, key=json.dumps) == sorted(
        [arn(data_key), arn(vault_key)], key=json.dumps
    )
    wildcard = [sid for sid, s in statements.items() if "*" in s.resources]
    assert wildcard == ["AccountWideReads"]
    assert sorted(statements["AccountWideReads"].actions) == sorted(ACCOUNT_WIDE_ACTIONS)


def test_only_a_copying_role_may_copy_and_only_into_the_backup_accounts_vault(backups: dict[str, Backed]) -> None:
    assert "CopyToTheBackupAccount" not in backups["plain"].statements()
    copy = backups["locked"].statements()["CopyToTheBackupAccount"]
    assert copy.actions == ("backup:CopyIntoBackupVault",)
    assert copy.resources == (f"arn:aws:backup:{REGION}:{BACKUP_ACCOUNT}:backup-vault:iot-prod-readings",)


def test_grants_to_aws_backup_are_only_for_aws_resources(backed: Backed) -> None:
    (policy,) = [
        r["Properties"]["PolicyDocument"]
        for r in backed.body["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": backed.role} in r["Properties"]["Roles"]
    ]
    (grant,) = [s for s in policy["Statement"] if s["Sid"] == "LetAwsBackupUseTheKeys"]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert json.dumps(grant["Action"]) == '"kms:CreateGrant"'


def test_a_backup_with_nothing_to_back_up_is_refused() -> None:
    stack = Stack(App(), "Empty")
    with pytest.raises(ValueError, match="a backup needs a table or a bucket to back up"):
        ServiceBackup(
            stack, "Backup", stage="dev", service="ingest", config=PLAIN, removal_policy=RemovalPolicy.DESTROY
        )
