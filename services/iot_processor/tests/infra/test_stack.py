"""The ingest stack of every stage, setting by setting (aws_cdk.assertions, no snapshots), and the Lambda asset."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk.assertions import Match

from services.iot_processor.capacity import MEASURED_SECONDS_PER_READING
from services.iot_processor.config import IngestConfig
from services.iot_processor.contract import ALIAS_NAME
from services.iot_processor.infra.deployment import rollback_alarm_name
from services.iot_processor.infra.packaging import HANDLER, REQUIREMENTS, build_bundle
from services.iot_processor.infra.processor import TIMEOUT
from services.iot_processor.infra.stack import IngestStack
from services.iot_processor.runtime.settings import encode_bounds, parse_bounds
from services.iot_processor.tests.stacks import ROLLBACK, SMOKE_TEST_ACCOUNT, synthesize_ingest
from shared.infra.naming import SMOKE_RUN_PREFIX, SMOKE_SENSOR_PREFIX
from shared.repository import REPO_ROOT
from shared.synthetic.readings import synthetic_records
from shared.testing.service_stacks import ServiceTemplate
from shared.testing.templates import Statement, allows, arn, objects_in, ref

pytestmark = pytest.mark.synth  # synthesizes stacks or the Lambda asset: not in `make unit`

STAGE_NAMES = ("dev", "staging", "prod")
STREAM_MODES = {"dev": "ON_DEMAND", "staging": "PROVISIONED", "prod": "PROVISIONED"}
RETAINED = {"dev": False, "staging": False, "prod": True}
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}
TABLE_WRITES = ("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem")
MAPPING_SETTINGS = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "FunctionResponseTypes",
    "BisectBatchOnFunctionError",
    "StartingPosition",
    "MetricsConfig",
)
DESTRUCTIVE_S3_ACTIONS = (
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:DeleteBucket",
    "s3:PutLifecycleConfiguration",
)


# --- reading the template ----------------------------------------------------------------------------------------


class IngestTemplate(ServiceTemplate[IngestConfig, IngestStack]):
    """The synthesized ingest stack of one stage, with its resources found through the stack's outputs."""

    @cached_property
    def stream(self) -> str:
        return self.output_target("StreamName", "AWS::Kinesis::Stream")

    @cached_property
    def table(self) -> str:
        return self.output_target("TableName", "AWS::DynamoDB::Table")

    @cached_property
    def processed_bucket(self) -> str:
        return self.output_target("ProcessedBucketName", "AWS::S3::Bucket")

    @cached_property
    def failure_bucket(self) -> str:
        return self.output_target("FailureBucketName", "AWS::S3::Bucket")

    @cached_property
    def topic(self) -> str:
        return self.output_target("AlertTopicArn", "AWS::SNS::Topic")

    @cached_property
    def secret(self) -> str:
        return self.output_target("WebhookSecretArn", "AWS::SecretsManager::Secret")

    @cached_property
    def smoke_role(self) -> str:
        return self.output_target("SmokeTestRoleArn", "AWS::IAM::Role")

    @cached_property
    def function(self) -> str:
        found = [
            name for name, r in self.of_type("AWS::Lambda::Function").items() if r["Properties"]["Handler"] == HANDLER
        ]
        assert len(found) == 1, found
        return found[0]

    @cached_property
    def function_role(self) -> str:
        role: str = self.props(self.function)["Role"]["Fn::GetAtt"][0]
        return role

    @cached_property
    def alias(self) -> str:
        found = [
            name
            for name, r in self.of_type("AWS::Lambda::Alias").items()
            if r["Properties"]["FunctionName"] == ref(self.function)
        ]
        assert len(found) == 1, found
        return found[0]

    @cached_property
    def mapping(self) -> str:
        """The one mapping, which invokes the alias (its name is ``<function name>:live``, built from the alias)."""
        found = [
            name
            for name, r in self.of_type("AWS::Lambda::EventSourceMapping").items()
            if json.dumps(ref(self.alias)) in json.dumps(r["Properties"]["FunctionName"])
        ]
        assert len(found) == 1, found
        return found[0]

    @cached_property
    def fault_configuration_bucket(self) -> str | None:
        """Where FIS sets the processor's faults, in a stage that runs the experiment."""
        if "FaultConfigurationBucketName" not in self.body["Outputs"]:
            return None
        return self.output_target("FaultConfigurationBucketName", "AWS::S3::Bucket")

    @cached_property
    def deployment_group(self) -> str:
        (name,) = self.of_type("AWS::CodeDeploy::DeploymentGroup")
        return name

    def rotating_key(self, key_arn: Any) -> str:
        """The logical id of the customer-managed key behind ``key_arn``, checked to rotate."""
        assert isinstance(key_arn, dict), f"not a key of this stack: {key_arn}"
        assert set(key_arn) == {"Fn::GetAtt"}, f"not a key of this stack: {key_arn}"
        logical_id, attribute = key_arn["Fn::GetAtt"]
        assert attribute == "Arn"
        assert self.body["Resources"][logical_id]["Type"] == "AWS::KMS::Key"
        assert self.props(logical_id).get("EnableKeyRotation") is True, f"{logical_id} does not rotate"
        assert isinstance(logical_id, str)
        return logical_id

    @cached_property
    def storage_key(self) -> str:
        return self.rotating_key(self.props(self.table)["SSESpecification"]["KMSMasterKeyId"])

    def statements(self, role: str) -> list[Statement]:
        """Every statement of every policy the role has: attached AWS::IAM::Policy resources and inline ones."""
        documents = [
            policy["Properties"]["PolicyDocument"]
            for policy in self.of_type("AWS::IAM::Policy").values()
            if ref(role) in policy["Properties"].get("Roles", [])
        ]
        documents += [inline["PolicyDocument"] for inline in self.props(role).get("Policies", [])]
        assert documents, f"{role} has no policy"
        return [Statement.of(s) for document in documents for s in document["Statement"]]


