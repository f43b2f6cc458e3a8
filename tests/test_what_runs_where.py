"""What runs where, on the embedded emulator: two stages deployed from two commits, each recorded by the pipeline's
last step through its smoke-test role, then ``make environments`` reading both accounts.

The deploys here are the local platform's (tools/local/deploy.py: each stage's real templates created through
CloudFormation, in its own emulated account), cheaper than the pipeline rehearsal's (tests/test_rehearsal.py), and
the "commits" are two syntheses: commit 1 with the stage's settings, commit 2 with one alarm threshold raised. Staging
runs commit 1, dev runs commit 2; main has moved on by a third commit.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from aws_cdk import App

from pipeline.config import PlatformConfig
from shared.config import committed_context
from stages.config import StageConfig
from stages.iot_stage import IotStage
from tools.common.deployment_record import assembly_digest
from tools.local.deploy import deploy_stage
from tools.local.emulator import LOCAL_ACCOUNT, LOCAL_REGION, Emulator, embedded_aws
from tools.local.run import _stack_files
from tools.operations import environments
from tools.steps import record_deployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@contextmanager
def account(number: str) -> Iterator[None]:
    """boto3's default session holds a role's credentials in ``number``'s account (moto maps them to it), for a while:
    what the local deploy creates lands in that account."""
    keys = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{number}:role/deployer", RoleSessionName="deploy")
    credentials = keys["Credentials"]
    previous = boto3.DEFAULT_SESSION
    boto3.setup_default_session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=LOCAL_REGION,
    )
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = previous


def _git(repository: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repository), *arguments], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def commits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    repository = tmp_path_factory.mktemp("clone")
    _git(repository, "init", "--quiet", "--initial-branch", "main")
    for setting in ("user.name=t", "user.email=t@example.com", "commit.gpgsign=false"):
        _git(repository, "config", *setting.split("="))
    for message in ("commit 1: as configured", "commit 2: archive freshness margin 300 -> 600 s", "commit 3"):
        _git(repository, "commit", "--quiet", "--allow-empty", "-m", message)
    return repository, _git(repository, "log", "--format=%H", "--reverse").split()


def _synthesize(outdir: Path, stage_config: StageConfig) -> Path:
    app = App(outdir=str(outdir), context=committed_context())
    IotStage(app, stage_config.name.title(), config=stage_config, smoke_test_account=LOCAL_ACCOUNT)
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, platform_config: PlatformConfig, commits: tuple[Path, list[str]]
) -> Iterator[dict[str, Path]]:
    """Staging deployed from commit 1 and dev from commit 2, each in its account, each recorded; their assemblies."""
    dev, staging = platform_config.stage("dev"), platform_config.stage("staging")
    # Staging configured as dev is (but for its name, account and cost center): what differs is the commit alone.
    staging_like_dev = dataclasses.replace(
        dev, name="staging", account=staging.account, cost_center=staging.cost_center
    )
    raised = dataclasses.replace(dev.observability, freshness_margin_seconds=600)
    assemblies = {
        "staging": _synthesize(tmp_path_factory.mktemp("commit-1"), staging_like_dev),
        "dev": _synthesize(tmp_path_factory.mktemp("commit-2"), dataclasses.replace(dev, observability=raised)),
    }
    recorded = {"staging": commits[1][0], "dev": commits[1][1]}
    with embedded_aws(LOCAL_REGION) as emulator:
        for name, stage in (("staging", staging), ("dev", dev)):
            outputs = _deploy(emulator, assemblies[name] / f"assembly-{name.title()}", stage.account)
            pipeline = {
                "STAGE_NAME": name,
                "DEPLOYED_COMMIT": recorded[name],
                "PIPELINE_EXECUTION_ID": f"execution-{name}",
                "INGEST_SMOKETESTROLEARN": outputs["SmokeTestRoleArn"],
            }
            arguments = ["--from-environment", "--assembly", str(assemblies[name])]
            assert record_deployment.main(arguments, pipeline) == 0
        yield assemblies


def _deploy(emulator: Emulator, stage_dir: Path, number: str) -> dict[str, str]:
    with account(number):
        stage = deploy_stage(
            stage_dir,
            _stack_files(stage_dir),
            account=number,
            region=LOCAL_REGION,
            modelled_types=emulator.modelled_types,
        )
    return stage.stacks["ingest"].outputs


def test_each_record_names_its_commit_and_assembly_and_how_far_behind_main(
    deployed: dict[str, Path], commits: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repository, (first, second, third) = commits
    roles = [
        argument
        for stage, number in (("dev", "222222222222"), ("staging", "333333333333"))
        for argument in ("--role-arn", f"{stage}=arn:aws:iam::{number}:role/operator")
    ]
    code = environments.main(["dev", "staging", *roles, "--main", "main", "--repository", str(repository)])
    out = capsys.readouterr().out
    assert code == 0, out
    table, report = out.split("\n# Change report: ")
    rows = {line.split()[0]: line.split() for line in table.splitlines()[3:]}
    assert table.splitlines()[0] == f"What runs where (main is {third[:12]})"
    assert rows["dev"][1:4] == [second[:12], "1", "commit"]
    assert rows["staging"][1:4] == [first[:12], "2", "commits"]
    assert rows["dev"][-1] == assembly_digest(deployed["dev"])[:19]
    assert rows["staging"][-1] == assembly_digest(deployed["staging"])[:19]
    assert assembly_digest(deployed["dev"]) != assembly_digest(deployed["staging"])

    assert report.startswith(f"staging ({first[:7]}) -> dev's templates in staging ({second[:7]})\n")
    # The dashboard draws each alarm's threshold beside its metric, so the freshness threshold changes it too.
    assert _changes(report, "iot-staging-observability") == [
        "| modified | `AlarmsArchiveFreshnessA215B7E0` | AWS::CloudWatch::Alarm | Threshold (360 -> 660) |",
        "| modified | `Dashboard7A714131` | AWS::CloudWatch::Dashboard | DashboardBody |",
    ]
    assert "## iot-staging-archive (unchanged)" in report
    # The emulator answers GetTemplate with the synthesized template (ADR 0012), as CloudFormation does: the ingest
    # stack is the same in both commits.
    assert "## iot-staging-ingest (unchanged)" in report
    assert "Resources: 0 added, 2 modified, 0 may be replaced, 0 replaced, 0 removed." in report


def _changes(report: str, stack: str) -> list[str]:
    """The rows of a stack's table in the change report."""
    section = report.split(f"## {stack} (changed)\n")[1].split("\n## ", maxsplit=1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
