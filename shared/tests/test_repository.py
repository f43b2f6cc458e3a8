"""REPO_ROOT is the checkout's top: what reads cdk.json or the runtime's sources starts there."""

from __future__ import annotations

from shared.repository import REPO_ROOT


def test_the_repository_root_holds_the_app_and_the_services() -> None:
    assert (REPO_ROOT / "cdk.json").is_file()
    assert (REPO_ROOT / "pipeline_app.py").is_file()
    assert (REPO_ROOT / "services" / "iot_processor" / "runtime" / "handler.py").is_file()