@pytest.fixture(scope="module")
def ingest_templates() -> dict[str, IngestTemplate]:
    templates = {name: IngestTemplate(service) for name, service in synthesize_ingest().items()}
    assert tuple(templates) == STAGE_NAMES
    return templates


@pytest.fixture(params=STAGE_NAMES)
def ingest(request: pytest.FixtureRequest, ingest_templates: dict[str, IngestTemplate]) -> IngestTemplate:
    return ingest_templates[request.param]


# --- stream ------------------------------------------------------------------------------------------------------


def test_stream_is_encrypted_with_the_stages_rotating_key(ingest: IngestTemplate) -> None:
    encryption = ingest.props(ingest.stream)["StreamEncryption"]
    assert encryption["EncryptionType"] == "KMS"
    key = ingest.rotating_key(encryption["KeyId"])
    assert key != ingest.storage_key  # the stream has a key of its own, the one the archive is told about
    assert ingest.body["Outputs"]["StreamKeyArn"]["Value"] == arn(key)


def test_stream_capacity_mode_and_retention_come_from_config(ingest: IngestTemplate) -> None:
    config = ingest.config
    expected: dict[str, Any] = {
        "StreamModeDetails": {"StreamMode": STREAM_MODES[ingest.environment.name]},
        "RetentionPeriodHours": config.retention_hours,
    }
    if STREAM_MODES[ingest.environment.name] == "PROVISIONED":
        expected["ShardCount"] = config.shard_count
    else:
        expected["ShardCount"] = Match.absent()
    ingest.template.has_resource_properties("AWS::Kinesis::Stream", expected)
    ingest.template.resource_count_is("AWS::Kinesis::Stream", 1)


# --- processor function --------------------------------------------------------------------------------------------


def test_the_runtimes_tests_also_run_on_the_functions_python(ingest: IngestTemplate) -> None:
    """make lambda-python, and the pull-request workflow's job that installs that Python for it."""
    runtime = ingest.props(ingest.function)["Runtime"]
    (version,) = re.findall(r"^LAMBDA_PYTHON := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert runtime == f"python{version}"
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "pr.yml").read_text())
    steps = workflow["jobs"]["lambda-python"]["steps"]
    (installed,) = [s["with"]["python-version"].split() for s in steps if "setup-python" in s.get("uses", "")]
    assert version in installed
    assert installed[-1] != version, "the suite's Python stays the default: it is listed last"
    assert steps[-1]["run"] == "make lambda-python"


def test_function_runtime_and_limits_come_from_config(ingest: IngestTemplate) -> None:
    config = ingest.config
    props = ingest.props(ingest.function)
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "services.iot_processor.runtime.handler.lambda_handler"
    assert props["MemorySize"] == config.processor_memory_mb
    assert props["ReservedConcurrentExecutions"] == config.reserved_concurrency
    assert props["Timeout"] == TIMEOUT.to_seconds() == 120
    # A full batch at the measured cost per reading must fit well inside the timeout (retries re-run it).
    assert config.batch_size * MEASURED_SECONDS_PER_READING * 10 < props["Timeout"]
    assert props["TracingConfig"] == {"Mode": "Active"}


