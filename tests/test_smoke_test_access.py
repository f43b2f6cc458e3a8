"""What the smoke-test role may do beyond the ingest stack: read the archive's two prefixes and the stage's composite
alarm, each granted by the stack that owns it, and write the stage's deployment record; nothing else of those
stacks. (Staging's experiment run, granted to the same role, is the observability service's own test.)"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from services.observability import contract as observability
from shared.infra.naming import smoke_test_role_name
from shared.testing.templates import Statement, arn, objects_in
from stages.iot_stage import IotStage

pytestmark = pytest.mark.synth  # reads the synthesized app: not in `make unit`


def _policies_of_smoke_role(template: Template, stage: str) -> list[dict[str, Any]]:
    return [
        policy["Properties"]
        for logical_id, policy in template.find_resources("AWS::IAM::Policy").items()
        if smoke_test_role_name(stage) in str(policy["Properties"]["Roles"])
        and not logical_id.startswith("ExperimentRun")
    ]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_archive_grants_the_smoke_test_read_on_its_partitions_and_error_prefix_only(
    stages: list[IotStage], index: int
) -> None:
    stage = stages[index]
    template = Template.from_stack(stage.archive)
    (policy,) = _policies_of_smoke_role(template, stage.config.name)
    (raw_bucket,) = [
        name
        for name, r in template.find_resources("AWS::S3::Bucket").items()
        if "tier-and-expire" in str(r["Properties"].get("LifecycleConfiguration"))
    ]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert set(statements) == {"ListArchivePrefixes", "ReadArchivePrefixes", "DecryptArchive"}
    assert statements["ListArchivePrefixes"]["Action"] == "s3:ListBucket"
    assert statements["ListArchivePrefixes"]["Resource"] == arn(raw_bucket)
    assert statements["ListArchivePrefixes"]["Condition"] == {"StringLike": {"s3:prefix": ["readings/*", "errors/*"]}}
    assert statements["ReadArchivePrefixes"]["Action"] == "s3:GetObject"
    resources = statements["ReadArchivePrefixes"]["Resource"]
    assert sorted(resources, key=str) == sorted(
        [objects_in(raw_bucket, p) for p in ("readings/*", "errors/*")], key=str
    )
    read = Statement.of(statements["ReadArchivePrefixes"])
    assert not read.grants("s3:GetObject", objects_in(raw_bucket))  # not the whole bucket
    assert statements["DecryptArchive"]["Action"] == "kms:Decrypt"


@pytest.mark.parametrize("index", [0, 1, 2])
def test_observability_grants_the_smoke_test_a_read_of_the_composite_alarm_and_a_write_of_the_record_only(
    stages: list[IotStage], index: int
) -> None:
    stage = stages[index]
    config = stage.config
    template = Template.from_stack(stage.observability)
    composite = template.to_json()["Outputs"][observability.Output.COMPOSITE_ALARM_NAME]["Value"]["Ref"]
    statements = sorted(
        (s for policy in _policies_of_smoke_role(template, config.name) for s in policy["PolicyDocument"]["Statement"]),
        key=lambda s: str(s["Sid"]),
    )
    record = f"arn:aws:ssm:{config.region}:{config.account}:parameter/iot/{config.name}/observability/deployment-record"
    assert statements == [
        {
            "Sid": "ReadCompositeAlarm",
            "Effect": "Allow",
            "Action": "cloudwatch:DescribeAlarms",
            "Resource": arn(composite),
        },
        {"Sid": "RecordWhatTheStageRuns", "Effect": "Allow", "Action": "ssm:PutParameter", "Resource": record},
    ]
