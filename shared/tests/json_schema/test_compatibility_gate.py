"""The gate: the reading schema in this tree must accept every reading the base branch's schema accepted.

The base is SCHEMA_BASE_REF, or the merge-base of HEAD and main. Where there is no git history to compare with,
the test is skipped with one line saying why; where the base has no schema yet, there is nothing to break.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from shared.json_schema.compatibility import breaking_changes
from shared.json_schema.reading import SCHEMA_PATH
from shared.repository import REPO_ROOT

BASE_REF_VARIABLE = "SCHEMA_BASE_REF"
MAIN_BRANCH = "main"


def _git(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def _base_ref() -> str:
    if configured := os.environ.get(BASE_REF_VARIABLE):
        return configured
    merge_base = _git("merge-base", "HEAD", MAIN_BRANCH)
    if merge_base.returncode != 0:
        pytest.skip(f"no git history with {MAIN_BRANCH} here ({merge_base.stderr.strip()}); set {BASE_REF_VARIABLE}")
    return merge_base.stdout.strip()


def _base_schema(ref: str) -> dict[str, Any]:
    path = SCHEMA_PATH.relative_to(REPO_ROOT).as_posix()
    if _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        pytest.skip(f"{BASE_REF_VARIABLE}={ref} names no commit here")
    shown = _git("show", f"{ref}:{path}")
    if shown.returncode != 0:
        pytest.skip(f"{path} does not exist at {ref}: a new schema has no producers to break yet")
    schema: dict[str, Any] = json.loads(shown.stdout)
    return schema


def test_the_schema_accepts_every_reading_its_base_accepted() -> None:
    ref = _base_ref()
    base = _base_schema(ref)
    breaks = breaking_changes(base, json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    assert not breaks, (
        f"docs/reading.schema.json would refuse readings that {ref[:12]} accepted "
        "(docs/reading-contract.md, Compatibility):\n" + "\n".join(f"  {line}" for line in breaks)
    )
