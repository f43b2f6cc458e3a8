"""The CDK app built in process as the CLI builds it: cdk.json's context, the overrides on top, with or without the
pipeline (nothing is synthesized here: the stacks are only constructed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import Stage

from stages.iot_stage import IotStage
from tools.common.cdk_app import build_from_cdk_json

pytestmark = pytest.mark.synth  # constructs the CDK app (jsii): not in `make unit`


def test_the_local_stage_alone_with_the_overrides_on_top_of_cdk_json(tmp_path: Path) -> None:
    overrides = {"sandbox": "dev", "sandboxAccount": "111111111111", "iot.stages.dev.ingest.shardCount": "3"}
    app = build_from_cdk_json(outdir=tmp_path, overrides=overrides, with_pipeline=False)
    assert app.outdir == str(tmp_path)
    assert [child.node.id for child in app.node.children if isinstance(child, Stage)] == ["Sandbox"]
    sandbox = app.node.find_child("Sandbox")
    assert isinstance(sandbox, IotStage)
    assert (sandbox.config.name, sandbox.config.account) == ("sandbox", "111111111111")
    assert sandbox.config.ingest.shard_count == 3  # the override
    assert sandbox.config.region == "eu-west-1"  # cdk.json's dev region, kept
    assert app.node.try_find_child("IotPipeline") is None


def test_the_whole_app_has_the_pipeline_and_no_sandbox_unless_asked(tmp_path: Path) -> None:
    app = build_from_cdk_json(outdir=tmp_path)
    assert app.node.try_find_child("IotPipeline") is not None
    assert app.node.try_find_child("Sandbox") is None
