"""The archive stack of every stage, setting by setting (aws_cdk.assertions, no snapshots), and the partition query."""

from __future__ import annotations

import dataclasses
import json
from functools import cached_property
from typing import Any

import pytest
from aws_cdk import aws_kinesisfirehose as firehose

from services.iot_archive import contract
from services.iot_archive.config import ArchiveConfig
from services.iot_archive.infra.stack import ArchiveStack
from services.iot_archive.tests.stacks import synthesize_archive
from shared.infra.compliance import acknowledgements
from shared.readings.schema import Reading
from shared.testing.service_stacks import ServiceTemplate
from shared.testing.templates import Statement, arn, objects_in, ref

pytestmark = pytest.mark.synth  # synthesizes the archive stack of every stage: not in `make unit`

STAGE_NAMES = ("dev", "staging", "prod")
RETAINED = {"dev": False, "staging": False, "prod": True}
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}
PREFIX = (
    "readings/year=!{partitionKeyFromQuery:year}/month=!{partitionKeyFromQuery:month}"
    "/day=!{partitionKeyFromQuery:day}/hour=!{partitionKeyFromQuery:hour}/"
)
ERROR_PREFIX = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"
PARTITION_KEYS = ["year", "month", "day", "hour"]
STREAM_READS = {
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetShardIterator",
    "kinesis:GetRecords",
    "kinesis:ListShards",
}
ARCHIVE_WRITES = {
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
}


# --- reading the template ----------------------------------------------------------------------------------------