def test_function_logs_json_to_its_own_log_group(ingest: IngestTemplate) -> None:
    logging = ingest.props(ingest.function)["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    log_group = logging["LogGroup"]["Ref"]
    assert ingest.body["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup"
    assert ingest.props(log_group)["RetentionInDays"] == 90  # three months: long enough to read an incident


def test_function_environment_points_at_this_stacks_resources(ingest: IngestTemplate) -> None:
    config = ingest.config
    variables = ingest.props(ingest.function)["Environment"]["Variables"]
    expected = {
        "TABLE_NAME": ref(ingest.table),
        "PROCESSED_BUCKET": ref(ingest.processed_bucket),
        "ALERT_TOPIC_ARN": ref(ingest.topic),
        "WEBHOOK_SECRET_ARN": ref(ingest.secret),
        "ANOMALY_BOUNDS": encode_bounds(config.anomaly_bounds),
        "TTL_DAYS": str(config.table_ttl_days),
        "ANOMALY_TTL_DAYS": str(config.anomaly_ttl_days),
        "ANOMALY_INDEX_SHARDS": str(config.anomaly_index_shards),
    }
    assert {name: variables.get(name) for name in expected} == expected
    assert parse_bounds(variables["ANOMALY_BOUNDS"]) == dict(config.anomaly_bounds)


def test_function_role_is_its_own_with_no_managed_policies(ingest: IngestTemplate) -> None:
    role = ingest.props(ingest.function_role)
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]


# --- event source mapping ------------------------------------------------------------------------------------------


def test_event_source_mapping_settings(ingest: IngestTemplate) -> None:
    config = ingest.config
    props = ingest.props(ingest.mapping)
    assert props["EventSourceArn"] == arn(ingest.stream)
    assert {name: props.get(name) for name in MAPPING_SETTINGS} == {
        "BatchSize": config.batch_size,
        "MaximumBatchingWindowInSeconds": config.max_batching_window_seconds,
        "ParallelizationFactor": config.parallelization_factor,
        "MaximumRetryAttempts": config.retry_attempts,
        "MaximumRecordAgeInSeconds": config.max_record_age_seconds,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BisectBatchOnFunctionError": True,
        "StartingPosition": "TRIM_HORIZON",
        "MetricsConfig": {"Metrics": ["EventCount"]},  # its dropped-events alarm reads these
    }
    shared = [
        p["Properties"]
        for p in ingest.of_type("AWS::SSM::Parameter").values()
        if p["Properties"]["Name"] == f"/iot/{ingest.environment.name}/ingest/event-source-mapping-id"
    ]
    assert [p["Value"] for p in shared] == [ref(ingest.mapping)]
    assert ingest.body["Outputs"]["EventSourceMappingId"]["Value"] == ref(ingest.mapping)


def test_failed_batches_go_to_the_failure_bucket(ingest: IngestTemplate) -> None:
    destination = ingest.props(ingest.mapping)["DestinationConfig"]
    assert destination == {"OnFailure": {"Destination": arn(ingest.failure_bucket)}}
    assert ingest.failure_bucket != ingest.processed_bucket


def test_function_may_only_put_and_list_on_the_failure_bucket(ingest: IngestTemplate) -> None:
    bucket = ingest.failure_bucket
    statements = ingest.statements(ingest.function_role)
    assert any(s.grants("s3:PutObject", objects_in(bucket)) for s in statements)
    assert any(s.grants("s3:ListBucket", arn(bucket)) for s in statements)
    on_bucket = [s for s in statements if s.effect == "Allow" and bucket in json.dumps(s.resources)]
    assert sorted(action for s in on_bucket for action in s.actions) == ["s3:ListBucket", "s3:PutObject"]
    for statement in (s for s in statements if s.mentions(bucket)):
        for action in DESTRUCTIVE_S3_ACTIONS:
            assert not any(allows(pattern, action) for pattern in statement.actions), (action, statement)
    # Lambda writes the failed batch with SSE-KMS under the bucket's key.
    assert any(s.grants("kms:GenerateDataKey", arn(ingest.storage_key)) for s in statements)


# --- readings table ------------------------------------------------------------------------------------------------


def test_table_keys_billing_encryption_recovery_and_ttl(ingest: IngestTemplate) -> None:
    props = ingest.props(ingest.table)
    assert props["KeySchema"] == [
        {"AttributeName": "sensor_id", "KeyType": "HASH"},
        {"AttributeName": "reading_key", "KeyType": "RANGE"},
    ]
    capacity = ingest.config.table_capacity
    if capacity is None:
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert "ProvisionedThroughput" not in props
    else:  # provisioned is CloudFormation's default mode: the throughput says it
        assert props.get("BillingMode", "PROVISIONED") == "PROVISIONED"
        assert props["ProvisionedThroughput"] == {
            "ReadCapacityUnits": capacity.reads.min_units,
            "WriteCapacityUnits": capacity.writes.min_units,
        }
    assert props["TableClass"] == ingest.config.table_class.upper()
    assert props["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": arn(ingest.storage_key),
    }
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_table_has_the_sharded_anomaly_index(ingest: IngestTemplate) -> None:
    props = ingest.props(ingest.table)
    warm = ingest.config.warm_write_units_per_second
    expected: dict[str, Any] = {
        "IndexName": "anomalies_by_type",
        "KeySchema": [
            {"AttributeName": "anomaly_partition", "KeyType": "HASH"},
            {"AttributeName": "anomaly_sort", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    if warm:  # the index takes every write in the worst case, so it gets the table's warm throughput
        expected["WarmThroughput"] = {"WriteUnitsPerSecond": warm}
    capacity = ingest.config.table_capacity
    if capacity is not None:
        expected["ProvisionedThroughput"] = {
            "ReadCapacityUnits": capacity.reads.min_units,
            "WriteCapacityUnits": capacity.index_writes.min_units,
        }
    assert props["GlobalSecondaryIndexes"] == [expected]
    types = {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]}
    assert types == {"sensor_id": "S", "reading_key": "S", "anomaly_partition": "S", "anomaly_sort": "S"}


def test_table_protection_and_warm_throughput(ingest: IngestTemplate) -> None:
    config = ingest.config
    resource = ingest.body["Resources"][ingest.table]
    props = resource["Properties"]
    if RETAINED[ingest.environment.name]:
        assert props["DeletionProtectionEnabled"] is True
        # Prod's table is provisioned from its floor, which is there from the first minute: no warm throughput.
        assert config.table_capacity is not None
        assert config.warm_write_units_per_second == 0
        assert "WarmThroughput" not in props
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    else:
        assert props.get("DeletionProtectionEnabled", False) is False
        assert resource["DeletionPolicy"] == "Delete"
        if config.warm_write_units_per_second:
            assert props["WarmThroughput"] == {"WriteUnitsPerSecond": config.warm_write_units_per_second}
        else:
            assert "WarmThroughput" not in props


def test_a_provisioned_table_and_its_index_auto_scale_between_their_bounds(ingest: IngestTemplate) -> None:
    capacity = ingest.config.table_capacity
    targets = ingest.of_type("AWS::ApplicationAutoScaling::ScalableTarget")
    if capacity is None:
        assert targets == {}
        return
    table, index = f"table/{{{ingest.table}}}", f"table/{{{ingest.table}}}/index/anomalies_by_type"
    expected = {
        ("dynamodb:table:WriteCapacityUnits", table): capacity.writes,
        ("dynamodb:table:ReadCapacityUnits", table): capacity.reads,
        ("dynamodb:index:WriteCapacityUnits", index): capacity.index_writes,
        ("dynamodb:index:ReadCapacityUnits", index): capacity.reads,
    }
    found = {}
    policies = ingest.of_type("AWS::ApplicationAutoScaling::ScalingPolicy")
    for logical_id, target in targets.items():
        props = target["Properties"]
        resource = "".join(
            part if isinstance(part, str) else f"{{{part['Ref']}}}" for part in props["ResourceId"]["Fn::Join"][1]
        )
        (policy,) = [
            p["Properties"] for p in policies.values() if p["Properties"]["ScalingTargetId"] == {"Ref": logical_id}
        ]
        tracking = policy["TargetTrackingScalingPolicyConfiguration"]
        found[(props["ScalableDimension"], resource)] = (
            props["MinCapacity"],
            props["MaxCapacity"],
            tracking["TargetValue"],
        )
    assert found == {key: (c.min_units, c.max_units, c.target_utilization_percent) for key, c in expected.items()}


# --- backup ----------------------------------------------------------------------------------------------------------


def test_the_table_and_the_failed_batches_are_backed_up_daily_as_the_stage_says(ingest: IngestTemplate) -> None:
    """The nag acknowledgement that the table needs no backup plan is gone: the table is in one, beside it. The
    processed bucket is not: a replay from the archive writes it again."""
    policy = ingest.environment.backup
    (selection,) = ingest.of_type("AWS::Backup::BackupSelection").values()
    assert selection["Properties"]["BackupSelection"]["Resources"] == [arn(ingest.table), arn(ingest.failure_bucket)]
    (plan,) = ingest.of_type("AWS::Backup::BackupPlan").values()
    (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["ScheduleExpression"] == policy.schedule
    assert rule["Lifecycle"] == {"DeleteAfterDays": policy.retention_days}
    ((vault_id, vault),) = ingest.of_type("AWS::Backup::BackupVault").items()
    assert vault["Properties"]["BackupVaultName"] == f"iot-{ingest.environment.name}-ingest"
    assert vault["DeletionPolicy"] == ("Retain" if RETAINED[ingest.environment.name] else "Delete"), vault_id
    if ingest.environment.is_production:
        assert policy.vault_lock is not None
        assert policy.copy is not None
        assert vault["Properties"]["LockConfiguration"] == {
            "MinRetentionDays": policy.vault_lock.min_retention_days,
            "MaxRetentionDays": policy.vault_lock.max_retention_days,
            "ChangeableForDays": policy.vault_lock.changeable_for_days,
        }
        (copy,) = rule["CopyActions"]
        assert copy == {
            "DestinationBackupVaultArn": policy.copy.vault_arn(region=ingest.environment.region),
            "Lifecycle": {"DeleteAfterDays": policy.copy.retention_days},
        }
        assert policy.copy.account != ingest.environment.account
    else:
        assert "LockConfiguration" not in vault["Properties"]
        assert "CopyActions" not in rule


# --- fault injection --------------------------------------------------------------------------------------------------


def test_only_a_stage_with_an_experiment_runs_the_processor_behind_the_fis_extension(ingest: IngestTemplate) -> None:
    props = ingest.props(ingest.function)
    variables = props["Environment"]["Variables"]
    fis_variables = {"AWS_FIS_CONFIGURATION_LOCATION", "AWS_LAMBDA_EXEC_WRAPPER", "AWS_FIS_POLL_MAX_WAIT_MILLISECONDS"}
    bucket = ingest.fault_configuration_bucket
    if ingest.environment.fault_injection is None:
        assert bucket is None
        assert "Layers" not in props
        assert not fis_variables & set(variables)
        return
    assert bucket is not None
    (layer,) = props["Layers"]
    parameter = ingest.body["Parameters"][layer["Ref"]]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/aws/service/fis/lambda-extension/AWS-FIS-extension-arm64/1.x.x",
    }
    assert props["Architectures"] == ["arm64"]  # the layer published for the function's architecture
    assert variables["AWS_FIS_CONFIGURATION_LOCATION"] == {"Fn::Join": ["", [arn(bucket), "/fis-configuration/"]]}
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/aws-fis/bootstrap"
    assert variables["AWS_FIS_POLL_MAX_WAIT_MILLISECONDS"] == "2000"


def test_the_processor_can_read_the_faults_and_only_under_their_prefix(ingest: IngestTemplate) -> None:
    bucket = ingest.fault_configuration_bucket
    if bucket is None:
        return
    encryption = ingest.props(bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    key = ingest.rotating_key(encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
    assert key != ingest.storage_key
    assert ingest.props(bucket)["VersioningConfiguration"] == {"Status": "Enabled"}
    statements = ingest.statements(ingest.function_role)
    touching = [s for s in statements if bucket in json.dumps(s.resources) or key in json.dumps(s.resources)]
    assert sorted((s.actions, json.dumps(s.resources)) for s in touching) == sorted(
        [
            (("s3:ListBucket",), json.dumps([arn(bucket)])),
            (("s3:GetObject",), json.dumps([objects_in(bucket, "fis-configuration/*")])),
            (("kms:Decrypt",), json.dumps([arn(key)])),
        ]
    )
    (listing,) = [
        raw
        for policy in ingest.of_type("AWS::IAM::Policy").values()
        for raw in policy["Properties"]["PolicyDocument"]["Statement"]
        if raw.get("Sid") == "ListTheFaults"
    ]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["fis-configuration/*"]}}
    shared = {p["Properties"]["Name"]: p["Properties"]["Value"] for p in ingest.of_type("AWS::SSM::Parameter").values()}
    stage = ingest.environment.name
    assert shared[f"/iot/{stage}/ingest/fault-configuration-bucket-name"] == ref(bucket)
    assert shared[f"/iot/{stage}/ingest/fault-configuration-key-arn"] == arn(key)


# --- buckets -------------------------------------------------------------------------------------------------------


def test_data_buckets_are_kms_encrypted_versioned_private_and_logged(ingest: IngestTemplate) -> None:
    buckets = ingest.of_type("AWS::S3::Bucket")
    data = {ingest.processed_bucket, ingest.failure_bucket}
    faults = ingest.fault_configuration_bucket
    if faults is not None:  # its own key: the faults are no reading (test_the_processor_can_read_the_faults...)
        del buckets[faults]
    log_targets = {
        r["Properties"]["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
        for name, r in buckets.items()
        if name in data
    }
    assert len(log_targets) == 1
    assert set(buckets) == data | log_targets  # nothing else stores data in this stack
    for bucket in data:
        props = ingest.props(bucket)
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn(ingest.storage_key)},
            }
        ]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"] == BLOCK_ALL
        assert props["LoggingConfiguration"]["LogFilePrefix"]
    (log_bucket,) = log_targets
    log_props = ingest.props(log_bucket)
    # S3 server access logging can only deliver to SSE-S3 buckets.
    assert log_props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert log_props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert log_props["PublicAccessBlockConfiguration"] == BLOCK_ALL


def test_every_bucket_denies_requests_without_tls(ingest: IngestTemplate) -> None:
    buckets = ingest.of_type("AWS::S3::Bucket")
    policies = {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"] for p in ingest.of_type("AWS::S3::BucketPolicy").values()
    }
    assert set(policies) == set(buckets)
    for bucket, policy in policies.items():
        assert {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [arn(bucket), objects_in(bucket)],
        } in policy["PolicyDocument"]["Statement"]


def test_processed_bucket_expires_processed_and_quarantine_objects_as_configured(ingest: IngestTemplate) -> None:
    config = ingest.config
    rules = ingest.props(ingest.processed_bucket)["LifecycleConfiguration"]["Rules"]
    expirations = {rule.get("Prefix"): rule["ExpirationInDays"] for rule in rules if rule["Status"] == "Enabled"}
    assert expirations == {
        "processed/": config.processed_expiration_days,
        "quarantine/": config.quarantine_expiration_days,
    }


# --- alerts --------------------------------------------------------------------------------------------------------


def test_alert_topic_is_encrypted_and_subscribes_the_configured_addresses(ingest: IngestTemplate) -> None:
    ingest.rotating_key(ingest.props(ingest.topic)["KmsMasterKeyId"])
    assert ingest.props(ingest.topic)["KmsMasterKeyId"] == arn(ingest.storage_key)
    subscriptions = [r["Properties"] for r in ingest.of_type("AWS::SNS::Subscription").values()]
    emails = [s["Endpoint"] for s in subscriptions if s["Protocol"] == "email"]
    assert sorted(emails) == sorted(ingest.config.alert_emails)
    assert len(subscriptions) == len(emails) + 1  # and the smoke test's alert inbox


def test_configured_alert_emails_each_get_one_email_subscription() -> None:
    """The committed config has no addresses; an override shows each one becomes a subscription (one more synth)."""
    overrides = {"iot.stages.dev.ingest.alertEmails": "a@example.com,b@example.com"}
    dev = synthesize_ingest(overrides, only="dev")["dev"]
    assert dev.config.alert_emails == ("a@example.com", "b@example.com")
    template = dev.template
    topic = template.to_json()["Outputs"]["AlertTopicArn"]["Value"]
    template.resource_count_is("AWS::SNS::Subscription", 3)  # two addresses and the smoke test's alert inbox
    for address in ("a@example.com", "b@example.com"):
        template.has_resource_properties(
            "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": address, "TopicArn": topic}
        )


