"""The query layer over the raw archive: a Glue table with partition projection and an Athena workgroup.

Partition projection computes partitions from the S3 layout, so readings are queryable by time as soon as
Firehose writes them: no crawler, no MSCK REPAIR.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from services.iot_archive.contract import PARTITION_KEYS, READINGS_PREFIX

# One column per field of the reading schema (shared/readings/schema.py); value stays a double for SQL.
READING_COLUMNS = (
    ("reading_id", "string"),
    ("sensor_id", "string"),
    ("sensor_type", "string"),
    ("value", "double"),
    ("timestamp", "string"),
    ("unit", "string"),
    ("site", "string"),
    ("device", "string"),
    ("synthetic_run", "string"),
)
PARTITION_RANGES = {"year": "2000,2100", "month": "1,12", "day": "1,31", "hour": "0,23"}
PARTITION_DIGITS = {"year": "4", "month": "2", "day": "2", "hour": "2"}


class ArchiveQueries(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        archive_bucket: s3.IBucket,
        results_bucket: s3.IBucket,
        results_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        self.database_name = f"iot_{stage}_archive"
        self.table_name = "readings"
        self.workgroup_name = f"iot-{stage}-analysts"
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="Raw sensor readings, as producers sent them"
            ),
        )
        location = f"s3://{archive_bucket.bucket_name}/{READINGS_PREFIX}"
        template = location + "/".join(f"{key}=${{{key}}}" for key in PARTITION_KEYS) + "/"
        projection = {"projection.enabled": "true", "storage.location.template": template}
        for key in PARTITION_KEYS:
            projection |= {
                f"projection.{key}.type": "integer",
                f"projection.{key}.range": PARTITION_RANGES[key],
                f"projection.{key}.digits": PARTITION_DIGITS[key],
            }
        table = glue.CfnTable(
            self,
            "ReadingsTable",
            catalog_id=account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=self.table_name,
                description="One row per archived reading; partitioned by the reading's event time (UTC)",
                table_type="EXTERNAL_TABLE",
                parameters={"classification": "json", "compressionType": "gzip", **projection},
                partition_keys=[glue.CfnTable.ColumnProperty(name=key, type="int") for key in PARTITION_KEYS],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe",
                        parameters={"ignore.malformed.json": "true"},
                    ),
                    columns=[glue.CfnTable.ColumnProperty(name=name, type=kind) for name, kind in READING_COLUMNS],
                ),
            ),
        )
        table.node.add_dependency(database)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "Workgroup",
            name=self.workgroup_name,
            description="Analysts' queries over the raw archive; results encrypted with the archive key",
            state="ENABLED",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=100 * 1024**3,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{results_bucket.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=results_key.key_arn
                    ),
                ),
            ),
        )
