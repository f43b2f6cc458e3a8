"""Where the local run leaves its copy of the raw archive, which `make query` reads.

The emulator's S3 lives in memory and ends with the run, so the run writes the archive bucket's objects under
LOCAL_ARCHIVE (each key a path) and the archive stack's template beside it (its Glue table defines the columns).
"""

from __future__ import annotations

from pathlib import Path

from shared.repository import REPO_ROOT

LOCAL_ARCHIVE = REPO_ROOT / "reports" / "local-archive"


def template_beside(archive: Path) -> Path:
    """The archive stack's template that describes the copy at ``archive``."""
    return archive.with_name(f"{archive.name}.template.json")
