"""Where this repository is checked out: what reads its files (cdk.json, the runtime's sources, docs) starts here."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
