"""The deployment record: what it accepts, its trip through the SSM parameter, and the digest of a cloud assembly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tools.common.deployment_record import DeploymentRecord, RecordError, assembly_digest

COMMIT = "4af6e50" + "0" * 33
DIGEST = "sha256:" + "ab" * 32
RECORD: dict[str, Any] = {
    "stage": "dev",
    "commit": COMMIT,
    "assembly_digest": DIGEST,
    "pipeline_execution_id": "7b6c1f0e-2d4a-4c3b-9e8f-0a1b2c3d4e5f",
    "recorded_at": datetime(2026, 11, 27, 10, 2, 11, tzinfo=UTC),
}


def test_a_record_survives_its_trip_through_the_parameter() -> None:
    record = DeploymentRecord(**RECORD)
    assert DeploymentRecord.from_json(record.to_json()) == record
    assert json.loads(record.to_json())["recorded_at"] == "2026-11-27T10:02:11+00:00"
    assert record.parameter == "/iot/dev/observability/deployment-record"


def test_a_time_zone_other_than_utc_keeps_the_instant() -> None:
    local = datetime(2026, 11, 27, 11, 2, 11, tzinfo=timezone(timedelta(hours=1)))
    record = DeploymentRecord.from_json(DeploymentRecord(**{**RECORD, "recorded_at": local}).to_json())
    assert record.recorded_at == RECORD["recorded_at"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("commit", COMMIT[:39], "commit must be a full 40-character git commit id"),
        ("commit", COMMIT + "0", "commit must be a full 40-character git commit id"),
        ("commit", COMMIT.upper().replace("0", "G"), "commit must be a full 40-character git commit id"),
        ("assembly_digest", DIGEST[:-1], "assembly_digest must be sha256:<64 hex digits>"),
        ("assembly_digest", DIGEST.replace("sha256", "md5"), "assembly_digest must be sha256:<64 hex digits>"),
        ("pipeline_execution_id", " ", "pipeline_execution_id must not be empty"),
        ("recorded_at", datetime(2026, 11, 27, 10, 2, 11), "recorded_at must carry its time zone"),
    ],
)
def test_a_bad_field_is_refused_naming_the_stage_and_the_field(field: str, value: Any, message: str) -> None:
    with pytest.raises(RecordError, match=f"^deployment record of stage dev: {message}"):
        DeploymentRecord(**{**RECORD, field: value})


def test_the_limits_of_a_commit_id_are_exactly_40_lowercase_hex_digits() -> None:
    assert DeploymentRecord(**{**RECORD, "commit": "f" * 40}).commit == "f" * 40


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "a deployment record must be JSON"),
        ("[]", "a deployment record needs exactly"),
        (json.dumps({"stage": "dev"}), "a deployment record needs exactly"),
        (
            DeploymentRecord(**RECORD).to_json().replace("2026-11-27T10:02:11+00:00", "yesterday"),
            "recorded_at must be an ISO-8601 time, got 'yesterday'",
        ),
        (DeploymentRecord(**RECORD).to_json().replace(COMMIT, "main"), "commit must be a full 40-character git"),
    ],
)
def test_an_unreadable_record_says_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        DeploymentRecord.from_json(raw)


# --- the digest of an assembly ---------------------------------------------------------------------------------------


def _assembly(directory: Path, threshold: int = 1) -> Path:
    stage = directory / "assembly-Dev"
    stage.mkdir(parents=True)
    (stage / "iot-dev-observability.template.json").write_text(json.dumps({"Threshold": threshold}))
    (stage / "iot-dev-observability.assets.json").write_text("{}")
    (stage / "manifest.json").write_text(json.dumps({"artifacts": {}}))
    nested = {"Dev": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Dev"}}}
    (directory / "manifest.json").write_text(json.dumps({"artifacts": nested}))
    (directory / "IotPipeline.template.json").write_text("{}")
    (directory / "asset.0123").mkdir()
    (directory / "asset.0123" / "handler.py").write_text("pass\n")
    (directory / "nag-report.md").write_text("# report\n")
    return directory


def test_the_digest_is_the_same_for_the_same_templates_wherever_they_are(tmp_path: Path) -> None:
    first, second = _assembly(tmp_path / "a"), _assembly(tmp_path / "b")
    assert assembly_digest(first) == assembly_digest(second)
    assert assembly_digest(first).startswith("sha256:")
    DeploymentRecord(**{**RECORD, "assembly_digest": assembly_digest(first)})  # a digest the record accepts


def test_a_changed_template_of_a_nested_stage_changes_the_digest(tmp_path: Path) -> None:
    assert assembly_digest(_assembly(tmp_path / "a", threshold=1)) != assembly_digest(_assembly(tmp_path / "b", 5))


@pytest.mark.parametrize(
    "changed", ["manifest.json", "IotPipeline.template.json", "assembly-Dev/iot-dev-observability.assets.json"]
)
def test_every_manifest_and_template_counts(tmp_path: Path, changed: str) -> None:
    assembly = _assembly(tmp_path / "a")
    before = assembly_digest(assembly)
    path = assembly / changed
    path.write_text(path.read_text() + "\n")
    assert assembly_digest(assembly) != before


def test_reports_and_asset_contents_beside_the_templates_do_not_count(tmp_path: Path) -> None:
    """An asset enters through its hash in the templates; the nag report and SBOMs are written after synth."""
    assembly = _assembly(tmp_path / "a")
    before = assembly_digest(assembly)
    (assembly / "nag-report.md").write_text("# another report\n")
    (assembly / "asset.0123" / "handler.py").write_text("raise SystemExit\n")
    assert assembly_digest(assembly) == before


def test_a_directory_that_is_no_assembly_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="is not a cloud assembly"):
        assembly_digest(tmp_path)
