"""Fixtures shared by the cross-service tests: the whole app, synthesized once per session."""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from pathlib import Path

import pytest
from aws_cdk import App

from pipeline.pipeline_stack import PipelineStack
from stages.config import PlatformConfig, load_platform_config
from stages.iot_stage import IotStage
from tools.cdk_app import build_from_cdk_json, cdk_json_context


@pytest.fixture(scope="session")
def platform_config() -> PlatformConfig:
    return load_platform_config(cdk_json_context())


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="session")
def app(assembly_dir: Path) -> App:
    """The real app with every nag pack; synth raises if any finding is unacknowledged."""
    application = build_from_cdk_json(outdir=assembly_dir)
    application.synth()
    return application


@pytest.fixture(scope="session")
def pipeline_stack(app: App) -> PipelineStack:
    stack = app.node.find_child("IotPipeline")
    assert isinstance(stack, PipelineStack)
    return stack


@pytest.fixture(scope="session")
def stages(pipeline_stack: PipelineStack) -> list[IotStage]:
    return pipeline_stack.stages
