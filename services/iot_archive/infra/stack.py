"""Archive service stack: Firehose from the readings stream into the raw archive, and the query layer."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from services.iot_archive import contract
from services.iot_archive.config import ArchiveConfig
from services.iot_archive.contract import SHARED_OUTPUTS, Output, SharedKey
from services.iot_archive.infra.compliance import acknowledge_findings
from services.iot_archive.infra.delivery import ArchiveDelivery
from services.iot_archive.infra.query import ArchiveQueries
from services.iot_archive.infra.smoke_test_access import grant_archive_read
from services.iot_processor import contract as ingest
from shared.environment import StageEnvironment
from shared.infra.backup import ServiceBackup
from shared.infra.encryption import rotating_key
from shared.infra.secure_bucket import access_log_bucket, data_bucket
from shared.infra.service import ServiceIdentity, ServiceStack

ATHENA_RESULTS_EXPIRATION_DAYS = 30


class ArchiveStack(ServiceStack):
    SERVICE = ServiceIdentity(name=contract.SERVICE, owner_team=contract.OWNER_TEAM)

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: StageEnvironment,
        config: ArchiveConfig,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope, construct_id, environment=environment, description="raw archive of every reading", **kwargs
        )
        removal, archive = self.removal_policy, config
        key = rotating_key(self, "ArchiveKey", description="Encrypts the raw readings archive", removal_policy=removal)
        logs = access_log_bucket(self, "AccessLogs", removal_policy=removal, expiration_days=archive.expiration_days)
        self.raw_bucket = data_bucket(
            self,
            "RawArchive",
            encryption_key=key,
            access_logs=logs,
            removal_policy=removal,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="tier-and-expire",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(archive.infrequent_access_after_days),
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(archive.archive_after_days),
                        ),
                    ],
                    expiration=Duration.days(archive.expiration_days),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        # The raw archive is the platform's record of every reading: nothing rebuilds it.
        ServiceBackup(
            self,
            "Backup",
            stage=environment.name,
            service=self.SERVICE.name,
            config=environment.backup,
            buckets=[self.raw_bucket],
            removal_policy=removal,
        )
        results = data_bucket(
            self,
            "QueryResults",
            encryption_key=key,
            access_logs=logs,
            removal_policy=removal,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-results", expiration=Duration.days(ATHENA_RESULTS_EXPIRATION_DAYS))
            ],
        )
        delivery = ArchiveDelivery(
            self,
            "Delivery",
            config=archive,
            stream_arn=self.read_shared(ingest.SERVICE, ingest.SharedKey.STREAM_ARN),
            stream_key_arn=self.read_shared(ingest.SERVICE, ingest.SharedKey.STREAM_KEY_ARN),
            bucket=self.raw_bucket,
            bucket_key=key,
            removal_policy=removal,
        )
        queries = ArchiveQueries(
            self,
            "Queries",
            stage=environment.name,
            archive_bucket=self.raw_bucket,
            results_bucket=results,
            results_key=key,
        )
        for shared, value, description in (
            (SharedKey.DELIVERY_STREAM_NAME, delivery.delivery_stream.ref, "Firehose delivery stream into the archive"),
            (SharedKey.RAW_BUCKET_NAME, self.raw_bucket.bucket_name, "Raw archive bucket"),
        ):
            self.share(shared, value, description, output=SHARED_OUTPUTS[shared])
        self.output(Output.GLUE_DATABASE, queries.database_name, "Glue database of the archive")
        self.output(Output.ATHENA_WORKGROUP, queries.workgroup_name, "Athena workgroup for analysts")
        acknowledge_findings(delivery=delivery, raw_bucket=self.raw_bucket)
        grant_archive_read(self, stage=environment.name, bucket=self.raw_bucket, key=key)