def test_webhook_secret_is_encrypted_and_generated_with_a_url_field(ingest: IngestTemplate) -> None:
    props = ingest.props(ingest.secret)
    assert props["KmsKeyId"] == arn(ingest.storage_key)
    generate = props["GenerateSecretString"]
    assert "url" in json.loads(generate["SecretStringTemplate"])
    assert generate["GenerateStringKey"] == "token"


# --- progressive deployment ----------------------------------------------------------------------------------------


def test_mapping_invokes_the_live_alias_and_keeps_the_logical_id_it_had_on_the_function(
    ingest: IngestTemplate,
) -> None:
    function_name = ingest.props(ingest.mapping)["FunctionName"]
    assert function_name["Fn::Join"][1][-1] == f":{ALIAS_NAME}"
    assert ingest.props(ingest.alias)["Name"] == ALIAS_NAME
    # A new id would create a second mapping from TRIM_HORIZON (reprocessing the retention), then delete the old.
    assert ingest.mapping.startswith("ProcessorFunctionKinesisEventSource"), ingest.mapping
    assert ingest.mapping != "ProcessorFunctionKinesisEventSource"  # the path hash is kept too


def test_alias_points_at_the_published_version_and_codedeploy_updates_it(ingest: IngestTemplate) -> None:
    version = ingest.props(ingest.alias)["FunctionVersion"]["Fn::GetAtt"][0]
    assert ingest.body["Resources"][version]["Type"] == "AWS::Lambda::Version"
    assert ingest.props(version)["FunctionName"] == ref(ingest.function)
    update = ingest.body["Resources"][ingest.alias]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["DeploymentGroupName"] == ref(ingest.deployment_group)


