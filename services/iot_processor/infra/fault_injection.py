"""The processor ready for AWS FIS's Lambda faults, in a stage that runs the fault injection experiment.

FIS's Lambda actions work through an extension (a layer AWS publishes) that runs the function behind its own
bootstrap and reads the faults FIS writes under a prefix of an S3 bucket. The bucket is this stack's, so that the
processor can read it before the observability stack (where the experiment is) exists; that stack reads its name
and key through SSM and lets FIS write there.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from shared.fault_injection import (
    CONFIGURATION_PREFIX,
    EXTENSION_LAYER_PARAMETER,
    EXTENSION_POLL_MAX_WAIT_MILLISECONDS,
    EXTENSION_WRAPPER,
)
from shared.infra.encryption import rotating_key
from shared.infra.secure_bucket import data_bucket


class FaultInjectionExtension(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.Function,
        access_logs: s3.IBucket,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = rotating_key(
            self, "Key", description="Encrypts the faults FIS sets for the processor", removal_policy=removal_policy
        )
        self.bucket = data_bucket(
            self, "Configuration", encryption_key=self.key, access_logs=access_logs, removal_policy=removal_policy
        )
        # The layer's version for the function's architecture, resolved at deploy time from AWS's public parameter.
        layer_arn = ssm.StringParameter.value_for_string_parameter(self, EXTENSION_LAYER_PARAMETER)
        function.add_layers(lambda_.LayerVersion.from_layer_version_arn(self, "Extension", layer_arn))
        for name, value in (
            ("AWS_FIS_CONFIGURATION_LOCATION", f"{self.bucket.bucket_arn}/{CONFIGURATION_PREFIX}"),
            ("AWS_LAMBDA_EXEC_WRAPPER", EXTENSION_WRAPPER),
            ("AWS_FIS_POLL_MAX_WAIT_MILLISECONDS", str(EXTENSION_POLL_MAX_WAIT_MILLISECONDS)),
        ):
            function.add_environment(name, value)
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ListTheFaults",
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{CONFIGURATION_PREFIX}*"]}},
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadTheFaults",
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(f"{CONFIGURATION_PREFIX}*")],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(sid="DecryptTheFaults", actions=["kms:Decrypt"], resources=[self.key.key_arn])
        )
