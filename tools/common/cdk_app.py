"""Build the CDK app in process exactly as the CLI would, from cdk.json's context plus overrides."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App

from pipeline_app import build_app
from shared.config import committed_context


def build_from_cdk_json(
    *, outdir: Path | str, overrides: Mapping[str, Any] | None = None, with_pipeline: bool = True
) -> App:
    app = App(outdir=str(outdir), context={**committed_context(), **(overrides or {})})
    return build_app(app, with_pipeline=with_pipeline)
