"""The session fixtures of tests/conftest.py (the synthesized app, stages, config) for the archive service's tests."""

from __future__ import annotations

from tests.conftest import app, assembly_dir, pipeline_stack, platform_config, stages  # noqa: F401
