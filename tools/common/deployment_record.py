"""What a stage runs, as the pipeline's last step of the stage records it in the stage's account (an SSM parameter):
the commit, the digest of the cloud assembly, the pipeline execution and the time. Written by
tools/steps/record_deployment.py, read by ``make environments`` (tools/operations/environments.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from services.observability import contract as observability
from tools.common.cloud_assembly import NotAnAssemblyError, assemblies

# What a deploy is made of: the manifests and templates CDK writes (asset contents enter through their hashes in them).
ASSEMBLY_FILES = ("manifest.json", "*.template.json", "*.assets.json")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class RecordError(ValueError):
    """A record that cannot be written or read as it is; the message names the field."""


@dataclass(frozen=True, kw_only=True)
class DeploymentRecord:
    stage: str
    commit: str
    assembly_digest: str
    pipeline_execution_id: str
    recorded_at: datetime

    def __post_init__(self) -> None:
        problems = []
        if not _COMMIT.fullmatch(self.commit):
            problems.append(f"commit must be a full 40-character git commit id, got {self.commit!r}")
        if not _DIGEST.fullmatch(self.assembly_digest):
            problems.append(f"assembly_digest must be sha256:<64 hex digits>, got {self.assembly_digest!r}")
        if not self.pipeline_execution_id.strip():
            problems.append("pipeline_execution_id must not be empty")
        if self.recorded_at.tzinfo is None:
            problems.append(f"recorded_at must carry its time zone, got {self.recorded_at.isoformat()}")
        if problems:
            raise RecordError(f"deployment record of stage {self.stage}: {'; '.join(problems)}")

    @property
    def parameter(self) -> str:
        return observability.deployment_record_parameter(self.stage)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "recorded_at": self.recorded_at.isoformat()}, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> DeploymentRecord:
        try:
            fields: Any = json.loads(raw)
        except json.JSONDecodeError as error:
            raise RecordError(f"a deployment record must be JSON: {error}") from None
        expected = {"stage", "commit", "assembly_digest", "pipeline_execution_id", "recorded_at"}
        if not isinstance(fields, dict) or set(fields) != expected:
            got = sorted(fields) if isinstance(fields, dict) else type(fields).__name__
            raise RecordError(f"a deployment record needs exactly {sorted(expected)}, got {got}")
        try:
            recorded_at = datetime.fromisoformat(str(fields["recorded_at"]))
        except ValueError:
            raise RecordError(f"recorded_at must be an ISO-8601 time, got {fields['recorded_at']!r}") from None
        return cls(
            stage=str(fields["stage"]),
            commit=str(fields["commit"]),
            assembly_digest=str(fields["assembly_digest"]),
            pipeline_execution_id=str(fields["pipeline_execution_id"]),
            recorded_at=recorded_at,
        )


def assembly_digest(assembly_dir: Path) -> str:
    """``sha256:<hex>`` of every manifest and template of a cloud assembly, its nested stage assemblies included."""
    try:
        directories = assemblies(assembly_dir)
    except NotAnAssemblyError as error:
        raise RecordError(str(error)) from None
    files = sorted(path for directory in directories for pattern in ASSEMBLY_FILES for path in directory.glob(pattern))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(assembly_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"sha256:{digest.hexdigest()}"
