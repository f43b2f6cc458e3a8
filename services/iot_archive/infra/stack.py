"""Archive service stack: the raw archive of every reading."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from services.iot_processor.infra.stack import IngestSharedValues
from shared.infra.encryption import rotating_key
from shared.infra.secure_bucket import access_log_bucket, data_bucket
from shared.infra.service import ServiceIdentity, ServiceStack
from stages.config import StageConfig


class ArchiveStack(ServiceStack):
    SERVICE = ServiceIdentity(name="archive", owner_team="iot-data")

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, ingest: IngestSharedValues, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, config=config, description="raw archive of every reading", **kwargs)
        removal = self.removal_policy
        archive = config.archive
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
                )
            ],
        )
        self.output("RawArchiveBucketName", self.raw_bucket.bucket_name, "Raw archive bucket")
        self.output("SourceStreamArn", ingest.stream_arn.read(self), "The ingest stream this archive keeps")
