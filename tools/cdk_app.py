"""Build the CDK app in process exactly as the CLI would, from cdk.json's context plus overrides."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App

from pipeline_app import build_app

REPO_ROOT = Path(__file__).resolve().parent.parent


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return context


def build_from_cdk_json(
    *, outdir: Path | str, overrides: Mapping[str, Any] | None = None, with_pipeline: bool = True
) -> App:
    app = App(outdir=str(outdir), context={**cdk_json_context(), **(overrides or {})})
    return build_app(app, with_pipeline=with_pipeline)