class ArchiveTemplate(ServiceTemplate[ArchiveConfig, ArchiveStack]):
    """The synthesized archive stack of one stage, with its resources found through outputs and references."""

    def the(self, resource_type: str) -> str:
        """The logical id of the only resource of ``resource_type``."""
        (logical_id,) = self.of_type(resource_type)
        return logical_id

    def referenced(self, value: Any, resource_type: str) -> str:
        """The logical id behind a ``Ref`` or ``GetAtt .Arn``, checked to be a ``resource_type`` of this stack."""
        logical_id = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
        assert self.body["Resources"][logical_id]["Type"] == resource_type, value
        assert isinstance(logical_id, str)
        return logical_id

    def ssm_parameter(self, name: str) -> str:
        """The template parameter that resolves the SSM parameter ``name`` at deploy time (no lookup at synth)."""
        found = [
            logical_id
            for logical_id, parameter in self.body["Parameters"].items()
            if parameter.get("Default") == name and parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
        ]
        assert len(found) == 1, f"no SSM-typed parameter for {name}"
        return str(found[0])

    @cached_property
    def delivery_stream(self) -> str:
        logical_id = self.the("AWS::KinesisFirehose::DeliveryStream")
        assert self.body["Outputs"]["DeliveryStreamName"]["Value"] == ref(logical_id)
        return logical_id

    @cached_property
    def destination(self) -> dict[str, Any]:
        destination: dict[str, Any] = self.props(self.delivery_stream)["ExtendedS3DestinationConfiguration"]
        return destination

    @cached_property
    def raw_bucket(self) -> str:
        return self.referenced(self.body["Outputs"]["RawBucketName"]["Value"], "AWS::S3::Bucket")

    @cached_property
    def role(self) -> str:
        return self.referenced(self.destination["RoleARN"], "AWS::IAM::Role")

    @cached_property
    def archive_key(self) -> str:
        encryption = self.props(self.raw_bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        return self.referenced(encryption[0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"], "AWS::KMS::Key")

    @cached_property
    def vault(self) -> str:
        return self.the("AWS::Backup::BackupVault")

    @cached_property
    def vault_key(self) -> str:
        return self.referenced(self.props(self.vault)["EncryptionKeyArn"], "AWS::KMS::Key")

    @cached_property
    def log_group(self) -> str:
        return self.referenced(self.destination["CloudWatchLoggingOptions"]["LogGroupName"], "AWS::Logs::LogGroup")

    @cached_property
    def log_stream(self) -> str:
        return self.referenced(self.destination["CloudWatchLoggingOptions"]["LogStreamName"], "AWS::Logs::LogStream")

    @cached_property
    def workgroup(self) -> str:
        return self.the("AWS::Athena::WorkGroup")

    @cached_property
    def results_bucket(self) -> str:
        location = self.props(self.workgroup)["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"]
        parts = location["Fn::Join"][1]
        assert (parts[0], parts[2]) == ("s3://", "/results/"), location
        return self.referenced(parts[1], "AWS::S3::Bucket")

    @cached_property
    def table(self) -> dict[str, Any]:
        table_input: dict[str, Any] = self.props(self.the("AWS::Glue::Table"))["TableInput"]
        return table_input

    @cached_property
    def processors(self) -> dict[str, dict[str, str]]:
        """Processor type -> its parameters, in template order."""
        return {
            processor["Type"]: {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
            for processor in self.destination["ProcessingConfiguration"]["Processors"]
        }

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

    def resources_for(self, prefix: str) -> list[Any]:
        """Every resource of an Allow statement with an action in the service ``prefix`` (``kms:``, ``s3:``)."""
        return [
            resource
            for s in self.statements(self.role)
            if s.effect == "Allow" and any(a.startswith(prefix) for a in s.actions)
            for resource in s.resources
        ]

    def actions_on(self, resource: Any) -> set[str]:
        return {
            action
            for s in self.statements(self.role)
            if s.effect == "Allow" and resource in s.resources
            for action in s.actions
        }


@pytest.fixture(scope="module")
def archive_templates() -> dict[str, ArchiveTemplate]:
    templates = {name: ArchiveTemplate(service) for name, service in synthesize_archive().items()}
    assert tuple(templates) == STAGE_NAMES
    return templates


@pytest.fixture(params=STAGE_NAMES)
def archive(request: pytest.FixtureRequest, archive_templates: dict[str, ArchiveTemplate]) -> ArchiveTemplate:
    return archive_templates[request.param]


# --- delivery stream -----------------------------------------------------------------------------------------------


def test_delivery_stream_reads_the_ingest_stream_named_by_its_ssm_parameter(archive: ArchiveTemplate) -> None:
    props = archive.props(archive.delivery_stream)
    stream_arn = archive.ssm_parameter(f"/iot/{archive.environment.name}/ingest/stream-arn")
    assert props["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert props["KinesisStreamSourceConfiguration"] == {
        "KinesisStreamARN": ref(stream_arn),
        "RoleARN": arn(archive.role),
    }
    # A Kinesis source cannot use Firehose-side SSE (the stream's key protects the data); CloudFormation rejects it.
    assert "DeliveryStreamEncryptionConfigurationInput" not in props


def test_delivery_writes_gzip_event_time_partitions_and_errors_under_their_own_prefix(archive: ArchiveTemplate) -> None:
    destination = archive.destination
    assert destination["BucketARN"] == arn(archive.raw_bucket)
    assert destination["RoleARN"] == arn(archive.role)
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["Prefix"] == PREFIX
    assert destination["ErrorOutputPrefix"] == ERROR_PREFIX
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True


def test_delivery_buffering_comes_from_config(archive: ArchiveTemplate) -> None:
    config = archive.config
    assert archive.destination["BufferingHints"] == {
        "IntervalInSeconds": config.buffer_interval_seconds,
        "SizeInMBs": config.buffer_size_mib,
    }


def test_processors_extract_event_time_with_jq_and_append_a_newline(archive: ArchiveTemplate) -> None:
    processing = archive.destination["ProcessingConfiguration"]
    assert processing["Enabled"] is True
    assert list(archive.processors) == ["MetadataExtraction", "AppendDelimiterToRecord"]
    extraction = archive.processors["MetadataExtraction"]
    assert set(extraction) == {"MetadataExtractionQuery", "JsonParsingEngine"}
    assert extraction["JsonParsingEngine"] == "JQ-1.6"
    assert ".timestamp" in extraction["MetadataExtractionQuery"]
    # CloudFormation takes the escape sequence: Firehose turns the two characters \n into a newline.
    assert archive.processors["AppendDelimiterToRecord"] == {"Delimiter": "\\n"}


def test_delivery_errors_are_logged_to_a_log_group_and_stream_of_this_stack(archive: ArchiveTemplate) -> None:
    assert archive.destination["CloudWatchLoggingOptions"]["Enabled"] is True
    assert archive.props(archive.log_stream)["LogGroupName"] == ref(archive.log_group)
    assert archive.props(archive.log_group)["RetentionInDays"] == 90  # three months: long enough to read an incident


# --- Firehose role -------------------------------------------------------------------------------------------------


def test_firehose_role_is_trusted_by_firehose_of_this_account_only(archive: ArchiveTemplate) -> None:
    role = archive.props(archive.role)
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": archive.environment.account}},
            "Effect": "Allow",
            "Principal": {"Service": "firehose.amazonaws.com"},
        }
    ]
    assert "ManagedPolicyArns" not in role


def test_firehose_role_reads_only_the_ingest_stream_and_decrypts_only_with_its_key(archive: ArchiveTemplate) -> None:
    stream_arn = ref(archive.ssm_parameter(f"/iot/{archive.environment.name}/ingest/stream-arn"))
    stream_key = ref(archive.ssm_parameter(f"/iot/{archive.environment.name}/ingest/stream-key-arn"))
    assert archive.resources_for("kinesis:") == [stream_arn]
    assert archive.actions_on(stream_arn) == STREAM_READS
    assert archive.actions_on(stream_key) == {"kms:Decrypt"}
    # The only other key: the archive's own, to write SSE-KMS objects.
    assert sorted(map(json.dumps, archive.resources_for("kms:"))) == sorted(
        map(json.dumps, [stream_key, arn(archive.archive_key)])
    )
    assert archive.actions_on(arn(archive.archive_key)) == {"kms:GenerateDataKey", "kms:Decrypt"}


def test_firehose_role_writes_only_the_readings_and_errors_prefixes(archive: ArchiveTemplate) -> None:
    bucket = archive.raw_bucket
    readings, errors = objects_in(bucket, "readings/*"), objects_in(bucket, "errors/*")
    s3_resources = archive.resources_for("s3:")
    assert sorted(map(json.dumps, s3_resources)) == sorted(map(json.dumps, [arn(bucket), readings, errors]))
    assert archive.actions_on(readings) == archive.actions_on(errors) == ARCHIVE_WRITES
    assert "s3:PutObject" in archive.actions_on(readings)


def test_firehose_role_writes_only_its_own_log_stream(archive: ArchiveTemplate) -> None:
    log_stream_arn = {
        "Fn::Join": [
            "",
            [
                f"arn:aws:logs:{archive.environment.region}:{archive.environment.account}:log-group:",
                ref(archive.log_group),
                ":log-stream:",
                ref(archive.log_stream),
            ],
        ]
    }
    assert archive.resources_for("logs:") == [log_stream_arn]
    assert archive.actions_on(log_stream_arn) == {"logs:PutLogEvents"}


def test_firehose_role_has_no_wildcard_action_or_resource(archive: ArchiveTemplate) -> None:
    statements = archive.statements(archive.role)
    assert {s.effect for s in statements} == {"Allow"}
    allowed = {action for s in statements for action in s.actions}
    assert allowed == STREAM_READS | ARCHIVE_WRITES | {"kms:Decrypt", "kms:GenerateDataKey", "logs:PutLogEvents"}
    assert not any("*" in action for action in allowed)
    resources = [resource for s in statements for resource in s.resources]
    assert "*" not in resources
    wildcards = [r for r in resources if "*" in json.dumps(r)]
    bucket = archive.raw_bucket
    assert sorted(map(json.dumps, wildcards)) == sorted(
        map(json.dumps, [objects_in(bucket, "readings/*"), objects_in(bucket, "errors/*")])
    )


# --- raw archive bucket --------------------------------------------------------------------------------------------


def test_raw_bucket_is_kms_encrypted_versioned_private_and_logged(archive: ArchiveTemplate) -> None:
    props = archive.props(archive.raw_bucket)
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn(archive.archive_key)},
        }
    ]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == BLOCK_ALL
    logging = props["LoggingConfiguration"]
    log_bucket = archive.referenced(logging["DestinationBucketName"], "AWS::S3::Bucket")
    assert log_bucket not in (archive.raw_bucket, archive.results_bucket)
    assert logging["LogFilePrefix"]
    # S3 server access logging can only deliver to SSE-S3 buckets.
    assert archive.props(log_bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]


