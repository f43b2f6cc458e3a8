"""Per-test time limits (pytest-timeout), so a retry or settle loop that never ends fails in seconds.

Every test gets the tight default of pyproject.toml (``timeout``). A test that needs the synthesized app gets
more: the first one to ask for it pays for the synthesis, which the limit covers (fixture setup counts). The
end-to-end tests carry their own, generous marker (tests/test_end_to_end.py). docs/testing.md has the figures.
"""

from __future__ import annotations

import pytest

SYNTH_TIMEOUT_SECONDS = 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "app" in getattr(item, "fixturenames", ()) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SYNTH_TIMEOUT_SECONDS))