def test_deployment_group_shifts_as_configured_and_rolls_back_on_the_processor_alarms(ingest: IngestTemplate) -> None:
    group = ingest.props(ingest.deployment_group)
    assert group["DeploymentConfigName"] == f"CodeDeployDefault.Lambda{ingest.config.traffic_shift}"
    assert group["AutoRollbackConfiguration"] == {
        "Enabled": True,
        "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"],
    }
    alarms = [ingest.props(alarm["Name"]["Ref"]) for alarm in group["AlarmConfiguration"]["Alarms"]]
    assert group["AlarmConfiguration"]["Enabled"] is True
    stage = ingest.environment.name
    assert {alarm["AlarmName"] for alarm in alarms} == {
        rollback_alarm_name(stage, symptom)
        for symptom in ("processor-errors", "processor-readings-failed", "processor-iterator-age")
    }
    by_metric = {alarm["MetricName"]: alarm for alarm in alarms}
    alias_dimension = {"Name": "Resource", "Value": Match.any_value()}
    assert by_metric["Errors"]["Threshold"] == ROLLBACK.errors
    assert by_metric["IteratorAge"]["Threshold"] == ROLLBACK.iterator_age_seconds * 1000
    assert by_metric["ReadingsFailed"]["Threshold"] == 0
    for metric in ("Errors", "IteratorAge"):  # the alias's own metrics, not the whole function's
        names = [d["Name"] for d in by_metric[metric]["Dimensions"]]
        assert names == ["FunctionName", alias_dimension["Name"]], names


