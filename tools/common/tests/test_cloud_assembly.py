"""Walking a cloud assembly: stacks of the stage assemblies nested in it, and a directory that is none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.common.cloud_assembly import NotAnAssemblyError, assemblies, stack_artifacts


def _write(directory: Path, artifacts: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))


def test_stacks_of_nested_assemblies_are_found_with_their_names_and_templates(tmp_path: Path) -> None:
    stack = {"type": "aws:cloudformation:stack", "properties": {"templateFile": "a.template.json"}}
    _write(tmp_path, {"Tooling": stack, "Prod": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "p"}}})
    (tmp_path / "a.template.json").write_text('{"Resources": {}}')
    named = {
        "type": "aws:cloudformation:stack",
        "properties": {"templateFile": "b.json", "stackName": "iot-prod-ingest"},
    }
    _write(tmp_path / "p", {"ProdIngest": named, "Tree": {"type": "cdk:tree"}})
    (tmp_path / "p" / "b.json").write_text('{"Resources": {"T": {}}}')
    assert assemblies(tmp_path) == [tmp_path, tmp_path / "p"]
    found = {stack.stack_name: stack.template() for stack in stack_artifacts(tmp_path)}
    assert found == {"Tooling": {"Resources": {}}, "iot-prod-ingest": {"Resources": {"T": {}}}}


def test_a_directory_without_a_manifest_is_no_assembly(tmp_path: Path) -> None:
    with pytest.raises(NotAnAssemblyError, match="is not a cloud assembly"):
        assemblies(tmp_path)
