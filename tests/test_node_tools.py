"""The versions the pipeline's steps install, read from an npm lock file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.node_tools import CDK_CLI, LockError, install_command, locked_version


def _lock(tmp_path: Path, packages: object) -> Path:
    lock = tmp_path / "package-lock.json"
    lock.write_text(json.dumps({"lockfileVersion": 3, "packages": packages}))
    return lock


def test_the_committed_lock_holds_the_cli_the_makefile_runs() -> None:
    package = json.loads((Path(__file__).parent.parent / "node_modules" / "aws-cdk" / "package.json").read_text())
    assert locked_version(CDK_CLI) == package["version"]


def test_a_locked_package_gives_its_exact_version_and_install_command(tmp_path: Path) -> None:
    lock = _lock(
        tmp_path,
        {"": {}, "node_modules/aws-cdk": {"version": "2.1148.1"}, "node_modules/@scope/tool": {"version": "0.1.0"}},
    )
    assert locked_version("aws-cdk", lock) == "2.1148.1"
    assert locked_version("@scope/tool", lock) == "0.1.0"
    assert install_command("aws-cdk", lock) == "npm install -g aws-cdk@2.1148.1"


@pytest.mark.parametrize(
    "packages",
    [
        {},
        {"node_modules/aws-cdk": {}},
        {"node_modules/aws-cdk": {"version": 2}},
        {"node_modules/aws-cdk-lib": {"version": "2.0.0"}},
    ],
)
def test_a_package_the_lock_does_not_version_is_refused_by_name(tmp_path: Path, packages: object) -> None:
    with pytest.raises(LockError, match=r"locks no version of aws-cdk"):
        locked_version("aws-cdk", _lock(tmp_path, packages))


def test_an_unreadable_lock_is_refused_with_its_path(tmp_path: Path) -> None:
    broken = tmp_path / "package-lock.json"
    broken.write_text("{not json")
    with pytest.raises(LockError, match=r"cannot read the npm lock file .*package-lock.json"):
        locked_version("aws-cdk", broken)
    with pytest.raises(LockError, match=r"cannot read the npm lock file"):
        locked_version("aws-cdk", tmp_path / "missing.json")
