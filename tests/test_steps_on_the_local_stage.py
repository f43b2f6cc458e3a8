"""The pipeline's steps run as the pipeline runs them, against the local stage deployed on the embedded emulator.

The variables are built from the deployed stacks' outputs, as CDK Pipelines builds them for a CodeBuild step
(``<SERVICE>_<OUTPUT>``, spelled out here); the smoke test reaches the stage through its smoke-test role. It must
pass with every reading where it belongs, and fail, naming what is missing, when the archive stops.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.local.emulator import LOCAL_ACCOUNT, LOCAL_REGION
from tools.local.run import LocalPlatform, local_platform
from tools.steps import smoke_test, verify_stage

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
# The archive's buffer shortened, so the smoke test does not wait out dev's minute for every object.
FAST_ARCHIVE = {"iot.stages.dev.archive.bufferIntervalSeconds": "1"}
SMOKE = ["--skip-mqtt", "--records", "60", "--timeout", "60"]  # the emulator cannot route IoT Core's topic rule


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    log = tmp_path_factory.mktemp("steps") / "processor.log"
    assembly = tmp_path_factory.mktemp("cdk.out")
    with local_platform(log_path=log, assembly_dir=assembly, overrides=FAST_ARCHIVE) as running:
        yield running


@pytest.fixture(scope="module")
def pipeline_variables(platform: LocalPlatform) -> dict[str, str]:
    """What the pipeline gives a stage's steps: the stage, then every stack output as SERVICE_OUTPUT."""
    variables = {"STAGE_NAME": "sandbox", "STAGE_ACCOUNT": LOCAL_ACCOUNT, "STAGE_REGION": LOCAL_REGION}
    for service, stack in platform.deployed.stacks.items():
        variables.update({f"{service.upper()}_{key.upper()}": value for key, value in stack.outputs.items()})
    return variables


def test_the_deployed_stage_has_every_output_its_steps_read(pipeline_variables: dict[str, str]) -> None:
    expected = {
        "INGEST_STREAMNAME",
        "INGEST_STREAMARN",
        "INGEST_STREAMKEYARN",
        "INGEST_TABLENAME",
        "INGEST_PROCESSEDBUCKETNAME",
        "INGEST_FAILUREBUCKETNAME",
        "INGEST_ALERTINBOXURL",
        "INGEST_SMOKETESTROLEARN",
        "ARCHIVE_RAWBUCKETNAME",
        "OBSERVABILITY_OPSTOPICARN",
        "OBSERVABILITY_COMPOSITEALARMNAME",
    }
    assert expected <= pipeline_variables.keys()


def test_stage_verification_passes_on_the_deployed_outputs(
    pipeline_variables: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify_stage.main(pipeline_variables) == 0, capsys.readouterr().err


def test_the_smoke_test_passes_from_the_pipelines_variables_through_the_smoke_test_role(
    pipeline_variables: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = smoke_test.main(["--from-environment", *SMOKE], environment=pipeline_variables)
    out = capsys.readouterr().out
    assert exit_code == 0, out
    assert f"{'result':<28}{'PASS':>8}" in out
    assert f"{'in raw archive':<28}{60:>8}" in out


def test_the_smoke_test_passes_by_stage_name(capsys: pytest.CaptureFixture[str], platform: LocalPlatform) -> None:
    assert smoke_test.main(["--stage", "sandbox", *SMOKE], environment={}) == 0, capsys.readouterr().out


def test_the_smoke_test_fails_naming_what_is_missing_when_the_archive_stops(
    platform: LocalPlatform, pipeline_variables: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    platform.firehose.stop()  # last in this module: the archive receives nothing more
    arguments = ["--from-environment", "--skip-mqtt", "--records", "20", "--timeout", "3"]
    assert smoke_test.main(arguments, environment=pipeline_variables) == 1
    out = capsys.readouterr().out
    assert f"{'result':<28}{'FAIL':>8}" in out
    assert f"{'in raw archive':<28}{0:>8}" in out
    assert sum(line.startswith("  missing from archive: reading ") for line in out.splitlines()) == 20
    assert "missing from table" not in out