def test_every_bucket_denies_requests_without_tls(archive: ArchiveTemplate) -> None:
    buckets = archive.of_type("AWS::S3::Bucket")
    assert len(buckets) == 3  # raw archive, query results, access logs
    policies = {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"] for p in archive.of_type("AWS::S3::BucketPolicy").values()
    }
    assert set(policies) == set(buckets)
    for bucket, policy in policies.items():
        assert {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [arn(bucket), {"Fn::Join": ["", [arn(bucket), "/*"]]}],
        } in policy["PolicyDocument"]["Statement"]


def test_raw_bucket_tiers_and_expires_as_configured(archive: ArchiveTemplate) -> None:
    config = archive.config
    rules = archive.props(archive.raw_bucket)["LifecycleConfiguration"]["Rules"]
    (rule,) = [rule for rule in rules if rule.get("Transitions")]
    assert rule["Status"] == "Enabled"
    assert "Prefix" not in rule  # readings/ and errors/ alike
    assert "Filter" not in rule
    assert rule["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": config.infrequent_access_after_days},
        {"StorageClass": "GLACIER_IR", "TransitionInDays": config.archive_after_days},
    ]
    assert rule["ExpirationInDays"] == config.expiration_days
    assert config.infrequent_access_after_days < config.archive_after_days < config.expiration_days


