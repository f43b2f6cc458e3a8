"""The Node tools the pipeline's steps install, at the versions package-lock.json locks (ADR 0003).

CDK Pipelines installs the CDK CLI (self-mutation, the permission check) and cdk-assets (the asset step) with
``npm install -g`` in CodeBuild, where ``node_modules`` does not exist: left alone it takes whatever the registry has
that day, while synth runs the locked CLI. The steps are given the lock's versions instead.
"""

from __future__ import annotations

import json
from pathlib import Path

from shared.repository import REPO_ROOT

PACKAGE_LOCK = REPO_ROOT / "package-lock.json"
CDK_CLI = "aws-cdk"
CDK_ASSETS = "cdk-assets"


class LockError(ValueError):
    pass


def locked_version(package: str, lock: Path = PACKAGE_LOCK) -> str:
    """The exact version of ``package`` in an npm lock file (lockfileVersion 2 or 3)."""
    try:
        document = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise LockError(f"cannot read the npm lock file {lock}: {error}") from None
    entry = document.get("packages", {}).get(f"node_modules/{package}")
    if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
        raise LockError(f"{lock} locks no version of {package}: add it to package.json and run npm install")
    return str(entry["version"])


def install_command(package: str, lock: Path = PACKAGE_LOCK) -> str:
    """``npm install -g <package>@<locked version>``: a step's install command."""
    return f"npm install -g {package}@{locked_version(package, lock)}"