def test_prod_shifts_traffic_progressively(ingest_templates: dict[str, IngestTemplate]) -> None:
    prod = ingest_templates["prod"].props(ingest_templates["prod"].deployment_group)
    assert prod["DeploymentConfigName"] != "CodeDeployDefault.LambdaAllAtOnce"


# --- smoke-test role -----------------------------------------------------------------------------------------------


def test_smoke_test_role_is_trusted_by_the_smoke_test_account_only(ingest: IngestTemplate) -> None:
    role = ingest.props(ingest.smoke_role)
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{SMOKE_TEST_ACCOUNT}:root"},
        }
    ]
    assert ingest.environment.account != SMOKE_TEST_ACCOUNT


def test_smoke_test_role_can_put_readings_and_query_but_not_write_the_table(ingest: IngestTemplate) -> None:
    assert "ManagedPolicyArns" not in ingest.props(ingest.smoke_role)
    statements = ingest.statements(ingest.smoke_role)
    assert any(s.grants("kinesis:PutRecords", arn(ingest.stream)) for s in statements)
    assert any(s.grants("dynamodb:Query", arn(ingest.table)) for s in statements)
    allowed = [action for s in statements if s.effect == "Allow" for action in s.actions]
    assert "*" not in allowed
    for action in TABLE_WRITES:
        assert not any(allows(pattern, action) for pattern in allowed), action


