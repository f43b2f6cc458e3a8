"""Walking a cloud assembly as CDK writes it: a manifest, and a nested assembly of its own for each stage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class NotAnAssemblyError(ValueError):
    pass


@dataclass(frozen=True, kw_only=True)
class StackArtifact:
    directory: Path  # the assembly that holds it
    artifact_id: str
    artifact: dict[str, Any]

    @property
    def stack_name(self) -> str:
        return str(self.artifact.get("properties", {}).get("stackName", self.artifact_id))

    def template(self) -> dict[str, Any]:
        template: dict[str, Any] = json.loads(
            (self.directory / self.artifact["properties"]["templateFile"]).read_text(encoding="utf-8")
        )
        return template


def _manifest(directory: Path) -> dict[str, Any]:
    path = directory / "manifest.json"
    if not path.is_file():
        raise NotAnAssemblyError(f"{directory} is not a cloud assembly (no manifest.json)")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def assemblies(root: Path) -> list[Path]:
    """The assembly and every assembly nested in it."""
    nested = [
        root / artifact["properties"]["directoryName"]
        for artifact in _manifest(root).get("artifacts", {}).values()
        if artifact["type"] == "cdk:cloud-assembly"
    ]
    return [root, *(found for child in nested for found in assemblies(child))]


def stack_artifacts(root: Path) -> Iterator[StackArtifact]:
    """Every stack of the assembly and of the assemblies nested in it."""
    for directory in assemblies(root):
        for artifact_id, artifact in _manifest(directory).get("artifacts", {}).items():
            if artifact["type"] == "aws:cloudformation:stack":
                yield StackArtifact(directory=directory, artifact_id=artifact_id, artifact=artifact)
