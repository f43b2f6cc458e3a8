"""What every test may use: the app synthesized once per session, per-test time limits, and a local time zone.

The whole suite runs with the process's local time zone half an hour off UTC, and behind it (UTC-03:30, as in
Newfoundland; ``IOT_TEST_TZ`` chooses another): code that converts in local time where it means UTC gives another
hour, or another day, and fails. The processes the tests start (the emulator, the function's workers) inherit it.
The ``local_time_zone`` fixture switches one test to UTC+05:30, ahead of UTC, for both sides of the date line.

Time limits (pytest-timeout) make a retry or settle loop that never ends fail in seconds. Every test gets the
tight default of pyproject.toml (``timeout``). A test that synthesizes (marked ``synth``, or asking for the app)
gets more: the first one to ask for a synthesis pays for it, which the limit covers (fixture setup counts). The
end-to-end tests carry their own, generous marker (tests/test_end_to_end.py). docs/testing.md has the figures.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ["TZ"] = os.environ.get("IOT_TEST_TZ", "NST+03:30")

import gc
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipeline.config import PlatformConfig, load_platform_config
from shared.config import committed_context

if TYPE_CHECKING:  # CDK takes seconds to import: only the tests that synthesize load it
    from aws_cdk import App

    from pipeline.pipeline_stack import PipelineStack
    from stages.iot_stage import IotStage

SYNTH_TIMEOUT_SECONDS = 300
EMULATED_AWS_FIXTURES = frozenset({"aws", "moto"})
SYNTH_MODULE_MARK = "\npytestmark = pytest.mark.synth"
# The suite's heap is large and long-lived (the imported libraries, synthesized apps, moto's backends) and holds few
# reference cycles: with the default thresholds, the collector scanned it all again and again.
GC_THRESHOLDS = (20_000, 20, 10)


def pytest_configure() -> None:
    time.tzset()
    gc.set_threshold(*GC_THRESHOLDS)


def pytest_collection_finish() -> None:
    gc.freeze()  # what the collection imported (CDK, jsii, moto, botocore) lives as long as the session


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With synthesis deselected (``make unit``), a module marked ``synth`` as a whole is not even imported."""
    if "not synth" not in (config.getoption("markexpr") or "") or not collection_path.match("test_*.py"):
        return None
    return SYNTH_MODULE_MARK in collection_path.read_text(encoding="utf-8") or None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "app" in _fixtures(item):
            item.add_marker(pytest.mark.synth)  # `make unit` leaves these out
        if item.get_closest_marker("synth") and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SYNTH_TIMEOUT_SECONDS))
    # mutmut names the mutant a forked test run checks (and sets other values while it measures the tests).
    if "__mutmut_" in os.environ.get("MUTANT_UNDER_TEST", ""):
        # The first failing test kills a mutant: plain tests first, then properties, those on emulated AWS last.
        items.sort(key=_cost)


def _cost(item: pytest.Item) -> int:
    if EMULATED_AWS_FIXTURES & _fixtures(item):
        return 2
    return 1 if getattr(getattr(item, "obj", None), "is_hypothesis_test", False) else 0


def _fixtures(item: pytest.Item) -> frozenset[str]:
    return frozenset(getattr(item, "fixturenames", ()))


@pytest.fixture
def local_time_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The process's local time zone set to UTC+05:30, so code that uses local time where it means UTC shows it."""
    monkeypatch.setenv("TZ", "IST-05:30")
    time.tzset()
    yield "+05:30"
    monkeypatch.undo()
    time.tzset()


# --- the synthesized app, once per session (per xdist worker) -----------------------------------------------------


@pytest.fixture(scope="session")
def platform_config() -> PlatformConfig:
    return load_platform_config(committed_context())


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="session")
def app(assembly_dir: Path) -> App:
    """The real app with every nag pack; synth raises if any finding is unacknowledged."""
    from tools.common.cdk_app import build_from_cdk_json  # noqa: PLC0415 - see TYPE_CHECKING above

    application = build_from_cdk_json(outdir=assembly_dir)
    application.synth()
    return application


@pytest.fixture(scope="session")
def pipeline_stack(app: App) -> PipelineStack:
    from pipeline.pipeline_stack import PipelineStack  # noqa: PLC0415 - see TYPE_CHECKING above

    stack = app.node.find_child("IotPipeline")
    assert isinstance(stack, PipelineStack)
    return stack


@pytest.fixture(scope="session")
def stages(pipeline_stack: PipelineStack) -> list[IotStage]:
    return pipeline_stack.stages