def test_archive_data_is_retained_in_prod_only(archive: ArchiveTemplate) -> None:
    retained = RETAINED[archive.environment.name]
    assert retained == (archive.environment.removal_policy == "retain")
    expected = "Retain" if retained else "Delete"
    kept = (archive.raw_bucket, archive.archive_key, archive.results_bucket, archive.vault, archive.vault_key)
    for logical_id in kept:
        resource = archive.body["Resources"][logical_id]
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == (expected, expected), logical_id


def test_every_kms_key_rotates(archive: ArchiveTemplate) -> None:
    keys = archive.of_type("AWS::KMS::Key")
    assert set(keys) == {archive.archive_key, archive.vault_key}
    assert {name: key["Properties"].get("EnableKeyRotation") for name, key in keys.items()} == dict.fromkeys(keys, True)


# --- backup ----------------------------------------------------------------------------------------------------------


def test_the_raw_archive_alone_is_backed_up_daily_as_the_stage_says(archive: ArchiveTemplate) -> None:
    """The archive is the platform's record of every reading; the query results are rebuilt by running the query."""
    policy = archive.environment.backup
    (selection,) = archive.of_type("AWS::Backup::BackupSelection").values()
    assert selection["Properties"]["BackupSelection"]["Resources"] == [arn(archive.raw_bucket)]
    (plan,) = archive.of_type("AWS::Backup::BackupPlan").values()
    (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["ScheduleExpression"] == policy.schedule
    assert rule["Lifecycle"] == {"DeleteAfterDays": policy.retention_days}
    vault = archive.props(archive.vault)
    assert vault["BackupVaultName"] == f"iot-{archive.environment.name}-archive"
    if archive.environment.is_production:
        assert policy.vault_lock is not None
        assert policy.copy is not None
        assert vault["LockConfiguration"]["MinRetentionDays"] == policy.vault_lock.min_retention_days
        (copy,) = rule["CopyActions"]
        assert copy["DestinationBackupVaultArn"] == policy.copy.vault_arn(region=archive.environment.region)
    else:
        assert "LockConfiguration" not in vault
        assert "CopyActions" not in rule


# --- query layer ---------------------------------------------------------------------------------------------------


def test_glue_table_projects_the_event_time_partitions(archive: ArchiveTemplate) -> None:
    table = archive.table
    database = archive.props(archive.the("AWS::Glue::Database"))["DatabaseInput"]["Name"]
    assert database == f"iot_{archive.environment.name}_archive" == archive.body["Outputs"]["GlueDatabase"]["Value"]
    assert archive.props(archive.the("AWS::Glue::Table"))["DatabaseName"] == database
    assert table["PartitionKeys"] == [{"Name": key, "Type": "int"} for key in PARTITION_KEYS]
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["storage.location.template"] == {
        "Fn::Join": [
            "",
            ["s3://", ref(archive.raw_bucket), "/readings/year=${year}/month=${month}/day=${day}/hour=${hour}/"],
        ]
    }
    for key in PARTITION_KEYS:
        assert parameters[f"projection.{key}.type"] == "integer"
    assert (parameters["projection.month.range"], parameters["projection.hour.range"]) == ("1,12", "0,23")
    assert table["StorageDescriptor"]["Location"] == {
        "Fn::Join": ["", ["s3://", ref(archive.raw_bucket), "/readings/"]]
    }


def test_glue_table_reads_json_with_a_column_per_reading_field(archive: ArchiveTemplate) -> None:
    descriptor = archive.table["StorageDescriptor"]
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    columns = {column["Name"]: column["Type"] for column in descriptor["Columns"]}
    assert set(columns) == {field.name for field in dataclasses.fields(Reading)}
    assert columns["value"] == "double"
    assert {name for name, kind in columns.items() if kind != "string"} == {"value"}


def test_athena_workgroup_enforces_encrypted_results_in_the_results_bucket(archive: ArchiveTemplate) -> None:
    props = archive.props(archive.workgroup)
    assert (
        props["Name"]
        == f"iot-{archive.environment.name}-analysts"
        == archive.body["Outputs"]["AthenaWorkgroup"]["Value"]
    )
    configuration = props["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["ResultConfiguration"]["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": arn(archive.archive_key),
    }
    assert archive.results_bucket != archive.raw_bucket
    results = archive.props(archive.results_bucket)
    assert results["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": arn(archive.archive_key),
    }
    assert results["PublicAccessBlockConfiguration"] == BLOCK_ALL


# --- shared values, outputs, nag -----------------------------------------------------------------------------------


def test_delivery_stream_and_raw_bucket_are_shared_in_ssm(archive: ArchiveTemplate) -> None:
    stage = archive.environment.name
    for name, target in (
        ("delivery-stream-name", archive.delivery_stream),
        ("raw-bucket-name", archive.raw_bucket),
    ):
        archive.template.has_resource_properties(
            "AWS::SSM::Parameter", {"Name": f"/iot/{stage}/archive/{name}", "Type": "String", "Value": ref(target)}
        )
    archive.template.resource_count_is("AWS::SSM::Parameter", 2)
    # The replay tool finds the bucket through this output (tools/steps/smoke_test.py Targets).
    archive.template.has_output("RawBucketName", {"Value": ref(archive.raw_bucket)})


def test_kdf1_is_acknowledged_on_the_delivery_stream_only_with_the_real_reason(archive: ArchiveTemplate) -> None:
    (stream,) = [c for c in archive.stack.node.find_all() if isinstance(c, firehose.CfnDeliveryStream)]
    found = [a for a in acknowledgements(archive.stack) if a.rule_id == "AwsSolutions-KDF1"]
    assert [a.scope for a in found] == [stream.node.path]
    reason = found[0].reason
    assert "not available with a Kinesis stream source" in reason
    assert "KMS key" in reason


def test_archive_acknowledges_nothing_beyond_its_known_findings(archive: ArchiveTemplate) -> None:
    bucket = archive.raw_bucket
    assert sorted(a.rule_id for a in acknowledgements(archive.stack)) == sorted(
        [
            "AwsSolutions-KDF1",
            "AwsSolutions-S1",  # on the access-log bucket itself
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/readings/*]",
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/errors/*]",
            "NIST.800.53.R5-S3DefaultEncryptionKMS",  # access logs: log delivery needs SSE-S3
            "NIST.800.53.R5-S3BucketReplicationEnabled",  # access logs, raw archive, query results
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "NIST.800.53.R5-IAMNoInlinePolicy",  # the Firehose role
            # the smoke test's read of the archive (services/iot_archive/infra/smoke_test_access.py)
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/readings/*]",
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/errors/*]",
            "NIST.800.53.R5-IAMNoInlinePolicy",
            # AWS Backup's role (shared/infra/backup.py): every object version, its own event rules, account-wide reads
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*]",
            f"AwsSolutions-IAM5[Resource::arn:aws:events:{archive.environment.region}:{archive.environment.account}"
            ":rule/AwsBackupManagedRule*]",
            "AwsSolutions-IAM5[Resource::*]",
            "NIST.800.53.R5-IAMNoInlinePolicy",
        ]
    )


def test_every_stage_partitions_with_the_query_and_prefixes_of_the_contract(
    archive_templates: dict[str, ArchiveTemplate],
) -> None:
    """The archive's contract is what tools and the local Firehose rely on; the delivery streams must use it."""
    for template in archive_templates.values():
        assert template.processors["MetadataExtraction"]["MetadataExtractionQuery"] == contract.PARTITION_QUERY
        assert template.destination["Prefix"] == contract.PARTITIONED_PREFIX
        assert template.destination["ErrorOutputPrefix"] == contract.ERROR_OUTPUT_PREFIX
        assert [key["Name"] for key in template.table["PartitionKeys"]] == list(contract.PARTITION_KEYS)
