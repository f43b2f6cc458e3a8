"""cdk-nag: every stack of every stage is checked, the app is clean, and the report lists acknowledgements."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, RemovalPolicy, Stack, Stage
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from shared.infra.compliance import NAG_PACKS, acknowledge, acknowledgements, enable_nag
from shared.infra.email_subscriptions import subscribe_emails
from shared.infra.encryption import rotating_key
from tools.reports.nag_report import read_findings, render

pytestmark = pytest.mark.synth  # synthesizes stacks or the Lambda asset: not in `make unit`


def test_the_app_runs_every_pack_so_its_synth_fails_on_any_finding(app: App) -> None:
    # The session fixture's synth raises on an unacknowledged finding, but only if the packs are attached to the app.
    # (Python's Validations has no plugin getter yet; the stage property lists what add_plugins attached.)
    attached = sorted(plugin.name for plugin in app.policy_validation_beta1)
    assert attached == ["AwsSolutions", "NIST.800.53.R5", "Serverless"]
    assert len(attached) == len(NAG_PACKS)


def test_a_non_compliant_construct_inside_a_stage_fails_synth(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    stack = Stack(Stage(app, "Nested"), "Leaky")
    s3.Bucket(stack, "PlainBucket")  # no TLS-only policy, no access logs
    enable_nag(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    findings = read_findings(tmp_path / "validation-report.json")
    assert {(f.rule_id, f.construct_path) for f in findings} >= {
        ("AwsSolutions-S1", "Nested/Leaky/PlainBucket/Resource"),
        ("AwsSolutions-S10", "Nested/Leaky/PlainBucket/Resource"),
    }


def test_an_acknowledged_finding_no_longer_fails_synth(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    stack = Stack(Stage(app, "Nested"), "Acknowledged")
    key = rotating_key(stack, "Key", description="test", removal_policy=RemovalPolicy.DESTROY)
    bucket = s3.Bucket(
        stack,
        "Bucket",
        enforce_ssl=True,
        versioned=True,
        encryption_key=key,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    )
    # The findings such a bucket still has, from two packs:
    acknowledge(bucket, "AwsSolutions-S1", "A test bucket that never holds data, so access logs add nothing.")
    acknowledge(bucket, "NIST.800.53.R5-S3BucketLoggingEnabled", "A test bucket that never holds data, so no logs.")
    acknowledge(bucket, "NIST.800.53.R5-S3BucketReplicationEnabled", "A test bucket with no data to replicate at all.")
    enable_nag(app)
    app.synth()


@pytest.mark.parametrize("through_the_helper", [True, False])
def test_e_mail_subscriptions_pass_nag_only_through_the_shared_helper(tmp_path: Path, through_the_helper: bool) -> None:
    """The alert, ops and pipeline topics all subscribe addresses with subscribe_emails; a plain one fails synth."""
    app = App(outdir=str(tmp_path))
    stack = Stack(Stage(app, "Nested"), "Notified")
    key = rotating_key(stack, "Key", description="test", removal_policy=RemovalPolicy.DESTROY)
    topic = sns.Topic(stack, "Topic", master_key=key, enforce_ssl=True)
    if through_the_helper:
        subscribe_emails(topic, ["a@example.com", "b@example.com"])
    else:
        topic.add_subscription(subscriptions.EmailSubscription("a@example.com"))
    enable_nag(app)
    if through_the_helper:
        app.synth()
        return
    with pytest.raises(RuntimeError, match="Serverless-SNSRedrivePolicy"):
        app.synth()


def test_an_acknowledgement_without_a_real_reason_is_refused() -> None:
    stack = Stack(App(), "S")
    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(stack, "AwsSolutions-S1", "ok")


def test_every_acknowledgement_has_a_scope_below_a_stack_and_a_reason(app: App) -> None:
    found = list(acknowledgements(app))
    assert found
    for item in found:
        assert item.scope.count("/") >= 1, f"{item.rule_id} is acknowledged on the whole app"
        assert len(item.reason.split()) >= 5


def test_report_lists_packs_findings_and_acknowledgements(app: App) -> None:
    report = render(app, [], list(acknowledgements(app)))
    assert all(pack.__name__ in report for pack in NAG_PACKS)
    assert "Unacknowledged findings: **0**" in report
    assert "| AwsSolutions | AwsSolutions-KDS3 |" in report
    assert "`IotPipeline/Dev/Ingest/Readings/Stream`" in report
