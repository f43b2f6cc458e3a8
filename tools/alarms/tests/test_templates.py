"""References resolved as CloudFormation resolves them, and every one that cannot be."""

from __future__ import annotations

from typing import Any

import pytest

from tools.alarms.templates import TemplateError, resolve

REFS = {"Fn": "processor", "AWS::Region": "eu-west-1", "Param": "/iot/dev/x"}


def _ref(name: str) -> str:
    return REFS[name]


def _attribute(logical_id: str, name: str) -> str:
    if (logical_id, name) != ("Alarm", "Arn"):
        raise KeyError(f"{logical_id}.{name}")
    return "arn:aws:cloudwatch:eu-west-1:1:alarm:a"


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Ref": "Fn"}, "processor"),
        ({"Fn::Join": ["", [{"Ref": "Fn"}, ":live"]]}, "processor:live"),
        ({"Fn::GetAtt": ["Alarm", "Arn"]}, "arn:aws:cloudwatch:eu-west-1:1:alarm:a"),
        ({"Fn::GetAtt": "Alarm.Arn"}, "arn:aws:cloudwatch:eu-west-1:1:alarm:a"),
        (
            {"Fn::Sub": "${Fn}-${AWS::Region}-${Alarm.Arn}"},
            "processor-eu-west-1-arn:aws:cloudwatch:eu-west-1:1:alarm:a",
        ),
        ({"Fn::Sub": ["${X}/${Fn}", {"X": {"Ref": "Param"}}]}, "/iot/dev/x/processor"),
        ({"Fn::Sub": "${!Literal}"}, "${!Literal}"),
        ([{"a": {"Ref": "Fn"}}, 1, "s"], [{"a": "processor"}, 1, "s"]),
        ({"Name": "x", "Value": {"Ref": "Fn"}}, {"Name": "x", "Value": "processor"}),
    ],
)
def test_references_are_resolved(node: Any, expected: Any) -> None:
    assert resolve(node, ref=_ref, attribute=_attribute) == expected


@pytest.mark.parametrize(
    ("node", "problem"),
    [
        ({"Ref": "Unknown"}, "Ref of 'Unknown': 'Unknown' is not known here"),
        ({"Fn::GetAtt": ["Alarm", "Name"]}, "'Alarm.Name' is not known here"),
        ({"Fn::If": ["c", 1, 2]}, "Fn::If is not resolved here"),
    ],
)
def test_a_reference_that_cannot_be_resolved_is_an_error_naming_it(node: Any, problem: str) -> None:
    with pytest.raises(TemplateError, match=problem):
        resolve(node, ref=_ref, attribute=_attribute)
