"""A buildspec run as CodeBuild runs it: in order, stopping at the first failure, the locked CLI from node_modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.node_tools import CDK_CLI, locked_version
from tools.rehearsal.codebuild import run_build
from tools.rehearsal.pipeline import BuildProject


def _project(**commands: list[str]) -> BuildProject:
    return BuildProject(
        logical_id="Project", role_logical_id="Role", variables={}, commands=commands, output_directory=None,
        exported_variables=(),
    )  # fmt: skip


def test_commands_run_in_phase_order_with_the_variables_given(tmp_path: Path) -> None:
    project = _project(build=["echo build $STAGE_NAME"], install=["echo install"], post_build=["echo post"])
    result = run_build(project, directory=tmp_path, environment={"STAGE_NAME": "dev"})
    assert result.exit_code == 0
    assert [line for line in result.output.splitlines() if not line.startswith("[")] == [
        "install",
        "build dev",
        "post",
    ]


def test_the_first_failing_command_stops_the_build_with_its_exit_code(tmp_path: Path) -> None:
    result = run_build(_project(build=["echo one", "exit 3", "echo never"]), directory=tmp_path, environment={})
    assert (result.exit_code, result.failed_command) == (3, "exit 3")
    assert "never" not in result.output


def test_installing_the_locked_cli_uses_node_modules_and_another_version_fails(tmp_path: Path) -> None:
    locked = f"npm install -g {CDK_CLI}@{locked_version(CDK_CLI)}"
    passed = run_build(_project(install=[locked], build=["cdk --version"]), directory=tmp_path, environment={})
    assert passed.exit_code == 0, passed.output
    assert locked_version(CDK_CLI) in passed.output
    other = run_build(_project(install=[f"npm install -g {CDK_CLI}@2"]), directory=tmp_path, environment={})
    assert other.exit_code == 1
    assert f"package-lock.json locks {CDK_CLI} {locked_version(CDK_CLI)}" in other.output


def test_a_build_reaches_the_registries_through_this_machines_trust_store_and_nothing_else_leaks_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/proxy.pem")
    monkeypatch.setenv("AWS_PROFILE", "a-developers-own")  # a step has its role's credentials, never the caller's
    result = run_build(
        _project(build=['echo "cert=$SSL_CERT_FILE profile=${AWS_PROFILE:-none}"']), directory=tmp_path, environment={}
    )
    assert "cert=/etc/ssl/proxy.pem profile=none" in result.output.splitlines()
