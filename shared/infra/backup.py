"""AWS Backup of a service's data the platform cannot rebuild: a vault, a daily plan and a selection, per service.

Each service stack that holds such data backs it up itself, in a vault of its own: its recovery points stay with the
stack that owns the data, no stack depends on another's deploy, and cdk-nag sees each table in a plan beside it.
The stage's policy (shared/backup.py) sets the retention, the vault lock and the copy to the backup account.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from shared.backup import BackupConfig, backup_vault_name
from shared.infra.compliance import INLINE_POLICY_REASON, acknowledge, logical_id
from shared.infra.encryption import rotating_key

BACKUP_PRINCIPAL = "backup.amazonaws.com"
# A recovery point starts within this of its scheduled time, or the job is skipped and the next day's covers it.
START_WINDOW = Duration.hours(1)
# What AWS Backup needs to back up a table (with its advanced features: the recovery point lives in the vault).
TABLE_ACTIONS = (
    "dynamodb:CreateBackup",
    "dynamodb:DescribeTable",
    "dynamodb:ListTagsOfResource",
    "dynamodb:StartAwsBackupJob",
)
TABLE_BACKUP_ACTIONS = ("dynamodb:DescribeBackup", "dynamodb:DeleteBackup")
# What AWS Backup needs to back up a versioned bucket: its inventory and notifications, and every object version.
BUCKET_ACTIONS = (
    "s3:GetBucketAcl",
    "s3:GetBucketLocation",
    "s3:GetBucketNotification",
    "s3:GetBucketTagging",
    "s3:GetBucketVersioning",
    "s3:GetInventoryConfiguration",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:PutBucketNotification",
    "s3:PutInventoryConfiguration",
)
OBJECT_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectAcl",
    "s3:GetObjectTagging",
    "s3:GetObjectVersion",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionTagging",
)
# AWS Backup follows a bucket's changes through EventBridge rules it creates under this name.
BACKUP_EVENT_RULE = "AwsBackupManagedRule*"
EVENT_RULE_ACTIONS = (
    "events:DeleteRule",
    "events:DescribeRule",
    "events:DisableRule",
    "events:EnableRule",
    "events:ListTargetsByRule",
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
)
# Actions that support no resource-level permissions: the bucket listing, and reading metrics and rules.
ACCOUNT_WIDE_ACTIONS = ("cloudwatch:GetMetricData", "events:ListRules", "s3:ListAllMyBuckets")


class ServiceBackup(Construct):
    """A daily recovery point of ``tables`` and ``buckets`` (versioned, KMS-encrypted) in the service's own vault."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        service: str,
        config: BackupConfig,
        tables: Sequence[dynamodb.ITable] = (),
        buckets: Sequence[s3.IBucket] = (),
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        if not tables and not buckets:
            raise ValueError(f"{self.node.path}: a backup needs a table or a bucket to back up")
        stack = Stack.of(self)
        self._event_rules = stack.format_arn(service="events", resource="rule", resource_name=BACKUP_EVENT_RULE)
        self.key = rotating_key(
            self, "Key", description=f"Encrypts the {service} service's recovery points", removal_policy=removal_policy
        )
        lock = config.vault_lock
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=backup_vault_name(stage, service),
            encryption_key=self.key,
            lock_configuration=(
                backup.LockConfiguration(
                    min_retention=Duration.days(lock.min_retention_days),
                    max_retention=Duration.days(lock.max_retention_days),
                    changeable_for=(
                        Duration.days(lock.changeable_for_days) if lock.changeable_for_days is not None else None
                    ),
                )
                if lock is not None
                else None
            ),
            removal_policy=removal_policy,
        )
        copy_vault = (
            backup.BackupVault.from_backup_vault_arn(
                self, "CopyVault", config.copy.vault_arn(region=stack.region, partition=stack.partition)
            )
            if config.copy is not None
            else None
        )
        self.plan = backup.BackupPlan(
            self,
            "Plan",
            backup_plan_name=backup_vault_name(stage, service),
            backup_vault=self.vault,
            backup_plan_rules=[
                backup.BackupPlanRule(
                    rule_name="daily",
                    schedule_expression=events.Schedule.expression(config.schedule),
                    start_window=START_WINDOW,
                    delete_after=Duration.days(config.retention_days),
                    copy_actions=(
                        [
                            backup.BackupPlanCopyActionProps(
                                destination_backup_vault=copy_vault,
                                delete_after=Duration.days(config.copy.retention_days),
                            )
                        ]
                        if copy_vault is not None and config.copy is not None
                        else None
                    ),
                )
            ],
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(BACKUP_PRINCIPAL),
            description=f"AWS Backup backs up the {service} service's data (and only it) with this role",
        )
        # One key often encrypts a table and a bucket of the same service: each key once.
        data_keys = list(
            dict.fromkeys(k for k in [*(t.encryption_key for t in tables), *(b.encryption_key for b in buckets)] if k)
        )
        self._grant(tables=tables, buckets=buckets, data_keys=data_keys, copy_vault=copy_vault)
        if config.copy is not None:
            self._share_key_with(config.copy.account, stack)
        self.plan.add_selection(
            "Selection",
            backup_selection_name=backup_vault_name(stage, service),
            resources=[
                *(backup.BackupResource.from_dynamo_db_table(table) for table in tables),
                *(backup.BackupResource.from_arn(bucket.bucket_arn) for bucket in buckets),
            ],
            role=self.role,
            disable_default_backup_policy=True,  # the statements below, not AWS's policy for every service
            allow_restores=False,  # restores run with the operator's role (docs/runbooks.md)
        )
        self._acknowledge(tables=tables, buckets=buckets)

    def _grant(
        self,
        *,
        tables: Sequence[dynamodb.ITable],
        buckets: Sequence[s3.IBucket],
        data_keys: Sequence[kms.IKey],
        copy_vault: backup.IBackupVault | None,
    ) -> None:
        statements = []
        if tables:
            statements += [
                iam.PolicyStatement(
                    sid="BackUpTheTables", actions=list(TABLE_ACTIONS), resources=[t.table_arn for t in tables]
                ),
                iam.PolicyStatement(
                    sid="ManageTheTablesBackups",
                    actions=list(TABLE_BACKUP_ACTIONS),
                    resources=[f"{t.table_arn}/backup/*" for t in tables],
                ),
            ]
        if buckets:
            statements += [
                iam.PolicyStatement(
                    sid="ReadTheBuckets", actions=list(BUCKET_ACTIONS), resources=[b.bucket_arn for b in buckets]
                ),
                iam.PolicyStatement(
                    sid="ReadEveryObjectVersion",
                    actions=list(OBJECT_ACTIONS),
                    resources=[b.arn_for_objects("*") for b in buckets],
                ),
                iam.PolicyStatement(
                    sid="FollowTheBucketsChanges",
                    actions=list(EVENT_RULE_ACTIONS),
                    resources=[self._event_rules],
                ),
                iam.PolicyStatement(sid="AccountWideReads", actions=list(ACCOUNT_WIDE_ACTIONS), resources=["*"]),
            ]
        statements += [
            iam.PolicyStatement(
                sid="ReadTheEncryptedData",
                actions=["kms:Decrypt", "kms:DescribeKey"],
                resources=[key.key_arn for key in data_keys],
            ),
            iam.PolicyStatement(
                sid="EncryptTheRecoveryPoints",
                actions=["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
                resources=[self.key.key_arn],
            ),
            iam.PolicyStatement(
                sid="LetAwsBackupUseTheKeys",
                actions=["kms:CreateGrant"],
                resources=[key.key_arn for key in (*data_keys, self.key)],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
        ]
        if copy_vault is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="CopyToTheBackupAccount",
                    actions=["backup:CopyIntoBackupVault"],
                    resources=[copy_vault.backup_vault_arn],
                )
            )
        for statement in statements:
            self.role.add_to_policy(statement)

    def _share_key_with(self, account: str, stack: Stack) -> None:
        """A cross-account copy is decrypted by the backup account's AWS Backup with this vault's key."""
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BackupAccountCopiesRecoveryPoints",
                principals=[iam.AccountPrincipal(account)],
                actions=["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={
                    "StringEquals": {"kms:ViaService": f"backup.{stack.region}.amazonaws.com"},
                    "Bool": {"kms:GrantIsForAWSResource": "true"},
                },
            )
        )

    def _acknowledge(self, *, tables: Sequence[dynamodb.ITable], buckets: Sequence[s3.IBucket]) -> None:
        for table in tables:
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::<{logical_id(table)}.Arn>/backup/*]",
                "DynamoDB names each backup of the table at run time; the role describes and expires only those.",
            )
        for bucket in buckets:
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/*]",
                "AWS Backup copies every object version of this bucket; read-only, and only this bucket's objects.",
            )
        if buckets:
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::{self._event_rules}]",
                "AWS Backup names the EventBridge rules it keeps for a bucket's changes; only rules of that prefix.",
            )
            acknowledge(
                self.role,
                "AwsSolutions-IAM5[Resource::*]",
                f"Only {', '.join(ACCOUNT_WIDE_ACTIONS)}, which support no resource-level permissions; all read-only.",
            )
        acknowledge(self.role, "NIST.800.53.R5-IAMNoInlinePolicy", INLINE_POLICY_REASON)
