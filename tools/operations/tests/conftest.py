"""The replay tool's tests run against an emulated stage: its stream and the two buckets replay reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.operations.tests.stage import Aws, emulated_stage


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with emulated_stage(monkeypatch) as stage:
        yield stage