def test_alert_inbox_admits_only_smoke_test_alerts_and_only_the_smoke_role_reads_it(ingest: IngestTemplate) -> None:
    inbox = ingest.output_target("AlertInboxUrl", "AWS::SQS::Queue")
    ((_, subscription),) = [
        (name, r)
        for name, r in ingest.of_type("AWS::SNS::Subscription").items()
        if r["Properties"]["Protocol"] == "sqs"
    ]
    assert subscription["Properties"] == {
        "Endpoint": arn(inbox),
        "TopicArn": ref(ingest.topic),
        "Protocol": "sqs",
        "RawMessageDelivery": True,
        "FilterPolicyScope": "MessageBody",
        "FilterPolicy": {"sensor_id": [{"prefix": SMOKE_SENSOR_PREFIX}]},
    }
    record = synthetic_records(
        1, run_id=f"{SMOKE_RUN_PREFIX}abc", now=datetime.now(UTC), anomaly_share=1, invalid_share=0
    )[0]
    assert record.sensor_id.startswith(SMOKE_SENSOR_PREFIX)  # the generator still names sensors as the filter expects
    statements = ingest.statements(ingest.smoke_role)
    assert any(s.grants("sqs:ReceiveMessage", arn(inbox)) for s in statements)
    assert not any(s.grants("sqs:ReceiveMessage", "*") for s in statements)
    readers = [
        policy["Properties"]["Roles"]
        for policy in ingest.of_type("AWS::IAM::Policy").values()
        if any(
            Statement.of(raw).grants("sqs:ReceiveMessage", arn(inbox))
            for raw in policy["Properties"]["PolicyDocument"]["Statement"]
        )
    ]
    assert readers == [[ref(ingest.smoke_role)]]


# --- keys and outputs ----------------------------------------------------------------------------------------------


def test_every_kms_key_rotates(ingest: IngestTemplate) -> None:
    keys = ingest.of_type("AWS::KMS::Key")
    # the stream's, the stored data's, the recovery points', and where FIS sets faults the faults'
    assert len(keys) == (4 if ingest.environment.fault_injection else 3)
    assert {name: key["Properties"].get("EnableKeyRotation") for name, key in keys.items()} == dict.fromkeys(keys, True)


def test_outputs_name_the_resources_tools_need(ingest: IngestTemplate) -> None:
    wanted = {
        "StreamName": "AWS::Kinesis::Stream",
        "TableName": "AWS::DynamoDB::Table",
        "ProcessedBucketName": "AWS::S3::Bucket",
        "FailureBucketName": "AWS::S3::Bucket",
        "AlertTopicArn": "AWS::SNS::Topic",
        "SmokeTestRoleArn": "AWS::IAM::Role",
        "AlertInboxUrl": "AWS::SQS::Queue",
    }
    assert set(wanted) <= set(ingest.body["Outputs"])
    for output, resource_type in wanted.items():
        ingest.output_target(output, resource_type)
    ingest.template.has_output("SmokeTestRoleArn", {"Value": arn(ingest.smoke_role)})


# --- the Lambda asset ----------------------------------------------------------------------------------------------


def base_interpreter() -> str:
    """The interpreter the dev virtualenv was made from: no site-packages of the virtualenv."""
    candidate = getattr(sys, "_base_executable", None) or str(Path(sys.base_prefix) / "bin" / "python3")
    assert Path(candidate).is_file(), candidate
    if sys.prefix != sys.base_prefix:  # inside a virtualenv: the interpreter must come from outside it
        assert not Path(candidate).resolve().is_relative_to(Path(sys.prefix).resolve()), candidate
    return candidate


