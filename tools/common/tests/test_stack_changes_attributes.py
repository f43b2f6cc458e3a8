"""The comparison without a synth: resource attributes (not properties) that change what a deploy does, from
hand-written templates."""

from __future__ import annotations

from typing import Any

import pytest

from tools.common.stack_changes import ChangeKind, Concern, ReplacementSpec, compare, render_markdown

STACK = "iot-prod-ingest"


def _table(**attributes: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {"KeySchema": [{"AttributeName": "sensor_id", "KeyType": "HASH"}]},
        **attributes,
    }


def _compare(before: dict[str, Any], after: dict[str, Any]) -> Any:
    return compare(
        {STACK: {"Resources": {"Readings": before}}},
        {STACK: {"Resources": {"Readings": after}}},
        ReplacementSpec.load(),
    )


@pytest.mark.parametrize(
    ("before", "after", "loosened"),
    [
        ({"DeletionPolicy": "Retain"}, {"DeletionPolicy": "Delete"}, ("DeletionPolicy", "Retain", "Delete")),
        ({"DeletionPolicy": "Retain"}, {}, ("DeletionPolicy", "Retain", "absent: Delete")),
        (
            {"UpdateReplacePolicy": "Snapshot"},
            {"UpdateReplacePolicy": "Delete"},
            ("UpdateReplacePolicy", "Snapshot", "Delete"),
        ),
        (
            {"DeletionPolicy": "RetainExceptOnCreate"},
            {"DeletionPolicy": "Delete"},
            ("DeletionPolicy", "RetainExceptOnCreate", "Delete"),
        ),
    ],
)
def test_a_stateful_resource_no_longer_kept_is_flagged_as_a_danger(
    before: dict[str, str], after: dict[str, str], loosened: tuple[str, str, str]
) -> None:
    report = _compare(_table(**before), _table(**after))
    (change,) = report.changes
    assert change.kind is ChangeKind.MODIFIED
    assert change.loosened == (loosened,)
    assert report.concerning(Concern.RETENTION) == [change]
    text = render_markdown(report, before_label="a", after_label="b")
    assert f"**DANGER: table no longer kept** `{STACK}` / `Readings`" in text
    assert f"{loosened[0]} {loosened[1]} -> {loosened[2]}" in text


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"DeletionPolicy": "Delete"}, {"DeletionPolicy": "Retain"}),  # tightened
        ({"DeletionPolicy": "Retain"}, {"DeletionPolicy": "Snapshot"}),  # still kept
        ({"UpdateReplacePolicy": "Delete"}, {}),  # never kept
    ],
)
def test_a_retention_policy_kept_or_tightened_is_a_plain_modification(
    before: dict[str, str], after: dict[str, str]
) -> None:
    report = _compare(_table(**before), _table(**after))
    (change,) = report.changes
    assert (change.kind, change.loosened) == (ChangeKind.MODIFIED, ())
    assert report.concerning(Concern.RETENTION) == []
    assert set(change.changed) == set(before) | set(after)


def test_a_stateless_resource_loses_nothing_when_its_retention_changes() -> None:
    topic = {"Type": "AWS::SNS::Topic", "Properties": {}}
    report = _compare({**topic, "DeletionPolicy": "Retain"}, topic)
    (change,) = report.changes
    assert change.changed == ("DeletionPolicy",)
    assert report.concerning(Concern.RETENTION) == []


@pytest.mark.parametrize("attribute", ["UpdatePolicy", "Condition"])
def test_other_resource_attributes_are_changes_too(attribute: str) -> None:
    report = _compare(_table(), _table(**{attribute: "IsProduction"}))
    (change,) = report.changes
    assert change.changed == (attribute,)
