"""The session fixtures of tests/conftest.py (the synthesized app) for the tools' tests."""

from __future__ import annotations

from tests.conftest import app, assembly_dir  # noqa: F401
