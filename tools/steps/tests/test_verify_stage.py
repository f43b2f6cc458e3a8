"""The post-deploy stage check: passes on well-formed outputs, names each missing or foreign one."""

from __future__ import annotations

from tools.steps.verify_stage import problems

GOOD = {
    "STAGE_ACCOUNT": "222222222222",
    "STAGE_REGION": "eu-west-1",
    "INGEST_STREAMARN": "arn:aws:kinesis:eu-west-1:222222222222:stream/iot-dev-ingest-Readings",
    "INGEST_STREAMNAME": "iot-dev-ingest-Readings",
    "INGEST_STREAMKEYARN": "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "ARCHIVE_RAWBUCKETNAME": "iot-dev-archive-rawarchive-1a2b3c",
    "OBSERVABILITY_OPSTOPICARN": "arn:aws:sns:eu-west-1:222222222222:iot-dev-observability-OpsTopic",
}


def test_well_formed_outputs_pass() -> None:
    assert problems(GOOD) == []


def test_missing_output_is_named() -> None:
    environment = {key: value for key, value in GOOD.items() if key != "INGEST_STREAMARN"}
    assert problems(environment) == ["INGEST_STREAMARN: missing"]


def test_output_from_another_account_is_rejected() -> None:
    environment = {**GOOD, "OBSERVABILITY_OPSTOPICARN": "arn:aws:sns:eu-west-1:444444444444:topic"}
    (problem,) = problems(environment)
    assert problem.startswith("OBSERVABILITY_OPSTOPICARN: 'arn:aws:sns:eu-west-1:444444444444:topic' does not match")
