"""The pull-request comment over small synthesized assemblies: a change that replaces the readings table is marked as
needing a second approval, with its permission and cdk-nag differences; a plain threshold change is not.

Base -> PR, in the stage ``Prod``: the readings table's partition key changes (a replacement), the processor's role
gains ``dynamodb:Scan`` on ``*``, the archive stack lets the smoke-test role (named, created by the ingest stack) read
its bucket, an alarm threshold changes, one cdk-nag acknowledgement goes and another comes, and the PR's synth has a new
finding (its validation report written as CDK writes one).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, RemovalPolicy, Stack, Stage
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from shared.infra.compliance import acknowledge, acknowledgements
from tools.reports.nag_report import read_acknowledgements
from tools.reports.pr_changes import MARKER, main, pull_request_changes, render

pytestmark = pytest.mark.synth  # synthesizes small apps: not in `make unit`

SCAN_REASON = "The nightly export scans the whole readings table and nothing else."
PROCESSED_REASON = "Writes objects under processed/ only; keys come from shard and sequence numbers."
FINDING = "Prod/Ingest/Processor/DefaultPolicy/Resource"


def _synthesize(outdir: Path, *, replace_table: bool, widen: bool, threshold: int) -> Path:
    app = App(outdir=str(outdir))
    stage = Stage(app, "Prod")
    ingest = Stack(stage, "Ingest", stack_name="iot-prod-ingest")
    key = "reading_key" if replace_table else "sensor_id"
    dynamodb.Table(
        ingest,
        "Readings",
        partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
        removal_policy=RemovalPolicy.RETAIN,
    )
    processed = s3.Bucket(ingest, "Processed", enforce_ssl=True)
    processor = iam.Role(ingest, "Processor", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    processor.add_to_policy(
        iam.PolicyStatement(actions=["s3:PutObject"], resources=[processed.arn_for_objects("processed/*")])
    )
    iam.Role(ingest, "SmokeTest", role_name="iot-prod-smoke-test", assumed_by=iam.AccountPrincipal("111111111111"))
    metric = cw.Metric(namespace="IotPlatform", metric_name="ReadingsFailed")
    cw.Alarm(ingest, "Failed", metric=metric, threshold=threshold, evaluation_periods=1)
    archive = Stack(stage, "Archive", stack_name="iot-prod-archive")
    raw = s3.Bucket(archive, "Raw", enforce_ssl=True)
    smoke = iam.Role.from_role_name(archive, "SmokeTestRole", "iot-prod-smoke-test")
    statements = [iam.PolicyStatement(actions=["s3:ListBucket"], resources=[raw.bucket_arn])]
    if widen:
        processor.add_to_policy(iam.PolicyStatement(actions=["dynamodb:Scan"], resources=["*"]))
        statements.append(iam.PolicyStatement(actions=["s3:GetObject"], resources=[raw.arn_for_objects("*")]))
        acknowledge(processor, "AwsSolutions-IAM5[Resource::*]", SCAN_REASON)
    else:
        acknowledge(processor, "AwsSolutions-IAM5[Resource::<ProcessedBucket.Arn>/processed/*]", PROCESSED_REASON)
    iam.Policy(archive, "SmokeTestRead", roles=[smoke], statements=statements)
    app.synth()
    if widen:
        constructs = [{"constructPath": FINDING, "constructStack": "Prod/Ingest"}]
        violation = {
            "ruleName": "AwsSolutions-IAM4",
            "description": "managed policy",
            "violatingConstructs": constructs,
        }
        report = {
            "title": "Validation Report",
            "pluginReports": [{"pluginName": "AwsSolutions", "violations": [violation]}],
        }
        (outdir / "validation-report.json").write_text(json.dumps(report))
    return outdir


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synthesize(tmp_path_factory.mktemp("base"), replace_table=False, widen=False, threshold=1)


@pytest.fixture(scope="module")
def replacing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synthesize(tmp_path_factory.mktemp("replacing"), replace_table=True, widen=True, threshold=5)


@pytest.fixture(scope="module")
def comment(base: Path, replacing: Path) -> str:
    return render(pull_request_changes(base, replacing), before_label="main", after_label="this pull request")


def test_replacing_the_readings_table_needs_a_second_approval(base: Path, replacing: Path, comment: str) -> None:
    changes = pull_request_changes(base, replacing)
    assert changes.needs_second_approval
    (table,) = [line for line in comment.splitlines() if "AWS::DynamoDB::Table" in line and line.startswith("> - ")]
    assert table.startswith("> - `iot-prod-ingest` / `Readings")
    assert table.endswith("(AWS::DynamoDB::Table) replaced: KeySchema changed")
    assert comment.startswith(
        f"{MARKER}\n## What merging this pull request would change\n\n> [!CAUTION]\n"
        "> **Needs a second approval: stateful resources replaced or removed.**"
    )
    assert "labels the pull request `stateful-change-approved`" in comment


def test_each_role_lists_the_statements_it_gains_and_loses_and_the_wildcards_they_bring(comment: str) -> None:
    permissions = comment.split("### Permissions, per role\n\n")[1].split("\n### ", maxsplit=1)[0]
    roles = [line for line in permissions.splitlines() if line.startswith("- **")]
    assert roles == ["- **iot-prod-ingest/Processor60228016**", "- **iot-prod-smoke-test**"]
    processor = permissions.split("- **iot-prod-ingest/Processor60228016**\n")[1].split("\n- **")[0]
    assert processor.splitlines() == [
        "  - added: `Allow dynamodb:Scan on * (ProcessorDefaultPolicy7CF621AD)`",
        "  - :warning: wildcards introduced: resource `*`",
    ]
    smoke = permissions.split("- **iot-prod-smoke-test**\n")[1]
    assert "  - added: `Allow s3:GetObject on <Raw72517081.Arn>/* (SmokeTestRead22DABC5A)`" in smoke
    assert "wildcards introduced: resource `<Raw72517081.Arn>/*`" in smoke


def test_the_nag_difference_names_findings_and_acknowledgements_added_and_removed(comment: str) -> None:
    nag = comment.split("### cdk-nag\n\n")[1].split("\n<details>", maxsplit=1)[0]
    assert f"Findings added:\n\n| rule | construct |\n| --- | --- |\n| `AwsSolutions-IAM4` | `{FINDING}` |" in nag
    assert "Findings removed" not in nag
    assert "Acknowledgements added:\n\n| rule | scope | reason |\n| --- | --- | --- |\n" in nag
    assert f"| `AwsSolutions-IAM5[Resource::*]` | `Prod/Ingest/Processor` | {SCAN_REASON} |" in nag
    assert "| `AwsSolutions-IAM5[Resource::<ProcessedBucket.Arn>/processed/*]` | `Prod/Ingest/Processor` | " in nag


def test_the_summary_counts_what_follows(comment: str) -> None:
    (summary,) = [line for line in comment.splitlines() if " stacks change (" in line]
    assert summary == (
        "2 of 2 stacks change (4 resources). Permissions: 2 statements added or removed in 2 roles, 2 wildcards "
        "in added statements. cdk-nag: 1 findings added, 0 removed; 1 acknowledgements added, 1 removed."
    )


def test_the_change_report_follows_below_the_comments_headings(comment: str) -> None:
    details = comment.split("<details><summary>Change report, stack by stack</summary>\n\n")[1]
    assert details.startswith("### Change report: main -> this pull request\n")
    assert "\n#### Needs attention\n" in details
    assert "| modified | `Failed" in details
    assert "Threshold (1 -> 5)" in details
    assert comment.endswith("\n</details>\n")


def test_a_threshold_change_needs_no_second_approval(base: Path, tmp_path: Path) -> None:
    plain = _synthesize(tmp_path / "plain", replace_table=False, widen=False, threshold=5)
    changes = pull_request_changes(base, plain)
    assert not changes.needs_second_approval
    text = render(changes, before_label="main", after_label="pr")
    assert "CAUTION" not in text
    assert "No statement added or removed." in text
    assert "No finding or acknowledgement added or removed." in text


def test_a_comment_over_the_limit_cuts_the_change_report_and_says_so(base: Path, replacing: Path, comment: str) -> None:
    changes = pull_request_changes(base, replacing)
    assert render(changes, before_label="main", after_label="this pull request", limit=len(comment)) == comment
    cut = render(changes, before_label="main", after_label="this pull request", limit=len(comment) - 1)
    assert len(cut) <= len(comment) - 1
    assert "The change report is cut here" in cut
    assert (
        cut.split("<details>")[0] == comment.split("<details>", maxsplit=1)[0]
    )  # the danger, permissions and nag stay whole


# --- the command line ------------------------------------------------------------------------------------------------


def test_main_writes_the_comment_and_tells_the_workflow(
    base: Path, replacing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / "github-output"
    outputs.write_text("earlier=1\n")
    comment = tmp_path / "out" / "comment.md"
    arguments = ["--before", str(base), "--after", str(replacing), "--output", str(comment)]
    assert main([*arguments, "--github-output", str(outputs), "--before-label", "main"]) == 0
    assert comment.read_text() + "\n" == capsys.readouterr().out
    assert outputs.read_text() == "earlier=1\nsecond-approval=needed\n"
    assert main(["--before", str(base), "--after", str(base), "--github-output", str(outputs)]) == 0
    assert outputs.read_text().splitlines()[-1] == "second-approval=not-needed"


@pytest.mark.parametrize("side", ["--before", "--after"])
def test_a_directory_that_is_no_assembly_exits_2(
    base: Path, tmp_path: Path, side: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = {"--before": str(base), "--after": str(base), side: str(tmp_path)}
    with pytest.raises(SystemExit) as exit_info:
        main([part for pair in arguments.items() for part in pair])
    assert exit_info.value.code == 2
    assert f"{tmp_path} is not a cloud assembly (no manifest.json)" in capsys.readouterr().err


def test_the_assembly_holds_every_acknowledgement_the_app_made(app: App, assembly_dir: Path) -> None:
    """What the comment reads from the assembly is what the nag report reads from the construct tree."""
    from_tree = {(a.scope, a.rule_id, a.reason) for a in acknowledgements(app)}
    assert {(a.scope, a.rule_id, a.reason) for a in read_acknowledgements(assembly_dir)} == from_tree
    assert len(from_tree) > 100