def import_handler(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # -I: no PYTHON* variables, no user site, no script dir; -S: no site-packages; -B: leave no .pyc in the asset.
    code = (
        f"import sys; sys.path.insert(0, {str(path)!r}); import services.iot_processor.runtime.handler as h; "
        "import boto3, aws_lambda_powertools; print(h.__file__); print(boto3.__file__); "
        "print(aws_lambda_powertools.__file__)"
    )
    return subprocess.run(
        [base_interpreter(), "-I", "-S", "-B", "-c", code], env={}, cwd=cwd, capture_output=True, text=True, check=False
    )


def test_asset_imports_the_handler_in_a_clean_interpreter(tmp_path: Path) -> None:
    asset = build_bundle()
    result = import_handler(asset, tmp_path)
    assert result.returncode == 0, result.stderr
    modules = [Path(line) for line in result.stdout.splitlines()]
    assert len(modules) == 3
    assert all(module.is_relative_to(asset) for module in modules), modules


def test_asset_carries_only_runtime_code() -> None:
    """No infra, tests or synthetic data in the function: editing those must not change the asset (or redeploy)."""
    asset = build_bundle()
    ours = sorted(
        str(path.relative_to(asset)) for package in ("services", "shared") for path in (asset / package).rglob("*.py")
    )
    assert ours == [
        "services/__init__.py",
        "services/iot_processor/__init__.py",
        "services/iot_processor/contract.py",
        *(
            f"services/iot_processor/runtime/{path.name}"
            for path in sorted((REPO_ROOT / "services/iot_processor/runtime").glob("*.py"))
        ),
        "shared/__init__.py",
        *(f"shared/kinesis/{path.name}" for path in sorted((REPO_ROOT / "shared/kinesis").glob("*.py"))),
        *(f"shared/readings/{path.name}" for path in sorted((REPO_ROOT / "shared/readings").glob("*.py"))),
    ]
    assert not any("synthetic" in name or "tests" in name or "infra" in name for name in ours)


def test_the_clean_import_check_fails_without_the_dependencies(tmp_path: Path) -> None:
    """Negative control: our own sources from the asset, without boto3 and Powertools, must not import."""
    asset = build_bundle()
    sources_only = tmp_path / "sources-only"
    for package in ("services", "shared"):
        shutil.copytree(asset / package, sources_only / package)
    result = import_handler(sources_only, tmp_path)
    assert result.returncode != 0
    assert re.search(r"ModuleNotFoundError: No module named '(aws_lambda_powertools|boto3)'", result.stderr)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert import_handler(empty, tmp_path).returncode != 0


# --- requirements.txt against uv.lock ------------------------------------------------------------------------------


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements() -> dict[str, tuple[str, set[str]]]:
    """name -> (version, hashes) of every requirement in runtime/requirements.txt."""
    text = REQUIREMENTS.read_text(encoding="utf-8").replace("\\\n", " ")
    pins: dict[str, tuple[str, set[str]]] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==(\S+)((?:\s+--hash=\S+)*)(?:\s*;.*)?", line)
        assert match, f"not an exact, hashed pin: {line!r}"
        hashes = set(re.findall(r"--hash=(\S+)", match.group(4)))
        pins[normalise(match.group(1))] = (match.group(3), hashes)
    return pins


def locked_packages() -> dict[str, dict[str, Any]]:
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text(encoding="utf-8"))
    return {normalise(package["name"]): package for package in lock["package"]}


def runtime_closure(packages: Mapping[str, dict[str, Any]]) -> set[str]:
    """Every package the processor-runtime group needs, following extras, as the lock resolves it."""
    root = next(p for p in packages.values() if p.get("source", {}).get("virtual") == ".")
    pending: list[Mapping[str, Any]] = list(root["dev-dependencies"]["processor-runtime"])
    seen: set[str] = set()
    while pending:
        dependency = pending.pop()
        name = normalise(dependency["name"])
        package = packages[name]
        extras: Iterable[str] = dependency.get("extra", [])
        for extra in extras:
            pending.extend(package.get("optional-dependencies", {}).get(extra, []))
        if name not in seen:
            seen.add(name)
            pending.extend(package.get("dependencies", []))
    return seen


def test_runtime_requirements_pin_the_locked_versions_and_hashes() -> None:
    pins = pinned_requirements()
    packages = locked_packages()
    assert {"boto3", "aws-lambda-powertools"} <= set(pins)
    for name, (version, hashes) in pins.items():
        assert name in packages, f"{name} is not in uv.lock"
        assert version == packages[name]["version"], (
            f"{name}: requirements.txt {version}, uv.lock {packages[name]['version']}"
        )
        files = [packages[name].get("sdist", {}), *packages[name].get("wheels", [])]
        assert hashes, f"{name}: no hashes"
        assert hashes <= {f["hash"] for f in files if "hash" in f}, f"{name}: hashes not from uv.lock"


def test_runtime_requirements_cover_exactly_the_locked_runtime_group() -> None:
    assert set(pinned_requirements()) == runtime_closure(locked_packages())
