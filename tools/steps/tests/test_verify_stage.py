"""The post-deploy stage check: passes on well-formed outputs, names each missing or foreign one, exits accordingly.

The variable names are spelled out here, as the pipeline's CodeBuild step receives them: a renamed output or a
misspelled variable in the check fails these tests.
"""

from __future__ import annotations

import pytest

from tools.steps.verify_stage import main, problems

ACCOUNT, REGION = "222222222222", "eu-west-1"
GOOD = {
    "STAGE_NAME": "dev",
    "STAGE_ACCOUNT": ACCOUNT,
    "STAGE_REGION": REGION,
    "INGEST_STREAMARN": "arn:aws:kinesis:eu-west-1:222222222222:stream/iot-dev-ingest-Readings",
    "INGEST_STREAMNAME": "iot-dev-ingest-Readings",
    "INGEST_STREAMKEYARN": "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "ARCHIVE_RAWBUCKETNAME": "iot-dev-archive-rawarchive-1a2b3c",
    "OBSERVABILITY_OPSTOPICARN": "arn:aws:sns:eu-west-1:222222222222:iot-dev-observability-OpsTopic",
}
OUTPUTS = [name for name in GOOD if not name.startswith("STAGE_")]


def test_well_formed_outputs_pass() -> None:
    assert problems(GOOD) == []


@pytest.mark.parametrize("name", OUTPUTS)
def test_each_missing_output_is_named(name: str) -> None:
    environment = {key: value for key, value in GOOD.items() if key != name}
    assert problems(environment) == [f"{name}: missing"]


@pytest.mark.parametrize("name", OUTPUTS)
def test_each_empty_output_is_missing(name: str) -> None:
    assert problems({**GOOD, name: ""}) == [f"{name}: missing"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INGEST_STREAMARN", "arn:aws:kinesis:eu-west-1:444444444444:stream/iot-dev-ingest-Readings"),
        ("INGEST_STREAMARN", "arn:aws:kinesis:us-east-1:222222222222:stream/iot-dev-ingest-Readings"),
        ("INGEST_STREAMARN", "arn:aws:kinesis:eu-west-1:222222222222:stream/"),
        ("INGEST_STREAMKEYARN", "arn:aws:kms:eu-west-1:444444444444:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        ("INGEST_STREAMKEYARN", "arn:aws:kms:eu-west-1:222222222222:alias/iot-dev"),
        ("INGEST_STREAMNAME", "iot dev readings"),
        ("ARCHIVE_RAWBUCKETNAME", "Iot-Dev-Archive"),
        ("ARCHIVE_RAWBUCKETNAME", "ab"),
        ("OBSERVABILITY_OPSTOPICARN", "arn:aws:sns:eu-west-1:444444444444:topic"),
        ("OBSERVABILITY_OPSTOPICARN", "arn:aws:sns:eu-west-2:222222222222:topic"),
    ],
)
def test_an_output_of_another_account_region_or_shape_is_rejected(name: str, value: str) -> None:
    (problem,) = problems({**GOOD, name: value})
    assert problem.startswith(f"{name}: {value!r} does not match")


def test_the_account_is_matched_literally_not_as_a_pattern() -> None:
    """A dot in an account or region would otherwise match any character."""
    environment = {**GOOD, "STAGE_REGION": "eu.west.1"}
    assert "INGEST_STREAMARN" in " ".join(problems(environment))


@pytest.mark.parametrize("missing", ["STAGE_ACCOUNT", "STAGE_REGION"])
def test_without_the_stages_account_and_region_nothing_can_be_checked(missing: str) -> None:
    environment = {key: value for key, value in GOOD.items() if key != missing}
    assert problems(environment) == ["STAGE_ACCOUNT and STAGE_REGION must be set"]


def test_main_passes_and_says_how_many_outputs_it_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(GOOD) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "stage dev: all 5 outputs present and well-formed"
    assert captured.err == ""


def test_main_fails_naming_every_problem_with_the_stage(capsys: pytest.CaptureFixture[str]) -> None:
    environment = {
        key: value for key, value in GOOD.items() if key not in ("INGEST_STREAMARN", "ARCHIVE_RAWBUCKETNAME")
    }
    assert main(environment) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "stage dev: INGEST_STREAMARN: missing",
        "stage dev: ARCHIVE_RAWBUCKETNAME: missing",
    ]
    assert captured.out == ""


def test_main_without_the_stages_name_still_names_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    environment = {key: value for key, value in GOOD.items() if key not in ("STAGE_NAME", "INGEST_STREAMNAME")}
    assert main(environment) == 1
    assert capsys.readouterr().err.splitlines() == ["stage ?: INGEST_STREAMNAME: missing"]
